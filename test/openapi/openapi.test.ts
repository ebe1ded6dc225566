// The OpenAPI document (gen/openapi.json, from proto/ by protoc-gen-openapiv2)
// against the running mesh:
//  - GET /cqrs/openapi.json serves it, and it lists exactly the REST paths the
//    edge routes;
//  - for every path, a real success response and a real error body validate
//    against the document's schemas (ajv; objects closed, see ./schema.ts),
//    and the requests sent hold to the document too;
//  - /cqrs/docs, opened in Debian's chromium (playwright-core), lists every
//    path, loads nothing from elsewhere, and can call the mesh; a screenshot
//    goes to test-results/ (git-ignored).
//
//   npx jest test/openapi                                  # its own mesh
//   BASE_URL=http://localhost:8000 npx jest test/openapi   # an edge already running (the docs page
//                                                          # is the local edge's: Envoy serves the document only)
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { repoRoot } from '../../lib/paths';
import { eventually } from '../../kit/wait';
import { describeReply, request, type Reply } from '../contract/http';
import { openTarget, type RestTarget } from '../contract/target';
import { DocsSite } from '../../edge/docs';
import { OpenApi } from './schema';

jest.setTimeout(60_000);

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(repoRoot, 'test-results', 'openapi');

let target: RestTarget;
let api: OpenApi;

beforeAll(async () => {
  target = await openTarget();
}, 120_000);

afterAll(async () => {
  await target?.close();
}, 60_000);

/** Which outcomes each operation ("GET /cqrs/queries/health") has shown so far. */
const seen = new Map<string, Set<'success' | 'error'>>();

interface Call {
  path?: Record<string, string | number>;
  query?: Record<string, string>;
  body?: object;
  /** The request is meant to be refused: its body and query need not hold to the document. */
  bad?: boolean;
}

/**
 * Sends one request to an operation of the document and checks both ways:
 * what is sent holds to the operation's parameters (unless it is meant to be
 * bad), and what comes back, success or error, to the schema for its status.
 */
async function call(method: string, template: string, c: Call = {}): Promise<Reply> {
  const op = api.operation(method, template);
  if (!c.bad) {
    const bodySchema = api.bodySchema(method, template);
    if (c.body) expect({ request: `${method} ${template}`, problems: bodySchema ? api.problems(bodySchema, c.body) : ['the document takes no body'] }).toEqual({ request: `${method} ${template}`, problems: [] });
    const declared = api.queryParameters(method, template);
    for (const [name, value] of Object.entries(c.query ?? {})) {
      const p = declared.get(name);
      expect({ name, declared: !!p }).toEqual({ name, declared: true });
      if (p.enum) expect(p.enum).toContain(value);
    }
  }
  const path = template.replace(/\{(\w+)\}/g, (_, name) => {
    if (c.path?.[name] === undefined) throw new Error(`${template}: no value for {${name}}`);
    return encodeURIComponent(String(c.path[name]));
  });
  const qs = c.query ? `?${new URLSearchParams(c.query)}` : '';
  const reply = await request(method, `${target.base}${path}${qs}`, { body: c.body ?? (method === 'POST' ? {} : undefined) });
  expect(op).toBeDefined();
  const problems = reply.body === undefined ? ['the body is not JSON'] : api.problems(api.responseSchema(method, template, reply.status), reply.body);
  if (problems.length) throw new Error(`${describeReply(reply)}\ndoes not hold to the document's schema for ${method} ${template} ${reply.status}:\n  ${problems.join('\n  ')}`);
  const key = `${method} ${template}`;
  if (!seen.has(key)) seen.set(key, new Set());
  seen.get(key)!.add(reply.status === 200 ? 'success' : 'error');
  return reply;
}

const ok = (r: Reply) => {
  if (r.status !== 200) throw new Error(`expected 200: ${describeReply(r)}`);
  return r.body;
};
const refused = (r: Reply, status: number) => {
  if (r.status !== status) throw new Error(`expected ${status}: ${describeReply(r)}`);
  return r.body;
};

describe('the document', () => {
  test('GET /cqrs/openapi.json serves the generated document, as JSON', async () => {
    const reply = await request('GET', `${target.base}/cqrs/openapi.json`);
    expect(reply.status).toBe(200);
    expect(reply.contentType).toMatch(/^application\/json/);
    api = new OpenApi(reply.body);
    const built = join(repoRoot, 'gen', 'openapi.json');
    if (!target.external && existsSync(built)) expect(reply.body).toEqual(JSON.parse(readFileSync(built, 'utf8')));
  });

  test('lists exactly the REST paths of proto/ (README table), each with its error body', () => {
    const listed = api.operations().map((o) => `${o.method} ${o.path}`).sort();
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const table = [...readme.matchAll(/^\| (GET|POST) \| (\/cqrs\/[^ ?|]+)[^|]*\| \w+Service\.\w+/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(table.length).toBeGreaterThan(10);
    expect(listed).toEqual(table);
    for (const o of api.operations()) expect(o.op.responses.default.schema).toEqual({ $ref: '#/definitions/rpcStatus' });
  });

  test('descriptions come from the proto comments; field names are snake_case', () => {
    expect(api.doc.tags.find((t: any) => t.name === 'CommandService').description).toMatch(/^The write side\./);
    expect(api.doc.definitions.v1Order.properties.status_reason.description).toMatch(/rejected, cancelled/);
    for (const [name, def] of Object.entries<any>(api.doc.definitions)) {
      for (const field of Object.keys(def.properties ?? {})) expect({ name, field }).toEqual({ name, field: expect.stringMatching(/^(@type|[a-z][a-z0-9_]*)$/) });
    }
  });

  test('only GET and HEAD reach the document; a missing document stops the edge with its path and the fix', async () => {
    const head = await request('HEAD', `${target.base}/cqrs/openapi.json`);
    expect([head.status, head.contentType]).toEqual([200, 'application/json']);
    expect(head.text).toBe('');
    if (target.external) return;
    const post = await request('POST', `${target.base}/cqrs/openapi.json`, { body: {} });
    expect(post.status).toBe(404);
    expect(post.body).toEqual({ code: 5, message: expect.stringMatching(/no method for POST \/cqrs\/openapi\.json/), details: [] });
    expect(() => new DocsSite('/nonexistent/openapi.json')).toThrow(/\/nonexistent\/openapi\.json cannot be read .*`npm run gen` makes it/);
  });

  test('the check is strict: a camelCase name, a wrong type or an unknown enum name fails it', () => {
    const schema = { $ref: '#/definitions/v1CreateOrderResponse' };
    expect(api.problems(schema, { order_id: 'a', status: 'PENDING', message: '' })).toEqual([]);
    expect(api.problems(schema, { orderId: 'a', status: 'PENDING', message: '' })).not.toEqual([]);
    expect(api.problems(schema, { order_id: 1, status: 'PENDING', message: '' })).not.toEqual([]);
    expect(api.problems(schema, { order_id: 'a', status: 'LOST', message: '' })).not.toEqual([]);
    expect(api.problems({ $ref: '#/definitions/v1Order' }, { user_id: 2 ** 31 })).not.toEqual([]);
  });
});

describe('real responses and error bodies hold to the document, for every path', () => {
  const product = randomInt(100_000_000, 2_000_000_000);
  const user = randomInt(100_000_000, 2_000_000_000);
  const missingOrder = '00000000-0000-4000-8000-000000000000';
  const missingProduct = randomInt(2_100_000_000, 2_147_483_647);
  let paidOrder = '';

  const orderWhen = (id: string, done: (o: any) => boolean) =>
    eventually(async () => {
      const r = await call('GET', '/cqrs/queries/orders/{order_id}', { path: { order_id: id } });
      return r.status === 200 && done(r.body) ? r.body : undefined;
    }, 20_000, `order ${id}`);

  test('commands: inventory, orders, payments, ship, complete, cancel', async () => {
    ok(await call('POST', '/cqrs/commands/inventory', { body: { product_id: product, product_name: `OpenAPI Lamp ${product}`, unit_price: 19.99, quantity: 50, low_stock_threshold: 60 } }));
    const bad = refused(await call('POST', '/cqrs/commands/inventory', { body: { product_id: 0, unit_price: 1.234 }, bad: true }), 400);
    expect(bad.details[0].field_violations.length).toBeGreaterThan(0);

    const created = ok(await call('POST', '/cqrs/commands/orders', { body: { user_id: user, product_id: product, quantity: 2, user_email: 'openapi@example.com' } }));
    refused(await call('POST', '/cqrs/commands/orders', { body: { user_id: 0, product_id: product, quantity: 0 }, bad: true }), 400);
    const validated = await orderWhen(created.order_id, (o) => o.status === 'VALIDATED');

    ok(await call('POST', '/cqrs/commands/payments', { body: { order_id: created.order_id, amount: validated.total_amount, method: 'CREDIT_CARD' } }));
    refused(await call('POST', '/cqrs/commands/payments', { body: { order_id: missingOrder, amount: 1, method: 'PAYPAL' } }), 404);
    await orderWhen(created.order_id, (o) => o.status === 'PAID');
    paidOrder = created.order_id;

    ok(await call('POST', '/cqrs/commands/orders/{order_id}/ship', { path: { order_id: paidOrder }, body: { tracking_number: 'TRK-1' } }));
    refused(await call('POST', '/cqrs/commands/orders/{order_id}/ship', { path: { order_id: missingOrder } }), 404);
    await orderWhen(paidOrder, (o) => o.status === 'SHIPPED');
    ok(await call('POST', '/cqrs/commands/orders/{order_id}/complete', { path: { order_id: paidOrder } }));
    refused(await call('POST', '/cqrs/commands/orders/{order_id}/complete', { path: { order_id: missingOrder } }), 404);

    const second = ok(await call('POST', '/cqrs/commands/orders', { body: { user_id: user, items: [{ product_id: product, quantity: 1 }] } }));
    await orderWhen(second.order_id, (o) => o.status !== 'PENDING');
    ok(await call('POST', '/cqrs/commands/orders/{order_id}/cancel', { path: { order_id: second.order_id }, body: { reason: 'testing the document' } }));
    // A paid order cannot be cancelled: FAILED_PRECONDITION, 400.
    refused(await call('POST', '/cqrs/commands/orders/{order_id}/cancel', { path: { order_id: paidOrder } }), 400);
  });

  test('queries: orders, user orders and summary, inventory, statistics', async () => {
    if (!paidOrder) throw new Error('the commands test above failed: no order to read');
    const order = await orderWhen(paidOrder, (o) => o.status === 'COMPLETED');
    expect(order.payment_info.status).toBe('PROCESSED');
    refused(await call('GET', '/cqrs/queries/orders/{order_id}', { path: { order_id: missingOrder } }), 404);

    ok(await call('GET', '/cqrs/queries/orders', { query: { status: 'COMPLETED', page_size: '5' } }));
    refused(await call('GET', '/cqrs/queries/orders', { query: { status: 'NOT_A_STATUS' }, bad: true }), 400);

    const mine = ok(await call('GET', '/cqrs/queries/users/{user_id}/orders', { path: { user_id: user } }));
    expect(mine.orders.length).toBeGreaterThan(0);
    refused(await call('GET', '/cqrs/queries/users/{user_id}/orders', { path: { user_id: 'not-a-number' }, bad: true }), 400);

    await eventually(async () => ((await call('GET', '/cqrs/queries/users/{user_id}/summary', { path: { user_id: user } })).body?.total_orders === 2 ? true : undefined), 20_000, 'the user summary');
    refused(await call('GET', '/cqrs/queries/users/{user_id}/summary', { path: { user_id: 'x' }, bad: true }), 400);

    ok(await call('GET', '/cqrs/queries/inventory', { query: { low_stock_only: 'true', page_size: '3' } }));
    refused(await call('GET', '/cqrs/queries/inventory', { query: { low_stock_only: 'perhaps' }, bad: true }), 400);
    const item = ok(await call('GET', '/cqrs/queries/inventory/{product_id}', { path: { product_id: product } }));
    expect(item.product_id).toBe(product);
    refused(await call('GET', '/cqrs/queries/inventory/{product_id}', { path: { product_id: missingProduct } }), 404);

    ok(await call('GET', '/cqrs/queries/statistics/orders'));
    refused(await call('GET', '/cqrs/queries/statistics/orders', { query: { since: 'yesterday' }, bad: true }), 400);

    // Live queries answer with a stream that lasts until the client hangs up (test/queries/live-queries.test.ts reads them); their refusals are plain bodies.
    refused(await call('GET', '/cqrs/queries/watch/orders/{order_id}', { path: { order_id: missingOrder } }), 404);
    refused(await call('GET', '/cqrs/queries/watch/inventory', { query: { product_id: String(missingProduct) } }), 404);
    refused(await call('GET', '/cqrs/queries/watch/statistics/orders', { query: { consistency_token: 'forged' } }), 400);
  });

  test('health, and an unknown query parameter (refused by the edge itself)', async () => {
    for (const path of ['/cqrs/commands/health', '/cqrs/queries/health']) {
      expect(ok(await call('GET', path)).status).toBe('SERVING');
      refused(await call('GET', path, { query: { verbose: '1' }, bad: true }), 400);
    }
  });

  test('every operation of the document was seen answering, and refusing', () => {
    const streams = (o: { path: string }) => o.path.startsWith('/cqrs/queries/watch/');
    const want = Object.fromEntries(api.operations().map((o) => [`${o.method} ${o.path}`, streams(o) ? ['error'] : ['error', 'success']]));
    const got = Object.fromEntries([...seen].map(([k, v]) => [k, [...v].sort()]));
    expect(got).toEqual(want);
  });
});

describe('/cqrs/docs in Chromium', () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  }, 30_000);

  test('lists every path of the document, loads nothing from elsewhere, and calls the mesh', async () => {
    if (target.external) return; // Envoy serves the document only; the page is the local edge's.
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: \`npm run test:tools\` installs Debian's chromium`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'], timeout: 30_000 });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const origin = new URL(target.base).origin;
    const elsewhere: string[] = [];
    const pageErrors: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) elsewhere.push(r.url());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));

    const reply = await page.goto(`${target.base}/cqrs/docs`, { timeout: 20_000 });
    expect(reply?.status()).toBe(200);
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    const listed = await page.$$eval('.opblock', (blocks) =>
      blocks.map((b) => `${b.querySelector('.opblock-summary-method')?.textContent?.trim()} ${b.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`),
    );
    expect(listed.sort()).toEqual(api.operations().map((o) => `${o.method} ${o.path}`).sort());

    // "Try it out" on the query side's health: the page calls the mesh through the edge.
    const health = page.locator('#operations-QueryService-QueryService_GetQueryHealth');
    await health.locator('.opblock-summary').click();
    await health.getByRole('button', { name: 'Try it out' }).click();
    await health.getByRole('button', { name: 'Execute' }).click();
    const status = health.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor({ timeout: 15_000 });
    expect((await status.textContent())?.trim()).toBe('200');

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'docs.png'), fullPage: true });
    expect(elsewhere).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
