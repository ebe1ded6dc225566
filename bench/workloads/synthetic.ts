// Synthetic order streams for the projector alone: realistic envelopes
// (OrderInitiated → OrderValidated → PaymentProcessed → OrderPaid), encoded
// and published exactly as command-svc does (lib/envelope.ts), sent straight
// to the projector's queue so nothing else reacts to them.
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { PaymentMethod } from '../../gen/ts/cqrs/v1/common';
import type { EventEnvelope } from '../../gen/ts/cqrs/v1/events';
import { event, orderStream, type DomainEvent } from '../../domain/events';
import { PROJECTOR_QUEUE } from '../../lib/consumer';
import { encodeEnvelope, newEnvelope, publishOptions } from '../../lib/envelope';

export { PROJECTOR_QUEUE };
export const SYNTHETIC_USERS_FROM = 700_000;

export function syntheticOrderEvents(seed: number, productIds: number[]): DomainEvent[] {
  const orderId = randomUUID();
  const productId = productIds[seed % productIds.length];
  const quantity = 1 + (seed % 3);
  const unitPriceCents = 999;
  const totalCents = unitPriceCents * quantity;
  const paymentId = randomUUID();
  return [
    event('orderInitiated', { orderId, userId: SYNTHETIC_USERS_FROM + (seed % 500), userEmail: `synthetic${seed % 500}@example.com`, lines: [{ productId, quantity }] }),
    event('orderValidated', { orderId, lines: [{ productId, productName: `Bench product ${productId}`, quantity, unitPriceCents }], totalCents }),
    event('paymentProcessed', { orderId, paymentId, amountCents: totalCents, method: PaymentMethod.CREDIT_CARD }),
    event('orderPaid', { orderId, paymentId, amountCents: totalCents }),
  ];
}

/** Publishes `count` events (whole streams, in order) with confirms. */
export async function publishSynthetic(amqpUrl: string, count: number, seed: number, productIds: number[]): Promise<void> {
  const conn = await amqp.connect(amqpUrl, { timeout: 5_000 });
  try {
    const ch = await conn.createConfirmChannel();
    let sent = 0;
    for (let s = seed; sent < count; s++) {
      const events = syntheticOrderEvents(s, productIds);
      const orderId = (events[0].value as { orderId: string }).orderId;
      const meta = { correlationId: randomUUID(), causationId: randomUUID() };
      for (let v = 0; v < events.length && sent < count; v++, sent++) {
        const e: EventEnvelope = newEnvelope(orderStream(orderId), v + 1, events[v], meta, new Date());
        ch.sendToQueue(PROJECTOR_QUEUE, encodeEnvelope(e), publishOptions(e));
      }
      if (sent % 512 < 4) await ch.waitForConfirms();
    }
    await ch.waitForConfirms();
    await ch.close();
  } finally {
    await conn.close().catch(() => undefined);
  }
}
