// The whole domain end to end on one mesh, through the REST edge on every
// path of DESIGN.md and every google.api.http rule of proto/cqrs/v1: stock,
// an order's whole life, rejections, cancellation, a race for the last units,
// paging, the user summary, statistics, redelivered events, and exact money
// (30 orders, then 1,000 orders within a time budget; bulk calls go over gRPC).
// The test keeps its own model of what it did and compares the read side to it.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import amqp from 'amqplib';
import { PaymentMethod } from '../../gen/ts/cqrs/v1/common';
import { EventEnvelope } from '../../gen/ts/cqrs/v1/events';
import { clients } from '../../kit/clients';
import { getJson, postJson, type HttpResult } from '../support/http';
import { eventually } from '../../kit/wait';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { camelCaseKeys, EventTap, inBatches, rpc, UUID } from './helpers';
import { sleep } from '../../kit/wait';

let mesh: TestMesh;
let grpc: ReturnType<typeof clients>;
let api: ReturnType<typeof rpc>;

beforeAll(async () => {
  mesh = await startTestMesh();
  grpc = clients(mesh.urls.command, mesh.urls.query);
  api = rpc(grpc);
}, 120_000);

afterAll(async () => {
  grpc?.close();
  await mesh?.teardown();
}, 60_000);

// ---------------------------------------------------------------- the model

interface Product {
  id: number;
  name: string;
  priceCents: number;
  total: number;
  threshold: number;
  /** order id -> units held */
  reservations: Map<string, number>;
}

const PRODUCTS = {
  keyboard: { id: 1001, name: 'Keyboard', price: 49.99, quantity: 100, threshold: 10 },
  mouse: { id: 1002, name: 'Mouse', price: 19.95, quantity: 10, threshold: 9 },
  limited: { id: 1004, name: 'Limited Edition', price: 5, quantity: 5, threshold: 2 },
  sticker: { id: 1006, name: 'Sticker', price: 0.1, quantity: 30, threshold: 0 },
};
const UNKNOWN_PRODUCT = 9_999;

const USERS = { lifecycle: 501, paging: 502, bulk: 503, rejected: 505, racer: 506, redelivered: 507, cents: 508 };

interface TrackedOrder {
  id: string;
  userId: number;
  lines: Array<{ productId: number; quantity: number }>;
  status: string;
  totalCents: number;
}

const products = new Map<number, Product>();
const orders = new Map<string, TrackedOrder>();

const PAID = ['PAID', 'SHIPPED', 'COMPLETED'];

function track(id: string, userId: number, lines: TrackedOrder['lines']): TrackedOrder {
  const o: TrackedOrder = { id, userId, lines, status: 'PENDING', totalCents: 0 };
  orders.set(id, o);
  return o;
}

/** What the test did to an order, applied to its own model of stock. */
function validated(o: TrackedOrder): void {
  o.status = 'VALIDATED';
  o.totalCents = o.lines.reduce((sum, l) => sum + products.get(l.productId)!.priceCents * l.quantity, 0);
  for (const l of o.lines) products.get(l.productId)!.reservations.set(o.id, l.quantity);
}
function paid(o: TrackedOrder): void {
  o.status = 'PAID';
  for (const l of o.lines) {
    const p = products.get(l.productId)!;
    p.total -= l.quantity;
    p.reservations.delete(o.id);
  }
}
function cancelled(o: TrackedOrder): void {
  o.status = 'CANCELLED';
  for (const l of o.lines) products.get(l.productId)!.reservations.delete(o.id);
}

/** The Inventory read model the test expects, as REST JSON. */
function expectedInventory(id: number) {
  const p = products.get(id)!;
  const reserved = [...p.reservations.values()].reduce((a, b) => a + b, 0);
  return {
    product_id: p.id,
    product_name: p.name,
    unit_price: p.priceCents / 100,
    available_quantity: p.total - reserved,
    reserved_quantity: reserved,
    total_quantity: p.total,
    low_stock_threshold: p.threshold,
    low_stock_alert: p.total - reserved < p.threshold,
    pending_orders: [...p.reservations.keys()].sort(),
    pending_orders_count: p.reservations.size,
  };
}

/** Units per product over some orders, most first, ties by product id. */
function unitsByProduct(list: TrackedOrder[]): Array<{ product_id: number; count: number }> {
  const units = new Map<number, number>();
  for (const o of list) for (const l of o.lines) units.set(l.productId, (units.get(l.productId) ?? 0) + l.quantity);
  return [...units.entries()].map(([product_id, count]) => ({ product_id, count })).sort((a, b) => b.count - a.count || a.product_id - b.product_id);
}

function countByStatus(list: TrackedOrder[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of list) out[o.status] = (out[o.status] ?? 0) + 1;
  return out;
}

// ---------------------------------------------------------------- REST helpers

const url = (path: string) => `${mesh.urls.edge}${path}`;

/** Fails with the status and body (and the mesh's last words) when the status is not the one expected. */
function expectStatus(r: HttpResult, status: number, what: string): void {
  if (r.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${r.status} ${r.text}\n--- recent mesh output ---\n${mesh.logs.slice(-20).join('\n')}`);
  }
}

async function post(path: string, body: unknown, status = 200) {
  const r = await postJson(url(path), body);
  expectStatus(r, status, `POST ${path} ${JSON.stringify(body)}`);
  return r.body;
}

async function get(path: string, status = 200) {
  const r = await getJson(url(path));
  expectStatus(r, status, `GET ${path}`);
  return r.body;
}

/** Polls a GET until `accept` holds for its 200 body; returns that body. */
function until(path: string, accept: (body: any) => boolean, what: string, timeoutMs = 20_000): Promise<any> {
  let last = '';
  return eventually(
    async () => {
      const r = await getJson(url(path));
      last = `${r.status} ${r.text.slice(0, 500)}`;
      return r.status === 200 && accept(r.body) ? r.body : undefined;
    },
    timeoutMs,
    what,
  ).catch((err: Error) => {
    err.message += `\nlast answer: ${last}\n--- recent mesh output ---\n${mesh.logs.slice(-20).join('\n')}`;
    throw err;
  });
}

const orderPath = (id: string) => `/cqrs/queries/orders/${id}`;
const orderIn = (id: string, status: string) => until(orderPath(id), (o) => o.status === status, `order ${id} to be ${status}`);
const orderSettled = (id: string) => until(orderPath(id), (o) => o.status !== 'PENDING', `order ${id} to leave PENDING`);
/**
 * Polls a GET until its body, normalized, equals `expected` (the read side is
 * eventually consistent); then asserts it, so a mismatch shows as a diff.
 */
async function settlesTo(path: string, expected: unknown, normalize: (body: any) => unknown = (b) => b, timeoutMs = 15_000): Promise<any> {
  let body: any;
  try {
    body = await until(path, (b) => isDeepStrictEqual(normalize(b), expected), `GET ${path} to settle`, timeoutMs);
  } catch {
    body = await get(path);
  }
  expect(normalize(body)).toEqual(expected);
  return body;
}

const inventoryAsExpected = (id: number) => settlesTo(`/cqrs/queries/inventory/${id}`, expectedInventory(id));
const events = (o: { timeline: Array<{ event: string }> }) => o.timeline.map((t) => t.event);

/** POST /cqrs/commands/orders; tracks the order. */
async function createOrder(body: Record<string, unknown>): Promise<TrackedOrder> {
  const created = await post('/cqrs/commands/orders', body);
  expect(created.order_id).toMatch(UUID);
  expect(created.status).toBe('PENDING');
  const lines = (body.items as TrackedOrder['lines'] | undefined) ?? [{ productId: body.product_id as number, quantity: body.quantity as number }];
  return track(
    created.order_id,
    body.user_id as number,
    lines.map((l: any) => ({ productId: l.productId ?? l.product_id, quantity: l.quantity })),
  );
}

/** Reads every page of a list path; checks pages are at most `pageSize` long and the last token is empty. */
async function allPages(path: string, key: 'orders' | 'items', pageSize: number): Promise<any[]> {
  const out: any[] = [];
  let token = '';
  for (let page = 0; page < 1_000; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const body = await get(`${path}${sep}page_size=${pageSize}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
    expect(body[key].length).toBeLessThanOrEqual(pageSize);
    out.push(...body[key]);
    token = body.next_page_token;
    if (!token) return out;
  }
  throw new Error(`${path} never ended`);
}

// ---------------------------------------------------------------- the tests

test('both health paths answer SERVING with their dependencies up', async () => {
  const command = await get('/cqrs/commands/health');
  expect(command).toMatchObject({ status: 'SERVING', service: 'command-svc' });
  expect(command.dependencies.map((d: any) => [d.name, d.status]).sort()).toEqual([['mongodb', 'UP'], ['rabbitmq', 'UP']]);
  const query = await get('/cqrs/queries/health');
  expect(query).toMatchObject({ status: 'SERVING', service: 'query-svc' });
  expect(query.dependencies.map((d: any) => [d.name, d.status])).toEqual([['mongodb', 'UP']]);
});

test('POST /cqrs/commands/inventory creates and adjusts products; GET /cqrs/queries/inventory/{id} shows them', async () => {
  for (const p of Object.values(PRODUCTS)) {
    // Created 5 short, then topped up by a delta, to exercise both forms.
    const first = await post('/cqrs/commands/inventory', {
      product_id: p.id, product_name: p.name, unit_price: p.price, quantity: p.quantity - 5, low_stock_threshold: p.threshold,
    });
    expect(first.item).toMatchObject({ product_id: p.id, total_quantity: p.quantity - 5 });
    const second = await post('/cqrs/commands/inventory', { product_id: p.id, quantity_delta: 5 });
    expect(second.item).toMatchObject({
      product_id: p.id, product_name: p.name, unit_price: p.price, available_quantity: p.quantity,
      reserved_quantity: 0, total_quantity: p.quantity, low_stock_threshold: p.threshold, low_stock_alert: false, pending_orders: [],
    });
    products.set(p.id, { id: p.id, name: p.name, priceCents: Math.round(p.price * 100), total: p.quantity, threshold: p.threshold, reservations: new Map() });
  }
  for (const p of Object.values(PRODUCTS)) {
    const item = await inventoryAsExpected(p.id);
    expect(item).toEqual(expectedInventory(p.id));
    expect(camelCaseKeys(item)).toEqual([]);
  }
  // A product that does not exist yet needs a name and a price.
  const refused = await postJson(url('/cqrs/commands/inventory'), { product_id: 4242, quantity: 3 });
  expect(refused.status).toBe(400);
  expect(refused.text).toContain('product_name');
  await get('/cqrs/queries/inventory/4242', 404);
});

let lifecycle: TrackedOrder;

test("an order's life through the edge: PENDING → VALIDATED → PAID → SHIPPED → COMPLETED", async () => {
  const seen: string[] = [];
  lifecycle = await createOrder({ user_id: USERS.lifecycle, product_id: PRODUCTS.keyboard.id, quantity: 3 });
  seen.push(lifecycle.status);
  const id = lifecycle.id;

  const v = await orderSettled(id);
  seen.push(v.status);
  expect(v.status).toBe('VALIDATED');
  validated(lifecycle);
  expect(v).toMatchObject({
    order_id: id, user_id: USERS.lifecycle, total_amount: 149.97,
    items: [{ product_id: PRODUCTS.keyboard.id, product_name: 'Keyboard', quantity: 3, unit_price: 49.99, subtotal: 149.97 }],
  });
  expect(camelCaseKeys(v)).toEqual([]);
  await inventoryAsExpected(PRODUCTS.keyboard.id); // 97 available, 3 reserved by this order

  // Not paid yet: cannot ship.
  const ship = await postJson(url(`/cqrs/commands/orders/${id}/ship`), { tracking_number: 'TRK-0001' });
  expect(ship.status).toBe(400);
  expect(ship.body.code).toBe(9); // FAILED_PRECONDITION
  expect(ship.body.message).toMatch(/VALIDATED/);

  // The amount must equal the total.
  const wrong = await postJson(url('/cqrs/commands/payments'), { order_id: id, amount: 149.96, method: 'CREDIT_CARD' });
  expect(wrong.status).toBe(400);
  expect(wrong.body.code).toBe(9);
  expect(wrong.body.message).toContain('does not equal the order total 149.97');

  const pay = await post('/cqrs/commands/payments', { order_id: id, amount: 149.97, method: 'CREDIT_CARD' });
  expect(pay).toMatchObject({ order_id: id, status: 'PAID' });
  expect(pay.payment_id).toMatch(UUID);
  const p = await orderIn(id, 'PAID');
  seen.push(p.status);
  paid(lifecycle);
  expect(p.payment_info).toMatchObject({ payment_id: pay.payment_id, amount: 149.97, method: 'CREDIT_CARD', status: 'PROCESSED' });
  await inventoryAsExpected(PRODUCTS.keyboard.id); // the 3 units are sold: 97 on hand, none reserved

  // Paid orders cannot be cancelled (no refunds).
  const cancel = await postJson(url(`/cqrs/commands/orders/${id}/cancel`), { reason: 'too late' });
  expect(cancel.status).toBe(400);
  expect(cancel.body.code).toBe(9);
  expect(cancel.body.message).toMatch(/PAID/);

  expect(await post(`/cqrs/commands/orders/${id}/ship`, { tracking_number: 'TRK-0001' })).toMatchObject({ order_id: id, status: 'SHIPPED' });
  seen.push((await orderIn(id, 'SHIPPED')).status);
  lifecycle.status = 'SHIPPED';

  expect(await post(`/cqrs/commands/orders/${id}/complete`, {})).toMatchObject({ order_id: id, status: 'COMPLETED' });
  const done = await orderIn(id, 'COMPLETED');
  seen.push(done.status);
  lifecycle.status = 'COMPLETED';

  expect(seen).toEqual(['PENDING', 'VALIDATED', 'PAID', 'SHIPPED', 'COMPLETED']);
  expect(events(done)).toEqual(['OrderInitiated', 'OrderValidated', 'PaymentProcessed', 'OrderPaid', 'OrderShipped', 'OrderCompleted']);
  const times = done.timeline.map((t: { timestamp: string }) => Date.parse(t.timestamp));
  expect(times.every((t: number) => Number.isFinite(t))).toBe(true);
  expect([...times].sort((a, b) => a - b)).toEqual(times);
  expect(Date.parse(done.created_at)).toBe(times[0]);
  expect(Date.parse(done.updated_at)).toBe(times[times.length - 1]);
  expect(camelCaseKeys(done)).toEqual([]);
});

test('a multi-line order (items form) with user_email is priced per line and paid', async () => {
  const o = await createOrder({
    user_id: USERS.lifecycle,
    user_email: 'alice@example.com',
    items: [{ product_id: PRODUCTS.keyboard.id, quantity: 1 }, { product_id: PRODUCTS.mouse.id, quantity: 2 }],
  });
  const v = await orderSettled(o.id);
  expect(v.status).toBe('VALIDATED');
  validated(o);
  expect(v).toMatchObject({
    user_id: USERS.lifecycle, user_email: 'alice@example.com', total_amount: 89.89,
    items: [
      { product_id: PRODUCTS.keyboard.id, product_name: 'Keyboard', quantity: 1, unit_price: 49.99, subtotal: 49.99 },
      { product_id: PRODUCTS.mouse.id, product_name: 'Mouse', quantity: 2, unit_price: 19.95, subtotal: 39.9 },
    ],
  });
  await inventoryAsExpected(PRODUCTS.mouse.id);

  await post('/cqrs/commands/payments', { order_id: o.id, amount: 89.89, method: 'PAYPAL' });
  const p = await orderIn(o.id, 'PAID');
  paid(o);
  expect(p.payment_info).toMatchObject({ amount: 89.89, method: 'PAYPAL', status: 'PROCESSED' });
  await inventoryAsExpected(PRODUCTS.keyboard.id);
  await inventoryAsExpected(PRODUCTS.mouse.id);
});

test('cancelling a validated order releases its stock; paying it afterwards is refused', async () => {
  const o = await createOrder({ user_id: USERS.lifecycle, product_id: PRODUCTS.mouse.id, quantity: 3 });
  expect((await orderSettled(o.id)).status).toBe('VALIDATED');
  validated(o);
  const held = await inventoryAsExpected(PRODUCTS.mouse.id);
  expect(held).toMatchObject({ reserved_quantity: 3, pending_orders: [o.id] });

  expect(await post(`/cqrs/commands/orders/${o.id}/cancel`, { reason: 'changed my mind' })).toMatchObject({ order_id: o.id, status: 'CANCELLED' });
  const c = await orderIn(o.id, 'CANCELLED');
  cancelled(o);
  expect(c.status_reason).toBe('changed my mind');
  expect(events(c)).toEqual(['OrderInitiated', 'OrderValidated', 'OrderCancelled']);
  const released = await inventoryAsExpected(PRODUCTS.mouse.id);
  expect(released).toMatchObject({ reserved_quantity: 0, available_quantity: released.total_quantity, pending_orders: [] });

  const pay = await postJson(url('/cqrs/commands/payments'), { order_id: o.id, amount: 59.85, method: 'CREDIT_CARD' });
  expect(pay.status).toBe(400);
  expect(pay.body.code).toBe(9);
  expect(pay.body.message).toMatch(/CANCELLED/);
});

test('orders for an unknown product, or for more than the stock, are REJECTED with a reason', async () => {
  const unknown = await createOrder({ user_id: USERS.rejected, product_id: UNKNOWN_PRODUCT, quantity: 1 });
  const tooMany = await createOrder({ user_id: USERS.rejected, product_id: PRODUCTS.mouse.id, quantity: 50 });

  const u = await orderSettled(unknown.id);
  expect(u.status).toBe('REJECTED');
  expect(u.status_reason).toContain(`unknown product ${UNKNOWN_PRODUCT}`);
  expect(events(u)).toEqual(['OrderInitiated', 'OrderRejected']);
  unknown.status = 'REJECTED';

  const t = await orderSettled(tooMany.id);
  expect(t.status).toBe('REJECTED');
  expect(t.status_reason).toMatch(/not enough stock for product 1002: 50 requested, \d+ available/);
  expect(t.total_amount).toBe(0);
  tooMany.status = 'REJECTED';

  // Nothing stays reserved by a rejected order.
  expect(await inventoryAsExpected(PRODUCTS.mouse.id)).toMatchObject({ reserved_quantity: 0 });
});

test('an unknown order id is 404 on the read and the write side; a malformed one is 400', async () => {
  const missing = randomUUID();
  const r = await getJson(url(orderPath(missing)));
  expect(r.status).toBe(404);
  expect(r.body.code).toBe(5); // NOT_FOUND
  expect((await postJson(url(`/cqrs/commands/orders/${missing}/ship`), {})).status).toBe(404);
  expect((await postJson(url(`/cqrs/commands/orders/${missing}/complete`), {})).status).toBe(404);
  expect((await postJson(url(`/cqrs/commands/orders/${missing}/cancel`), {})).status).toBe(404);
  expect((await postJson(url('/cqrs/commands/payments'), { order_id: missing, amount: 1, method: 'CREDIT_CARD' })).status).toBe(404);
  const bad = await getJson(url(orderPath('not-an-id')));
  expect(bad.status).toBe(400);
  expect(bad.text).toContain('order_id');
});

test('20 concurrent orders for the last 5 units: exactly 5 VALIDATED, 15 REJECTED, nothing oversold', async () => {
  const created = await Promise.all(
    Array.from({ length: 20 }, () => createOrder({ user_id: USERS.racer, product_id: PRODUCTS.limited.id, quantity: 1 })),
  );
  const settled = await Promise.all(created.map((o) => orderSettled(o.id)));
  for (const [i, s] of settled.entries()) {
    if (s.status === 'VALIDATED') validated(created[i]);
    else created[i].status = s.status;
  }
  expect(countByStatus(created)).toEqual({ VALIDATED: 5, REJECTED: 15 });
  for (const s of settled.filter((x) => x.status === 'REJECTED')) expect(s.status_reason).toContain('not enough stock');

  const item = await inventoryAsExpected(PRODUCTS.limited.id);
  expect(item).toMatchObject({ available_quantity: 0, reserved_quantity: 5, total_quantity: 5, low_stock_alert: true });
  expect(item.pending_orders).toEqual(created.filter((o) => o.status === 'VALIDATED').map((o) => o.id).sort());

  // The stock is gone: the next order is rejected too.
  const late = await createOrder({ user_id: USERS.racer, product_id: PRODUCTS.limited.id, quantity: 1 });
  expect((await orderSettled(late.id)).status).toBe('REJECTED');
  late.status = 'REJECTED';
});

test('money is exact at small scale too: 30 orders at 0.10 are worth exactly 3 (a float sum gives 3.0000000000000013)', async () => {
  const n = PRODUCTS.sticker.quantity;
  const created = await Promise.all(
    Array.from({ length: n }, async () => {
      const r = await api.createOrder({ userId: USERS.cents, productId: PRODUCTS.sticker.id, quantity: 1 });
      return track(r.orderId, USERS.cents, [{ productId: PRODUCTS.sticker.id, quantity: 1 }]);
    }),
  );
  const path = `/cqrs/queries/users/${USERS.cents}/summary`;
  await until(path, (x) => x.order_statuses.VALIDATED === n, `${n} orders to be VALIDATED`, 30_000);
  created.forEach(validated);
  await Promise.all(created.map((o) => post('/cqrs/commands/payments', { order_id: o.id, amount: 0.1, method: 'BANK_TRANSFER' })));
  const s = await until(path, (x) => x.order_statuses.PAID === n, `${n} orders to be PAID`, 30_000);
  created.forEach(paid);
  expect(s).toMatchObject({ total_orders: n, total_spent: 3, avg_order_value: 0.1, order_statuses: { PAID: n } });
  await inventoryAsExpected(PRODUCTS.sticker.id); // all 30 sold
});

test('GET /cqrs/queries/users/{id}/orders pages newest first, stably, without duplicates or gaps', async () => {
  const created = await Promise.all(
    Array.from({ length: 7 }, () => createOrder({ user_id: USERS.paging, product_id: PRODUCTS.keyboard.id, quantity: 1 })),
  );
  for (const o of created) {
    expect((await orderSettled(o.id)).status).toBe('VALIDATED');
    validated(o);
  }
  const path = `/cqrs/queries/users/${USERS.paging}/orders`;

  // Page 1 twice: the same rows in the same order.
  const first = await get(`${path}?page_size=3`);
  expect(first.orders).toHaveLength(3);
  expect((await get(`${path}?page_size=3`)).orders.map((o: any) => o.order_id)).toEqual(first.orders.map((o: any) => o.order_id));

  // A new order arriving mid-walk neither shifts nor repeats the later pages.
  const newcomer = await createOrder({ user_id: USERS.paging, product_id: PRODUCTS.keyboard.id, quantity: 1 });
  expect((await orderSettled(newcomer.id)).status).toBe('VALIDATED');
  validated(newcomer);
  const walked = [...first.orders];
  let token: string = first.next_page_token;
  while (token) {
    const page = await get(`${path}?page_size=3&page_token=${encodeURIComponent(token)}`);
    expect(page.orders.length).toBeLessThanOrEqual(3);
    walked.push(...page.orders);
    token = page.next_page_token;
  }
  const walkedIds = walked.map((o) => o.order_id);
  expect(new Set(walkedIds).size).toBe(walkedIds.length);
  expect([...walkedIds].sort()).toEqual(created.map((o) => o.id).sort());
  const createdAt = walked.map((o) => Date.parse(o.created_at));
  expect([...createdAt].sort((a, b) => b - a)).toEqual(createdAt);

  // A fresh walk sees all 8, newest (the newcomer) first.
  const all = await allPages(path, 'orders', 3);
  expect(all.map((o) => o.order_id).sort()).toEqual([...created.map((o) => o.id), newcomer.id].sort());
  expect(all[0].order_id).toBe(newcomer.id);
  expect(all.every((o) => o.user_id === USERS.paging)).toBe(true);

  // A token this service did not issue is a client error.
  const bad = await getJson(url(`${path}?page_token=bm9wZQ`));
  expect(bad.status).toBe(400);
  expect(bad.text).toContain('page_token');
});

test('GET /cqrs/queries/orders?status= lists exactly the orders in that status', async () => {
  const paidList = await allPages('/cqrs/queries/orders?status=PAID', 'orders', 500);
  expect(paidList.every((o) => o.status === 'PAID')).toBe(true);
  expect(paidList.map((o) => o.order_id).sort()).toEqual([...orders.values()].filter((o) => o.status === 'PAID').map((o) => o.id).sort());

  const validatedList = await allPages('/cqrs/queries/orders?status=VALIDATED', 'orders', 500);
  expect(validatedList.map((o) => o.order_id).sort()).toEqual(
    [...orders.values()].filter((o) => o.status === 'VALIDATED').map((o) => o.id).sort(),
  );
  const everything = await allPages('/cqrs/queries/orders', 'orders', 500);
  expect(everything).toHaveLength(orders.size);
});

test('GET /cqrs/queries/inventory lists every product; low_stock_only=true only those on alert', async () => {
  const ids = [...products.keys()].sort((a, b) => a - b);
  const all = await settlesTo('/cqrs/queries/inventory', { items: ids.map(expectedInventory), next_page_token: '' });
  expect(camelCaseKeys(all)).toEqual([]);

  const low = await get('/cqrs/queries/inventory?low_stock_only=true');
  expect(low.items.every((i: any) => i.low_stock_alert === true)).toBe(true);
  const expectedLow = [...products.keys()].filter((id) => expectedInventory(id).low_stock_alert).sort((a, b) => a - b);
  // The mouse went under its threshold by a sale, the limited edition by reservations.
  expect(expectedLow).toEqual([PRODUCTS.mouse.id, PRODUCTS.limited.id]);
  expect(low.items.map((i: any) => i.product_id)).toEqual(expectedLow);

  const paged = await allPages('/cqrs/queries/inventory', 'items', 1);
  expect(paged.map((i) => i.product_id)).toEqual(ids);
});

test('GET /cqrs/queries/users/{id}/summary equals what the test did', async () => {
  for (const userId of [USERS.lifecycle, USERS.paging, USERS.rejected, USERS.racer, USERS.cents]) {
    const mine = [...orders.values()].filter((o) => o.userId === userId);
    const paidOrders = mine.filter((o) => PAID.includes(o.status));
    const spentCents = paidOrders.reduce((sum, o) => sum + o.totalCents, 0);
    const s = await settlesTo(
      `/cqrs/queries/users/${userId}/summary`,
      {
        user_id: userId,
        total_orders: mine.length,
        total_spent: spentCents / 100,
        avg_order_value: paidOrders.length ? Math.round(spentCents / paidOrders.length) / 100 : 0,
        // Units the user ordered, whatever became of the order; the top 5.
        favorite_products: unitsByProduct(mine).slice(0, 5),
        order_statuses: countByStatus(mine),
      },
      (b) => ({ ...b, favorite_products: b.favorite_products.map((p: any) => ({ product_id: p.product_id, count: p.count })) }),
    );
    expect(camelCaseKeys({ ...s, order_statuses: {} })).toEqual([]);
    const statusTotal = Object.values(s.order_statuses as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(statusTotal).toBe(s.total_orders);
  }
  // The lifecycle user, spelled out: 149.97 + 89.89 paid, one cancelled.
  const s = await get(`/cqrs/queries/users/${USERS.lifecycle}/summary`);
  expect(s).toMatchObject({
    total_orders: 3, total_spent: 239.86, avg_order_value: 119.93, order_statuses: { COMPLETED: 1, PAID: 1, CANCELLED: 1 },
  });
  expect(s.favorite_products).toEqual([
    { product_id: PRODUCTS.mouse.id, product_name: 'Mouse', count: 5 },
    { product_id: PRODUCTS.keyboard.id, product_name: 'Keyboard', count: 4 },
  ]);
  await get(`/cqrs/queries/users/${USERS.bulk}/summary`, 404); // no orders yet
});

test('GET /cqrs/queries/statistics/orders equals what the test did, to the cent', async () => {
  const all = [...orders.values()];
  const paidOrders = all.filter((o) => PAID.includes(o.status));
  const revenueCents = paidOrders.reduce((sum, o) => sum + o.totalCents, 0);
  const before = Date.now();
  const st = await settlesTo(
    '/cqrs/queries/statistics/orders',
    {
      total_orders: all.length,
      orders_by_status: countByStatus(all),
      total_revenue: revenueCents / 100,
      average_order_value: Math.round(revenueCents / paidOrders.length) / 100,
      top_products: unitsByProduct(all).slice(0, 5),
      orders_last_hour: all.length,
      orders_last_day: all.length,
      generated_at: undefined,
    },
    (b) => ({ ...b, top_products: b.top_products.map((p: any) => ({ product_id: p.product_id, count: p.count })), generated_at: undefined }),
  );
  expect(camelCaseKeys({ ...st, orders_by_status: {} })).toEqual([]);
  expect(st.total_revenue).toBe(242.86); // 149.97 + 89.89 + 30 × 0.10
  expect(Date.parse(st.generated_at)).toBeGreaterThanOrEqual(before - 5_000);
  const names = Object.fromEntries(Object.values(PRODUCTS).map((p) => [p.id, p.name]));
  for (const p of st.top_products) if (names[p.product_id]) expect(p.product_name).toBe(names[p.product_id]);
});

test('a redelivered OrderInitiated (the broker is at-least-once) neither drops nor doubles a stock reservation', async () => {
  const p = { id: 1005, name: 'Redelivered', price: 2.5, quantity: 50, threshold: 0 };
  await post('/cqrs/commands/inventory', { product_id: p.id, product_name: p.name, unit_price: p.price, quantity: p.quantity, low_stock_threshold: p.threshold });
  products.set(p.id, { id: p.id, name: p.name, priceCents: 250, total: p.quantity, threshold: p.threshold, reservations: new Map() });
  await inventoryAsExpected(p.id);

  // As each of this user's OrderInitiated goes by, publish it again, three
  // times, byte for byte: what a broker redelivery or an outbox re-publish
  // looks like to consumers, arriving while the first copy is being handled.
  // (The tap hears the copies too: only a first sighting is copied.)
  const conn = await amqp.connect(mesh.urls.amqp, { timeout: 5_000 });
  const copied = new Set<string>();
  const tap = await (async () => {
    const ch = await conn.createConfirmChannel();
    return EventTap.open(mesh.urls.amqp, 'cqrs.v1.OrderInitiated', (m) => {
      const e = EventEnvelope.decode(m.content);
      if (e.payload?.$case !== 'orderInitiated' || e.payload.value.userId !== USERS.redelivered || copied.has(e.eventId)) return;
      copied.add(e.eventId);
      const { contentType, type, messageId, correlationId, timestamp, headers } = m.properties;
      for (let i = 0; i < 3; i++) {
        ch.publish('cqrs.events', m.fields.routingKey, m.content, { contentType, type, messageId, correlationId, timestamp, headers, persistent: true });
      }
    });
  })();
  try {
    const created = await Promise.all(
      Array.from({ length: 10 }, () => createOrder({ user_id: USERS.redelivered, product_id: p.id, quantity: 2 })),
    );
    for (const o of created) {
      const v = await orderSettled(o.id);
      expect(v.status).toBe('VALIDATED');
      validated(o);
    }
    await eventually(async () => (copied.size === created.length ? true : undefined), 10_000, 'the tap to copy every OrderInitiated');
    await sleep(3_000); // let the copies be handled

    for (const o of created) {
      const seen = await get(orderPath(o.id));
      expect({ id: o.id, status: seen.status, timeline: events(seen) }).toEqual({ id: o.id, status: 'VALIDATED', timeline: ['OrderInitiated', 'OrderValidated'] });
    }
    // Every VALIDATED order still holds its 2 units: 20 reserved, 30 available.
    const item = await get(`/cqrs/queries/inventory/${p.id}`);
    expect(item).toEqual(expectedInventory(p.id));
    const held = await api.getProductInventory(p.id);
    expect(held.item).toMatchObject({ reservedQuantity: 20, availableQuantity: 30 });

    // Paid, the units leave the stock: 30 on hand, none reserved.
    for (const o of created) {
      await post('/cqrs/commands/payments', { order_id: o.id, amount: 5, method: 'DEBIT_CARD' });
      paid(o);
    }
    await inventoryAsExpected(p.id);
  } finally {
    await tap.close();
    await conn.close().catch(() => undefined);
  }
});

// The bulk scenario has a time budget, as the file must stay around two
// minutes. 1,000 orders at 0.10 are spread over 10 products and 100 users, as
// a shop's orders are; phase timings are reported when it does not fit.
const BULK_BUDGET_MS = 180_000;
const BULK = { orders: 1_000, products: 10, users: 100, price: 0.1, firstProduct: 1100, firstUser: 5300 };

test('money is exact: 1,000 orders at 0.10 over 100 users, all paid, are worth exactly 100', async () => {
  const started = Date.now();
  const phases: string[] = [];
  const phase = (name: string) => phases.push(`${name} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const left = () => Math.max(1_000, BULK_BUDGET_MS - (Date.now() - started));
  const cables = Array.from({ length: BULK.products }, (_, i) => ({
    id: BULK.firstProduct + i, name: `Cable ${i}`, price: BULK.price, quantity: BULK.orders / BULK.products, threshold: 1,
  }));
  const users = Array.from({ length: BULK.users }, (_, i) => (i === 0 ? USERS.bulk : BULK.firstUser + i));
  for (const c of cables) {
    await api.updateInventory({ productId: c.id, productName: c.name, unitPrice: c.price, quantity: c.quantity, lowStockThreshold: c.threshold });
    products.set(c.id, { id: c.id, name: c.name, priceCents: 10, total: c.quantity, threshold: c.threshold, reservations: new Map() });
  }

  const ids: string[] = [];
  const mine = new Map<number, string[]>(users.map((u) => [u, []]));
  ids.push(
    ...(await inBatches(Array.from({ length: BULK.orders }, (_, i) => i), 50, async (i) => {
      const userId = users[i % users.length];
      const productId = cables[Math.floor(i / users.length) % cables.length].id;
      const r = await api.createOrder({ userId, productId, quantity: 1 });
      track(r.orderId, userId, [{ productId, quantity: 1 }]);
      mine.get(userId)!.push(r.orderId);
      return r.orderId;
    })),
  );
  phase(`${BULK.orders} created`);
  expect(new Set(ids).size).toBe(BULK.orders);

  const perUser = BULK.orders / BULK.users;
  let last = 'none yet';
  const everyUser = async (accept: (s: any) => boolean, what: string) => {
    try {
      // One user after another: they settle at about the same time, and a
      // hundred pollers at once would only slow the mesh they wait for.
      const out: any[] = [];
      for (const u of users) {
        out.push(
          await eventually(async () => {
            const r = await getJson(url(`/cqrs/queries/users/${u}/summary`));
            if (r.status !== 200) return undefined;
            last = JSON.stringify(r.body.order_statuses);
            return accept(r.body) ? r.body : undefined;
          }, left(), what),
        );
      }
      return out;
    } catch {
      throw new Error(`bulk orders did not get through within ${BULK_BUDGET_MS / 1000} s: waiting for ${what}; last statuses ${last} (${phases.join(', ')})`);
    }
  };
  await everyUser((s) => s.order_statuses.VALIDATED === perUser, 'every order to be VALIDATED');
  phase('all validated');
  for (const id of ids) validated(orders.get(id)!);

  await inBatches(ids, 50, (orderId) => api.processPayment({ orderId, amount: BULK.price, method: PaymentMethod.CREDIT_CARD }));
  phase('all paid');
  const summaries = await everyUser((s) => s.order_statuses.PAID === perUser, 'every order to be PAID in the read model');
  phase('all projected');
  for (const id of ids) paid(orders.get(id)!);
  console.log(`bulk: ${phases.join(', ')}`);

  for (const s of summaries) {
    expect(s.total_orders).toBe(perUser);
    expect(s.order_statuses).toEqual({ PAID: perUser });
    expect(s.total_spent).toBe(1); // 10 × 0.10, exactly
    expect(s.avg_order_value).toBe(0.1);
  }
  const cents = summaries.reduce((sum, s) => sum + Math.round(s.total_spent * 100), 0);
  expect(cents).toBe(10_000);
  for (const c of cables) {
    const item = await inventoryAsExpected(c.id);
    expect(item).toMatchObject({ available_quantity: 0, reserved_quantity: 0, total_quantity: 0, low_stock_alert: true });
  }

  // The statistics' revenue is exact too: 149.97 + 89.89 + 30 × 0.10 + 10 × 5 + 1,000 × 0.10.
  const all = [...orders.values()];
  await settlesTo(
    '/cqrs/queries/statistics/orders',
    { total_orders: all.length, orders_by_status: countByStatus(all), total_revenue: 392.86 },
    (b) => ({ total_orders: b.total_orders, orders_by_status: b.orders_by_status, total_revenue: b.total_revenue }),
  );

  // One user's 10 orders in pages of 3: each exactly once; and the PAID
  // listing has every paid order.
  const pages = await allPages(`/cqrs/queries/users/${USERS.bulk}/orders`, 'orders', 3);
  const pagedIds = pages.map((o) => o.order_id);
  expect(new Set(pagedIds).size).toBe(pagedIds.length);
  expect(pagedIds.sort()).toEqual([...mine.get(USERS.bulk)!].sort());
  // Summaries and statistics are written before the orders' own documents in
  // a batch, so the listing may trail them by one batch: poll, then assert.
  const paidIds = all.filter((o) => o.status === 'PAID').map((o) => o.id).sort();
  const listedPaid = async () => (await allPages('/cqrs/queries/orders?status=PAID', 'orders', 500)).map((o) => o.order_id).sort();
  const listed = await eventually(async () => {
    const ids = await listedPaid();
    return isDeepStrictEqual(ids, paidIds) ? ids : undefined;
  }, 15_000, 'the PAID listing to hold every paid order').catch(listedPaid);
  expect(listed).toEqual(paidIds);
}, BULK_BUDGET_MS + 30_000);
