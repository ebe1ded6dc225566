// Read-your-writes on a whole mesh (real RabbitMQ, the embedded store): a
// client that reads with the consistency token of its last command never
// sees 404 or an older state, over gRPC and through the edge, also while
// projector-svc is killed and restarted; a token whose projection is held
// back gets DEADLINE_EXCEEDED (504) after the bound, never a stale answer;
// the waits are woken by projection notices, and by the store re-check
// where no notice comes.
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import * as cmd from '../../gen/ts/cqrs/v1/command_service';
import { OrderStatus } from '../../gen/ts/cqrs/v1/common';
import * as qry from '../../gen/ts/cqrs/v1/query_service';
import { clients } from '../../kit/clients';
import { stopChild } from '../../kit/processes';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { sleep, within } from '../../kit/wait';
import { grpcFailure, statusDetails, violatedFields } from '../e2e/helpers';
import { getJson, postJson } from '../support/http';

const STOCKED = 900; // the product every order is for
const OWN_PRODUCT = 5_000; // + worker: a product only that worker writes
const UNIT_PRICE = 3.5;

let mesh: TestMesh;
let grpc: ReturnType<typeof clients>;

beforeAll(async () => {
  mesh = await startTestMesh({ vhostPrefix: 'ryw' });
  grpc = clients(mesh.urls.command, mesh.urls.query);
  await command('updateInventory', { productId: STOCKED, productName: 'Plenty', unitPrice: UNIT_PRICE, quantity: 1_000_000 });
}, 120_000);

afterAll(async () => {
  grpc?.close();
  await mesh?.teardown();
}, 60_000);

type Md = Record<string, string>;
const metadata = (md: Md = {}) => {
  const m = new Metadata();
  for (const [k, v] of Object.entries(md)) m.set(k, v);
  return m;
};

/** A command over gRPC (proto3 defaults filled in). */
function command(method: 'createOrder' | 'cancelOrder' | 'updateInventory', req: Record<string, unknown>): Promise<any> {
  const types = { createOrder: cmd.CreateOrderRequest, cancelOrder: cmd.CancelOrderRequest, updateInventory: cmd.UpdateInventoryRequest };
  const message = (types[method] as { fromPartial(r: unknown): unknown }).fromPartial(req);
  return new Promise((resolve, reject) =>
    (grpc.command[method] as any)(message, metadata(), { deadline: Date.now() + 20_000 }, (err: ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))),
  );
}

type QueryMethod = 'getOrder' | 'getUserSummary' | 'getProductInventory' | 'getOrderStatistics' | 'listUserOrders' | 'getInventory';
/** A query over gRPC on `client` (the mesh's query-svc unless given). */
function query(method: QueryMethod, req: Record<string, unknown>, client: qry.QueryServiceClient = grpc.query): Promise<any> {
  const types = {
    getOrder: qry.GetOrderRequest, getUserSummary: qry.GetUserSummaryRequest, getProductInventory: qry.GetProductInventoryRequest,
    getOrderStatistics: qry.GetOrderStatisticsRequest, listUserOrders: qry.ListUserOrdersRequest, getInventory: qry.GetInventoryRequest,
  };
  const message = (types[method] as { fromPartial(r: unknown): unknown }).fromPartial(req);
  return new Promise((resolve, reject) =>
    (client[method] as any)(message, metadata(), { deadline: Date.now() + 20_000, waitForReady: true }, (err: ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res))),
  );
}

const edge = (path: string) => `${mesh.urls.edge}${path}`;

/** Runs `n` iterations of `fn` on `workers` workers, each worker's iterations in turn. */
async function workers(count: number, n: number, fn: (worker: number, k: number) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, w) => {
      for (let k = 1; w + (k - 1) * count < n; k++) await fn(w, k);
    }),
  );
}

interface Tally {
  pairs: number;
  failures: string[];
}

/**
 * One client's life, k-th time round: create an order and read it, its
 * user's summary (only this worker orders for this user) and, every few
 * rounds, the user's order list; cancel it and read it back CANCELLED; set
 * its own product's stock and read exactly that back. Each read carries the
 * token of the command before it.
 */
async function grpcRound(t: Tally, userId: number, productId: number, k: number, waitMs = 0): Promise<void> {
  const wait = { consistencyWaitMs: waitMs };
  const created = await command('createOrder', { userId, productId: STOCKED, quantity: 1 });
  expect(created.consistencyToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  const { order } = await query('getOrder', { orderId: created.orderId, consistencyToken: created.consistencyToken, ...wait });
  check(t, order.orderId === created.orderId, `order ${created.orderId} read back as ${order.orderId}`);
  const { summary } = await query('getUserSummary', { userId, consistencyToken: created.consistencyToken, ...wait });
  check(t, summary.totalOrders === k, `user ${userId}: ${summary.totalOrders} orders after the ${k}th`);
  if (k % 4 === 1) {
    const { orders } = await query('listUserOrders', { userId, pageSize: 1, consistencyToken: created.consistencyToken, ...wait });
    check(t, orders[0]?.orderId === created.orderId, `user ${userId}'s newest order is ${orders[0]?.orderId}, not ${created.orderId}`);
  }
  const cancelled = await command('cancelOrder', { orderId: created.orderId, reason: 'read-your-writes test' });
  const after = await query('getOrder', { orderId: created.orderId, consistencyToken: cancelled.consistencyToken, ...wait });
  check(t, after.order.status === OrderStatus.CANCELLED, `order ${created.orderId} read as ${OrderStatus[after.order.status]} after its cancellation`);
  const stocked = await command('updateInventory', { productId, productName: `own ${productId}`, unitPrice: 1, quantity: k });
  const { item } = await query('getProductInventory', { productId, consistencyToken: stocked.consistencyToken, ...wait });
  check(t, item.totalQuantity === k, `product ${productId}: ${item.totalQuantity} units read after setting ${k}`);
  t.pairs += k % 4 === 1 ? 5 : 4;
}

function check(t: Tally, ok: boolean, what: string): void {
  if (!ok && t.failures.length < 20) t.failures.push(what);
}

/** Explains a failure with what the mesh said last. */
async function withLogs<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    (err as Error).message += `\n--- recent mesh output ---\n${mesh.logs.slice(-30).join('\n')}`;
    throw err;
  }
}

test('gRPC: 2000+ write→read pairs with the token never see 404 or an older state', async () => {
  const t: Tally = { pairs: 0, failures: [] };
  const started = Date.now();
  await withLogs(workers(12, 480, (w, k) => grpcRound(t, 10_000 + w, OWN_PRODUCT + w, k)));
  console.log(`read-your-writes over gRPC: ${t.pairs} write→read pairs in ${Date.now() - started} ms`);
  expect(t.failures).toEqual([]);
  expect(t.pairs).toBeGreaterThanOrEqual(2_000);
}, 120_000);

test('through the edge: the token is a JSON field of each command answer and a query parameter of each query', async () => {
  const failures: string[] = [];
  let pairs = 0;
  const started = Date.now();
  await withLogs(
    workers(8, 160, async (w, k) => {
      const userId = 20_000 + w;
      const created = await postJson(edge('/cqrs/commands/orders'), { user_id: userId, product_id: STOCKED, quantity: 1 });
      expect(created.status).toBe(200);
      const token = created.body.consistency_token as string;
      expect(token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      const read = await getJson(edge(`/cqrs/queries/orders/${created.body.order_id}?consistency_token=${token}`));
      if (read.status !== 200) failures.push(`GET order right after POST: ${read.status} ${read.text}`);
      const summary = await getJson(edge(`/cqrs/queries/users/${userId}/summary?consistency_token=${token}`));
      if (summary.body.total_orders !== k) failures.push(`user ${userId}: ${summary.status} ${summary.text} after the ${k}th order`);
      const cancel = await postJson(edge(`/cqrs/commands/orders/${created.body.order_id}/cancel`), { reason: 'edge test' });
      expect(cancel.status).toBe(200);
      const after = await getJson(edge(`/cqrs/queries/orders/${created.body.order_id}?consistency_token=${cancel.body.consistency_token}`));
      if (after.body.status !== 'CANCELLED') failures.push(`GET order after cancel: ${after.status} ${after.text}`);
      const stock = await postJson(edge('/cqrs/commands/inventory'), { product_id: 30_000 + w, product_name: 'edge', unit_price: 1, quantity: k });
      const item = await getJson(edge(`/cqrs/queries/inventory/${30_000 + w}?consistency_token=${stock.body.consistency_token}&consistency_wait_ms=5000`));
      if (item.body.total_quantity !== k) failures.push(`GET inventory after setting ${k}: ${item.status} ${item.text}`);
      pairs += 4;
    }),
  );
  console.log(`read-your-writes through the edge: ${pairs} write→read pairs in ${Date.now() - started} ms`);
  expect(failures.slice(0, 20)).toEqual([]);
  expect(pairs).toBeGreaterThanOrEqual(640);
}, 120_000);

test('while projector-svc is killed (SIGKILL) and restarted: still never 404 nor an older state', async () => {
  const t: Tally = { pairs: 0, failures: [] };
  let stop = false;
  const load = Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let k = 1; !stop; k++) await grpcRound(t, 40_000 + w, OWN_PRODUCT + 100 + w, k, 10_000);
    }),
  );
  const faults = (async () => {
    for (let i = 0; i < 2; i++) {
      await sleep(1_500);
      const victim = mesh.children.get('projector-svc')!;
      victim.proc.kill('SIGKILL');
      await within(victim.exited, 10_000, 'projector-svc to die');
      await sleep(500);
      await mesh.start('projector-svc');
    }
    await sleep(1_500);
    stop = true;
  })();
  await withLogs(within(Promise.all([load, faults]), 90_000, 'the load with projector restarts'));
  console.log(`read-your-writes across two projector-svc kills: ${t.pairs} write→read pairs`);
  expect(t.failures).toEqual([]);
  expect(t.pairs).toBeGreaterThan(100);
}, 120_000);

test('malformed or forged tokens and out-of-range waits: INVALID_ARGUMENT naming the field, 400 at the edge', async () => {
  const created = await command('createOrder', { userId: 7, productId: STOCKED, quantity: 1 });
  const good: string = created.consistencyToken;
  const bytes = Buffer.from(good, 'base64url');
  bytes[bytes.length - 6] ^= 1; // the version, without a new checksum
  const forged = bytes.toString('base64url');
  for (const [token, wait, field] of [
    ['not!base64', 0, 'consistency_token'],
    [good.slice(0, 10), 0, 'consistency_token'],
    [forged, 0, 'consistency_token'],
    [good, -1, 'consistency_wait_ms'],
    [good, 10_001, 'consistency_wait_ms'],
  ] as Array<[string, number, string]>) {
    const err = await grpcFailure(query('getOrder', { orderId: created.orderId, consistencyToken: token, consistencyWaitMs: wait }));
    expect({ token, code: err.code, fields: violatedFields(err) }).toEqual({ token, code: status.INVALID_ARGUMENT, fields: [field] });
    const r = await getJson(edge(`/cqrs/queries/statistics/orders?consistency_token=${encodeURIComponent(token)}&consistency_wait_ms=${wait}`));
    expect({ token, status: r.status, field: r.body?.details?.[0]?.field_violations?.[0]?.field }).toEqual({ token, status: 400, field });
  }
});

test('held back (projector-svc stopped): DEADLINE_EXCEEDED / 504 after the bound naming the read model, never the stale state; notices wake the waits, the re-check stands in for lost ones', async () => {
  // The mesh's query-svc re-checks the store only every minute: only a notice can wake it in time.
  await mesh.start('query-svc', { CONSISTENCY_RECHECK_MS: '60000' });
  // A second query-svc that never hears a notice (no broker there): only its re-check can.
  const deaf = await mesh.instance('query-svc', { AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' });
  const deafClient = new qry.QueryServiceClient(deaf.addr!, credentials.createInsecure());
  try {
    const before = await command('createOrder', { userId: 77, productId: STOCKED, quantity: 1 });
    await query('getOrder', { orderId: before.orderId, consistencyToken: before.consistencyToken });
    const five = await command('updateInventory', { productId: 777, productName: 'held', unitPrice: 1, quantity: 5 });
    await query('getProductInventory', { productId: 777, consistencyToken: five.consistencyToken });

    await stopChild(mesh.children.get('projector-svc')!);
    const cancelled = await command('cancelOrder', { orderId: before.orderId, reason: 'held back' });
    const seven = await command('updateInventory', { productId: 777, quantity: 7 });
    const fresh = await command('createOrder', { userId: 78, productId: STOCKED, quantity: 1 });

    // The stale states are there to be served...
    expect((await query('getOrder', { orderId: before.orderId })).order.status).not.toBe(OrderStatus.CANCELLED);
    expect((await query('getProductInventory', { productId: 777 })).item.totalQuantity).toBe(5);
    // ...and a token never gets them.
    const bound = 800;
    for (const [method, req, model] of [
      ['getOrder', { orderId: before.orderId, consistencyToken: cancelled.consistencyToken }, 'order'],
      ['getProductInventory', { productId: 777, consistencyToken: seven.consistencyToken }, 'inventory'],
      ['getOrder', { orderId: fresh.orderId, consistencyToken: fresh.consistencyToken }, 'order'],
      ['getUserSummary', { userId: 78, consistencyToken: fresh.consistencyToken }, 'user summary'],
      ['listUserOrders', { userId: 78, consistencyToken: fresh.consistencyToken }, 'user orders'],
      ['getOrderStatistics', { consistencyToken: fresh.consistencyToken }, 'order statistics'],
    ] as Array<[QueryMethod, Record<string, unknown>, string]>) {
      const t0 = Date.now();
      const err = await grpcFailure(query(method, { ...req, consistencyWaitMs: bound }));
      const waited = Date.now() - t0;
      expect({ method, code: err.code }).toEqual({ method, code: status.DEADLINE_EXCEEDED });
      expect(statusDetails(err)?.message ?? err.details).toContain(`the ${model} read model is behind`);
      expect(waited).toBeGreaterThanOrEqual(bound - 50);
    }
    const r = await getJson(edge(`/cqrs/queries/orders/${fresh.orderId}?consistency_token=${fresh.consistencyToken}&consistency_wait_ms=${bound}`));
    expect(r.status).toBe(504);
    expect(r.body.message).toContain('the order read model is behind');
    // Without a wait field the default bound (5 s) holds too.
    const t0 = Date.now();
    expect((await getJson(edge(`/cqrs/queries/inventory/777?consistency_token=${seven.consistencyToken}`))).status).toBe(504);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_900);

    // Waiting reads, answered once the projector is back and has applied the events.
    const woken = query('getOrder', { orderId: before.orderId, consistencyToken: cancelled.consistencyToken, consistencyWaitMs: 10_000 });
    const rechecked = query('getOrder', { orderId: before.orderId, consistencyToken: cancelled.consistencyToken, consistencyWaitMs: 10_000 }, deafClient);
    const edgeRead = getJson(edge(`/cqrs/queries/users/78/summary?consistency_token=${fresh.consistencyToken}&consistency_wait_ms=10000`));
    await sleep(300);
    const t1 = Date.now();
    await mesh.start('projector-svc');
    const restartMs = Date.now() - t1;
    // Well before their 10 s bound (a final re-check at the bound would find the data too).
    const soon = <T>(p: Promise<T>, what: string) => withLogs(within(p, 6_000, `${what}, once projector-svc was back (it took ${restartMs} ms to start)`));
    expect((await soon(woken, 'a notice to wake the read')).order.status).toBe(OrderStatus.CANCELLED);
    expect((await soon(rechecked, 'the re-check to answer the read that hears no notice')).order.status).toBe(OrderStatus.CANCELLED);
    expect(await soon(edgeRead, 'the read through the edge')).toMatchObject({ status: 200, body: { user_id: 78, total_orders: 1 } });
  } finally {
    deafClient.close();
    const projector = mesh.children.get('projector-svc')!.proc;
    if (projector.exitCode !== null || projector.signalCode !== null) await mesh.start('projector-svc');
    await mesh.start('query-svc');
  }
}, 90_000);
