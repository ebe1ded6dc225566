import type { EventEnvelope } from '../gen/ts/cqrs/v1/events';

/** A domain event is the envelope's payload: the generated oneof, used as is. */
export type DomainEvent = NonNullable<EventEnvelope['payload']>;
export type EventCase = DomainEvent['$case'];
export type EventOf<C extends EventCase> = Extract<DomainEvent, { $case: C }>['value'];

/** "orderInitiated" → "OrderInitiated": the name users see in timelines. */
export function eventName(event: DomainEvent | EventCase): string {
  const c = typeof event === 'string' ? event : event.$case;
  return c.charAt(0).toUpperCase() + c.slice(1);
}

/** The protobuf full name, sent as the AMQP `type` and used as routing key. */
export function eventFullName(event: DomainEvent | EventCase): string {
  return `cqrs.v1.${eventName(event)}`;
}

export function event<C extends EventCase>($case: C, value: EventOf<C>): Extract<DomainEvent, { $case: C }> {
  return { $case, value } as Extract<DomainEvent, { $case: C }>;
}

// ------------------------------------------------------------------ streams

export type StreamKind = 'order' | 'product';

/**
 * The kind of stream each event is appended to. Every event of the proto must
 * be named here (the type says so), so a new event fails the build until it
 * has a stream, and then wherever a switch over that stream's events misses it.
 */
const STREAM_OF = {
  orderInitiated: 'order',
  orderValidated: 'order',
  orderRejected: 'order',
  paymentProcessed: 'order',
  paymentFailed: 'order',
  orderPaid: 'order',
  orderShipped: 'order',
  orderCompleted: 'order',
  orderCancelled: 'order',
  inventoryUpdated: 'product',
  inventoryReserved: 'product',
  inventoryReleased: 'product',
  inventorySold: 'product',
} as const satisfies Record<EventCase, StreamKind>;

type CasesOf<K extends StreamKind> = { [C in EventCase]: (typeof STREAM_OF)[C] extends K ? C : never }[EventCase];
/** The events of one kind of stream. */
export type EventOfKind<K extends StreamKind> = Extract<DomainEvent, { $case: CasesOf<K> }>;
export type OrderEvent = EventOfKind<'order'>;
export type ProductEvent = EventOfKind<'product'>;

export function isEventOf<K extends StreamKind>(kind: K, e: DomainEvent): e is EventOfKind<K> {
  return STREAM_OF[e.$case] === kind;
}

/** A switch over events ends here: a case left unhandled is a compile error. */
export function unhandled(e: never): never {
  throw new Error(`unhandled event ${JSON.stringify((e as { $case?: unknown })?.$case ?? e)}`);
}

const PREFIX: Record<StreamKind, string> = { order: 'order-', product: 'product-' };

export const orderStream = (orderId: string) => `${PREFIX.order}${orderId}`;
export const productStream = (productId: number) => `${PREFIX.product}${productId}`;

export type StreamRef = { kind: 'order'; id: string } | { kind: 'product'; id: number };

/** "order-<uuid>" → the order's id, "product-<n>" → the product's; undefined for a stream id of no known kind. */
export function parseStream(streamId: string): StreamRef | undefined {
  if (streamId.startsWith(PREFIX.order) && streamId.length > PREFIX.order.length) return { kind: 'order', id: streamId.slice(PREFIX.order.length) };
  if (streamId.startsWith(PREFIX.product)) {
    const rest = streamId.slice(PREFIX.product.length);
    if (/^[0-9]+$/.test(rest)) return { kind: 'product', id: Number(rest) };
  }
  return undefined;
}
