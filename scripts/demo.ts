// `npm run demo`: this project's demo_cqrs.py. Against the mesh on :8000 (it
// starts one if none answers), it walks through CQRS step by step and checks
// every figure it shows; any wrong one makes it exit non-zero.
import { join } from 'node:path';
import { common, readConfig, str } from '../lib/config';
import { startMesh, type Mesh } from '../kit/mesh';
import { repoRoot } from '../lib/paths';
import { sleep } from '../kit/wait';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
let base = '';
let failures = 0;

const say = (s = '') => process.stdout.write(`${s}\n`);
const step = (n: number, title: string) => say(`\n━━ ${n}. ${title}`);
function check(ok: boolean, what: string): void {
  say(`   ${ok ? '✔' : '✘'} ${what}`);
  if (!ok) failures++;
}

async function http(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(base + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Json };
}
const post = (path: string, body: unknown) => http('POST', path, body);
const get = (path: string) => http('GET', path);

async function until(path: string, ok: (j: Json) => boolean, timeoutMs = 10_000): Promise<{ json: Json; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const r = await get(path);
    if (r.status === 200 && ok(r.json)) return { json: r.json, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) throw new Error(`${path} did not reach the expected state within ${timeoutMs} ms: ${JSON.stringify(r.json)}`);
    await sleep(50);
  }
}

async function meshAnswers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/cqrs/queries/health`, { signal: AbortSignal.timeout(2_000) })).status < 500;
  } catch {
    return false;
  }
}

async function scenario(): Promise<void> {
  const run = Date.now() % 100_000;
  const products = [
    { product_id: 9_000_000 + run * 10 + 1, product_name: 'Demo espresso beans', unit_price: 12.5, quantity: 50, low_stock_threshold: 5 },
    { product_id: 9_000_000 + run * 10 + 2, product_name: 'Demo grinder', unit_price: 89.99, quantity: 3, low_stock_threshold: 2 },
  ];
  const [beans, grinder] = products;
  const users = [7_000_000 + run * 10 + 1, 7_000_000 + run * 10 + 2, 7_000_000 + run * 10 + 3];

  step(1, 'Commands write, queries read: stocking the inventory (POST /cqrs/commands/inventory)');
  for (const p of products) {
    const r = await post('/cqrs/commands/inventory', p);
    check(r.status === 200 && r.json.item?.available_quantity === p.quantity, `${p.product_name}: ${p.quantity} units at ${p.unit_price}`);
  }

  step(2, 'Placing orders: the command answers at once (PENDING); the stock check happens by reacting to OrderInitiated');
  const place = async (user: number, items: Array<{ product_id: number; quantity: number }>) => {
    const r = await post('/cqrs/commands/orders', { user_id: user, user_email: `user${user}@example.com`, items });
    check(r.status === 200 && r.json.status === 'PENDING', `user ${user} ordered ${JSON.stringify(items)} → ${r.json.order_id} (${r.json.status})`);
    return r.json.order_id as string;
  };
  const o1 = await place(users[0], [{ product_id: beans.product_id, quantity: 2 }, { product_id: grinder.product_id, quantity: 1 }]);
  const o2 = await place(users[1], [{ product_id: beans.product_id, quantity: 4 }]);
  const o3 = await place(users[2], [{ product_id: grinder.product_id, quantity: 1 }]);
  const o4 = await place(users[0], [{ product_id: beans.product_id, quantity: 1 }]);
  const rejected = await place(users[1], [{ product_id: grinder.product_id, quantity: 5 }]);

  step(3, 'Projections arrive in real time (GET /cqrs/queries/orders/{id})');
  for (const id of [o1, o2, o3, o4]) {
    const { json, ms } = await until(`/cqrs/queries/orders/${id}`, (j) => j.status === 'VALIDATED');
    check(true, `${id} VALIDATED after ${ms} ms, total ${json.total_amount}`);
  }
  const rej = await until(`/cqrs/queries/orders/${rejected}`, (j) => j.status === 'REJECTED');
  check(/not enough stock/.test(rej.json.status_reason), `${rejected} REJECTED: ${rej.json.status_reason}`);

  step(4, 'Payments, shipping, completion, and a cancellation');
  const total = (id: string) => get(`/cqrs/queries/orders/${id}`).then((r) => r.json.total_amount as number);
  for (const id of [o1, o2, o3]) {
    const r = await post('/cqrs/commands/payments', { order_id: id, amount: await total(id), method: 'CREDIT_CARD' });
    check(r.status === 200 && r.json.status === 'PAID', `paid ${id}`);
  }
  const wrong = await post('/cqrs/commands/payments', { order_id: o4, amount: 1, method: 'PAYPAL' });
  check(wrong.status === 400, `a payment of 1.00 for ${o4} is refused: ${wrong.json.message}`);
  check((await post(`/cqrs/commands/orders/${o1}/ship`, { tracking_number: 'TRACK-1' })).status === 200, `shipped ${o1}`);
  const completed = await post(`/cqrs/commands/orders/${o1}/complete`, {});
  check(completed.status === 200, `completed ${o1}`);
  const cancelled = await post(`/cqrs/commands/orders/${o4}/cancel`, { reason: 'changed my mind' });
  check(cancelled.status === 200, `cancelled ${o4}`);
  const paidCancel = await post(`/cqrs/commands/orders/${o2}/cancel`, {});
  check(paidCancel.status === 400, `cancelling paid ${o2} is refused: ${paidCancel.json.message}`);

  step(5, 'Read models: reading our own writes with the commands\' consistency_token (no polling)');
  const done1 = await get(`/cqrs/queries/orders/${o1}?consistency_token=${completed.json.consistency_token}`);
  check(done1.status === 200 && done1.json.status === 'COMPLETED', `${o1} read back ${done1.json.status} at once with the complete command's token`);
  const done4 = await get(`/cqrs/queries/orders/${o4}?consistency_token=${cancelled.json.consistency_token}`);
  check(done4.status === 200 && done4.json.status === 'CANCELLED', `${o4} read back ${done4.json.status} at once with the cancel command's token`);
  const inv = await until(`/cqrs/queries/inventory/${beans.product_id}`, (j) => j.reserved_quantity === 0 && j.total_quantity === 44);
  check(inv.json.available_quantity === 44, `beans: available ${inv.json.available_quantity}, reserved ${inv.json.reserved_quantity}, total ${inv.json.total_quantity} (50 − 2 − 4 sold; 1 released)`);
  const g = await until(`/cqrs/queries/inventory/${grinder.product_id}`, (j) => j.total_quantity === 1);
  check(g.json.low_stock_alert === true, `grinder: ${g.json.available_quantity} left, low_stock_alert ${g.json.low_stock_alert}`);
  const s = await until(`/cqrs/queries/users/${users[0]}/summary`, (j) => j.order_statuses?.CANCELLED === 1 && j.order_statuses?.COMPLETED === 1);
  check(s.json.total_orders === 2 && s.json.total_spent === 114.99, `user ${users[0]}: ${s.json.total_orders} orders, spent ${s.json.total_spent}, statuses ${JSON.stringify(s.json.order_statuses)}`);
  const list = await get(`/cqrs/queries/users/${users[1]}/orders`);
  check(list.json.orders?.length === 2, `user ${users[1]} has ${list.json.orders?.length} orders (one paid, one rejected)`);

  step(6, 'Statistics, computed from the read store now (GET /cqrs/queries/statistics/orders)');
  const st = await get('/cqrs/queries/statistics/orders');
  check(st.status === 200 && st.json.total_orders >= 5, `${st.json.total_orders} orders, revenue ${st.json.total_revenue}, by status ${JSON.stringify(st.json.orders_by_status)}`);

  step(7, `One order's timeline (${o1})`);
  const t = await get(`/cqrs/queries/orders/${o1}`);
  const events = (t.json.timeline as Array<{ event: string; timestamp: string }>).map((e) => e.event);
  for (const e of t.json.timeline) say(`   ${e.timestamp}  ${e.event}`);
  check(
    events.join(',') === 'OrderInitiated,OrderValidated,PaymentProcessed,OrderPaid,OrderShipped,OrderCompleted',
    'the timeline holds every event, in order',
  );
}

async function main(): Promise<void> {
  const config = readConfig({
    AMQP_URL: common.AMQP_URL,
    DEMO_URL: str('http://127.0.0.1:8000'),
    // The same store as `npm start`, so the broker's durable queues and the
    // store they feed always belong together.
    DATA_DIR: str(join(repoRoot, '.data', 'store')),
  });
  base = config.DEMO_URL;
  let mesh: Mesh | undefined;
  if (!(await meshAnswers(base))) {
    const edgeUrl = new URL(base);
    const port = Number(edgeUrl.port || 80);
    if (!['127.0.0.1', 'localhost'].includes(edgeUrl.hostname)) {
      throw new Error(`nothing answers on ${base}, and the demo starts a mesh only on this machine (DEMO_URL on 127.0.0.1 or localhost)`);
    }
    say(`nothing answers on ${base}; starting a mesh for the demo (embedded store in ${config.DATA_DIR}, RabbitMQ at ${config.AMQP_URL.replace(/\/\/[^@/]*@/, '//***@')})...`);
    // The services log at info: their "listening"/"consuming" lines are what
    // startMesh waits for. Their output is kept, not shown, unless it fails.
    const output: string[] = [];
    const keep = (name: string, line: string) => {
      output.push(`${name.padEnd(13)} ${line}`);
      if (output.length > 200) output.splice(0, 100);
    };
    const started = Date.now();
    try {
      mesh = await startMesh({ amqpUrl: config.AMQP_URL, dataDir: config.DATA_DIR, host: '127.0.0.1', ports: { edge: port, command: 0, query: 0, store: 0 }, logLevel: 'info', onLine: keep });
    } catch (err) {
      throw new Error(`could not start a mesh: ${(err as Error).message}\n--- its last output ---\n${output.slice(-30).join('\n')}`);
    }
    say(`the demo's mesh is up in ${((Date.now() - started) / 1000).toFixed(1)} s (it stops when the demo ends)`);
    const own = mesh;
    const interrupt = () => void own.stop().then(() => process.exit(130));
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
  } else {
    say(`using the mesh that answers on ${base}`);
  }
  try {
    await scenario();
  } finally {
    if (mesh) {
      say('\nstopping the demo\'s mesh...');
      await mesh.stop();
    }
  }
  say(failures ? `\n${failures} check(s) failed` : '\nall checks passed');
  process.exit(failures ? 1 : 0);
}

main().catch((err: Error) => {
  process.stderr.write(`demo: ${err.message}\n`);
  process.exit(1);
});
