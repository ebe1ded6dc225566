// The fault-injection suites' workload and checker.
//
// A workload stocks a few products, then runs orders for many users through
// the real gRPC API (CreateOrder, ProcessPayment with the exact total, some
// CancelOrder, a few ShipOrder/CompleteOrder), recording every command's fate
// as the client saw it:
//   ok       the service acknowledged it;
//   refused  a definite refusal (INVALID_ARGUMENT, FAILED_PRECONDITION,
//            NOT_FOUND, ABORTED): nothing was stored;
//   unknown  no answer or a transport/internal error: it may or may not have
//            taken effect.
//
// The checker waits (bounded) for the read models to settle, then classifies
// every command as the Jepsen RabbitMQ checker does — acknowledged and
// projected (ok), acknowledged and lost, unacknowledged but projected
// (recovered, allowed), duplicated in effect, unexpected — and compares every
// read model (orders, inventory, user summaries, statistics) with the values
// computed from the commands and the orders' final statuses, and with the fold
// of the write store's events.
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import * as cmd from '../../gen/ts/cqrs/v1/command_service';
import * as qry from '../../gen/ts/cqrs/v1/query_service';
import { OrderStatus, PaymentMethod } from '../../gen/ts/cqrs/v1/common';
import { EventEnvelope } from '../../gen/ts/cqrs/v1/events';
import type { InventoryItem, Order, OrderStatistics, UserOrderSummary } from '../../gen/ts/cqrs/v1/read_models';
import { evolveStored } from '../../domain/decider';
import { parseStream } from '../../domain/events';
import { productDecider, type ProductState } from '../../domain/inventory';
import { inventoryItem } from '../../lib/inventory-view';
import { rng, type Rng } from '../../kit/random';
import { sleep } from '../../kit/wait';

// ---------------------------------------------------------------- utilities

const PAID = ['PAID', 'SHIPPED', 'COMPLETED'];
const statusName = (s: OrderStatus) => OrderStatus[s] as string;
const cents = (x: number) => Math.round(x * 100);

// ---------------------------------------------------------------- gRPC API

type Md = Record<string, string>;

/**
 * Typed calls with a deadline on every call, on clients that retry a lost
 * connection quickly (services are restarted on the same port during faults).
 */
export class MeshApi {
  readonly command: cmd.CommandServiceClient;
  readonly query: qry.QueryServiceClient;

  constructor(commandAddr: string, queryAddr: string, readonly timeoutMs = 10_000) {
    const opts = { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1_000, 'grpc.min_reconnect_backoff_ms': 100 };
    this.command = new cmd.CommandServiceClient(commandAddr, credentials.createInsecure(), opts);
    this.query = new qry.QueryServiceClient(queryAddr, credentials.createInsecure(), opts);
  }

  /**
   * Commands wait for a connection (a restarting service is waited for, up
   * to the deadline, as a client with a retry policy would); health probes
   * fail fast.
   */
  private call<Req, Res>(client: object, method: (...a: any[]) => unknown, req: Req, md: Md = {}, timeoutMs = this.timeoutMs, waitForReady = true): Promise<Res> {
    const meta = new Metadata({ waitForReady });
    for (const [k, v] of Object.entries(md)) meta.set(k, v);
    return new Promise((resolve, reject) =>
      method.call(client, req, meta, { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res))),
    );
  }

  createOrder = (r: Partial<cmd.CreateOrderRequest>, md?: Md) =>
    this.call<cmd.CreateOrderRequest, cmd.CreateOrderResponse>(this.command, this.command.createOrder, cmd.CreateOrderRequest.fromPartial(r), md);
  processPayment = (r: Partial<cmd.ProcessPaymentRequest>, md?: Md) =>
    this.call<cmd.ProcessPaymentRequest, cmd.ProcessPaymentResponse>(this.command, this.command.processPayment, cmd.ProcessPaymentRequest.fromPartial(r), md);
  updateInventory = (r: Partial<cmd.UpdateInventoryRequest>, md?: Md) =>
    this.call<cmd.UpdateInventoryRequest, cmd.UpdateInventoryResponse>(this.command, this.command.updateInventory, cmd.UpdateInventoryRequest.fromPartial(r), md);
  cancelOrder = (r: Partial<cmd.CancelOrderRequest>, md?: Md) =>
    this.call<cmd.CancelOrderRequest, cmd.CancelOrderResponse>(this.command, this.command.cancelOrder, cmd.CancelOrderRequest.fromPartial(r), md);
  shipOrder = (r: Partial<cmd.ShipOrderRequest>, md?: Md) =>
    this.call<cmd.ShipOrderRequest, cmd.ShipOrderResponse>(this.command, this.command.shipOrder, cmd.ShipOrderRequest.fromPartial(r), md);
  completeOrder = (r: Partial<cmd.CompleteOrderRequest>, md?: Md) =>
    this.call<cmd.CompleteOrderRequest, cmd.CompleteOrderResponse>(this.command, this.command.completeOrder, cmd.CompleteOrderRequest.fromPartial(r), md);
  commandHealth = (timeoutMs = 3_000) =>
    this.call<cmd.GetCommandHealthRequest, cmd.GetCommandHealthResponse>(this.command, this.command.getCommandHealth, {}, {}, timeoutMs, false);

  getOrder = (orderId: string) => this.call<qry.GetOrderRequest, qry.GetOrderResponse>(this.query, this.query.getOrder, qry.GetOrderRequest.fromPartial({ orderId }));
  listOrders = (r: Partial<qry.ListOrdersRequest>) =>
    this.call<qry.ListOrdersRequest, qry.ListOrdersResponse>(this.query, this.query.listOrders, qry.ListOrdersRequest.fromPartial(r));
  getInventory = (r: Partial<qry.GetInventoryRequest>) =>
    this.call<qry.GetInventoryRequest, qry.GetInventoryResponse>(this.query, this.query.getInventory, qry.GetInventoryRequest.fromPartial(r));
  getProductInventory = (productId: number) =>
    this.call<qry.GetProductInventoryRequest, qry.GetProductInventoryResponse>(this.query, this.query.getProductInventory, qry.GetProductInventoryRequest.fromPartial({ productId }));
  getUserSummary = (userId: number) =>
    this.call<qry.GetUserSummaryRequest, qry.GetUserSummaryResponse>(this.query, this.query.getUserSummary, qry.GetUserSummaryRequest.fromPartial({ userId }));
  getStatistics = () =>
    this.call<qry.GetOrderStatisticsRequest, qry.GetOrderStatisticsResponse>(this.query, this.query.getOrderStatistics, qry.GetOrderStatisticsRequest.fromPartial({}));
  queryHealth = (timeoutMs = 3_000) =>
    this.call<qry.GetQueryHealthRequest, qry.GetQueryHealthResponse>(this.query, this.query.getQueryHealth, {}, {}, timeoutMs, false);

  /** Every order in the read store, all pages. */
  allOrders = (): Promise<Order[]> =>
    allPages('ListOrders', async (pageToken) => {
      const page = await this.listOrders({ pageSize: 500, pageToken });
      return { items: page.orders, next: page.nextPageToken };
    });

  /** Every product in the read store, all pages. */
  allInventory = (): Promise<InventoryItem[]> =>
    allPages('GetInventory', async (pageToken) => {
      const page = await this.getInventory({ pageSize: 500, pageToken });
      return { items: page.items, next: page.nextPageToken };
    });

  close(): void {
    this.command.close();
    this.query.close();
  }
}

/** Follows next_page_token to the end (bounded, so a token loop fails instead of hanging). */
async function allPages<T>(what: string, fetch: (pageToken: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> {
  const out: T[] = [];
  let pageToken = '';
  for (let i = 0; i < 1_000; i++) {
    const { items, next } = await fetch(pageToken);
    out.push(...items);
    if (!next) return out;
    pageToken = next;
  }
  throw new Error(`${what} did not end after 1000 pages`);
}

// ---------------------------------------------------------------- workload

export type Fate = 'ok' | 'refused' | 'unknown';
export type CommandKind = 'UpdateInventory' | 'CreateOrder' | 'ProcessPayment' | 'CancelOrder' | 'ShipOrder' | 'CompleteOrder';

export interface CommandRecord {
  seq: number;
  kind: CommandKind;
  orderKey?: number;
  orderId?: string;
  productId?: number;
  fate: Fate;
  code?: number;
  detail?: string;
  startedAt: number;
  endedAt: number;
}

/** Definite refusals: the service decided and stored nothing. */
const REFUSALS = new Set<number>([status.INVALID_ARGUMENT, status.FAILED_PRECONDITION, status.NOT_FOUND, status.ABORTED, status.ALREADY_EXISTS, status.OUT_OF_RANGE]);

export interface ProductSpec {
  productId: number;
  productName: string;
  unitPriceCents: number;
  stock: number;
  lowStockThreshold: number;
}

export interface Line {
  productId: number;
  quantity: number;
}

export type Plan = 'pay' | 'pay-ship' | 'pay-complete' | 'cancel-early' | 'cancel-late' | 'leave';

/** What the client knows about one order. */
export interface ClientOrder {
  key: number;
  userId: number;
  userEmail: string;
  lines: Line[];
  /** Sent as the seed's single-product form rather than items. */
  single: boolean;
  plan: Plan;
  expectedTotalCents: number;
  orderId?: string;
  create?: Fate;
  /** Strongest outcome per follow-up command: 'ok' beats 'unknown' beats undefined. */
  pay?: Fate;
  cancel?: Fate;
  ship?: Fate;
  complete?: Fate;
  /** A command was refused because the order is REJECTED. */
  sawRejected?: boolean;
  notes: string[];
}

export interface WorkloadOptions {
  seed?: number;
  products?: number;
  users?: number;
  orders?: number;
  concurrency?: number;
  /** Base for product and user ids, so a test's ids are recognisable. */
  idBase?: number;
  /** Pause between one worker's orders (spreads the load over a fault). */
  thinkMs?: [number, number];
  /** How long a worker keeps retrying a payment on a PENDING order, or an unanswered command. */
  followUpWindowMs?: number;
}

const PLANS: Array<[Plan, number]> = [
  ['pay', 0.45],
  ['pay-ship', 0.08],
  ['pay-complete', 0.07],
  ['cancel-early', 0.1],
  ['cancel-late', 0.1],
  ['leave', 0.2],
];

export class Workload {
  readonly seed: number;
  readonly rand: Rng;
  readonly products: ProductSpec[] = [];
  readonly users: number[] = [];
  readonly orders: ClientOrder[] = [];
  readonly records: CommandRecord[] = [];
  readonly opts: Required<Omit<WorkloadOptions, 'seed'>>;
  private seq = 0;
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  private stopped = false;
  private aborted = false;

  constructor(o: WorkloadOptions = {}) {
    Workload.live.add(this);
    this.seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
    this.rand = rng(this.seed);
    this.opts = {
      products: o.products ?? 8,
      users: o.users ?? 24,
      orders: o.orders ?? 160,
      concurrency: o.concurrency ?? 8,
      idBase: o.idBase ?? 1000 + this.rand.int(0, 8) * 1000,
      thinkMs: o.thinkMs ?? [0, 0],
      followUpWindowMs: o.followUpWindowMs ?? 60_000,
    };
    const { idBase } = this.opts;
    for (let i = 0; i < this.opts.products; i++) {
      // Two scarce products, so some orders are rejected for lack of stock.
      const scarce = i < 2;
      this.products.push({
        productId: idBase + i + 1,
        productName: `Fault product ${idBase + i + 1}`,
        unitPriceCents: this.rand.int(99, 9_999),
        stock: scarce ? this.rand.int(10, 20) : this.rand.int(400, 600),
        lowStockThreshold: scarce ? 3 : 50,
      });
    }
    for (let i = 0; i < this.opts.users; i++) this.users.push(idBase + 100 + i);
    for (let k = 0; k < this.opts.orders; k++) this.orders.push(this.planOrder(k));
  }

  /** Plans `n` more orders, on a subset of the products and users if given. */
  addOrders(n: number, only: { productIds?: number[]; userIds?: number[] } = {}): ClientOrder[] {
    const added: ClientOrder[] = [];
    for (let i = 0; i < n; i++) {
      const o = this.planOrder(this.orders.length, only);
      this.orders.push(o);
      added.push(o);
    }
    return added;
  }

  private planOrder(key: number, only: { productIds?: number[]; userIds?: number[] } = {}): ClientOrder {
    const r = this.rand;
    const products = only.productIds ? this.products.filter((p) => only.productIds!.includes(p.productId)) : this.products;
    const nLines = Math.min(products.length, r.next() < 0.6 ? 1 : r.int(2, 3));
    const chosen = r.shuffle([...products]).slice(0, nLines);
    const lines = chosen.map((p) => ({ productId: p.productId, quantity: r.int(1, 3) })).sort((a, b) => a.productId - b.productId);
    let x = r.next();
    let plan: Plan = 'leave';
    for (const [p, w] of PLANS) {
      if (x < w) {
        plan = p;
        break;
      }
      x -= w;
    }
    const userId = r.pick(only.userIds ?? this.users);
    return {
      key,
      userId,
      userEmail: r.next() < 0.5 ? `user${userId}@example.com` : '',
      lines,
      single: nLines === 1 && r.next() < 0.5,
      plan,
      expectedTotalCents: lines.reduce((s, l) => s + l.quantity * this.product(l.productId).unitPriceCents, 0),
      notes: [],
    };
  }

  product(productId: number): ProductSpec {
    const p = this.products.find((x) => x.productId === productId);
    if (!p) throw new Error(`no product ${productId} in the workload`);
    return p;
  }

  /** Stops the workload: no new orders, no more retries (a failing test calls this). */
  abort(): void {
    this.aborted = true;
  }

  private static readonly live = new Set<Workload>();
  /** Stops every workload still running (after a failure, so nothing runs on into the next test). */
  static abortAll(): void {
    for (const w of Workload.live) w.abort();
    Workload.live.clear();
  }

  /** Commands answered so far (any fate). */
  get done(): number {
    return this.records.length;
  }

  /** Resolves once `n` commands have been answered (or the workload ended). */
  whenCommands(n: number): Promise<void> {
    if (this.records.length >= n || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  private async send<T>(kind: CommandKind, o: ClientOrder | undefined, fn: () => Promise<T>, productId?: number): Promise<{ fate: Fate; res?: T; err?: ServiceError }> {
    const startedAt = Date.now();
    let fate: Fate;
    let res: T | undefined;
    let err: ServiceError | undefined;
    try {
      res = await fn();
      fate = 'ok';
    } catch (e) {
      err = e as ServiceError;
      fate = typeof err.code === 'number' && REFUSALS.has(err.code) ? 'refused' : 'unknown';
    }
    this.records.push({
      seq: this.seq++, kind, orderKey: o?.key, productId, orderId: o?.orderId ?? (res as { orderId?: string } | undefined)?.orderId, fate,
      code: err?.code, detail: err ? String(err.details ?? err.message).slice(0, 200) : undefined, startedAt, endedAt: Date.now(),
    });
    const n = this.records.length;
    this.waiters = this.waiters.filter((w) => (n >= w.n ? (w.resolve(), false) : true));
    return { fate, res, err };
  }

  /** Stocks every product; retries until acknowledged (run before any fault). */
  async stock(api: MeshApi): Promise<void> {
    for (const p of this.products) {
      for (let attempt = 1; ; attempt++) {
        const r = await this.send('UpdateInventory', undefined, () =>
          api.updateInventory({ productId: p.productId, productName: p.productName, unitPrice: p.unitPriceCents / 100, quantity: p.stock, lowStockThreshold: p.lowStockThreshold }),
        p.productId);
        if (r.fate === 'ok') break;
        if (attempt >= 10) throw new Error(`stocking product ${p.productId} failed: ${r.err?.message}`);
        await sleep(500);
      }
    }
  }

  /** Runs every planned order, `concurrency` at a time. */
  async run(api: MeshApi, orders: ClientOrder[] = this.orders): Promise<void> {
    const queue = [...orders];
    this.stopped = false;
    const worker = async () => {
      for (let o = queue.shift(); o && !this.aborted; o = queue.shift()) {
        await this.runOrder(api, o);
        const [lo, hi] = this.opts.thinkMs;
        if (hi > 0) await sleep(this.rand.int(lo, hi));
      }
    };
    try {
      await Promise.all(Array.from({ length: this.opts.concurrency }, worker));
    } finally {
      this.stopped = true;
      for (const w of this.waiters) w.resolve();
      this.waiters = [];
    }
  }

  private async runOrder(api: MeshApi, o: ClientOrder): Promise<void> {
    const req: Partial<cmd.CreateOrderRequest> = o.single
      ? { userId: o.userId, userEmail: o.userEmail, productId: o.lines[0].productId, quantity: o.lines[0].quantity }
      : { userId: o.userId, userEmail: o.userEmail, items: o.lines };
    const created = await this.send('CreateOrder', o, () => api.createOrder(req, { 'x-request-id': `fault-${this.seed}-${o.key}` }));
    o.create = created.fate;
    if (created.fate !== 'ok') {
      if (created.fate === 'refused') o.notes.push(`create refused: ${created.err?.details}`);
      else await sleep(500); // a client backs off when the service does not answer
      return;
    }
    o.orderId = created.res!.orderId;
    switch (o.plan) {
      case 'leave':
        return;
      case 'cancel-early':
        await this.cancel(api, o);
        return;
      case 'cancel-late':
        await this.waitReadSide(api, o, 8_000);
        await this.cancel(api, o);
        return;
      case 'pay':
      case 'pay-ship':
      case 'pay-complete': {
        if (!(await this.pay(api, o))) return;
        if (o.plan === 'pay') return;
        if (!(await this.followUp(api, o, 'ShipOrder', 'ship', () => api.shipOrder({ orderId: o.orderId, trackingNumber: `TRK-${o.key}` }), /it is (SHIPPED|COMPLETED)/))) return;
        if (o.plan === 'pay-complete') await this.followUp(api, o, 'CompleteOrder', 'complete', () => api.completeOrder({ orderId: o.orderId }), /it is COMPLETED/);
        return;
      }
    }
  }

  /** Polls the read side until the order left PENDING (bounded); used only to time a late cancel. */
  private async waitReadSide(api: MeshApi, o: ClientOrder, maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline && !this.aborted) {
      try {
        const { order } = await api.getOrder(o.orderId!);
        if (order && order.status !== OrderStatus.PENDING) return;
      } catch {
        /* not projected yet, or the read side is down */
      }
      await sleep(150);
    }
  }

  /** Pays the exact total; retries while the stock check is still running, or when unanswered. */
  private async pay(api: MeshApi, o: ClientOrder): Promise<boolean> {
    const deadline = Date.now() + this.opts.followUpWindowMs;
    const method = this.rand.pick([PaymentMethod.CREDIT_CARD, PaymentMethod.DEBIT_CARD, PaymentMethod.PAYPAL, PaymentMethod.BANK_TRANSFER]);
    let pause = 250;
    await sleep(pause); // the stock check takes a moment
    for (;;) {
      const r = await this.send('ProcessPayment', o, () => api.processPayment({ orderId: o.orderId, amount: o.expectedTotalCents / 100, method }));
      if (r.fate === 'ok') {
        o.pay = 'ok';
        return true;
      }
      if (r.fate === 'unknown') o.pay ??= 'unknown';
      const why = String(r.err?.details ?? '');
      if (r.fate === 'refused') {
        if (/is REJECTED/.test(why)) {
          o.sawRejected = true;
          o.pay ??= 'refused';
          return false;
        }
        // An earlier unanswered payment went through.
        if (/it is (PAID|SHIPPED|COMPLETED)/.test(why) && o.pay === 'unknown') return true;
        if (!/PENDING/.test(why)) {
          o.notes.push(`payment refused: ${why}`);
          o.pay ??= 'refused';
          return false;
        }
      }
      if (Date.now() > deadline || this.aborted) {
        o.notes.push(`payment gave up: ${why}`);
        o.pay ??= 'refused';
        return false;
      }
      pause = Math.min(pause * 1.5, 1_000);
      await sleep(pause);
    }
  }

  private async cancel(api: MeshApi, o: ClientOrder): Promise<void> {
    await this.followUp(api, o, 'CancelOrder', 'cancel', () => api.cancelOrder({ orderId: o.orderId, reason: 'changed my mind' }), /it is CANCELLED/);
  }

  /**
   * One command retried while unanswered (bounded). A refusal that shows an
   * earlier unanswered attempt went through ends the retries.
   */
  private async followUp(api: MeshApi, o: ClientOrder, kind: CommandKind, field: 'cancel' | 'ship' | 'complete', fn: () => Promise<unknown>, appliedRe: RegExp): Promise<boolean> {
    const deadline = Date.now() + this.opts.followUpWindowMs;
    for (;;) {
      const r = await this.send(kind, o, fn);
      if (r.fate === 'ok') {
        o[field] = 'ok';
        return true;
      }
      const why = String(r.err?.details ?? '');
      if (r.fate === 'refused') {
        if (appliedRe.test(why) && o[field] === 'unknown') return true;
        if (/is REJECTED/.test(why)) o.sawRejected = true;
        else o.notes.push(`${kind} refused: ${why}`);
        o[field] ??= 'refused';
        return false;
      }
      o[field] ??= 'unknown';
      if (Date.now() > deadline || this.aborted) return false;
      await sleep(300);
    }
  }

  /** Commands by fate, and by kind. */
  tally() {
    const byFate = { ok: 0, refused: 0, unknown: 0 };
    const byKind: Record<string, number> = {};
    for (const r of this.records) {
      byFate[r.fate]++;
      byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
    }
    return { sent: this.records.length, ...byFate, byKind };
  }
}

// ---------------------------------------------------------------- checker

export interface Snapshot {
  orders: Order[];
  inventory: InventoryItem[];
  summaries: Map<number, UserOrderSummary | undefined>;
  statistics: OrderStatistics;
}

export async function takeSnapshot(api: MeshApi, w: Workload): Promise<Snapshot> {
  const [orders, inventory, statistics] = await Promise.all([api.allOrders(), api.allInventory(), api.getStatistics()]);
  const summaries = new Map<number, UserOrderSummary | undefined>();
  await Promise.all(
    w.users.map(async (u) => {
      try {
        summaries.set(u, (await api.getUserSummary(u)).summary);
      } catch (err) {
        if ((err as ServiceError).code !== status.NOT_FOUND) throw err;
        summaries.set(u, undefined);
      }
    }),
  );
  return { orders, inventory, summaries, statistics: statistics.statistics! };
}

/** What one order did to one product's stock, per the write store. */
export interface StockEffect {
  reserved: number;
  released: number;
  sold: number;
}

/** The write store's truth: every stream's events, decoded and folded. */
export interface WriteTruth {
  orders: Map<string, { status: string; events: string[] }>;
  products: Map<number, ProductState>;
  /** product id → order id → what the order did to that product. */
  stock: Map<number, Map<string, StockEffect>>;
  commits: number;
}

const STATUS_OF: Record<string, string> = {
  orderInitiated: 'PENDING', orderValidated: 'VALIDATED', orderRejected: 'REJECTED', orderPaid: 'PAID',
  orderShipped: 'SHIPPED', orderCompleted: 'COMPLETED', orderCancelled: 'CANCELLED',
};

export async function readWriteStore(mongoUrl: string): Promise<WriteTruth> {
  const mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5_000, retryWrites: false });
  await mongo.connect();
  try {
    const commits = await mongo.db('cqrs_write').collection('commits').find({}).toArray();
    const streams = new Map<string, EventEnvelope[]>();
    for (const c of commits) {
      for (const b of c.events as Array<{ buffer: Uint8Array }>) {
        const e = EventEnvelope.decode(b.buffer);
        streams.set(e.streamId, [...(streams.get(e.streamId) ?? []), e]);
      }
    }
    const orders = new Map<string, { status: string; events: string[] }>();
    const products = new Map<number, ProductState>();
    const stock = new Map<number, Map<string, StockEffect>>();
    for (const [stream, events] of streams) {
      events.sort((a, b) => a.version - b.version);
      const ref = parseStream(stream);
      if (ref?.kind === 'order') {
        let st = 'PENDING';
        for (const e of events) st = STATUS_OF[e.payload!.$case] ?? st;
        orders.set(ref.id, { status: st, events: events.map((e) => e.payload!.$case) });
      } else if (ref?.kind === 'product') {
        const id = ref.id;
        products.set(id, events.reduce((s, e) => evolveStored(productDecider, stream)(s, e.payload!), productDecider.initialState()));
        const byOrder = new Map<string, StockEffect>();
        for (const e of events) {
          const p = e.payload!;
          if (p.$case !== 'inventoryReserved' && p.$case !== 'inventoryReleased' && p.$case !== 'inventorySold') continue;
          const fx = byOrder.get(p.value.orderId) ?? { reserved: 0, released: 0, sold: 0 };
          if (p.$case === 'inventoryReserved') fx.reserved++;
          else if (p.$case === 'inventoryReleased') fx.released++;
          else fx.sold++;
          byOrder.set(p.value.orderId, fx);
        }
        stock.set(id, byOrder);
      }
    }
    return { orders, products, stock, commits: commits.length };
  } finally {
    await mongo.close();
  }
}

export interface Classification {
  /** acknowledged and projected */
  ok: number;
  /** acknowledged and not (or not fully) in effect */
  lost: number;
  /** unacknowledged but projected (allowed) */
  recovered: number;
  /** unacknowledged and not projected (allowed) */
  unknownAbsent: number;
  /** refused, and no effect (as it must be) */
  refused: number;
  /** commands whose effect shows more than once */
  duplicated: number;
  /** effects no command explains */
  unexpected: number;
}

export interface Verdict {
  classification: Classification;
  /** Every read-model value that differs from what the commands imply. */
  mismatches: string[];
  lostDetails: string[];
  duplicatedDetails: string[];
  unexpectedDetails: string[];
  finalStatuses: Record<string, number>;
}

const TIMELINE: Record<string, string[][]> = {
  REJECTED: [['OrderInitiated', 'OrderRejected']],
  VALIDATED: [['OrderInitiated', 'OrderValidated']],
  CANCELLED: [['OrderInitiated', 'OrderCancelled'], ['OrderInitiated', 'OrderValidated', 'OrderCancelled']],
  PAID: [['OrderInitiated', 'OrderValidated', 'PaymentProcessed', 'OrderPaid']],
  SHIPPED: [['OrderInitiated', 'OrderValidated', 'PaymentProcessed', 'OrderPaid', 'OrderShipped']],
  COMPLETED: [['OrderInitiated', 'OrderValidated', 'PaymentProcessed', 'OrderPaid', 'OrderShipped', 'OrderCompleted']],
};

const isPaid = (s?: string) => !!s && PAID.includes(s);
const sig = (userId: number, lines: Line[]) => `${userId}|${lines.map((l) => `${l.productId}x${l.quantity}`).join(',')}`;

function topCounts(pairs: Array<[number, number]>, n = 5): Array<[number, number]> {
  const m = new Map<number, number>();
  for (const [p, q] of pairs) m.set(p, (m.get(p) ?? 0) + q);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, n);
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0).sort(([a], [b]) => a.localeCompare(b)));
}

/** A command intent has this effect when the order's final status shows it. */
const EFFECT: Record<string, (s: string | undefined) => boolean> = {
  CreateOrder: (s) => s !== undefined,
  ProcessPayment: isPaid,
  CancelOrder: (s) => s === 'CANCELLED',
  ShipOrder: (s) => s === 'SHIPPED' || s === 'COMPLETED',
  CompleteOrder: (s) => s === 'COMPLETED',
};

/**
 * Compares a snapshot of the read models with what the workload's commands
 * imply, and (when given) with the write store's events.
 *
 * Orders are matched to the client's: by id for acknowledged creates, by
 * (user, lines) for unanswered ones. Each command intent (a command and its
 * retries) is then classified by the order's final status; inventory, user
 * summaries and statistics are recomputed from the final statuses and compared
 * field by field.
 */
export function check(w: Workload, snap: Snapshot, truth?: WriteTruth): Verdict {
  const c: Classification = { ok: 0, lost: 0, recovered: 0, unknownAbsent: 0, refused: 0, duplicated: 0, unexpected: 0 };
  const mismatches: string[] = [];
  const lostDetails: string[] = [];
  const duplicatedDetails: string[] = [];
  const unexpectedDetails: string[] = [];

  // 1. Match every order of the read model to the client order that explains it.
  const acked = new Map(w.orders.filter((o) => o.create === 'ok').map((o) => [o.orderId!, o]));
  const unanswered = new Map<string, ClientOrder[]>();
  for (const o of w.orders) if (o.create === 'unknown') unanswered.set(sig(o.userId, o.lines), [...(unanswered.get(sig(o.userId, o.lines)) ?? []), o]);
  const finals: Array<{ order: Order; client: ClientOrder; st: string }> = [];
  for (const order of snap.orders) {
    const lines = order.items.map((i) => ({ productId: i.productId, quantity: i.quantity })).sort((a, b) => a.productId - b.productId);
    const client = acked.get(order.orderId) ?? unanswered.get(sig(order.userId, lines))?.shift();
    if (client) finals.push({ order, client, st: statusName(order.status) });
    else unexpectedDetails.push(`order ${order.orderId} (user ${order.userId}) was never sent`);
  }
  const finalOf = new Map(finals.map((f) => [f.client.key, f]));
  const finalStatuses: Record<string, number> = {};
  for (const f of finals) finalStatuses[f.st] = (finalStatuses[f.st] ?? 0) + 1;

  // 2. Each order on its own: timeline, items, amounts, and what it did to stock.
  const stockLost = new Map<number, string[]>(); // order key → why its payment's stock effect is missing
  for (const { order, client, st } of finals) {
    const where = `order ${order.orderId} (key ${client.key}, plan ${client.plan}, ${st})`;
    const names = order.timeline.map((t) => t.event);
    const dups = names.filter((n, i) => names.indexOf(n) !== i);
    if (dups.length) {
      c.duplicated++;
      duplicatedDetails.push(`${where}: timeline repeats ${dups.join(', ')}: ${names.join(' → ')}`);
    } else if (!(TIMELINE[st] ?? []).some((t) => t.join() === names.join())) {
      mismatches.push(`${where}: timeline ${names.join(' → ')}`);
    }
    if (st === 'PENDING') mismatches.push(`${where}: still PENDING (the order process never decided it)`);
    if (order.userId !== client.userId) mismatches.push(`${where}: user ${order.userId}, expected ${client.userId}`);
    const items = order.items.map((i) => `${i.productId}x${i.quantity}`).sort().join(',');
    const want = client.lines.map((l) => `${l.productId}x${l.quantity}`).sort().join(',');
    if (items !== want) mismatches.push(`${where}: items ${items}, expected ${want}`);
    if (names.includes('OrderValidated') && cents(order.totalAmount) !== client.expectedTotalCents) {
      mismatches.push(`${where}: total ${order.totalAmount}, expected ${client.expectedTotalCents / 100}`);
    }
    if (isPaid(st) && (order.paymentInfo?.status !== 'PROCESSED' || cents(order.paymentInfo.amount) !== client.expectedTotalCents)) {
      mismatches.push(`${where}: payment_info ${JSON.stringify(order.paymentInfo)}`);
    }
    if (client.sawRejected && st !== 'REJECTED') mismatches.push(`${where}: a command was refused as REJECTED`);
    if (truth) {
      for (const l of client.lines) {
        const fx = truth.stock.get(l.productId)?.get(order.orderId) ?? { reserved: 0, released: 0, sold: 0 };
        const held = fx.reserved - fx.released - fx.sold;
        const fxs = `reserved ${fx.reserved}, released ${fx.released}, sold ${fx.sold}`;
        if (isPaid(st)) {
          if (fx.sold === 0) stockLost.set(client.key, [...(stockLost.get(client.key) ?? []), `product ${l.productId}: ${fxs}`]);
          if (fx.sold > 1) {
            c.duplicated++;
            duplicatedDetails.push(`${where}: sold ${fx.sold} times on product ${l.productId}`);
          }
          if (held !== 0) mismatches.push(`${where}: product ${l.productId} still holds a reservation (${fxs})`);
        } else if (st === 'VALIDATED') {
          if (held !== 1 || fx.sold) mismatches.push(`${where}: product ${l.productId} should hold its reservation (${fxs})`);
        } else if (st !== 'PENDING' && (held !== 0 || fx.sold)) {
          mismatches.push(`${where}: product ${l.productId} should hold nothing (${fxs})`);
        }
      }
    }
  }

  // 3. Each command intent, by the order's final status.
  for (const o of w.orders) {
    const f = finalOf.get(o.key);
    const st = f?.st;
    const id = f?.order.orderId ?? o.orderId ?? `(key ${o.key}, never answered)`;
    const intents: Array<[CommandKind, Fate | undefined]> = [
      ['CreateOrder', o.create], ['ProcessPayment', o.pay], ['CancelOrder', o.cancel], ['ShipOrder', o.ship], ['CompleteOrder', o.complete],
    ];
    for (const [kind, fate] of intents) {
      if (!fate) continue;
      const seen = EFFECT[kind](st);
      const stockGone = kind === 'ProcessPayment' ? stockLost.get(o.key) : undefined;
      if (fate === 'ok') {
        if (seen && !stockGone) c.ok++;
        else {
          c.lost++;
          lostDetails.push(
            stockGone
              ? `ProcessPayment of order ${id} acknowledged and the order is ${st}, but its stock was never sold: ${stockGone.join('; ')}`
              : `${kind} of order ${id} acknowledged, read model status ${st ?? 'absent'}`,
          );
        }
      } else if (fate === 'unknown') {
        if (seen) c.recovered++;
        else c.unknownAbsent++;
      } else {
        c.refused++;
        if (kind === 'CreateOrder' && seen) unexpectedDetails.push(`order ${id}: CreateOrder was refused but the order exists`);
      }
    }
    if (st) {
      const applied = (x?: Fate) => x === 'ok' || x === 'unknown';
      if (isPaid(st) && !applied(o.pay)) unexpectedDetails.push(`order ${id} is ${st} but no payment went through`);
      if (st === 'CANCELLED' && !applied(o.cancel)) unexpectedDetails.push(`order ${id} is CANCELLED but was never cancelled`);
      if ((st === 'SHIPPED' || st === 'COMPLETED') && !applied(o.ship)) unexpectedDetails.push(`order ${id} is ${st} but was never shipped`);
      if (st === 'COMPLETED' && !applied(o.complete)) unexpectedDetails.push(`order ${id} is COMPLETED but was never completed`);
    }
  }

  // 4. Inventory, from the stock and the final statuses.
  const inventoryById = new Map(snap.inventory.map((i) => [i.productId, i]));
  for (const p of w.products) {
    const stocked = w.records.filter((r) => r.kind === 'UpdateInventory' && r.fate === 'ok' && r.productId === p.productId).length;
    const item = inventoryById.get(p.productId);
    const where = `inventory ${p.productId}`;
    if (!item) {
      c.lost += stocked;
      lostDetails.push(`UpdateInventory of product ${p.productId} acknowledged, product missing from the read model`);
      continue;
    }
    c.ok += stocked;
    let sold = 0;
    let reserved = 0;
    const pending: string[] = [];
    for (const { order, client, st } of finals) {
      const line = client.lines.find((l) => l.productId === p.productId);
      if (!line) continue;
      if (isPaid(st)) sold += line.quantity;
      if (st === 'VALIDATED') {
        reserved += line.quantity;
        pending.push(order.orderId);
      }
    }
    const total = p.stock - sold;
    const expected: Partial<InventoryItem> = {
      totalQuantity: total, reservedQuantity: reserved, availableQuantity: total - reserved, lowStockAlert: total - reserved < p.lowStockThreshold,
      productName: p.productName, unitPrice: p.unitPriceCents / 100, lowStockThreshold: p.lowStockThreshold,
    };
    for (const [k, v] of Object.entries(expected)) {
      const got = item[k as keyof InventoryItem];
      if (got !== v) mismatches.push(`${where}: ${k} ${got}, expected ${v}`);
    }
    // (A sale applied twice shows per order above, from the write store; here it is only a mismatch.)
    const gotPending = [...item.pendingOrders].sort();
    pending.sort();
    if (gotPending.join() !== pending.join()) {
      const extra = gotPending.filter((x) => !pending.includes(x));
      const missing = pending.filter((x) => !gotPending.includes(x));
      mismatches.push(`${where}: pending_orders holds ${extra.length ? extra.join(' ') : 'nothing'} too many and lacks ${missing.length ? missing.join(' ') : 'nothing'}`);
    }
    if (total < 0 || total - reserved < 0) mismatches.push(`${where}: oversold (total ${total}, reserved ${reserved})`);
  }

  // 5. User summaries.
  for (const u of w.users) {
    const mine = finals.filter((f) => f.client.userId === u);
    const s = snap.summaries.get(u);
    const where = `user ${u}`;
    if (!s) {
      if (mine.length) mismatches.push(`${where}: no summary, expected ${mine.length} orders`);
      continue;
    }
    const statuses: Record<string, number> = {};
    let spent = 0;
    let paid = 0;
    for (const f of mine) {
      statuses[f.st] = (statuses[f.st] ?? 0) + 1;
      if (isPaid(f.st)) {
        spent += f.client.expectedTotalCents;
        paid++;
      }
    }
    if (s.totalOrders !== mine.length) {
      mismatches.push(`${where}: total_orders ${s.totalOrders}, expected ${mine.length}`);
      if (s.totalOrders > mine.length) {
        c.duplicated++;
        duplicatedDetails.push(`${where}: ${s.totalOrders - mine.length} orders counted twice`);
      }
    }
    const sum = Object.values(s.orderStatuses).reduce((a, b) => a + b, 0);
    if (sum !== s.totalOrders) mismatches.push(`${where}: order_statuses sum to ${sum}, total_orders is ${s.totalOrders}`);
    if (JSON.stringify(sortKeys(s.orderStatuses)) !== JSON.stringify(sortKeys(statuses))) {
      mismatches.push(`${where}: order_statuses ${JSON.stringify(sortKeys(s.orderStatuses))}, expected ${JSON.stringify(sortKeys(statuses))}`);
    }
    if (cents(s.totalSpent) !== spent) {
      mismatches.push(`${where}: total_spent ${s.totalSpent}, expected ${spent / 100}`);
      if (cents(s.totalSpent) > spent) {
        c.duplicated++;
        duplicatedDetails.push(`${where}: money counted more than once`);
      }
    }
    const avg = paid ? Math.round(spent / paid) : 0;
    if (cents(s.avgOrderValue) !== avg) mismatches.push(`${where}: avg_order_value ${s.avgOrderValue}, expected ${avg / 100}`);
    const fav = topCounts(mine.flatMap((f) => f.client.lines.map((l) => [l.productId, l.quantity] as [number, number])));
    const gotFav = s.favoriteProducts.map((p) => [p.productId, p.count]);
    if (JSON.stringify(gotFav) !== JSON.stringify(fav)) mismatches.push(`${where}: favorite_products ${JSON.stringify(gotFav)}, expected ${JSON.stringify(fav)}`);
  }

  // 6. Statistics.
  const stats = snap.statistics;
  const byStatus: Record<string, number> = {};
  let revenue = 0;
  let paidCount = 0;
  for (const f of finals) {
    byStatus[f.st] = (byStatus[f.st] ?? 0) + 1;
    if (isPaid(f.st)) {
      revenue += f.client.expectedTotalCents;
      paidCount++;
    }
  }
  if (stats.totalOrders !== snap.orders.length) mismatches.push(`statistics: total_orders ${stats.totalOrders}, the read model lists ${snap.orders.length}`);
  if (JSON.stringify(sortKeys(stats.ordersByStatus)) !== JSON.stringify(sortKeys(byStatus))) {
    mismatches.push(`statistics: orders_by_status ${JSON.stringify(sortKeys(stats.ordersByStatus))}, expected ${JSON.stringify(sortKeys(byStatus))}`);
  }
  if (cents(stats.totalRevenue) !== revenue) mismatches.push(`statistics: total_revenue ${stats.totalRevenue}, expected ${revenue / 100}`);
  const avg = paidCount ? Math.round(revenue / paidCount) : 0;
  if (cents(stats.averageOrderValue) !== avg) mismatches.push(`statistics: average_order_value ${stats.averageOrderValue}, expected ${avg / 100}`);
  const top = topCounts(finals.flatMap((f) => f.client.lines.map((l) => [l.productId, l.quantity] as [number, number])));
  const gotTop = stats.topProducts.map((p) => [p.productId, p.count]);
  if (JSON.stringify(gotTop) !== JSON.stringify(top)) mismatches.push(`statistics: top_products ${JSON.stringify(gotTop)}, expected ${JSON.stringify(top)}`);

  // 7. The read models against the write store's fold (orders stored but never answered included).
  if (truth) {
    const byId = new Map(snap.orders.map((o) => [o.orderId, o]));
    for (const [orderId, t] of truth.orders) {
      const o = byId.get(orderId);
      if (!o) mismatches.push(`the write store has order ${orderId} (${t.events.join(' → ')}) that the read model lacks`);
      else if (statusName(o.status) !== t.status) mismatches.push(`order ${orderId}: read model ${statusName(o.status)}, write store ${t.status}`);
    }
    for (const o of snap.orders) if (!truth.orders.has(o.orderId)) mismatches.push(`the read model has order ${o.orderId} that the write store lacks`);
    for (const [productId, state] of truth.products) {
      const want = inventoryItem(state);
      const got = inventoryById.get(productId);
      if (!got) {
        mismatches.push(`the write store has product ${productId} that the read model lacks`);
        continue;
      }
      for (const k of ['availableQuantity', 'reservedQuantity', 'totalQuantity', 'lowStockAlert'] as const) {
        if (got[k] !== want[k]) mismatches.push(`inventory ${productId}: ${k} ${got[k]}, write store fold ${want[k]}`);
      }
      if (got.pendingOrders.join() !== want.pendingOrders.join()) mismatches.push(`inventory ${productId}: pending_orders differ from the write store fold`);
    }
  }

  c.unexpected = unexpectedDetails.length;
  return { classification: c, mismatches, lostDetails, duplicatedDetails, unexpectedDetails, finalStatuses };
}

export const isClean = (v: Verdict) =>
  v.classification.lost === 0 && v.classification.duplicated === 0 && v.classification.unexpected === 0 && v.mismatches.length === 0;

export type Settled = Verdict & { settleMs: number; snapshot?: Snapshot; truth?: WriteTruth };

/**
 * Waits (bounded) until the read models agree with the commands and the
 * write store, then returns the verdict; after `timeoutMs` it returns the
 * last verdict as it stands, and the caller's assertions fail with details.
 * Acknowledged orders are then each read with GetOrder.
 */
export async function settle(api: MeshApi, w: Workload, mongoUrl: string, timeoutMs = 90_000): Promise<Settled> {
  const t0 = Date.now();
  let last: Settled | undefined;
  let lastErr: unknown;
  while (Date.now() - t0 < timeoutMs) {
    try {
      const snapshot = await takeSnapshot(api, w);
      const truth = await readWriteStore(mongoUrl);
      last = { ...check(w, snapshot, truth), snapshot, truth, settleMs: 0 };
      if (isClean(last)) break;
    } catch (err) {
      lastErr = err;
    }
    await sleep(1_000);
  }
  if (!last) throw new Error(`the read side never answered within ${timeoutMs} ms: ${(lastErr as Error)?.message}`);
  const listed = new Map(last.snapshot!.orders.map((o) => [o.orderId, o.status]));
  await Promise.all(
    w.orders
      .filter((o) => o.create === 'ok')
      .map(async (o) => {
        try {
          const { order } = await api.getOrder(o.orderId!);
          if (order?.status !== listed.get(o.orderId!)) last!.mismatches.push(`GetOrder ${o.orderId}: ${statusName(order!.status)}, ListOrders said ${listed.get(o.orderId!)}`);
        } catch (err) {
          last!.mismatches.push(`GetOrder ${o.orderId}: ${(err as Error).message}`);
        }
      }),
  );
  last.settleMs = Date.now() - t0;
  return last;
}

/** One JSON line per test, for the README's figures. */
export function report(test: string, w: Workload, v: Settled, extra: Record<string, unknown> = {}): void {
  console.log(
    JSON.stringify({
      suite: 'faults', test, seed: w.seed, orders: w.orders.length, users: w.users.length, products: w.products.length,
      commands: w.tally(), ...extra, classification: v.classification, mismatches: v.mismatches.length,
      finalStatuses: v.finalStatuses, settleMs: v.settleMs,
    }),
  );
}

/** A failure message that shows what went wrong, and the mesh's last words. */
export function explain(v: Verdict, logs: string[] = []): string {
  return [
    ...v.lostDetails.slice(0, 15).map((s) => `LOST ${s}`),
    ...v.duplicatedDetails.slice(0, 15).map((s) => `DUPLICATED ${s}`),
    ...v.unexpectedDetails.slice(0, 15).map((s) => `UNEXPECTED ${s}`),
    ...v.mismatches.slice(0, 30).map((s) => `MISMATCH ${s}`),
    '--- recent mesh output ---',
    ...logs.filter((l) => !l.startsWith('store:')).slice(-25),
  ].join('\n');
}

/** The assertions every workload test ends with: nothing lost, nothing doubled, nothing unexplained. */
export function expectClean(v: Verdict, logs: string[] = []): void {
  const summary = { lost: v.classification.lost, duplicated: v.classification.duplicated, unexpected: v.classification.unexpected, mismatches: v.mismatches.length };
  if (summary.lost || summary.duplicated || summary.unexpected || summary.mismatches) {
    throw new Error(`read models disagree with the acknowledged commands ${JSON.stringify(summary)}\n${explain(v, logs)}`);
  }
  expect(summary).toEqual({ lost: 0, duplicated: 0, unexpected: 0, mismatches: 0 });
  expect(v.classification.ok).toBeGreaterThan(0);
}
