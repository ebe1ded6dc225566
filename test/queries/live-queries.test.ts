// Live queries on a whole mesh: WatchOrder, WatchInventory and
// WatchOrderStatistics send the current state, then every new one; a
// watcher sees each status of an order's life in order; 200 watchers on
// one mesh are all told; a client that hangs up (or whose deadline passes)
// frees its watcher (the server's count says so); through the edge as
// newline-delimited JSON.
import { credentials, Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import * as cmd from '../../gen/ts/cqrs/v1/command_service';
import { OrderStatus } from '../../gen/ts/cqrs/v1/common';
import * as qry from '../../gen/ts/cqrs/v1/query_service';
import { clients } from '../../kit/clients';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { eventually, within } from '../../kit/wait';

const PRODUCT = 910;
let mesh: TestMesh;
let grpc: ReturnType<typeof clients>;

beforeAll(async () => {
  mesh = await startTestMesh({ vhostPrefix: 'live' });
  grpc = clients(mesh.urls.command, mesh.urls.query);
  await command('updateInventory', { productId: PRODUCT, productName: 'Live', unitPrice: 2.5, quantity: 100_000 });
}, 120_000);

afterAll(async () => {
  grpc?.close();
  await mesh?.teardown();
}, 60_000);

function command(method: 'createOrder' | 'processPayment' | 'shipOrder' | 'completeOrder' | 'updateInventory', req: Record<string, unknown>): Promise<any> {
  const types = { createOrder: cmd.CreateOrderRequest, processPayment: cmd.ProcessPaymentRequest, shipOrder: cmd.ShipOrderRequest, completeOrder: cmd.CompleteOrderRequest, updateInventory: cmd.UpdateInventoryRequest };
  const message = (types[method] as { fromPartial(r: unknown): unknown }).fromPartial(req);
  return new Promise((resolve, reject) =>
    (grpc.command[method] as any)(message, new Metadata(), { deadline: Date.now() + 20_000 }, (err: ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))),
  );
}

/** A live query's messages as they come, and how it ended. */
class Watch<T> {
  readonly seen: T[] = [];
  readonly ended: Promise<ServiceError | undefined>;
  private waiters: Array<() => void> = [];

  constructor(readonly stream: ClientReadableStream<T>) {
    stream.on('data', (m: T) => {
      this.seen.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    this.ended = new Promise((resolve) => {
      stream.on('error', (err: ServiceError) => resolve(err));
      stream.on('end', () => resolve(undefined));
    });
  }

  /** The first message (from the `from`th on) that passes `ok`. */
  async until(ok: (m: T) => boolean, what: string, ms = 15_000): Promise<T> {
    const found = () => this.seen.find(ok);
    return within(
      (async () => {
        for (;;) {
          const m = found();
          if (m) return m;
          await new Promise<void>((r) => this.waiters.push(r));
        }
      })(),
      ms,
      what,
    );
  }
}

const watchOrder = (req: Partial<qry.WatchOrderRequest>, deadlineMs = 60_000) =>
  new Watch<qry.WatchOrderResponse>(grpc.query.watchOrder(qry.WatchOrderRequest.fromPartial(req), new Metadata(), { deadline: Date.now() + deadlineMs }));

/** The server's own count of live queries, as its last "live query opened/ended" line says (0 before any). */
async function watchers(): Promise<number> {
  for (let i = mesh.logs.length - 1; i >= 0; i--) {
    const m = /^query-svc: (.*"msg":"live query (?:opened|ended)".*)$/.exec(mesh.logs[i]);
    if (m) return JSON.parse(m[1]).watchers as number;
  }
  return 0;
}

/** Waits until the server's count is `n`. */
const countIs = (n: number, what: string) => eventually(async () => ((await watchers()) === n ? true : undefined), 10_000, `${what} (the count is ${n})`);

test("a watcher sees every status of an order's life, in order, from the current one", async () => {
  const created = await command('createOrder', { userId: 1, productId: PRODUCT, quantity: 2 });
  const w = watchOrder({ orderId: created.orderId, consistencyToken: created.consistencyToken });
  const validated = await w.until((m) => m.order!.status === OrderStatus.VALIDATED, 'VALIDATED');
  await command('processPayment', { orderId: created.orderId, amount: validated.order!.totalAmount, method: 1 });
  await w.until((m) => m.order!.status === OrderStatus.PAID, 'PAID');
  await command('shipOrder', { orderId: created.orderId, trackingNumber: 'T-1' });
  await w.until((m) => m.order!.status === OrderStatus.SHIPPED, 'SHIPPED');
  await command('completeOrder', { orderId: created.orderId });
  await w.until((m) => m.order!.status === OrderStatus.COMPLETED, 'COMPLETED');
  w.stream.cancel();
  const statuses = w.seen.map((m) => OrderStatus[m.order!.status]);
  // PENDING shows only if the read model held it before the stock check landed.
  expect(statuses.filter((s) => s !== 'PENDING')).toEqual(['VALIDATED', 'PAID', 'SHIPPED', 'COMPLETED']);
  expect(statuses.indexOf('PENDING')).toBeLessThanOrEqual(0);
  // Each message is a newer state: the timeline only grows.
  const lengths = w.seen.map((m) => m.order!.timeline.length);
  expect([...lengths].sort((a, b) => a - b)).toEqual(lengths);
  expect(new Set(lengths).size).toBe(lengths.length);
  expect((await w.ended)?.code).toBe(status.CANCELLED);
  await countIs(0, 'the watcher to be freed on cancel');
});

test('200 concurrent watchers on one mesh are all told; hanging up frees every one of them', async () => {
  const before = await watchers();
  const created = await command('createOrder', { userId: 2, productId: PRODUCT, quantity: 1 });
  const orders = Array.from({ length: 100 }, () => watchOrder({ orderId: created.orderId, consistencyToken: created.consistencyToken }));
  const stats = Array.from({ length: 100 }, () => new Watch<qry.WatchOrderStatisticsResponse>(grpc.query.watchOrderStatistics({ consistencyToken: '', consistencyWaitMs: 0 }, new Metadata(), { deadline: Date.now() + 60_000 })));
  await Promise.all(stats.map((s) => s.until(() => true, 'current statistics')));
  await Promise.all(orders.map((o) => o.until(() => true, 'current order')));
  await countIs(before + 200, 'every watcher registered');
  const totalBefore = stats[0].seen[0].statistics!.totalOrders;
  const validated = await orders[0].until((m) => m.order!.status === OrderStatus.VALIDATED, 'VALIDATED');
  await command('processPayment', { orderId: created.orderId, amount: validated.order!.totalAmount, method: 1 });
  await Promise.all(orders.map((o, i) => o.until((m) => m.order!.status === OrderStatus.PAID, `watcher ${i} to see PAID`)));
  await command('createOrder', { userId: 3, productId: PRODUCT, quantity: 1 });
  await Promise.all(stats.map((s, i) => s.until((m) => m.statistics!.totalOrders > totalBefore, `statistics watcher ${i} to see a new order`)));
  for (const w of [...orders, ...stats]) w.stream.cancel();
  await countIs(before, 'the watchers to be freed');
});

test("a watch ends at the client's deadline and is freed; an unknown order is NOT_FOUND", async () => {
  const before = await watchers();
  const w = new Watch<qry.WatchInventoryResponse>(grpc.query.watchInventory({ productId: PRODUCT, consistencyToken: '', consistencyWaitMs: 0 }, new Metadata(), { deadline: Date.now() + 1_500 }));
  await w.until(() => true, 'the current inventory');
  expect((await within(w.ended, 10_000, 'the deadline'))?.code).toBe(status.DEADLINE_EXCEEDED);
  await countIs(before, 'the watcher to be freed');
  const missing = watchOrder({ orderId: '00000000-0000-4000-8000-000000000000' });
  expect((await missing.ended)?.code).toBe(status.NOT_FOUND);
});

test('a slow client is sent the latest state, not every one in between', async () => {
  // 100 open reservations make each state of the product ~4 KB, so a client
  // that stops reading fills the stream's flow-control window within a few.
  const product = PRODUCT + 1;
  await command('updateInventory', { productId: product, productName: 'Slow', unitPrice: 1, quantity: 1_000 });
  let token = '';
  for (let i = 0; i < 100; i++) token = (await command('createOrder', { userId: 5, productId: product, quantity: 1 })).consistencyToken;
  const w = new Watch<qry.WatchInventoryResponse>(grpc.query.watchInventory({ productId: product, consistencyToken: '', consistencyWaitMs: 0 }, new Metadata(), { deadline: Date.now() + 60_000 }));
  await w.until((m) => m.item!.pendingOrdersCount === 100, 'the 100 reservations');
  w.stream.pause();
  const paused = w.seen.length;
  const changes = 300;
  let last: any;
  for (let i = 0; i < changes; i++) last = await command('updateInventory', { productId: product, quantityDelta: 1 });
  w.stream.resume();
  const final = last.item.totalQuantity;
  await w.until((m) => m.item!.totalQuantity === final, 'the latest state after the client reads again');
  w.stream.cancel();
  const quantities = w.seen.slice(paused).map((m) => m.item!.totalQuantity);
  // Every state sent is newer than the one before, the last is the latest, and most in between were never queued.
  expect([...quantities].sort((a, b) => a - b)).toEqual(quantities);
  expect(new Set(quantities).size).toBe(quantities.length);
  expect(quantities.length).toBeLessThan(changes / 2);
  expect(token).not.toBe('');
});

test('through the edge: newline-delimited JSON, the current order first, then each change', async () => {
  const created = await command('createOrder', { userId: 4, productId: PRODUCT, quantity: 1 });
  const ac = new AbortController();
  const res = await fetch(`${mesh.urls.edge}/cqrs/queries/watch/orders/${created.orderId}?consistency_token=${created.consistencyToken}`, { signal: ac.signal });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const lines: any[] = [];
  let buf = '';
  const next = async (ok: (o: any) => boolean) => {
    for (;;) {
      const found = lines.find(ok);
      if (found) return found;
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended; lines: ${JSON.stringify(lines)}`);
      buf += Buffer.from(value).toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    }
  };
  const validated = await within(next((o) => o.status === 'VALIDATED'), 15_000, 'VALIDATED over the edge');
  expect(validated.order_id).toBe(created.orderId);
  await command('processPayment', { orderId: created.orderId, amount: validated.total_amount, method: 1 });
  await within(next((o) => o.status === 'PAID'), 15_000, 'PAID over the edge');
  ac.abort();
});

test('without notices (a query-svc that cannot reach the broker) a watcher still gets each change, from the re-check', async () => {
  const deaf = await mesh.instance('query-svc', { AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' });
  const client = new qry.QueryServiceClient(deaf.addr!, credentials.createInsecure());
  try {
    const product = PRODUCT + 2;
    const first = await command('updateInventory', { productId: product, productName: 'Deaf', unitPrice: 1, quantity: 1 });
    const w = new Watch<qry.WatchInventoryResponse>(client.watchInventory({ productId: product, consistencyToken: first.consistencyToken, consistencyWaitMs: 0 }, new Metadata(), { deadline: Date.now() + 60_000 }));
    await w.until((m) => m.item!.totalQuantity === 1, 'the current state');
    await command('updateInventory', { productId: product, quantity: 2 });
    await w.until((m) => m.item!.totalQuantity === 2, 'the change, with no notice to tell');
    w.stream.cancel();
  } finally {
    client.close();
  }
});
