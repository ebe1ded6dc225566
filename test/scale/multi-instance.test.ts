// Two command-svc, two query-svc and two projector-svc side by side on one
// broker and one store: commands alternate between the command instances,
// reads between the query instances, and every count must still come out
// exact. The projector queue has a single active consumer, so the second
// projector stands by and takes over if the first goes away.
import { expectClean, MeshApi, report, settle, takeSnapshot, Workload } from '../support/faults-workload';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';

let mesh: TestMesh;

beforeAll(async () => {
  mesh = await startTestMesh();
}, 120_000);

afterAll(async () => {
  await mesh?.teardown();
}, 60_000);

test('two of each service keep every order, count and total exact', async () => {
  const command2 = await mesh.instance('command-svc');
  const query2 = await mesh.instance('query-svc');
  await mesh.instance('projector-svc');

  const one = new MeshApi(mesh.urls.command, mesh.urls.query);
  const two = new MeshApi(command2.addr!, query2.addr!);
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
