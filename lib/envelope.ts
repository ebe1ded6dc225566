// The one place events become broker messages and back.
import { randomUUID } from 'node:crypto';
import type { Options } from 'amqplib';
import { EventEnvelope } from '../gen/ts/cqrs/v1/events';
import { eventFullName, type DomainEvent } from '../domain/events';
import type { TraceContext } from './spans';

export const EXCHANGE = 'cqrs.events';
export const CONTENT_TYPE = 'application/x-protobuf';

export interface EventMeta {
  correlationId: string;
  causationId: string;
  /** The trace the event is decided in (lib/spans.ts), kept in the envelope. */
  traceContext?: TraceContext;
}

export function newEnvelope(
  streamId: string,
  version: number,
  payload: DomainEvent,
  meta: EventMeta,
  occurredAt: Date,
): EventEnvelope {
  const { correlationId, causationId, traceContext = {} } = meta;
  return { eventId: randomUUID(), streamId, version, occurredAt, correlationId, causationId, traceContext, payload };
}

export const encodeEnvelope = (e: EventEnvelope): Buffer => Buffer.from(EventEnvelope.encode(e).finish());

/** Throws on bytes that are not an envelope with a payload. */
export function decodeEnvelope(bytes: Uint8Array): EventEnvelope & { payload: DomainEvent } {
  const e = EventEnvelope.decode(bytes);
  if (!e.payload) throw new Error('envelope carries no known event');
  if (!e.streamId || e.version < 1) throw new Error('envelope lacks stream_id or version');
  return e as EventEnvelope & { payload: DomainEvent };
}

export const routingKey = (e: EventEnvelope) => eventFullName(e.payload!);

/** DESIGN.md: protobuf content type, full message name as type, event id as message_id, persistent. */
export function publishOptions(e: EventEnvelope): Options.Publish {
  return {
    contentType: CONTENT_TYPE,
    type: eventFullName(e.payload!),
    messageId: e.eventId,
    correlationId: e.correlationId,
    timestamp: Math.floor((e.occurredAt?.getTime() ?? Date.now()) / 1000),
    persistent: true,
    headers: { 'x-stream-id': e.streamId, 'x-stream-version': e.version },
  };
}
