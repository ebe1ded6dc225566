// The mesh's events as they travel: an EventEnvelope (protobuf bytes) on the
// topic exchange cqrs.events, routed by the payload's full name
// ("cqrs.v1.OrderPaid"). Types come from the generated oneof, so a new event
// in proto/ is a new case here with no hand-written line.
import { EventEnvelope } from './gen/cqrs/v1/events';

export const EXCHANGE = 'cqrs.events';
export const CONTENT_TYPE = 'application/x-protobuf';

export type MeshEvent = NonNullable<EventEnvelope['payload']>;
/** "orderPaid", "inventoryReserved", ... */
export type EventCase = MeshEvent['$case'];
export type EventOf<C extends EventCase> = Extract<MeshEvent, { $case: C }>['value'];
export type EnvelopeOf<C extends EventCase> = EventEnvelope & { payload: Extract<MeshEvent, { $case: C }> };

/** "orderPaid" → "cqrs.v1.OrderPaid": the routing key and AMQP `type` the mesh publishes it with. */
export function routingKeyOf(c: EventCase): string {
  return `cqrs.v1.${c.charAt(0).toUpperCase()}${c.slice(1)}`;
}

/** Throws on bytes that are not an envelope carrying a known event. */
export function decodeEnvelope(bytes: Uint8Array): EnvelopeOf<EventCase> {
  const e = EventEnvelope.decode(bytes);
  if (!e.payload) throw new Error('envelope carries no known event');
  if (!e.streamId || e.version < 1) throw new Error('envelope lacks stream_id or version');
  return e as EnvelopeOf<EventCase>;
}
