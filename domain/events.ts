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

export function event<C extends EventCase>($case: C, value: EventOf<C>): DomainEvent {
  return { $case, value } as DomainEvent;
}

export const orderStream = (orderId: string) => `order-${orderId}`;
export const productStream = (productId: number) => `product-${productId}`;
