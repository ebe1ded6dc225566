// Fault injection: the store (embedded FerretDB, write and read databases)
// stops in the middle of the load and comes back on the same port with the
// same data, twice. Commands fail while it is down (unacknowledged, or
// refused), health reports NOT_SERVING, events wait instead of being
// dead-lettered, and once it is back every acknowledged command is in the
// read models exactly once.
import { Cleanup, keepLogsOnFailure, safePort, spawnStore } from '../support/faults-infra';
import { waitFor, within } from '../../kit/wait';
import { expectClean, report, settle, Workload } from '../support/faults-workload';
import { sleep } from '../../kit/wait';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from '../../kit/processes';
import { connectMongo, pingMongo } from '../../lib/mongo';
import { startWatchedMesh } from '../support/faults-mesh';

const cleanup = new Cleanup();
afterAll(() => cleanup.run(), 120_000);

test('store stopped and restarted on the same port and data twice during the load: nothing lost, nothing parked', async () => {
  const storePort = await safePort();
  const { mesh, api, watch } = await startWatchedMesh(cleanup, { storePort });

  await keepLogsOnFailure(mesh, async () => {
    const w = new Workload({ orders: 150, concurrency: 10, followUpWindowMs: 60_000 });
    await w.stock(api);

    const health = async () => {
      const [c, q] = await Promise.all([api.commandHealth().catch(() => undefined), api.queryHealth().catch(() => undefined)]);
      return { command: c?.status ?? 'UNREACHABLE', query: q?.status ?? 'UNREACHABLE', detail: JSON.stringify([c?.dependencies, q?.dependencies]) };
    };
    const outages: Array<{ atCommand: number; downMs: number; commandNotServing: boolean; queryNotServing: boolean; servingAgainMs: number; healthAfter?: string }> = [];
    const load = w.run(api);
    const faults = (async () => {
      for (const [at, downMs] of [[40, 6_000], [170, 3_000]] as const) {
        await w.whenCommands(at);
        const t0 = Date.now();
        const store = mesh.children.get('store')!;
        watch.expectExit(store.proc.pid);
        mesh.note(`stopping the store (pid ${store.proc.pid})`);
        await stopChild(store, 10_000);
        const commandNotServing = await waitFor(async () => (await health()).command === 'NOT_SERVING', 15_000);
        const queryNotServing = await waitFor(async () => (await health()).query === 'NOT_SERVING', 15_000);
        await sleep(Math.max(0, downMs - (Date.now() - t0)));
        // Same port, same data folder: what the services were talking to comes back.
        const { child, url } = await spawnStore(storePort, mesh.dataDir, mesh.line);
        mesh.children.set('store', child);
        mesh.note(`store restarted (pid ${child.proc.pid}) at ${url}`);
        expect(url).toBe(mesh.urls.mongo);
        const t1 = Date.now();
        let last = await health();
        const back = await waitFor(async () => {
          last = await health();
          return last.command === 'SERVING' && last.query === 'SERVING';
        }, 30_000);
        mesh.note(`health after the restart: ${JSON.stringify(last)}`);
        if (!back) throw new Error(`the services did not come back within 30 s of the store's restart: ${JSON.stringify(last)}`);
        outages.push({ atCommand: at, downMs: Date.now() - t0, commandNotServing, queryNotServing, servingAgainMs: back ? Date.now() - t1 : -1, healthAfter: back ? undefined : JSON.stringify(last) });
      }
    })();
    await within(watch.guard(Promise.all([load, faults])), 200_000, 'the workload').catch((err: Error) => {
      throw new Error(`${err.message}; ${JSON.stringify({ tally: w.tally(), outages, seen: mesh.seen })}\n${mesh.logs.slice(-40).join('\n')}`);
    });

    const v = await watch.guard(settle(api, w, mesh.urls.mongo, 60_000));
    report('store restart', w, v, { faults: { storeRestarts: outages.length }, outages, logs: mesh.seen });

    expect(outages).toHaveLength(2);
    for (const o of outages) expect(o).toMatchObject({ commandNotServing: true, queryNotServing: true, healthAfter: undefined });
    // A store outage is not the events' fault: none may be parked for it.
    expect(mesh.seen['event dead-lettered'] ?? 0).toBe(0);
    expectClean(v, mesh.logs);
  });
}, 300_000);

// The services' own store client (lib/mongo.ts connectMongo), under load,
// across repeated graceful store restarts: it must serve again each time the
// store is back. This is the smallest reproduction of a client that stays
// failed ("connection N to ... closed") after the store came back.
test('the services\' store client serves again after every graceful store restart (8 rounds under load)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cqrs-fault-client-'));
  cleanup.add('store data', () => rmSync(dir, { recursive: true, force: true }));
  const port = await safePort();
  let store = await spawnStore(port, dir);
  cleanup.add('store', () => stopChild(store.child));
  const client = await connectMongo(store.url);
  cleanup.add('client', () => client.close(true).catch(() => undefined));
  const heartbeats = { started: 0, ended: 0 };
  client.on('serverHeartbeatStarted', () => heartbeats.started++);
  client.on('serverHeartbeatSucceeded', () => heartbeats.ended++);
  client.on('serverHeartbeatFailed', () => heartbeats.ended++);
  const db = client.db('fault_client');
  let loading = true;
  const load = Promise.all(
    Array.from({ length: 24 }, async (_, i) => {
      for (let n = 0; loading; n++) {
        await db.collection('c').insertOne({ i, n }).then(() => db.collection('c').findOne({ i }), () => sleep(200)).catch(() => sleep(200));
        await sleep(Math.random() * 20);
      }
    }),
  );
  const rounds: Array<{ round: number; recoveredMs: number; heartbeatsInFlight: number }> = [];
  try {
    for (let round = 1; round <= 8; round++) {
      await sleep(1_000);
      await stopChild(store.child, 10_000); // SIGTERM: the store closes its connections itself
      await sleep(2_000);
      store = await spawnStore(port, dir);
      const t0 = Date.now();
      const ok = await waitFor(() => pingMongo(db), 20_000, 250);
      rounds.push({ round, recoveredMs: ok ? Date.now() - t0 : -1, heartbeatsInFlight: heartbeats.started - heartbeats.ended });
      if (!ok) break;
    }
  } finally {
    loading = false;
    await within(load, 30_000, 'the client load').catch(() => undefined);
  }
  console.log(JSON.stringify({ suite: 'faults', test: 'store client across graceful restarts', rounds }));
  expect(rounds.filter((r) => r.recoveredMs < 0)).toEqual([]);
  expect(rounds).toHaveLength(8);
}, 240_000);
