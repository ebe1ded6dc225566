// projector-svc's grpc.health.v1 includes its lag: a projector that holds
// events and applies none goes NOT_SERVING with the reason, and SERVING
// again once it catches up. Its progress is stopped with the kit's pause
// hook (FAULT_PAUSE_FILE), the process and its connections stay up.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../../kit/wait';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { getJson, postJson } from '../support/http';
import { healthCheck } from '../support/metrics';

let mesh: TestMesh;
const dir = mkdtempSync(join(tmpdir(), 'cqrs-pause-'));
const pause = join(dir, 'pause');
const edge = (path: string) => `${mesh.urls.edge}${path}`;
const health = () => healthCheck(mesh.urls.projector);
const report = async () => (await getJson(`${mesh.urls.metrics['projector-svc']}/health`)).body;

beforeAll(async () => {
  mesh = await startTestMesh({
    vhostPrefix: 'cqrs-health',
    env: { 'projector-svc': { FAULT_PAUSE_FILE: pause, CONSUMER_MAX_STALL_MS: '1500', CONSUMER_MAX_LAG_MS: '4000' } },
  });
  expect((await postJson(edge('/cqrs/commands/inventory'), { product_id: 9, product_name: 'Pause', unit_price: 1, quantity: 100 })).status).toBe(200);
}, 120_000);

afterAll(async () => {
  // First, so a failed test leaves no batch held at teardown.
  rmSync(dir, { recursive: true, force: true });
  await mesh?.teardown();
}, 60_000);

test('SERVING while it keeps up', async () => {
  await eventually(async () => ((await health()) === 'SERVING' ? true : undefined), 10_000, 'projector-svc SERVING');
  expect((await report()).status).toBe('SERVING');
}, 30_000);

test('NOT_SERVING with the reason while it holds events it does not apply, SERVING once it catches up', async () => {
  writeFileSync(pause, '');
  const created = await postJson(edge('/cqrs/commands/orders'), { user_id: 7, product_id: 9, quantity: 1 });
  expect(created.status).toBe(200);
  await eventually(async () => ((await health()) === 'NOT_SERVING' ? true : undefined), 15_000, 'projector-svc NOT_SERVING', 200);
  const stalled = await report();
  expect(stalled.status).toBe('NOT_SERVING');
  expect(stalled.dependencies).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'progress', status: 'DOWN', detail: expect.stringMatching(/^stalled: events in hand and none applied for/) })]));
  // Held on: the oldest event ages past its limit too.
  await eventually(async () => ((await report()).dependencies.find((d: { name: string }) => d.name === 'lag')?.status === 'DOWN' ? true : undefined), 15_000, 'the lag check DOWN', 200);
  expect((await report()).dependencies.find((d: { name: string }) => d.name === 'lag').detail).toMatch(/^behind: the oldest unapplied event is \d+\.\d s old \(limit 4\.0 s\)/);

  rmSync(pause);
  await eventually(async () => ((await health()) === 'SERVING' ? true : undefined), 15_000, 'projector-svc SERVING again', 200);
  const order = await getJson(edge(`/cqrs/queries/orders/${created.body.order_id}`));
  expect(order.status).toBe(200);
}, 60_000);
