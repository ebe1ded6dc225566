// Fault injection: processes killed with SIGKILL in the middle of the load.
//
// 1. projector-svc is killed three times: unacked deliveries come back, the
//    projector applies each event once, in stream order.
// 2. command-svc dies between storing a commit and publishing it (the
//    FAULT_EXIT_AFTER_STORE hook), twice: calls in flight fail
//    (unacknowledged), the outbox relay of the restarted process publishes
//    what was stored, and the order process still decides those orders.
// 3. Each service gets SIGTERM once in the load: it stops taking work,
//    finishes and acknowledges what it holds, exits 0, and is started again.
import { MongoClient } from 'mongodb';
import { Cleanup, keepLogsOnFailure } from '../support/faults-infra';
import { waitFor, within } from '../../kit/wait';
import { expectClean, report, settle, Workload } from '../support/faults-workload';
import { sleep } from '../../kit/wait';
import { startWatchedMesh } from '../support/faults-mesh';

const cleanup = new Cleanup();
afterAll(() => cleanup.run(), 120_000);

const meshWithApi = () => startWatchedMesh(cleanup);

test('kill -9 projector-svc three times during the load: nothing lost, nothing applied twice', async () => {
  const { mesh, api, watch } = await meshWithApi();
  await keepLogsOnFailure(mesh, async () => {
    const w = new Workload({ orders: 160, concurrency: 10 });
    await w.stock(api);

    const load = w.run(api);
    const kills: Array<{ atCommand: number; pid: number; downMs: number }> = [];
    const faults = (async () => {
      for (const at of [30, 110, 190]) {
        await w.whenCommands(at);
        const victim = mesh.children.get('projector-svc')!;
        const pid = victim.proc.pid!;
        watch.expectExit(pid);
        mesh.note(`kill -9 projector-svc (pid ${pid})`);
        victim.proc.kill('SIGKILL');
        await within(victim.exited, 10_000, 'projector-svc to die');
        const downMs = w.rand.int(300, 2_000);
        await sleep(downMs);
        const fresh = await mesh.start('projector-svc');
        expect(fresh.proc.pid).not.toBe(pid);
        kills.push({ atCommand: w.done, pid, downMs });
      }
    })();
    await within(watch.guard(Promise.all([load, faults])), 150_000, 'the workload');

    const v = await watch.guard(settle(api, w, mesh.urls.mongo, 60_000));
    report('kill -9 projector-svc', w, v, { faults: { projectorKills: kills.length }, logs: mesh.seen });
    expect(kills).toHaveLength(3);
    expectClean(v, mesh.logs);
  });
}, 240_000);

test('kill -9 command-svc between store and publish: the outbox relay publishes what was stored', async () => {
  const { mesh, api, watch } = await meshWithApi();
  await keepLogsOnFailure(mesh, async () => {
    const w = new Workload({ orders: 160, concurrency: 10 });
    await w.stock(api);

    // The hook counts every commit (the clients' and the order process's).
    watch.expectExit(mesh.children.get('command-svc')!.proc.pid);
    const victim = await mesh.start('command-svc', { FAULT_EXIT_AFTER_STORE: '60' });
    watch.expectExit(victim.proc.pid);
    const load = w.run(api);
    const deaths: Array<{ atCommand: number; signal: string | null }> = [];
    const faults = (async () => {
      let current = victim;
      for (const next of ['90', undefined]) {
        const code = await within(current.exited, 90_000, 'command-svc to die from FAULT_EXIT_AFTER_STORE');
        deaths.push({ atCommand: w.done, signal: current.proc.signalCode ?? String(code) });
        mesh.note(`command-svc (pid ${current.proc.pid}) died after storing: ${current.proc.signalCode}`);
        await sleep(w.rand.int(200, 1_500));
        // Once more with the hook, then normally.
        current = await mesh.start('command-svc', next ? { FAULT_EXIT_AFTER_STORE: next } : {});
        if (next) watch.expectExit(current.proc.pid);
      }
    })();
    await within(watch.guard(Promise.all([load, faults])), 150_000, 'the workload');

    // What the dead processes stored but never published is marked in the
    // outbox: the relay of the live process must publish it (after its grace
    // period) and clear those markers. (A marker whose commit was never
    // written, by a command cut short before its insert, is an orphan the
    // relay drops later; it holds nothing to publish.)
    let markers = -1;
    const outboxDrained = await waitFor(async () => (markers = await storedButMarked(mesh.urls.mongo)) === 0, 45_000, 500);
    const v = await watch.guard(settle(api, w, mesh.urls.mongo, 60_000));
    const unanswered = w.records.filter((r) => r.fate === 'unknown').length;
    report('kill -9 command-svc after store', w, v, {
      faults: { commandSvcKills: deaths.length }, unanswered, relayed: mesh.seen['relayed unpublished commit'] ?? 0, outboxLeft: markers, logs: mesh.seen,
    });
    expect(deaths.map((d) => d.signal)).toEqual(['SIGKILL', 'SIGKILL']);
    expect(unanswered).toBeGreaterThan(0);
    expect({ outboxDrained, markers }).toEqual({ outboxDrained: true, markers: 0 });
    // The checker compared the read models with every commit in the write
    // store, answered or not: what the dead processes stored was published
    // and decided (by the order process).
    expectClean(v, mesh.logs);
  });
}, 240_000);

test('SIGTERM each service during the load: it drains, exits 0, and nothing is lost', async () => {
  const { mesh, api, watch } = await meshWithApi();
  await keepLogsOnFailure(mesh, async () => {
    const w = new Workload({ orders: 140, concurrency: 10 });
    await w.stock(api);

    const load = w.run(api);
    const stops: Array<{ service: string; atCommand: number; exit: number | null; stopMs: number }> = [];
    const faults = (async () => {
      for (const [at, service] of [[30, 'projector-svc'], [90, 'command-svc'], [150, 'query-svc'], [200, 'projector-svc']] as const) {
        await w.whenCommands(at);
        const victim = mesh.children.get(service)!;
        watch.expectExit(victim.proc.pid);
        mesh.note(`SIGTERM ${service} (pid ${victim.proc.pid})`);
        const t0 = Date.now();
        victim.proc.kill('SIGTERM');
        const exit = await within(victim.exited, 20_000, `${service} to drain and exit`);
        stops.push({ service, atCommand: w.done, exit, stopMs: Date.now() - t0 });
        await mesh.start(service);
      }
    })();
    await within(watch.guard(Promise.all([load, faults])), 150_000, 'the workload');

    const v = await watch.guard(settle(api, w, mesh.urls.mongo, 60_000));
    report('SIGTERM during the load', w, v, { faults: { sigterms: stops.length }, stops, logs: mesh.seen });
    expect(stops.map((s) => [s.service, s.exit])).toEqual([
      ['projector-svc', 0],
      ['command-svc', 0],
      ['query-svc', 0],
      ['projector-svc', 0],
    ]);
    expectClean(v, mesh.logs);
  });
}, 240_000);

/** Outbox markers whose commit is in the write store: stored, not yet confirmed published. */
async function storedButMarked(mongoUrl: string): Promise<number> {
  const mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5_000, retryWrites: false });
  await mongo.connect();
  try {
    const db = mongo.db('cqrs_write');
    const markers = await db.collection('outbox').find({}).toArray();
    let stored = 0;
    // A marker names the commits of one group write (older ones a single commit_id).
    for (const m of markers) for (const id of m.commit_ids ?? [m.commit_id]) if (await db.collection('commits').findOne({ _id: id })) stored++;
    return stored;
  } finally {
    await mongo.close();
  }
}
