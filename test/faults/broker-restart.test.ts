// Fault injection: the broker goes away in the middle of the load and comes
// back, twice. This runs on a PRIVATE RabbitMQ node started for this test
// (own node name, ports, data), never the machine's shared node.
//
// Services are not restarted: they must reconnect by themselves; command-svc
// reports NOT_SERVING (grpc.health.v1 and GetCommandHealth) while the broker
// is down and SERVING after; commands stored while it was down are published
// by the outbox relay once it is back.
import { Cleanup, grpcHealth, keepLogsOnFailure, startPrivateRabbit } from '../support/faults-infra';
import { waitFor, within } from '../../kit/wait';
import { expectClean, report, settle, Workload } from '../support/faults-workload';
import { sleep } from '../../kit/wait';
import { startWatchedMesh } from '../support/faults-mesh';

const cleanup = new Cleanup();
afterAll(() => cleanup.run(), 120_000);

test('RabbitMQ stopped and started twice during the load: services reconnect, health follows, nothing lost', async () => {
  const rabbit = await startPrivateRabbit();
  cleanup.add('private RabbitMQ node', () => rabbit.destroy());
  const { mesh, api, watch } = await startWatchedMesh(cleanup, { amqpUrl: rabbit.url });
  await keepLogsOnFailure(mesh, async () => {
    const w = new Workload({ orders: 150, concurrency: 10, followUpWindowMs: 60_000 });
    await w.stock(api);
    const pids = Object.fromEntries([...mesh.children].map(([n, c]) => [n, c.proc.pid]));

    const commandHealth = async () => (await api.commandHealth()).status;
    const outages: Array<{ atCommand: number; downMs: number; notServingSeen: boolean; servingAgainMs: number; grpcDown: string; grpcUp: string }> = [];
    const load = w.run(api);
    const faults = (async () => {
      for (const [at, downMs] of [[40, 8_000], [170, 4_000]] as const) {
        await w.whenCommands(at);
        const t0 = Date.now();
        await rabbit.stopApp();
        // Health must say so while the broker is down.
        const notServingSeen = await waitFor(async () => (await commandHealth()) === 'NOT_SERVING', 15_000);
        const grpcDown = await grpcHealth(mesh.urls.command, 'cqrs.v1.CommandService');
        await sleep(Math.max(0, downMs - (Date.now() - t0)));
        await rabbit.startApp();
        const t1 = Date.now();
        const back = await waitFor(async () => (await commandHealth()) === 'SERVING', 60_000);
        const grpcUp = await grpcHealth(mesh.urls.command, 'cqrs.v1.CommandService');
        outages.push({ atCommand: at, downMs: Date.now() - t0, notServingSeen, servingAgainMs: back ? Date.now() - t1 : -1, grpcDown, grpcUp });
      }
    })();
    await within(watch.guard(Promise.all([load, faults])), 200_000, 'the workload').catch((err: Error) => {
      throw new Error(`${err.message}; ${JSON.stringify({ tally: w.tally(), outages, seen: mesh.seen })}\n${mesh.logs.slice(-60).join('\n')}`);
    });

    const v = await watch.guard(settle(api, w, mesh.urls.mongo, 60_000));
    report('RabbitMQ restart', w, v, { faults: { brokerRestarts: outages.length }, outages, logs: mesh.seen });

    expect(outages).toHaveLength(2);
    for (const o of outages) {
      expect(o).toMatchObject({ notServingSeen: true, grpcDown: 'NOT_SERVING', grpcUp: 'SERVING' });
      expect(o.servingAgainMs).toBeGreaterThanOrEqual(0);
    }
    // Nobody restarted a service: the same processes reconnected.
    for (const [name, child] of mesh.children) expect([name, child.proc.pid]).toEqual([name, pids[name]]);
    expect(await grpcHealth(mesh.urls.query, 'cqrs.v1.QueryService')).toBe('SERVING');
    expectClean(v, mesh.logs);
  });
}, 300_000);
