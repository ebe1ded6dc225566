// The order process manager: reacts to order events by issuing commands to
// product aggregates (reserve, release, sell) and back to the order (validate,
// reject). Every step is idempotent (reservations are keyed by order id and
// the order's status gates each transition), so redelivery is harmless.
import type { PricedLine } from '../gen/ts/cqrs/v1/common';
import { OrderStatus } from '../gen/ts/cqrs/v1/common';
import { PreconditionError } from '../domain/errors';
import { orderStream, productStream } from '../domain/events';
import { productDecider, ReservationRefused, type ProductCommand } from '../domain/inventory';
import { orderDecider, type OrderCommand, type OrderState } from '../domain/order';
import type { EventMeta } from '../lib/envelope';
import type { Envelope } from '../lib/consumer';
import type { Logger } from '../lib/logger';
import { KeyedLock } from '../lib/keyed-lock';
import type { CommandHandler } from './command-handler';

export const ORDER_PROCESS_EVENTS = ['cqrs.v1.OrderInitiated', 'cqrs.v1.OrderPaid', 'cqrs.v1.OrderCancelled'];

export class OrderProcess {
  private readonly locks = new KeyedLock();

  constructor(
    private readonly handler: CommandHandler,
    private readonly log: Logger,
  ) {}

  /** One order's events are handled one at a time, duplicates included. */
  handle(e: Envelope): Promise<void> {
    return this.locks.run(e.streamId, () => this.react(e));
  }

  private async react(e: Envelope): Promise<void> {
    const meta: EventMeta = { correlationId: e.correlationId, causationId: e.eventId };
    const p = e.payload;
    if (p.$case === 'orderInitiated') return this.checkStock(p.value.orderId, meta);
    if (p.$case === 'orderPaid') return this.onEachLine(p.value.orderId, 'Sell', meta);
    if (p.$case === 'orderCancelled') return this.onEachLine(p.value.orderId, 'Release', meta);
  }

  private async checkStock(orderId: string, meta: EventMeta): Promise<void> {
    const order = await this.order(orderId);
    if (order.status !== OrderStatus.PENDING) return;
    const priced: PricedLine[] = [];
    // A fixed order (by product) keeps two multi-item orders from starving each other.
    for (const line of [...order.lines].sort((a, b) => a.productId - b.productId)) {
      try {
        const { state } = await this.product(line.productId, { type: 'Reserve', productId: line.productId, orderId, quantity: line.quantity }, meta);
        priced.push({ productId: line.productId, productName: state.productName, quantity: line.quantity, unitPriceCents: state.unitPriceCents });
      } catch (err) {
        if (!(err instanceof ReservationRefused)) throw err;
        await this.releaseAll(order, meta);
        await this.orderCommand(orderId, { type: 'RejectOrder', reason: err.message }, meta);
        this.log.info({ orderId, correlationId: meta.correlationId, reason: err.message }, 'order rejected');
        return;
      }
    }
    const validated = await this.orderCommand(orderId, { type: 'ValidateOrder', lines: order.lines.map((l) => priced.find((p) => p.productId === l.productId)!) }, meta);
    if (validated) return this.log.info({ orderId, correlationId: meta.correlationId }, 'order validated');
    // Refused: the order moved on while we reserved. Give the stock back only
    // if it ended without it (cancelled); if a redelivered copy of this event
    // validated it first, the reservation is that validation's and stays.
    const now = await this.order(orderId);
    if (now.status === OrderStatus.CANCELLED || now.status === OrderStatus.REJECTED) await this.releaseAll(order, meta);
  }

  private releaseAll(order: OrderState, meta: EventMeta): Promise<void> {
    return this.onEachLine(order.orderId, 'Release', meta, order);
  }

  /** Release or sell the order's reservation on each of its products. */
  private async onEachLine(orderId: string, type: 'Release' | 'Sell', meta: EventMeta, known?: OrderState): Promise<void> {
    const order = known ?? (await this.order(orderId));
    for (const line of order.lines) await this.product(line.productId, { type, orderId }, meta);
  }

  /** Returns false when the order's state refuses the step (it moved on). */
  private async orderCommand(orderId: string, command: OrderCommand, meta: EventMeta): Promise<boolean> {
    try {
      await this.handler.execute(orderStream(orderId), orderDecider, command, meta);
      return true;
    } catch (err) {
      if (err instanceof PreconditionError) return false;
      throw err;
    }
  }

  private product(productId: number, command: ProductCommand, meta: EventMeta) {
    return this.handler.execute(productStream(productId), productDecider, command, meta);
  }

  private async order(orderId: string): Promise<OrderState> {
    return (await this.handler.load(orderStream(orderId), orderDecider)).state;
  }
}
