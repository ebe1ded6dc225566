// CommandService over gRPC: maps requests to domain commands (requests.ts)
// and runs them on the domain's deciders; no business rule lives here.
import { createHash, randomUUID } from 'node:crypto';
import * as api from '../gen/ts/cqrs/v1/command_service';
import { orderStream, productStream } from '../domain/events';
import { orderDecider, type OrderCommand } from '../domain/order';
import { productDecider } from '../domain/inventory';
import { status as grpcStatus } from '@grpc/grpc-js';
import { encodeConsistencyToken } from '../lib/consistency-token';
import { unary, type CallContext } from '../lib/grpc-server';
import { inventoryItem } from '../lib/inventory-view';
import type { Logger } from '../lib/logger';
import type { CommandHandler } from './command-handler';
import { isReplayed, type Codec, type IdempotencyStore } from './idempotency';
import { mayActFor, principalOf } from '../lib/access';
import { commands } from '../lib/metrics';
import { NotFoundError, PreconditionError, ValidationError } from '../domain/errors';
import type { ReadSideGate } from './read-side-gate';
import { checkOrderId, toCancelOrder, toCreateOrder, toProcessPayment, toUpdateInventory } from './requests';
import type { HealthReport } from '../lib/health';
import type { CommandLimiter } from '../lib/rate-limit';
import { StatusError } from '../lib/status-error';

/** A UUID-shaped id derived from an idempotency key: retries name the same order. */
function uuidFromKey(key: string): string {
  const h = createHash('sha256').update(`order:${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function commandService(handler: CommandHandler, idem: IdempotencyStore, gate: ReadSideGate, health: () => HealthReport, log: Logger, limiter?: CommandLimiter): api.CommandServiceServer {
  // Every client command passes its client's rate limit, then waits at the
  // read-side gate, and is counted by its outcome. One whose client gave up
  // meanwhile (cancelled, deadline passed) is dropped before it changes anything.
  const admitted = <Req, Res>(type: string, fn: (req: Req, md: Record<string, string>) => Promise<Res>) => async (req: Req, md: Record<string, string>, call: CallContext) => {
    try {
      limiter?.admit(md, call.peer);
      await gate.admit(call.signal);
      if (call.signal.aborted) throw new StatusError(grpcStatus.CANCELLED, 'the client gave up before the command ran');
      const res = await fn(req, md);
      commands.inc({ type, outcome: isReplayed(res) ? 'duplicate' : 'accepted' });
      return res;
    } catch (err) {
      commands.inc({ type, outcome: outcomeOf(err) });
      throw err;
    }
  };
  const clientCommand = <Req, Res>(type: string, req: Codec<Req>, res: Codec<Res>, fn: (r: Req, md: Record<string, string>) => Promise<Res>) =>
    unary(log, type, admitted(type, idem.wrap(type, req, res, fn)));
  // Someone else's order answers exactly as a missing one does.
  const checkOwner = async (orderId: string, md: Record<string, string>) => {
    if (mayActFor(md, 0)) return; // staff, a service, or authentication off
    const { state } = await handler.load(orderStream(orderId), orderDecider);
    // userId 0: no such order yet, which the decider answers for itself.
    if (state.userId !== 0 && !mayActFor(md, state.userId)) throw new NotFoundError('order not found');
  };
  const meta = (md: Record<string, string>) => {
    const correlationId = md['x-request-id'] || randomUUID();
    return { correlationId, causationId: correlationId };
  };
  // Where the command left its stream: a query given this token reads at least that.
  const token = (streamId: string, version: number) => (version > 0 ? encodeConsistencyToken([{ streamId, version }]) : '');
  const onOrder = async (orderId: string, command: OrderCommand, md: Record<string, string>, isNew = false) => {
    if (!isNew) await checkOwner(orderId, md);
    const done = await handler.execute(orderStream(orderId), orderDecider, command, meta(md), { isNew });
    return { orderId, status: done.state.status, consistencyToken: token(orderStream(orderId), done.version) };
  };

  return {
    createOrder: clientCommand('CreateOrder', api.CreateOrderRequest, api.CreateOrderResponse, async (req, md) => {
      const key = md['idempotency-key'];
      const owner = principalOf(md)?.subject;
      const command = toCreateOrder(req, key ? uuidFromKey(owner === undefined ? key : `${owner}:${key}`) : randomUUID());
      try {
        // A random id names a stream nobody wrote: no read needed (a key's id may exist).
        const { status, consistencyToken } = await onOrder(command.orderId, command, md, !key);
        return { orderId: command.orderId, status, message: 'order accepted; stock check in progress', consistencyToken };
      } catch (err) {
        // A retry after a crash that stored the order but not the answer.
        if (!key || !(err instanceof PreconditionError)) throw err;
        const { state, version } = await handler.load(orderStream(command.orderId), orderDecider);
        return { orderId: command.orderId, status: state.status, message: 'order already accepted', consistencyToken: token(orderStream(command.orderId), version) };
      }
    }),
    processPayment: clientCommand('ProcessPayment', api.ProcessPaymentRequest, api.ProcessPaymentResponse, async (req, md) => {
      const command = toProcessPayment(req, randomUUID());
      const { status, consistencyToken } = await onOrder(req.orderId, command, md);
      return { orderId: req.orderId, paymentId: command.paymentId, status, message: 'payment processed', consistencyToken };
    }),
    updateInventory: clientCommand('UpdateInventory', api.UpdateInventoryRequest, api.UpdateInventoryResponse, async (req, md) => {
      const command = toUpdateInventory(req);
      const done = await handler.execute(productStream(command.productId), productDecider, command, meta(md));
      return { item: inventoryItem(done.state), consistencyToken: token(productStream(command.productId), done.version) };
    }),
    shipOrder: clientCommand('ShipOrder', api.ShipOrderRequest, api.ShipOrderResponse, async (req, md) => {
      checkOrderId(req.orderId);
      return onOrder(req.orderId, { type: 'ShipOrder', trackingNumber: req.trackingNumber }, md);
    }),
    completeOrder: clientCommand('CompleteOrder', api.CompleteOrderRequest, api.CompleteOrderResponse, async (req, md) => {
      checkOrderId(req.orderId);
      return onOrder(req.orderId, { type: 'CompleteOrder' }, md);
    }),
    cancelOrder: clientCommand('CancelOrder', api.CancelOrderRequest, api.CancelOrderResponse, async (req, md) =>
      onOrder(req.orderId, toCancelOrder(req), md),
    ),
    getCommandHealth: unary(log, 'GetCommandHealth', async () => health()),
  };
}

function outcomeOf(err: unknown): 'invalid' | 'rejected' | 'limited' | 'abandoned' | 'error' {
  if (err instanceof ValidationError) return 'invalid';
  if (err instanceof StatusError && err.code === grpcStatus.RESOURCE_EXHAUSTED) return 'limited';
  if (err instanceof StatusError && err.code === grpcStatus.CANCELLED) return 'abandoned';
  return err instanceof PreconditionError || err instanceof NotFoundError ? 'rejected' : 'error';
}
