// The REST contract (DESIGN.md "Ports and paths", the seed's JSON documents,
// and the extra google.api.http rules in proto/cqrs/v1), checked over plain
// HTTP against one edge:
//
//   npx jest test/contract                                     # starts its own mesh + local edge
//   BASE_URL=http://localhost:8000 npx jest test/contract      # Envoy from docker-compose, or any running edge
//
// Everything it needs it seeds through REST (POST /cqrs/commands/inventory),
// with product and user ids drawn at random per run, so it can run again and
// again against a long-lived deployment. Every wait is bounded.
import { randomInt, randomUUID } from 'node:crypto';
import { eventually } from '../../kit/wait';
import { request, type Reply } from './http';
import {
  about,
  camelCaseKeys,
  expectEdgeError,
  expectHealth,
  expectInt32,
  expectInventoryItem,
  expectJson,
  expectKeys,
  expectOrder,
  expectStatistics,
  expectStatusError,
  expectUserSummary,
  INVENTORY_KEYS,
  UUID,
} from './shape';
import { openTarget, type RestTarget } from './target';

jest.setTimeout(90_000);

const POLL_MS = 20_000;
const MAX_PAGES = 40;

// gRPC codes the contract names.
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const RESOURCE_EXHAUSTED = 8;
const FAILED_PRECONDITION = 9;
const TOKEN = /^[A-Za-z0-9_-]{20,}$/; // a consistency token: opaque base64url

// Ids unique to this run. Stocked ids come from [1e8, 2e9); ids that must not
// exist come from above 2.1e9, where no run ever stocks or orders anything.
const freshId = () => randomInt(100_000_000, 2_000_000_000);
const unknownId = () => randomInt(2_100_000_000, 2_147_483_647);
const P1 = freshId(); // the seed's product: orders A, B, C
const P2 = freshId(); // a product low on stock
const U1 = freshId(); // orders A (paid, shipped, completed) and B (cancelled)
const U2 = freshId(); // order C (rejected: not enough stock)
const U3 = freshId(); // order D (paid, left PAID)
const NAME1 = `Contract Keyboard ${P1}`;
const NAME2 = `Contract Cable ${P2}`;
const EMAIL = 'user@example.com';

let target: RestTarget;

beforeAll(async () => {
  target = await openTarget();
}, 120_000);

afterAll(async () => {
  await target?.close();
}, 60_000);

const url = (path: string) => `${target.base}${path}`;
const get = (path: string) => request('GET', url(path));
const post = (path: string, body: unknown) => request('POST', url(path), { body: body as object | string });

/** Adds what the mesh said last (local mesh only) to a failure. */
function explained<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: Error) => {
    const logs = target.logs().slice(-30);
    if (logs.length) err.message += `\n--- recent mesh output ---\n${logs.join('\n')}`;
    throw err;
  });
}

/** Runs `fn` once; later callers share its result (or its failure). */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= explained(fn()));
}

/** Every snapshot of an order the suite has read, to check PENDING ones too. */
const snapshots: any[] = [];

/** Polls GET /cqrs/queries/orders/{id} until the order satisfies `ready`. */
function orderWhen(orderId: string, ready: (o: any) => boolean, what: string): Promise<any> {
  return eventually(
    async () => {
      const r = await get(`/cqrs/queries/orders/${orderId}`);
      if (r.status === 404) return undefined; // not projected yet
      const o = expectJson(r, 200);
      snapshots.push(o);
      return ready(o) ? o : undefined;
    },
    POLL_MS,
    `order ${orderId} ${what}`,
  );
}

/** Follows next_page_token (bounded) until `find` matches an entry of `list`. */
async function findInPages(path: string, list: string, find: (e: any) => boolean, check: (page: any) => void = () => undefined): Promise<any> {
  let token = '';
  for (let page = 0; page < MAX_PAGES; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await get(token ? `${path}${sep}page_token=${encodeURIComponent(token)}` : path);
    const body = expectJson(r, 200);
    about(r, () => {
      expectKeys(body, [list, 'next_page_token']);
      expect(Array.isArray(body[list])).toBe(true);
      expect(typeof body.next_page_token).toBe('string');
      check(body);
    });
    const hit = body[list].find(find);
    if (hit) return hit;
    if (!body.next_page_token) return undefined;
    token = body.next_page_token;
  }
  throw new Error(`GET ${path}: not found within ${MAX_PAGES} pages`);
}

// ---- the scenario, step by step; each step runs once, when a test first needs it ----

const stockP1 = once(() =>
  post('/cqrs/commands/inventory', { product_id: P1, product_name: NAME1, unit_price: 33.33, quantity: 100, low_stock_threshold: 5 }),
);
const stockP2 = once(() =>
  post('/cqrs/commands/inventory', { product_id: P2, product_name: NAME2, unit_price: 5, quantity: 3, low_stock_threshold: 10 }),
);

async function createdOrder(body: object): Promise<{ reply: Reply; orderId: string }> {
  const reply = await post('/cqrs/commands/orders', body);
  const res = expectJson(reply, 200);
  about(reply, () => expect(res.order_id).toMatch(UUID));
  return { reply, orderId: res.order_id };
}

/** A: 3 × P1 at 33.33 = 99.99, as in the seed's OrderReadModel. */
const orderA = once(async () => {
  expectJson(await stockP1(), 200);
  const created = await createdOrder({ user_id: U1, product_id: P1, quantity: 3, user_email: EMAIL });
  const validated = await orderWhen(created.orderId, (o) => o.status !== 'PENDING', 'to leave PENDING');
  return { ...created, validated };
});
const payA = once(async () => {
  const { orderId } = await orderA();
  const reply = await post('/cqrs/commands/payments', { order_id: orderId, amount: 99.99, method: 'CREDIT_CARD' });
  expectJson(reply, 200);
  const paid = await orderWhen(orderId, (o) => o.status === 'PAID', 'to be PAID');
  return { reply, paid };
});
const shipA = once(async () => {
  const { orderId } = await orderA();
  await payA();
  const reply = await post(`/cqrs/commands/orders/${orderId}/ship`, { tracking_number: `TRK-${P1}` });
  expectJson(reply, 200);
  const shipped = await orderWhen(orderId, (o) => o.status === 'SHIPPED', 'to be SHIPPED');
  return { reply, shipped };
});
const completeA = once(async () => {
  const { orderId } = await orderA();
  await shipA();
  const reply = await post(`/cqrs/commands/orders/${orderId}/complete`, {});
  expectJson(reply, 200);
  const completed = await orderWhen(orderId, (o) => o.status === 'COMPLETED', 'to be COMPLETED');
  return { reply, completed };
});

/** B: 1 × P1, refused twice while VALIDATED and unpaid, then cancelled. */
const orderB = once(async () => {
  expectJson(await stockP1(), 200);
  const created = await createdOrder({ user_id: U1, product_id: P1, quantity: 1 });
  const validated = await orderWhen(created.orderId, (o) => o.status !== 'PENDING', 'to leave PENDING');
  return { ...created, validated };
});
const refusedB = once(async () => {
  const { orderId } = await orderB();
  const ship = await post(`/cqrs/commands/orders/${orderId}/ship`, {});
  const complete = await post(`/cqrs/commands/orders/${orderId}/complete`, {});
  const wrongAmount = await post('/cqrs/commands/payments', { order_id: orderId, amount: 1.23, method: 'PAYPAL' });
  const after = expectJson(await get(`/cqrs/queries/orders/${orderId}`), 200);
  return { ship, complete, wrongAmount, after };
});
const cancelB = once(async () => {
  const { orderId } = await orderB();
  await refusedB();
  const reply = await post(`/cqrs/commands/orders/${orderId}/cancel`, { reason: 'changed my mind' });
  expectJson(reply, 200);
  const cancelled = await orderWhen(orderId, (o) => o.status === 'CANCELLED', 'to be CANCELLED');
  const payCancelled = await post('/cqrs/commands/payments', { order_id: orderId, amount: 33.33, method: 'CREDIT_CARD' });
  return { reply, cancelled, payCancelled };
});

/** C: more than P1 has, for user U2, without an email: rejected, every amount at its default. */
const orderC = once(async () => {
  expectJson(await stockP1(), 200);
  const created = await createdOrder({ user_id: U2, product_id: P1, quantity: 500 });
  const rejected = await orderWhen(created.orderId, (o) => o.status !== 'PENDING', 'to leave PENDING');
  return { ...created, rejected };
});

/** D: 1 × P1 for user U3, paid and left PAID. */
const payD = once(async () => {
  expectJson(await stockP1(), 200);
  const { orderId } = await createdOrder({ user_id: U3, product_id: P1, quantity: 1 });
  await orderWhen(orderId, (o) => o.status !== 'PENDING', 'to leave PENDING');
  expectJson(await post('/cqrs/commands/payments', { order_id: orderId, amount: 33.33, method: 'PAYPAL' }), 200);
  const paid = await orderWhen(orderId, (o) => o.status === 'PAID', 'to be PAID');
  return { orderId, paid };
});

/** All of the above, settled. */
const everything = once(async () => {
  await Promise.all([completeA(), cancelB(), orderC(), payD()]);
});

// ---------------------------------------------------------------------------

describe('POST /cqrs/commands/inventory (CommandService.UpdateInventory)', () => {
  test('stocks a product and answers {item} with every field in snake_case, zero values included', async () => {
    const r = await stockP1();
    const body = expectJson(r, 200);
    about(r, () => {
      expectKeys(body, ['item', 'consistency_token']);
      expect(body.consistency_token).toMatch(TOKEN);
      expectInventoryItem(body.item);
      expect(body.item).toEqual({
        product_id: P1,
        product_name: NAME1,
        unit_price: 33.33,
        available_quantity: 100,
        reserved_quantity: 0,
        total_quantity: 100,
        low_stock_threshold: 5,
        low_stock_alert: false,
        pending_orders: [],
        pending_orders_count: 0,
      });
    });
  });

  test('names every bad field: 400, google.rpc.Status with a google.rpc.BadRequest', async () => {
    const r = await post('/cqrs/commands/inventory', { product_id: 0, unit_price: 1.234, quantity: -1 });
    expectStatusError(r, 400, INVALID_ARGUMENT, ['product_id', 'unit_price', 'quantity']);
  });
});

describe('GET /cqrs/queries/inventory/{product_id} (QueryService.GetProductInventory)', () => {
  test("one product's inventory, as the seed's InventoryReadModel", async () => {
    expectJson(await stockP1(), 200);
    const item = await explained(
      eventually(async () => {
        const r = await get(`/cqrs/queries/inventory/${P1}`);
        return r.status === 404 ? undefined : expectJson(r, 200);
      }, POLL_MS, `product ${P1} in the read model`),
    );
    expectInventoryItem(item);
    expect(typeof item.product_id).toBe('number');
    expect(item).toMatchObject({ product_id: P1, product_name: NAME1, unit_price: 33.33, total_quantity: 100, low_stock_alert: false });
  });

  test('a low stock raises low_stock_alert', async () => {
    expectJson(await stockP2(), 200);
    const item = await explained(
      eventually(async () => {
        const r = await get(`/cqrs/queries/inventory/${P2}`);
        return r.status === 404 ? undefined : expectJson(r, 200);
      }, POLL_MS, `product ${P2} in the read model`),
    );
    expect(item).toEqual({
      product_id: P2,
      product_name: NAME2,
      unit_price: 5,
      available_quantity: 3,
      reserved_quantity: 0,
      total_quantity: 3,
      low_stock_threshold: 10,
      low_stock_alert: true,
      pending_orders: [],
      pending_orders_count: 0,
    });
  });

  test('an unknown product is 404 with a google.rpc.Status body', async () => {
    expectStatusError(await get(`/cqrs/queries/inventory/${unknownId()}`), 404, NOT_FOUND);
  });

  test('a product id that is not a positive integer is 400 naming product_id', async () => {
    expectStatusError(await get('/cqrs/queries/inventory/0'), 400, INVALID_ARGUMENT, ['product_id']);
    // Not a number at all: the transcoder cannot even build the request.
    expectEdgeError(await get('/cqrs/queries/inventory/abc'), 400, INVALID_ARGUMENT);
  });
});

describe('GET /cqrs/queries/inventory (QueryService.GetInventory)', () => {
  test('lists products ({items, next_page_token}), ours among them', async () => {
    expectJson(await stockP1(), 200);
    const found = await explained(
      eventually(
        () =>
          findInPages('/cqrs/queries/inventory?page_size=500', 'items', (i) => i.product_id === P1, (page) => page.items.forEach(expectInventoryItem)),
        POLL_MS,
        `product ${P1} in GET /cqrs/queries/inventory`,
      ),
    );
    expect(found).toMatchObject({ product_id: P1, product_name: NAME1, total_quantity: expect.any(Number) });
  });

  test('low_stock_only=true lists only products on alert', async () => {
    expectJson(await stockP2(), 200);
    const found = await explained(
      eventually(
        () =>
          findInPages('/cqrs/queries/inventory?low_stock_only=true&page_size=500', 'items', (i) => i.product_id === P2, (page) => {
            page.items.forEach(expectInventoryItem);
            for (const i of page.items) expect(i.low_stock_alert).toBe(true);
          }),
        POLL_MS,
        `product ${P2} in GET /cqrs/queries/inventory?low_stock_only=true`,
      ),
    );
    expect(found).toMatchObject({ product_id: P2, low_stock_alert: true });
  });

  test('pages with page_size and page_token', async () => {
    await Promise.all([stockP1(), stockP2()]);
    await explained(eventually(async () => ((await get(`/cqrs/queries/inventory/${P2}`)).status === 200 ? true : undefined), POLL_MS, 'P2 projected'));
    const first = expectJson(await get('/cqrs/queries/inventory?page_size=1'), 200);
    expect(first.items).toHaveLength(1);
    expect(typeof first.next_page_token).toBe('string');
    expect(first.next_page_token).not.toBe(''); // at least P1 and P2 exist
    const second = expectJson(await get(`/cqrs/queries/inventory?page_size=1&page_token=${encodeURIComponent(first.next_page_token)}`), 200);
    expect(second.items).toHaveLength(1);
    expect(second.items[0].product_id).not.toBe(first.items[0].product_id);
  });

  test('a bad page_size or page_token is 400 naming the field', async () => {
    expectStatusError(await get('/cqrs/queries/inventory?page_size=-1'), 400, INVALID_ARGUMENT, ['page_size']);
    expectStatusError(await get('/cqrs/queries/inventory?page_token=not-a-token'), 400, INVALID_ARGUMENT, ['page_token']);
  });
});

describe('POST /cqrs/commands/orders (CommandService.CreateOrder)', () => {
  test("the seed's request answers {order_id, status: \"PENDING\", message, consistency_token}", async () => {
    const { reply } = await orderA();
    const body = expectJson(reply, 200);
    about(reply, () => {
      expectKeys(body, ['order_id', 'status', 'message', 'consistency_token']);
      expect(body.consistency_token).toMatch(TOKEN);
      expect(body.order_id).toMatch(UUID);
      expect(body.status).toBe('PENDING');
      expect(typeof body.message).toBe('string');
    });
  });

  test('names every bad field: 400, google.rpc.Status with a google.rpc.BadRequest', async () => {
    const r = await post('/cqrs/commands/orders', { user_id: 0, product_id: -1, quantity: 0 });
    expectStatusError(r, 400, INVALID_ARGUMENT, ['user_id', 'product_id', 'quantity']);
    const email = await post('/cqrs/commands/orders', { user_id: U1, product_id: P1, quantity: 1, user_email: 'not an email' });
    expectStatusError(email, 400, INVALID_ARGUMENT, ['user_email']);
  });

  test('malformed JSON is 400', async () => {
    expectEdgeError(await post('/cqrs/commands/orders', '{"user_id": 123,'), 400, INVALID_ARGUMENT);
    expectEdgeError(await post('/cqrs/commands/orders', 'user_id=123&product_id=456'), 400, INVALID_ARGUMENT);
  });

  test('a JSON value of the wrong type is 400', async () => {
    expectEdgeError(await post('/cqrs/commands/orders', { user_id: 'abc', product_id: P1, quantity: 1 }), 400, INVALID_ARGUMENT);
  });

  test('a body over 1 MiB is 413', async () => {
    const big = JSON.stringify({ user_id: U1, product_id: P1, quantity: 1, user_email: 'x'.repeat(1024 * 1024 + 1024) });
    expectEdgeError(await post('/cqrs/commands/orders', big), 413, RESOURCE_EXHAUSTED);
  });

  test('body fields the request does not define are ignored, at any depth, as Envoy ignores them', async () => {
    // A product nobody stocks: the order is accepted, then rejected by the order process; no stock is touched.
    const user = freshId();
    const product = unknownId();
    const r = await post('/cqrs/commands/orders', { user_id: user, user_email: EMAIL, items: [{ product_id: product, quantity: 2, colour: 'red' }], auth: 'token', extra: { nested: [1, 2] } });
    const body = expectJson(r, 200);
    about(r, () => {
      expectKeys(body, ['order_id', 'status', 'message', 'consistency_token']);
      expect(body.status).toBe('PENDING');
    });
    // What was stored is the request without them: the same user, email and line.
    const o = await orderWhen(body.order_id, (x) => x.status === 'REJECTED', 'rejected (unknown product)');
    expect({ user_id: o.user_id, user_email: o.user_email, items: o.items.map((i: any) => ({ product_id: i.product_id, quantity: i.quantity })) }).toEqual({
      user_id: user,
      user_email: EMAIL,
      items: [{ product_id: product, quantity: 2 }],
    });
    expect(JSON.stringify(o)).not.toMatch(/colour|auth|nested/);
  });
});

describe('GET /cqrs/queries/orders/{order_id} (QueryService.GetOrder)', () => {
  test("a validated order, as the seed's OrderReadModel", async () => {
    const { orderId, validated: o } = await orderA();
    expectOrder(o);
    expect(o).toMatchObject({
      order_id: orderId,
      user_id: U1,
      user_email: EMAIL,
      total_amount: 99.99,
      status: 'VALIDATED',
      items: [{ product_id: P1, product_name: NAME1, quantity: 3, unit_price: 33.33, subtotal: 99.99 }],
      status_reason: '',
    });
    expect(typeof o.user_id).toBe('number');
    expect(o.payment_info).toBeUndefined();
    expect(o.timeline.map((t: any) => t.event)).toEqual(['OrderInitiated', 'OrderValidated']);
  });

  test('a paid order shows its payment_info and the OrderInitiated → OrderValidated → OrderPaid timeline', async () => {
    const { orderId } = await orderA();
    const { paid: o } = await payA();
    expectOrder(o);
    expect(o).toMatchObject({ order_id: orderId, user_id: U1, total_amount: 99.99, status: 'PAID' });
    expect(o.payment_info).toMatchObject({ amount: 99.99, method: 'CREDIT_CARD', status: 'PROCESSED' });
    const events: string[] = o.timeline.map((t: any) => t.event);
    const seed = ['OrderInitiated', 'OrderValidated', 'OrderPaid'];
    expect(events.filter((e) => seed.includes(e))).toEqual(seed);
    const times = o.timeline.map((t: any) => Date.parse(t.timestamp));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  test('primitive fields are printed at their defaults (user_email "", total_amount 0, unit_price 0)', async () => {
    const { orderId, rejected: o } = await orderC();
    expectOrder(o);
    expect(o).toMatchObject({ order_id: orderId, user_id: U2, user_email: '', total_amount: 0, status: 'REJECTED' });
    expect(o.status_reason.length).toBeGreaterThan(0);
    expect(o.items).toEqual([{ product_id: P1, product_name: expect.any(String), quantity: 500, unit_price: expect.any(Number), subtotal: expect.any(Number) }]);
    expect(o.timeline.map((t: any) => t.event)).toEqual(['OrderInitiated', 'OrderRejected']);
    // Any PENDING snapshot the polls happened to read shows its zero amounts as well.
    for (const p of snapshots.filter((s) => s.status === 'PENDING')) {
      expectOrder(p);
      expect(p.total_amount).toBe(0);
      expect(typeof p.user_email).toBe('string');
      expect(p.status_reason).toBe('');
    }
  });

  test('an unknown order is 404 with a google.rpc.Status body', async () => {
    expectStatusError(await get(`/cqrs/queries/orders/${randomUUID()}`), 404, NOT_FOUND);
  });

  test('an order id that is not a UUID is 400 naming order_id', async () => {
    expectStatusError(await get('/cqrs/queries/orders/not-a-uuid'), 400, INVALID_ARGUMENT, ['order_id']);
  });
});

describe('POST /cqrs/commands/payments (CommandService.ProcessPayment)', () => {
  test('pays an order: {order_id, payment_id, status: "PAID", message}', async () => {
    const { orderId } = await orderA();
    const { reply } = await payA();
    const body = expectJson(reply, 200);
    about(reply, () => {
      expectKeys(body, ['order_id', 'payment_id', 'status', 'message', 'consistency_token']);
      expect(body.consistency_token).toMatch(TOKEN);
      expect(body.order_id).toBe(orderId);
      expect(typeof body.payment_id).toBe('string');
      expect(body.payment_id.length).toBeGreaterThan(0);
      expect(body.status).toBe('PAID');
      expect(typeof body.message).toBe('string');
    });
  });

  test('names every bad field: 400 with order_id, amount and method', async () => {
    const r = await post('/cqrs/commands/payments', { order_id: 'nope', amount: -1 });
    expectStatusError(r, 400, INVALID_ARGUMENT, ['order_id', 'amount', 'method']);
    const cents = await post('/cqrs/commands/payments', { order_id: randomUUID(), amount: 10.005, method: 'CREDIT_CARD' });
    expectStatusError(cents, 400, INVALID_ARGUMENT, ['amount']);
  });

  test('an unknown payment method name is 400', async () => {
    expectEdgeError(await post('/cqrs/commands/payments', { order_id: randomUUID(), amount: 1, method: 'BITCOIN' }), 400, INVALID_ARGUMENT);
  });

  test('an amount that is not the order total is refused: 400 FAILED_PRECONDITION, nothing changes', async () => {
    const { wrongAmount, after } = await refusedB();
    expectStatusError(wrongAmount, 400, FAILED_PRECONDITION);
    expect(after).toMatchObject({ status: 'VALIDATED' });
    expect(after.payment_info).toBeUndefined();
  });

  test('paying a cancelled order is refused: 400 FAILED_PRECONDITION', async () => {
    const { payCancelled } = await cancelB();
    expectStatusError(payCancelled, 400, FAILED_PRECONDITION);
  });

  test('paying an unknown order is 404', async () => {
    expectStatusError(await post('/cqrs/commands/payments', { order_id: randomUUID(), amount: 10, method: 'PAYPAL' }), 404, NOT_FOUND);
  });
});

describe('POST /cqrs/commands/orders/{order_id}/ship, /complete, /cancel', () => {
  test('ship answers {order_id, status: "SHIPPED", consistency_token}', async () => {
    const { orderId } = await orderA();
    const { reply, shipped } = await shipA();
    const body = expectJson(reply, 200);
    about(reply, () => expect(body).toEqual({ order_id: orderId, status: 'SHIPPED', consistency_token: expect.stringMatching(TOKEN) }));
    expectOrder(shipped);
  });

  test('complete answers {order_id, status: "COMPLETED", consistency_token}; the timeline holds every step in order', async () => {
    const { orderId } = await orderA();
    const { reply, completed } = await completeA();
    const body = expectJson(reply, 200);
    about(reply, () => expect(body).toEqual({ order_id: orderId, status: 'COMPLETED', consistency_token: expect.stringMatching(TOKEN) }));
    expectOrder(completed);
    const events: string[] = completed.timeline.map((t: any) => t.event);
    const life = ['OrderInitiated', 'OrderValidated', 'OrderPaid', 'OrderShipped', 'OrderCompleted'];
    expect(events.filter((e) => life.includes(e))).toEqual(life);
  });

  test('cancel answers {order_id, status: "CANCELLED", consistency_token}; the read model keeps the reason', async () => {
    const { orderId } = await orderB();
    const { reply, cancelled } = await cancelB();
    const body = expectJson(reply, 200);
    about(reply, () => expect(body).toEqual({ order_id: orderId, status: 'CANCELLED', consistency_token: expect.stringMatching(TOKEN) }));
    expectOrder(cancelled);
    expect(cancelled).toMatchObject({ status: 'CANCELLED', status_reason: 'changed my mind', total_amount: 33.33 });
  });

  test('shipping (or completing) an unpaid order is 400 FAILED_PRECONDITION, and nothing changes', async () => {
    const { ship, complete, after } = await refusedB();
    expectStatusError(ship, 400, FAILED_PRECONDITION);
    expectStatusError(complete, 400, FAILED_PRECONDITION);
    expect(after.status).toBe('VALIDATED');
    expect(after.timeline.map((t: any) => t.event)).toEqual(['OrderInitiated', 'OrderValidated']);
  });

  test('cancelling a paid (here completed) order is 400 FAILED_PRECONDITION', async () => {
    const { orderId } = await orderA();
    await completeA();
    expectStatusError(await post(`/cqrs/commands/orders/${orderId}/cancel`, { reason: 'too late' }), 400, FAILED_PRECONDITION);
    const o = expectJson(await get(`/cqrs/queries/orders/${orderId}`), 200);
    expect(o.status).toBe('COMPLETED');
  });

  test('an unknown order is 404; an id that is not a UUID is 400 naming order_id', async () => {
    for (const action of ['ship', 'complete', 'cancel']) {
      expectStatusError(await post(`/cqrs/commands/orders/${randomUUID()}/${action}`, {}), 404, NOT_FOUND);
      expectStatusError(await post(`/cqrs/commands/orders/not-a-uuid/${action}`, {}), 400, INVALID_ARGUMENT, ['order_id']);
    }
  });
});

describe('GET /cqrs/queries/users/{user_id}/orders (QueryService.ListUserOrders)', () => {
  test("lists the user's orders ({orders, next_page_token: \"\"}), each as the seed's OrderReadModel", async () => {
    await everything();
    const a = (await orderA()).orderId;
    const b = (await orderB()).orderId;
    const r = await get(`/cqrs/queries/users/${U1}/orders`);
    const body = expectJson(r, 200);
    about(r, () => {
      expectKeys(body, ['orders', 'next_page_token']);
      expect(body.next_page_token).toBe('');
      body.orders.forEach(expectOrder);
      expect(body.orders.map((o: any) => o.order_id).sort()).toEqual([a, b].sort());
      for (const o of body.orders) expect(o.user_id).toBe(U1);
    });
  });

  test('filters by status', async () => {
    await everything();
    const b = (await orderB()).orderId;
    const r = await get(`/cqrs/queries/users/${U1}/orders?status=CANCELLED`);
    const body = expectJson(r, 200);
    about(r, () => expect(body.orders.map((o: any) => [o.order_id, o.status])).toEqual([[b, 'CANCELLED']]));
  });

  test('pages with page_size and page_token', async () => {
    await everything();
    const first = expectJson(await get(`/cqrs/queries/users/${U1}/orders?page_size=1`), 200);
    expect(first.orders).toHaveLength(1);
    expect(first.next_page_token).not.toBe('');
    const second = expectJson(await get(`/cqrs/queries/users/${U1}/orders?page_size=1&page_token=${encodeURIComponent(first.next_page_token)}`), 200);
    expect(second.orders).toHaveLength(1);
    expect(second.orders[0].order_id).not.toBe(first.orders[0].order_id);
  });

  test('a user without orders gets {orders: [], next_page_token: ""}', async () => {
    const r = await get(`/cqrs/queries/users/${unknownId()}/orders`);
    about(r, () => expect(expectJson(r, 200)).toEqual({ orders: [], next_page_token: '' }));
  });

  test('a user id that is not a positive integer is 400 naming user_id', async () => {
    expectStatusError(await get('/cqrs/queries/users/0/orders'), 400, INVALID_ARGUMENT, ['user_id']);
  });
});

describe('GET /cqrs/queries/users/{user_id}/summary (QueryService.GetUserSummary)', () => {
  test("the seed's UserOrderSummaryReadModel: amounts as numbers, order_statuses an object of numbers", async () => {
    await everything();
    const s = await explained(
      eventually(async () => {
        const r = await get(`/cqrs/queries/users/${U1}/summary`);
        if (r.status === 404) return undefined;
        const body = expectJson(r, 200);
        return body.order_statuses?.COMPLETED === 1 && body.order_statuses?.CANCELLED === 1 ? body : undefined;
      }, POLL_MS, `the summary of user ${U1} to count A completed and B cancelled`),
    );
    expectUserSummary(s);
    expect(s).toMatchObject({ user_id: U1, total_orders: 2, total_spent: 99.99, avg_order_value: 99.99, order_statuses: { COMPLETED: 1, CANCELLED: 1 } });
    expect(Object.keys(s.order_statuses).sort()).toEqual(['CANCELLED', 'COMPLETED']);
    expect(s.favorite_products).toEqual(expect.arrayContaining([expect.objectContaining({ product_id: P1, product_name: NAME1 })]));
  });

  test('zero amounts are printed (total_spent 0, avg_order_value 0)', async () => {
    await orderC();
    const s = await explained(
      eventually(async () => {
        const r = await get(`/cqrs/queries/users/${U2}/summary`);
        if (r.status === 404) return undefined;
        const body = expectJson(r, 200);
        return body.order_statuses?.REJECTED === 1 ? body : undefined;
      }, POLL_MS, `the summary of user ${U2} to count C rejected`),
    );
    expectUserSummary(s);
    expect(s).toMatchObject({ user_id: U2, total_orders: 1, total_spent: 0, avg_order_value: 0, order_statuses: { REJECTED: 1 } });
  });

  test('a user without orders is 404', async () => {
    expectStatusError(await get(`/cqrs/queries/users/${unknownId()}/summary`), 404, NOT_FOUND);
  });

  test('a user id that is not a positive integer is 400 naming user_id', async () => {
    expectStatusError(await get('/cqrs/queries/users/-5/summary'), 400, INVALID_ARGUMENT, ['user_id']);
  });
});

describe('GET /cqrs/queries/orders?status= (QueryService.ListOrders)', () => {
  test('lists orders in one status, ours among them', async () => {
    await everything();
    const a = (await orderA()).orderId;
    const b = (await orderB()).orderId;
    const d = (await payD()).orderId;
    const onlyStatus = (status: string) => (page: any) => {
      page.orders.forEach(expectOrder);
      for (const o of page.orders) expect(o.status).toBe(status);
    };
    expect(await findInPages('/cqrs/queries/orders?status=PAID&page_size=200', 'orders', (o) => o.order_id === d, onlyStatus('PAID'))).toMatchObject({
      order_id: d,
      user_id: U3,
      status: 'PAID',
      total_amount: 33.33,
      payment_info: expect.objectContaining({ amount: 33.33, method: 'PAYPAL', status: 'PROCESSED' }),
    });
    expect(await findInPages('/cqrs/queries/orders?status=COMPLETED&page_size=200', 'orders', (o) => o.order_id === a, onlyStatus('COMPLETED'))).toMatchObject({
      order_id: a,
      status: 'COMPLETED',
      total_amount: 99.99,
    });
    expect(await findInPages('/cqrs/queries/orders?status=CANCELLED&page_size=200', 'orders', (o) => o.order_id === b, onlyStatus('CANCELLED'))).toMatchObject({
      order_id: b,
      status: 'CANCELLED',
    });
  });

  test('without a status, lists every order ({orders, next_page_token}), newest first', async () => {
    await everything();
    const r = await get('/cqrs/queries/orders?page_size=5');
    const body = expectJson(r, 200);
    about(r, () => {
      expectKeys(body, ['orders', 'next_page_token']);
      expect(body.orders.length).toBeGreaterThan(0);
      expect(body.orders.length).toBeLessThanOrEqual(5);
      body.orders.forEach(expectOrder);
      const created = body.orders.map((o: any) => Date.parse(o.created_at));
      expect([...created].sort((x, y) => y - x)).toEqual(created);
      expect(typeof body.next_page_token).toBe('string');
    });
  });

  test('an unknown status name is 400', async () => {
    expectEdgeError(await get('/cqrs/queries/orders?status=NOT_A_STATUS'), 400, INVALID_ARGUMENT);
  });
});

describe('GET /cqrs/queries/statistics/orders (QueryService.GetOrderStatistics)', () => {
  test('counts by status, revenue, average, top products, recent activity', async () => {
    await everything();
    const r = await get('/cqrs/queries/statistics/orders');
    const s = expectJson(r, 200);
    about(r, () => {
      expectStatistics(s);
      expect(s.total_orders).toBeGreaterThanOrEqual(4);
      expect(s.orders_by_status.PAID).toBeGreaterThanOrEqual(1);
      expect(s.orders_by_status.COMPLETED).toBeGreaterThanOrEqual(1);
      expect(s.orders_by_status.CANCELLED).toBeGreaterThanOrEqual(1);
      expect(s.orders_by_status.REJECTED).toBeGreaterThanOrEqual(1);
      expect(Object.values(s.orders_by_status).reduce((a: number, b) => a + (b as number), 0)).toBe(s.total_orders);
      expect(s.total_revenue).toBeGreaterThanOrEqual(99.99 + 33.33);
      expect(s.average_order_value).toBeGreaterThan(0);
      expect(s.orders_last_hour).toBeGreaterThanOrEqual(4);
      expect(s.orders_last_day).toBeGreaterThanOrEqual(s.orders_last_hour);
    });
  });
});

describe('inventory after the orders settled', () => {
  test('sales leave the stock; a cancellation and a rejection take nothing from it', async () => {
    await everything();
    const item = await explained(
      eventually(async () => {
        const body = expectJson(await get(`/cqrs/queries/inventory/${P1}`), 200);
        return body.reserved_quantity === 0 && body.total_quantity === 96 ? body : undefined;
      }, POLL_MS, `product ${P1} to show the sales of A and D and the release of B`),
    );
    expect(item).toEqual({
      product_id: P1,
      product_name: NAME1,
      unit_price: 33.33,
      available_quantity: 96,
      reserved_quantity: 0,
      total_quantity: 96,
      low_stock_threshold: 5,
      low_stock_alert: false,
      pending_orders: [],
      pending_orders_count: 0,
    });
  });
});

describe('health', () => {
  test('GET /cqrs/commands/health: SERVING, mongodb and rabbitmq UP', async () => {
    const r = await get('/cqrs/commands/health');
    const h = expectJson(r, 200);
    about(r, () => {
      expectHealth(h, 'command-svc', ['mongodb', 'rabbitmq']);
      expect(h.status).toBe('SERVING');
      for (const d of h.dependencies) expect(d.status).toBe('UP');
    });
  });

  test('GET /cqrs/queries/health: SERVING, mongodb UP', async () => {
    const r = await get('/cqrs/queries/health');
    const h = expectJson(r, 200);
    about(r, () => {
      expectHealth(h, 'query-svc', ['mongodb']);
      expect(h.status).toBe('SERVING');
      expect(h.dependencies).toEqual([{ name: 'mongodb', status: 'UP', detail: expect.any(String) }]);
    });
  });
});

describe('what maps to no method or field', () => {
  test('an unknown path is 404', async () => {
    for (const [method, path] of [
      ['GET', '/cqrs/queries/nothing-here'],
      ['GET', '/nothing-here'],
      ['POST', '/cqrs/commands/nothing-here'],
      ['GET', `/cqrs/queries/orders/${randomUUID()}/extra`],
    ]) {
      expectEdgeError(await request(method, url(path), method === 'POST' ? { body: {} } : {}), 404);
    }
  });

  test('an unknown query parameter is 400', async () => {
    expectEdgeError(await get('/cqrs/queries/inventory?bogus=1'), 400, INVALID_ARGUMENT);
    expectEdgeError(await get(`/cqrs/queries/orders/${randomUUID()}?verbose=true`), 400, INVALID_ARGUMENT);
    expectEdgeError(await get('/cqrs/queries/statistics/orders?since=yesterday'), 400, INVALID_ARGUMENT);
  });

  test('the camelCase guard every reply above went through does catch camelCase keys', () => {
    expect(camelCaseKeys({ order_id: 1, nested: [{ userId: 2 }], order_statuses: { PAID: 1 } })).toEqual(['$.nested[0].userId']);
    expectInt32(P1, 1);
    expect(INVENTORY_KEYS.every((k) => !/[A-Z]/.test(k))).toBe(true);
  });
});
