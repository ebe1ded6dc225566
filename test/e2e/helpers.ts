// Shared by the end-to-end suites: gRPC error details, a temporary tap on the
// event exchange, write-store counts, and JSON shape checks.
import type { ServiceError } from '@grpc/grpc-js';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { MongoClient } from 'mongodb';
import * as cmd from '../../gen/ts/cqrs/v1/command_service';
import * as qry from '../../gen/ts/cqrs/v1/query_service';
import { BadRequest } from '../../gen/ts/google/rpc/error_details';
import { Status } from '../../gen/ts/google/rpc/status';
import { call, type clients } from '../../kit/clients';

type Md = Record<string, string>;

/**
 * Promise-returning, fully typed calls on the generated clients. (`call()`
 * alone infers the response as `unknown` from the clients' overloads.)
 * Requests are partial: fromPartial fills proto3 defaults.
 */
export function rpc(g: ReturnType<typeof clients>) {
  const c = g.command;
  const q = g.query;
  return {
    createOrder: (r: Partial<cmd.CreateOrderRequest>, md?: Md) =>
      call<cmd.CreateOrderRequest, cmd.CreateOrderResponse>(c, c.createOrder, cmd.CreateOrderRequest.fromPartial(r), md),
    processPayment: (r: Partial<cmd.ProcessPaymentRequest>, md?: Md) =>
      call<cmd.ProcessPaymentRequest, cmd.ProcessPaymentResponse>(c, c.processPayment, cmd.ProcessPaymentRequest.fromPartial(r), md),
    updateInventory: (r: Partial<cmd.UpdateInventoryRequest>, md?: Md) =>
      call<cmd.UpdateInventoryRequest, cmd.UpdateInventoryResponse>(c, c.updateInventory, cmd.UpdateInventoryRequest.fromPartial(r), md),
    shipOrder: (r: Partial<cmd.ShipOrderRequest>, md?: Md) =>
      call<cmd.ShipOrderRequest, cmd.ShipOrderResponse>(c, c.shipOrder, cmd.ShipOrderRequest.fromPartial(r), md),
    cancelOrder: (r: Partial<cmd.CancelOrderRequest>, md?: Md) =>
      call<cmd.CancelOrderRequest, cmd.CancelOrderResponse>(c, c.cancelOrder, cmd.CancelOrderRequest.fromPartial(r), md),
    getOrder: (orderId: string) => call<qry.GetOrderRequest, qry.GetOrderResponse>(q, q.getOrder, qry.GetOrderRequest.fromPartial({ orderId })),
    listOrders: (r: Partial<qry.ListOrdersRequest>) =>
      call<qry.ListOrdersRequest, qry.ListOrdersResponse>(q, q.listOrders, qry.ListOrdersRequest.fromPartial(r)),
    getUserSummary: (userId: number) => call<qry.GetUserSummaryRequest, qry.GetUserSummaryResponse>(q, q.getUserSummary, qry.GetUserSummaryRequest.fromPartial({ userId })),
    getProductInventory: (productId: number) =>
      call<qry.GetProductInventoryRequest, qry.GetProductInventoryResponse>(q, q.getProductInventory, qry.GetProductInventoryRequest.fromPartial({ productId })),
  };
}

/** Runs a call that must fail and returns its gRPC error. */
export async function grpcFailure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the gRPC call to fail, but it succeeded');
}

/** The google.rpc.Status carried in grpc-status-details-bin, if any. */
export function statusDetails(err: ServiceError): Status | undefined {
  const raw = err.metadata?.get('grpc-status-details-bin')[0];
  if (raw === undefined) return undefined;
  return Status.decode(typeof raw === 'string' ? Buffer.from(raw, 'base64') : raw);
}

/** Every field named by the google.rpc.BadRequest details of an error. */
export function violatedFields(err: ServiceError): string[] {
  const st = statusDetails(err);
  if (!st) return [];
  return st.details
    .filter((d) => d.typeUrl === 'type.googleapis.com/google.rpc.BadRequest')
    .flatMap((d) => BadRequest.decode(d.value).fieldViolations.map((v) => v.field));
}

/** Every object key in a JSON value, recursively (map keys included). */
export function allKeys(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) allKeys(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      allKeys(v, out);
    }
  }
  return out;
}

/** Keys that look like lowerCamelCase (a lower-case letter or digit followed by an upper-case one). */
export const camelCaseKeys = (value: unknown) => allKeys(value).filter((k) => /[a-z0-9][A-Z]/.test(k));

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;


/**
 * A temporary, exclusive, auto-deleted queue bound to cqrs.events on the
 * mesh's vhost: every event published after `open()` resolves lands here.
 */
export class EventTap {
  readonly messages: ConsumeMessage[] = [];
  private constructor(
    private readonly conn: ChannelModel,
    readonly queue: string,
  ) {}

  /** `onMessage` runs as each message arrives (to react faster than polling). */
  static async open(amqpUrl: string, routingKey = '#', onMessage?: (msg: ConsumeMessage) => void): Promise<EventTap> {
    const conn = await amqp.connect(amqpUrl, { timeout: 5_000 });
    try {
      const ch = await conn.createChannel();
      await ch.assertExchange('cqrs.events', 'topic', { durable: true });
      const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await ch.bindQueue(queue, 'cqrs.events', routingKey);
      const tap = new EventTap(conn, queue);
      await ch.consume(
        queue,
        (msg) => {
          if (!msg) return;
          tap.messages.push(msg);
          onMessage?.(msg);
        },
        { noAck: true },
      );
      return tap;
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

/** Documents in the write store's commits and outbox collections. */
export async function writeStoreCounts(mongo: MongoClient): Promise<{ commits: number; outbox: number }> {
  const db = mongo.db('cqrs_write');
  const [commits, outbox] = await Promise.all([db.collection('commits').countDocuments({}), db.collection('outbox').countDocuments({})]);
  return { commits, outbox };
}

/** Runs `fn` over `items`, `size` at a time. */
export async function inBatches<T, R>(items: T[], size: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...(await Promise.all(items.slice(i, i + size).map((item, j) => fn(item, i + j)))));
  }
  return out;
}
