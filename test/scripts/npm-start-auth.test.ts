// `npm start` with AUTH=on: it makes a local signing key, says auth is on
// and prints a customer and a staff token; those tokens work through the
// edge, a request without one is 401, and the sample catalog was stocked
// with the start script's own service credentials.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { safePort } from '../support/faults-infra';
import { getJson, postJson } from '../support/http';
import { eventually } from '../../kit/wait';
import { createVhost } from '../../kit/rabbit';
import { ScriptRun } from '../support/script-run';

jest.setTimeout(240_000);

const vhost = createVhost('cqrs-start-auth');
const dir = mkdtempSync(join(tmpdir(), 'cqrs-start-auth-'));
let run: ScriptRun | undefined;

afterAll(async () => {
  await run?.stop('SIGTERM', 40_000);
  vhost.remove();
  rmSync(dir, { recursive: true, force: true });
});

test('npm start with AUTH=on prints tokens that work, and refuses requests without one', async () => {
  const ports = new Set<number>();
  while (ports.size < 5) ports.add(await safePort());
  const [edge, command, query, store, projector] = [...ports];
  run = new ScriptRun('start', {
    AMQP_URL: vhost.url, MONGO_URL: '', DATA_DIR: join(dir, 'store'), AUTH: 'on', AUTH_KEYS_DIR: join(dir, 'auth'), HOST: '127.0.0.1',
    EDGE_PORT: String(edge), COMMAND_GRPC_PORT: String(command), QUERY_GRPC_PORT: String(query), STORE_PORT: String(store), PROJECTOR_GRPC_PORT: String(projector),
    EDGE_METRICS_PORT: 'off', COMMAND_METRICS_PORT: 'off', QUERY_METRICS_PORT: 'off', PROJECTOR_METRICS_PORT: 'off', SEED_CATALOG: 'true',
  });
  const up = (await run.waitForLine(/^CQRS mesh is up:/, 180_000)).input!;
  const from = run.lines.indexOf(up);
  expect(run.lines.some((l) => /AUTH IS OFF/.test(l))).toBe(false);
  await run.waitForLine(/^Auth is on \(tokens signed by the local key in /, 5_000, from);
  const customer = (await run.waitForLine(/^ {2}customer 123\s+(\S+)$/, 5_000, from))[1];
  const staff = (await run.waitForLine(/^ {2}staff\s+(\S+)$/, 5_000, from))[1];
  const base = `http://127.0.0.1:${edge}`;
  const order = { user_id: 123, product_id: 456, quantity: 1 };

  const anonymous = await postJson(`${base}/cqrs/commands/orders`, order);
  expect([anonymous.status, anonymous.headers.get('www-authenticate')]).toEqual([401, `Bearer realm="${base}/cqrs/commands/orders"`]);
  const created = await postJson(`${base}/cqrs/commands/orders`, order, { authorization: `Bearer ${customer}` });
  expect(created.status).toBe(200);
  // Product 456 is in the sample catalog, stocked at start-up: the order is validated, not rejected.
  const seen = await eventually(async () => {
    const r = await getJson(`${base}/cqrs/queries/orders/${created.body.order_id}`, { authorization: `Bearer ${staff}` });
    return r.status === 200 && r.body.status !== 'PENDING' ? r.body : undefined;
  }, 30_000, 'the order projected');
  expect(seen.status).toBe('VALIDATED');
  expect((await getJson(`${base}/cqrs/queries/statistics/orders`, { authorization: `Bearer ${customer}` })).status).toBe(403);
});
