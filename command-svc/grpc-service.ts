// CommandService over gRPC: maps requests to domain commands at the edge and
// runs them; no business rule lives here.
import { randomUUID } from 'node:crypto';
import type { CommandServiceServer } from '../gen/ts/cqrs/v1/command_service';
import { orderStream, productStream } from '../domain/events';
import { decideOrder, evolveOrder, initialOrder, type OrderCommand, type OrderState } from '../domain/order';
import { decideProduct, evolveProduct, initialProduct, type ProductCommand, type ProductState } from '../domain/inventory';
import { checkOrderId, toCancelOrder, toCreateOrder, toProcessPayment, toUpdateInventory } from '../domain/validation';
import { unary } from '../lib/grpc-server';
import { inventoryItem } from '../lib/inventory-view';
import type { Logger } from '../lib/logger';
import type { Aggregate, CommandHandler } from './command-handler';
import type { HealthReport } from '../lib/health';

export const orderAggregate: Aggregate<OrderState, OrderCommand> = { initial: initialOrder, decide: decideOrder, evolve: evolveOrder };
export const productAggregate: Aggregate<ProductState, ProductCommand> = { initial: initialProduct, decide: decideProduct, evolve: evolveProduct };

export function commandService(handler: CommandHandler, health: () => HealthReport, log: Logger): CommandServiceServer {
  const meta = (md: Record<string, string>) => {
    const correlationId = md['x-request-id'] || randomUUID();
    return { correlationId, causationId: correlationId };
  };
  const onOrder = async (orderId: string, command: OrderCommand, md: Record<string, string>) => {
    const done = await handler.execute(orderStream(orderId), orderAggregate, command, meta(md));
    return { orderId, status: done.state.status };
  };

  return {
    createOrder: unary(log, 'CreateOrder', async (req, md) => {
      const command = toCreateOrder(req, randomUUID());
      const { status } = await onOrder(command.orderId, command, md);
      return { orderId: command.orderId, status, message: 'order accepted; stock check in progress' };
    }),
    processPayment: unary(log, 'ProcessPayment', async (req, md) => {
      const command = toProcessPayment(req, randomUUID());
      const { status } = await onOrder(req.orderId, command, md);
      return { orderId: req.orderId, paymentId: command.paymentId, status, message: 'payment processed' };
    }),
    updateInventory: unary(log, 'UpdateInventory', async (req, md) => {
      const command = toUpdateInventory(req);
      const done = await handler.execute(productStream(command.productId), productAggregate, command, meta(md));
      return { item: inventoryItem(done.state) };
    }),
    shipOrder: unary(log, 'ShipOrder', async (req, md) => {
      checkOrderId(req.orderId);
      return onOrder(req.orderId, { type: 'ShipOrder', trackingNumber: req.trackingNumber }, md);
    }),
    completeOrder: unary(log, 'CompleteOrder', async (req, md) => {
      checkOrderId(req.orderId);
      return onOrder(req.orderId, { type: 'CompleteOrder' }, md);
    }),
    cancelOrder: unary(log, 'CancelOrder', async (req, md) => onOrder(req.orderId, toCancelOrder(req), md)),
    getCommandHealth: unary(log, 'GetCommandHealth', async () => health()),
  };
}
