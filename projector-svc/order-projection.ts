// The Order read model as a pure fold over the order stream's events.
import { OrderStatus, PaymentMethod } from '../gen/ts/cqrs/v1/common';
import { eventName, isEventOf, unhandled, type DomainEvent } from '../domain/events';
import type { OrderDoc } from '../read-models';

export interface StreamEvent {
  version: number;
  occurredAt: Date;
  payload: DomainEvent;
}

const name = (s: OrderStatus) => OrderStatus[s];

export function emptyOrder(orderId: string, at: Date): OrderDoc {
  return {
    _id: orderId, version: 0, order_id: orderId, user_id: 0, user_email: '', status: name(OrderStatus.PENDING),
    status_reason: '', total_cents: 0, items: [], payment_info: null, timeline: [], created_at: at, updated_at: at,
  };
}

export function projectOrder(doc: OrderDoc, e: StreamEvent): OrderDoc {
  const next: OrderDoc = {
    ...doc,
    version: e.version,
    updated_at: e.occurredAt,
    timeline: [...doc.timeline, { event: eventName(e.payload), timestamp: e.occurredAt }],
  };
  const p = e.payload;
  if (!isEventOf('order', p)) throw new Error(`order ${doc.order_id}: ${p.$case} is not an event of an order stream`);
  switch (p.$case) {
    case 'orderInitiated':
      return {
        ...next, user_id: p.value.userId, user_email: p.value.userEmail, created_at: e.occurredAt, status: name(OrderStatus.PENDING),
        items: p.value.lines.map((l) => ({ product_id: l.productId, product_name: '', quantity: l.quantity, unit_price_cents: 0 })),
      };
    case 'orderValidated':
      return {
        ...next, status: name(OrderStatus.VALIDATED), total_cents: p.value.totalCents,
        items: p.value.lines.map((l) => ({ product_id: l.productId, product_name: l.productName, quantity: l.quantity, unit_price_cents: l.unitPriceCents })),
      };
    case 'orderRejected':
      return { ...next, status: name(OrderStatus.REJECTED), status_reason: p.value.reason };
    case 'paymentProcessed':
      return {
        ...next,
        payment_info: { payment_id: p.value.paymentId, amount_cents: p.value.amountCents, method: PaymentMethod[p.value.method], status: 'PROCESSED', processed_at: e.occurredAt },
      };
    case 'paymentFailed':
      return {
        ...next, status_reason: p.value.reason,
        payment_info: { payment_id: p.value.paymentId, amount_cents: p.value.amountCents, method: PaymentMethod[p.value.method], status: 'FAILED', processed_at: e.occurredAt },
      };
    case 'orderPaid':
      return { ...next, status: name(OrderStatus.PAID) };
    case 'orderShipped':
      return { ...next, status: name(OrderStatus.SHIPPED) };
    case 'orderCompleted':
      return { ...next, status: name(OrderStatus.COMPLETED) };
    case 'orderCancelled':
      return { ...next, status: name(OrderStatus.CANCELLED), status_reason: p.value.reason };
    default:
      return unhandled(p);
  }
}
