// Every process's /metrics on a real mesh: the counters move by exactly what
// a known workload does, and the read-side lag gauge rises while
// projector-svc is down and falls once it is back.
import { eventually, sleep } from '../../kit/wait';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import type { ServiceName } from '../../kit/mesh';
import { stopChild } from '../../kit/processes';
import { getJson, postJson } from '../support/http';
import { deltas, scrape, value, type Series } from '../support/metrics';

const PRODUCT = 701;
const PROJECTOR = { consumer: 'projector-svc.read-models' };
const ORDER_PROCESS = { consumer: 'command-svc.order-process' };
const CREATE = { service: 'cqrs.v1.CommandService', method: 'CreateOrder' };
const ORDERS_ROUTE = { route: '/cqrs/commands/orders', method: 'POST' };
const ORDER_ROUTE = { route: '/cqrs/queries/orders/{order_id}', method: 'GET' };

let mesh: TestMesh;
const edge = (path: string) => `${mesh.urls.edge}${path}`;
const scrapeAll = async () =>
  Object.fromEntries(await Promise.all((['edge', 'command-svc', 'query-svc', 'projector-svc'] as ServiceName[]).map(async (n) => [n, await scrape(mesh.urls.metrics[n]!)]))) as Record<ServiceName, Series>;

/** Until the projector has applied everything command-svc got confirmed, twice in a row. */
async function quiet(): Promise<Record<ServiceName, Series>> {
  let last = '';
  return eventually(async () => {
    const s = await scrapeAll();
    const sig = `${value(s['command-svc'], 'cqrs_events_confirmed_total')}/${value(s['projector-svc'], 'cqrs_events_applied_total', PROJECTOR)}/${value(s['command-svc'], 'cqrs_events_applied_total', ORDER_PROCESS)}`;
    const settled = sig === last && value(s['command-svc'], 'cqrs_events_confirmed_total') === value(s['projector-svc'], 'cqrs_events_applied_total', PROJECTOR);
    last = sig;
    return settled ? s : undefined;
  }, 30_000, 'the mesh to go quiet', 500);
}

/** GET the order through the edge until VALIDATED; counts the answers by HTTP status. */
async function untilValidated(orderId: string, answers: Record<number, number>): Promise<void> {
  await eventually(async () => {
    const r = await getJson(edge(`/cqrs/queries/orders/${orderId}`));
    answers[r.status] = (answers[r.status] ?? 0) + 1;
    return r.status === 200 && r.body.status === 'VALIDATED' ? true : undefined;
  }, 20_000, `order ${orderId} VALIDATED`, 100);
}

beforeAll(async () => {
  mesh = await startTestMesh({ vhostPrefix: 'cqrs-metrics' });
  const stocked = await postJson(edge('/cqrs/commands/inventory'), { product_id: PRODUCT, product_name: 'Gauge', unit_price: 10, quantity: 1_000 });
  expect(stocked.status).toBe(200);
}, 120_000);

afterAll(async () => {
  await mesh?.teardown();
}, 60_000);

test('every process serves Prometheus text with its process and Node.js metrics', async () => {
  const all = await scrapeAll();
  for (const [name, s] of Object.entries(all)) {
    expect([name, value(s, 'process_cpu_seconds_total') > 0]).toEqual([name, true]);
    expect([name, s.has('nodejs_eventloop_lag_seconds')]).toEqual([name, true]);
  }
  const res = await fetch(`${mesh.urls.metrics.edge}/nothing-here`);
  expect(res.status).toBe(404);
}, 30_000);

test('a known workload moves every counter by exactly what it did', async () => {
  const before = await quiet();
  const orders: string[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await postJson(edge('/cqrs/commands/orders'), { user_id: 40 + i, product_id: PRODUCT, quantity: 1 });
    expect(r.status).toBe(200);
    orders.push(r.body.order_id);
  }
  // One keyed order sent twice: the retry is answered from the first, nothing runs again.
  const keyed = { 'Idempotency-Key': `metrics-${Date.now()}` };
  const first = await postJson(edge('/cqrs/commands/orders'), { user_id: 50, product_id: PRODUCT, quantity: 2 }, keyed);
  const retry = await postJson(edge('/cqrs/commands/orders'), { user_id: 50, product_id: PRODUCT, quantity: 2 }, keyed);
  expect([first.status, retry.status, retry.body.order_id]).toEqual([200, 200, first.body.order_id]);
  orders.push(first.body.order_id);
  for (const bad of [{ user_id: 1, product_id: PRODUCT, quantity: 0 }, { user_id: 0, product_id: PRODUCT, quantity: 1 }]) {
    expect((await postJson(edge('/cqrs/commands/orders'), bad)).status).toBe(400);
  }
  const gets: Record<number, number> = {};
  for (const id of orders) await untilValidated(id, gets);
  const after = await quiet();

  // Each validated order is three events: OrderInitiated, the product's StockReserved, OrderValidated.
  const events = 3 * orders.length;
  expect(deltas(before.edge, after.edge, [
    ['cqrs_http_requests_total', { ...ORDERS_ROUTE, status: '200' }],
    ['cqrs_http_requests_total', { ...ORDERS_ROUTE, status: '400' }],
    ['cqrs_http_requests_total', { ...ORDER_ROUTE, status: '200' }],
    ['cqrs_http_requests_total', { ...ORDER_ROUTE, status: '404' }],
    ['cqrs_http_request_duration_seconds_count', ORDERS_ROUTE],
  ])).toEqual({
    'cqrs_http_requests_total{method="POST",route="/cqrs/commands/orders",status="200"}': 8,
    'cqrs_http_requests_total{method="POST",route="/cqrs/commands/orders",status="400"}': 2,
    'cqrs_http_requests_total{method="GET",route="/cqrs/queries/orders/{order_id}",status="200"}': gets[200],
    'cqrs_http_requests_total{method="GET",route="/cqrs/queries/orders/{order_id}",status="404"}': gets[404] ?? 0,
    'cqrs_http_request_duration_seconds_count{method="POST",route="/cqrs/commands/orders"}': 10,
  });
  expect(deltas(before['command-svc'], after['command-svc'], [
    ['cqrs_grpc_requests_total', { ...CREATE, code: 'OK' }],
    ['cqrs_grpc_requests_total', { ...CREATE, code: 'INVALID_ARGUMENT' }],
    ['cqrs_grpc_request_duration_seconds_count', CREATE],
    ['cqrs_commands_total', { type: 'CreateOrder', outcome: 'accepted' }],
    ['cqrs_commands_total', { type: 'CreateOrder', outcome: 'duplicate' }],
    ['cqrs_commands_total', { type: 'CreateOrder', outcome: 'invalid' }],
    ['cqrs_events_published_total'],
    ['cqrs_events_confirmed_total'],
    ['cqrs_events_deferred_total'],
    ['cqrs_events_consumed_total', ORDER_PROCESS],
    ['cqrs_events_applied_total', ORDER_PROCESS],
    ['cqrs_events_dead_lettered_total', ORDER_PROCESS],
  ])).toEqual({
    'cqrs_grpc_requests_total{code="OK",method="CreateOrder",service="cqrs.v1.CommandService"}': 8,
    'cqrs_grpc_requests_total{code="INVALID_ARGUMENT",method="CreateOrder",service="cqrs.v1.CommandService"}': 2,
    'cqrs_grpc_request_duration_seconds_count{method="CreateOrder",service="cqrs.v1.CommandService"}': 10,
    'cqrs_commands_total{outcome="accepted",type="CreateOrder"}': 7,
    'cqrs_commands_total{outcome="duplicate",type="CreateOrder"}': 1,
    'cqrs_commands_total{outcome="invalid",type="CreateOrder"}': 2,
    cqrs_events_published_total: events,
    cqrs_events_confirmed_total: events,
    cqrs_events_deferred_total: 0,
    // The order process takes OrderInitiated only, here.
    'cqrs_events_consumed_total{consumer="command-svc.order-process"}': orders.length,
    'cqrs_events_applied_total{consumer="command-svc.order-process"}': orders.length,
    'cqrs_events_dead_lettered_total{consumer="command-svc.order-process"}': 0,
  });
  expect(deltas(before['projector-svc'], after['projector-svc'], [
    ['cqrs_events_consumed_total', PROJECTOR],
    ['cqrs_events_applied_total', PROJECTOR],
    ['cqrs_events_duplicates_total', PROJECTOR],
    ['cqrs_events_dead_lettered_total', PROJECTOR],
    ['cqrs_projection_lag_seconds_count', PROJECTOR],
  ])).toEqual({
    'cqrs_events_consumed_total{consumer="projector-svc.read-models"}': events,
    'cqrs_events_applied_total{consumer="projector-svc.read-models"}': events,
    'cqrs_events_duplicates_total{consumer="projector-svc.read-models"}': 0,
    'cqrs_events_dead_lettered_total{consumer="projector-svc.read-models"}': 0,
    'cqrs_projection_lag_seconds_count{consumer="projector-svc.read-models"}': events,
  });
  expect(deltas(before['query-svc'], after['query-svc'], [
    ['cqrs_grpc_requests_total', { service: 'cqrs.v1.QueryService', method: 'GetOrder', code: 'OK' }],
    ['cqrs_grpc_requests_total', { service: 'cqrs.v1.QueryService', method: 'GetOrder', code: 'NOT_FOUND' }],
  ])).toEqual({
    'cqrs_grpc_requests_total{code="OK",method="GetOrder",service="cqrs.v1.QueryService"}': gets[200],
    'cqrs_grpc_requests_total{code="NOT_FOUND",method="GetOrder",service="cqrs.v1.QueryService"}': gets[404] ?? 0,
  });
  // Store round trips are timed in every process that has a store.
  for (const name of ['command-svc', 'query-svc', 'projector-svc'] as const) {
    const count = (s: Series) => [...s].filter(([k]) => k.startsWith('cqrs_store_command_duration_seconds_count')).reduce((n, [, v]) => n + v, 0);
    expect([name, count(after[name]) > count(before[name])]).toEqual([name, true]);
  }
  expect(value(after['command-svc'], 'cqrs_outbox_pending')).toBe(0);
  expect(value(after['command-svc'], 'cqrs_queue_depth', { queue: PROJECTOR.consumer })).toBe(0);
  expect(after['command-svc'].has('cqrs_dead_letter_depth{queue="command-svc.order-process"}')).toBe(true);
}, 120_000);

test('the age of the oldest unapplied event rises while projector-svc is down and falls once it is back', async () => {
  const age = async () => value(await scrape(mesh.urls.metrics['command-svc']!), 'cqrs_oldest_unapplied_event_age_seconds', PROJECTOR);
  await stopChild(mesh.children.get('projector-svc')!);
  for (let i = 0; i < 3; i++) expect((await postJson(edge('/cqrs/commands/orders'), { user_id: 60 + i, product_id: PRODUCT, quantity: 1 })).status).toBe(200);
  // Stale reports (2 s) no longer count; after that the estimate grows with the wait.
  const first = await eventually(async () => ((await age()) > 1 ? age() : undefined), 15_000, 'the lag gauge above 1 s', 250);
  await sleep(1_500);
  const second = await age();
  expect(second).toBeGreaterThan(first + 1);
  const seen = await scrape(mesh.urls.metrics['command-svc']!);
  const depth = value(seen, 'cqrs_queue_depth', { queue: PROJECTOR.consumer });
  expect(depth).toBeGreaterThan(0);

  await mesh.start('projector-svc');
  await eventually(async () => ((await age()) < 1 ? true : undefined), 30_000, 'the lag gauge back under 1 s', 250);
  const own = await scrape(mesh.urls.metrics['projector-svc']!);
  expect(value(own, 'cqrs_oldest_unapplied_event_age_seconds', PROJECTOR)).toBeLessThan(1);
  expect(value(own, 'cqrs_queue_depth', { queue: PROJECTOR.consumer })).toBe(0);
}, 90_000);
