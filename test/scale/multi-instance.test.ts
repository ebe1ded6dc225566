// Two command-svc, two query-svc and two projector-svc side by side on one
// broker and one store: commands alternate between the command instances,
// reads between the query instances, and every count must still come out
// exact. The projector queue has a single active consumer, so the second
// projector stands by and takes over if the first goes away.
import { join } from 'node:path';
import { freePort, spawnChild, stopChild, type Child } from '../../lib/processes';
import { repoRoot } from '../../lib/paths';
import { expectClean, MeshApi, report, settle, takeSnapshot, Workload } from '../support/faults-workload';
import { startTestMesh, type TestMesh } from '../support/mesh';

let mesh: TestMesh;
const extra: Child[] = [];

async function second(name: 'command-svc' | 'query-svc' | 'projector-svc', env: NodeJS.ProcessEnv): Promise<Child> {
  const child = spawnChild({
    name: `${name}-2`,
    command: process.execPath,
    args: [join(repoRoot, 'dist', name, 'main.js')],
    env: { MONGO_URL: mesh.urls.mongo, AMQP_URL: mesh.urls.amqp, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    ready: new RegExp(name === 'projector-svc' ? 'projector-svc consuming' : `${name} listening`),
    onLine: (n, line) => mesh.logs.push(`${n}: ${line}`),
  });
  extra.push(child);
  await child.ready;
  return child;
}

beforeAll(async () => {
  mesh = await startTestMesh();
}, 120_000);

afterAll(async () => {
  for (const c of extra) await stopChild(c);
  await mesh?.teardown();
}, 60_000);

test('two of each service keep every order, count and total exact', async () => {
  const command2 = await freePort();
  const query2 = await freePort();
  await second('command-svc', { COMMAND_GRPC_PORT: String(command2) });
  await second('query-svc', { QUERY_GRPC_PORT: String(query2) });
  await second('projector-svc', {});

  const one = new MeshApi(mesh.urls.command, mesh.urls.query);
  const two = new MeshApi(`127.0.0.1:${command2}`, `127.0.0.1:${query2}`);
  let turn = 0;
  // Every call goes to the next instance in turn, so one order's commands
  // (create, pay, cancel) are spread over both command services.
  const both = new Proxy(one, { get: (_t, prop) => ((turn++ % 2 ? two : one) as unknown as Record<PropertyKey, unknown>)[prop] }) as MeshApi;
  try {
    const w = new Workload({ orders: 200, concurrency: 8 });
    await w.stock(both);
    await w.run(both);
    const verdict = await settle(one, w, mesh.urls.mongo, 90_000);
    report('multi-instance', w, verdict, { instances: 2 });
    expectClean(verdict, mesh.logs);

    // The second query service answers from the same read models.
    const [a, b] = await Promise.all([takeSnapshot(one, w), takeSnapshot(two, w)]);
    expect(JSON.stringify(b.orders.map((o) => [o.orderId, o.status]).sort())).toBe(JSON.stringify(a.orders.map((o) => [o.orderId, o.status]).sort()));
  } finally {
    one.close();
    two.close();
  }
}, 240_000);
