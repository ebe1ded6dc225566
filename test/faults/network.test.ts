// Fault injection on the network, through Toxiproxy: every service reaches
// RabbitMQ and the store through proxies, and during the load the proxies
// add latency, reset connections, stall them (timeout), and go down
// altogether. Services must ride it out by themselves, report SERVING once
// the network is back, and the read models must hold every acknowledged
// command exactly once.
//
// Toxiproxy: `go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0`
// (the binary lands in $(go env GOPATH)/bin/server; TOXIPROXY_SERVER
// overrides the path).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from '../../kit/processes';
import { Cleanup, grpcHealth, keepLogsOnFailure, safePort, spawnStore, Toxiproxy } from '../support/faults-infra';
import { waitFor, within } from '../../kit/wait';
import { createVhost } from '../../kit/rabbit';
import { expectClean, report, settle, Workload } from '../support/faults-workload';
import { sleep } from '../../kit/wait';
import { startWatchedMesh } from '../support/faults-mesh';

const cleanup = new Cleanup();
afterAll(() => cleanup.run(), 120_000);

test('latency, reset_peer, timeout and proxies down between the services and RabbitMQ/the store: nothing lost', async () => {
  const toxi = await Toxiproxy.start();
  cleanup.add('toxiproxy', () => toxi.stop());
  const vhost = createVhost('cqrs-fault-net');
  cleanup.add('vhost', () => vhost.remove());
  const dataDir = mkdtempSync(join(tmpdir(), 'cqrs-fault-store-'));
  cleanup.add('store data', () => rmSync(dataDir, { recursive: true, force: true }));
  const storePort = await safePort();
  const store = await spawnStore(storePort, dataDir);
  cleanup.add('store', () => stopChild(store.child));

  const amqpPort = await toxi.proxy('amqp', '127.0.0.1:5672');
  const mongoPort = await toxi.proxy('mongo', `127.0.0.1:${storePort}`);
  const { mesh, api, watch } = await startWatchedMesh(cleanup, {
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}/${encodeURIComponent(vhost.name)}`,
    mongoUrl: `mongodb://127.0.0.1:${mongoPort}/`,
    dataDir,
  });

  await keepLogsOnFailure(mesh, async () => {
    const w = new Workload({ orders: 150, concurrency: 10, followUpWindowMs: 60_000 });
    await w.stock(api);

    const injected: Array<{ fault: string; atCommand: number; ms: number }> = [];
    const during = async (fault: string, at: number, ms: number, on: () => Promise<unknown>, off: () => Promise<unknown>) => {
      await w.whenCommands(at);
      mesh.note(`fault on: ${fault}`);
      const t0 = Date.now();
      await on();
      await sleep(ms);
      await off();
      mesh.note(`fault off: ${fault}`);
      injected.push({ fault, atCommand: at, ms: Date.now() - t0 });
    };
    const load = w.run(api);
    const faults = (async () => {
      await during('latency 150±50 ms, both proxies, both ways', 25, 5_000,
        async () => {
          for (const p of ['amqp', 'mongo']) for (const stream of ['upstream', 'downstream'] as const) await toxi.addToxic(p, `lat-${stream}`, { type: 'latency', stream, attributes: { latency: 150, jitter: 50 } });
        },
        async () => {
          for (const p of ['amqp', 'mongo']) for (const stream of ['upstream', 'downstream']) await toxi.removeToxic(p, `lat-${stream}`);
        });
      await during('reset_peer on the broker connections', 70, 1_500,
        () => toxi.addToxic('amqp', 'reset', { type: 'reset_peer', attributes: { timeout: 200 } }),
        () => toxi.removeToxic('amqp', 'reset'));
      await during('timeout (stall, then close) on the store connections', 115, 3_000,
        () => toxi.addToxic('mongo', 'stall', { type: 'timeout', attributes: { timeout: 1_000 } }),
        () => toxi.removeToxic('mongo', 'stall'));
      await during('broker proxy down', 160, 5_000, () => toxi.setEnabled('amqp', false), () => toxi.setEnabled('amqp', true));
      await during('store proxy down', 205, 3_000, () => toxi.setEnabled('mongo', false), () => toxi.setEnabled('mongo', true));
    })();
    await within(watch.guard(Promise.all([load, faults])), 200_000, 'the workload').catch((err: Error) => {
      throw new Error(`${err.message}; ${JSON.stringify({ tally: w.tally(), injected, seen: mesh.seen })}`);
    });

    const serving = await waitFor(async () => (await api.commandHealth()).status === 'SERVING' && (await api.queryHealth()).status === 'SERVING', 60_000);
    // The checker reads the write store directly, not through the proxy.
    const v = await watch.guard(settle(api, w, store.url, 60_000));
    report('network faults (Toxiproxy)', w, v, { faults: { injected: injected.length }, injected: injected.map((f) => f.fault), logs: mesh.seen });

    expect(injected).toHaveLength(5);
    expect({ serving, command: await grpcHealth(mesh.urls.command), query: await grpcHealth(mesh.urls.query) }).toEqual({ serving: true, command: 'SERVING', query: 'SERVING' });
    expectClean(v, mesh.logs);
  });
}, 300_000);
