// Fault injection on the event exchange itself (cqrs.events in the mesh's
// own vhost).
//
// 5. Real events published again, duplicated and shuffled, with the same
//    properties: during the load; after it (read models must not move); and
//    with the projector's queue purged while it was down, so that only
//    shuffled copies remain and every stream arrives out of order with gaps.
// 6. Poison messages: random bytes, an envelope for an unknown stream kind,
//    an envelope without a payload, and one whose history is not in the
//    write store yet. Each is dead-lettered with x-failure-reason after a
//    bounded number of attempts while the rest flow on; `dlq list` shows
//    them; `dlq replay` puts one back (still poison: parked again) and the
//    one whose history now exists goes through.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { ConsumeMessage } from 'amqplib';
import { MongoClient } from 'mongodb';
import { EventEnvelope } from '../../gen/ts/cqrs/v1/events';
import { stopChild } from '../../kit/processes';
import { Cleanup, copyOf, CrashWatch, dlq, keepLogsOnFailure, peekQueue, publishRaw, purgeQueue, queueDepths, startFaultMesh, Tap, type FaultMesh } from '../support/faults-infra';
import { waitFor, within } from '../../kit/wait';
import { expectClean, report, settle, takeSnapshot, Workload, type Snapshot } from '../support/faults-workload';
import { sleep } from '../../kit/wait';
import { startWatchedMesh } from '../support/faults-mesh';
import { ORDER_PROCESS_QUEUE, PROJECTOR_QUEUE } from '../../lib/consumer';

const PROJECTOR_DLQ = `${PROJECTOR_QUEUE}.dead-letter`;

const run = promisify(execFile);
const cleanup = new Cleanup();
afterAll(() => cleanup.run(), 120_000);

const meshWithApi = () => startWatchedMesh(cleanup);

/** Waits (bounded) until both consumers' queues are empty twice in a row. */
async function drained(mesh: FaultMesh, timeoutMs = 60_000): Promise<boolean> {
  let empty = 0;
  return waitFor(async () => {
    const d = await queueDepths(mesh.urls.amqp, [PROJECTOR_QUEUE, ORDER_PROCESS_QUEUE]);
    empty = Object.values(d).every((n) => n === 0) ? empty + 1 : 0;
    return empty >= 2;
  }, timeoutMs, 500);
}

/** Messages on `queue` in the mesh's vhost, ready and delivered-but-unacknowledged together. */
async function queueTotal(mesh: FaultMesh, queue: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', '-p', mesh.vhost!.name, 'name', 'messages'], { timeout: 30_000 });
  const row = stdout.split('\n').map((l) => l.trim().split(/\s+/)).find(([name]) => name === queue);
  if (!row) throw new Error(`no queue ${queue} in vhost ${mesh.vhost!.name}`);
  return Number(row[1]);
}

/** Waits (bounded) until the projector has acknowledged every delivery: nothing ready, nothing in flight. */
async function applied(mesh: FaultMesh, timeoutMs = 60_000): Promise<boolean> {
  return waitFor(async () => (await queueTotal(mesh, PROJECTOR_QUEUE)) === 0, timeoutMs, 250);
}

/** Ids of every event in the write store. */
async function storedEventIds(mongoUrl: string): Promise<string[]> {
  const mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5_000, retryWrites: false });
  await mongo.connect();
  try {
    const commits = await mongo.db('cqrs_write').collection('commits').find({}).toArray();
    return commits.flatMap((c) => (c.events as Array<{ buffer: Uint8Array }>).map((b) => EventEnvelope.decode(b.buffer).eventId));
  } finally {
    await mongo.close();
  }
}

/**
 * Waits (bounded) until every stored event has been published (the tap has
 * it) and the order process has nothing left to react to, twice in a row.
 */
async function allPublished(mesh: FaultMesh, tap: Tap, timeoutMs = 60_000): Promise<boolean> {
  let stable = 0;
  return waitFor(async () => {
    const seen = new Set(tap.messages.map((m) => String(m.properties.messageId)));
    const stored = await storedEventIds(mesh.urls.mongo);
    const idle = (await queueTotal(mesh, ORDER_PROCESS_QUEUE)) === 0;
    stable = idle && stored.every((id) => seen.has(id)) ? stable + 1 : 0;
    return stable >= 2;
  }, timeoutMs, 500);
}

/** Each real event once (the tap also sees the copies the test publishes). */
function unique(messages: ConsumeMessage[]): ConsumeMessage[] {
  const seen = new Set<string>();
  return messages.filter((m) => {
    const id = String(m.properties.messageId);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** The read models as comparable JSON (statistics without the clock-dependent fields). */
function comparable(s: Snapshot, orderIds?: Set<string>) {
  const { generatedAt: _g, ordersLastHour: _h, ordersLastDay: _d, ...stats } = s.statistics;
  return {
    orders: Object.fromEntries(s.orders.filter((o) => !orderIds || orderIds.has(o.orderId)).map((o) => [o.orderId, JSON.parse(JSON.stringify(o))])),
    inventory: JSON.parse(JSON.stringify(s.inventory)),
    summaries: JSON.parse(JSON.stringify([...s.summaries.entries()].sort((x, y) => x[0] - y[0]))),
    statistics: JSON.parse(JSON.stringify(stats)),
  };
}

test('duplicated and shuffled copies of real events: read models equal the correct fold, counters do not drift', async () => {
  const { mesh, api, watch } = await meshWithApi();
  await keepLogsOnFailure(mesh, async () => {
    const tap = await Tap.open(mesh.urls.amqp);
    cleanup.add('tap', () => tap.close());
    const w = new Workload({ orders: 0, concurrency: 10 });
    const phaseA = w.addOrders(100);
    const phaseB = w.addOrders(30);
    await w.stock(api);

    // 1. During the load: random real events again, one to three copies each, shuffled.
    let liveCopies = 0;
    let loading = true;
    const load = w.run(api, phaseA).finally(() => (loading = false));
    const chaos = (async () => {
      while (loading) {
        await sleep(1_000);
        const sample = w.rand.shuffle(unique(tap.messages)).slice(0, 10);
        const copies = w.rand.shuffle(sample.flatMap((m) => Array.from({ length: w.rand.int(1, 3) }, () => copyOf(m))));
        if (copies.length) await publishRaw(mesh.urls.amqp, copies);
        liveCopies += copies.length;
      }
    })();
    await within(watch.guard(Promise.all([load, chaos])), 150_000, 'phase A');
    const a = await watch.guard(settle(api, w, mesh.urls.mongo, 60_000));
    expectClean(a, mesh.logs);
    const before = comparable(a.snapshot!);

    // 2. After the load: every event again, twice, shuffled. Nothing may move.
    const all = unique(tap.messages);
    const again = w.rand.shuffle([...all, ...all].map(copyOf));
    await publishRaw(mesh.urls.amqp, again);
    expect(await drained(mesh)).toBe(true);
    expect(await applied(mesh)).toBe(true);
    const after = comparable(await takeSnapshot(api, w));
    expect(after).toEqual(before);

    // 3. Out of order with gaps: the projector is down while phase B runs; its
    //    queue is purged and only shuffled, duplicated copies of everything
    //    come back, so streams arrive out of order and must be filled from the
    //    write store.
    const projector = mesh.children.get('projector-svc')!;
    watch.expectExit(projector.proc.pid);
    await stopChild(projector);
    await within(watch.guard(w.run(api, phaseB)), 120_000, 'phase B');
    // What the relay still had to publish, and what the order process still
    // had to react to, is out; the tap has received all of it.
    expect(await allPublished(mesh, tap)).toBe(true);
    const purged = await purgeQueue(mesh.urls.amqp, PROJECTOR_QUEUE);
    const everything = unique(tap.messages);
    const shuffled = w.rand.shuffle([...everything, ...w.rand.shuffle([...everything]).slice(0, Math.floor(everything.length / 2))].map(copyOf));
    await publishRaw(mesh.urls.amqp, shuffled);
    await mesh.start('projector-svc');
    const b = await watch.guard(settle(api, w, mesh.urls.mongo, 90_000));
    const phaseAIds = new Set(phaseA.filter((o) => o.orderId).map((o) => o.orderId!));
    const finalA = comparable(b.snapshot!, phaseAIds);

    report('duplicated and shuffled events', w, b, {
      faults: { liveCopies, copiesAfterLoad: again.length, purged, shuffledCopies: shuffled.length },
      eventsCaptured: everything.length,
      logs: mesh.seen,
    });
    expectClean(b, mesh.logs);
    // Phase A's orders were not touched by phase B: byte for byte as before.
    expect(finalA.orders).toEqual(before.orders);
    expect(purged).toBeGreaterThan(0);
  });
}, 300_000);

test('poison messages are dead-lettered with a reason, the rest flow on, and dlq list/replay work', async () => {
  const { mesh, api, watch } = await meshWithApi();
  await keepLogsOnFailure(mesh, async () => {
    const w = new Workload({ orders: 120, concurrency: 10 });
    await w.stock(api);
    const ghost = w.opts.idBase + 900; // a product nobody has created yet
    const id = (kind: string) => `${kind}-${randomUUID()}`;
    const envelope = (streamId: string, version: number, payload: EventEnvelope['payload']) =>
      Buffer.from(EventEnvelope.encode({ eventId: randomUUID(), streamId, version, occurredAt: new Date(), correlationId: 'poison', causationId: 'poison', traceContext: {}, payload }).finish());
    const ghostV3 = { $case: 'inventoryUpdated' as const, value: { productId: ghost, productName: 'Ghost', unitPriceCents: 100, totalQuantity: 3, lowStockThreshold: 0 } };
    const poison = {
      // Field 0 with wire type 7 cannot be protobuf.
      bytes: { messageId: id('poison-bytes'), content: Buffer.concat([Buffer.from([0x07, 0xff]), randomBytes(62)]) },
      unknownStream: { messageId: id('poison-unknown-stream'), content: envelope('widget-42', 1, ghostV3) },
      noPayload: { messageId: id('poison-no-payload'), content: envelope(`order-${randomUUID()}`, 1, undefined) },
      // Version 3 of a stream whose history is not in the write store (yet): fails until it is.
      noHistory: { messageId: id('transient-no-history'), content: envelope(`product-${ghost}`, 3, ghostV3) },
    };
    const send = (list: Array<{ messageId: string; content: Buffer }>) =>
      publishRaw(mesh.urls.amqp, list.map((p) => ({
        // Only the projector binds this routing key (the order process binds order events).
        routingKey: 'cqrs.v1.InventoryUpdated', content: p.content,
        properties: { messageId: p.messageId, type: 'cqrs.v1.InventoryUpdated', contentType: 'application/x-protobuf', persistent: true },
      })));

    const load = w.run(api);
    await w.whenCommands(40);
    await send(Object.values(poison));
    await within(watch.guard(load), 150_000, 'the workload');

    // Parked, each with its reason (the unknown stream kind is waited for no longer than the others).
    const parkedIds = () => peekQueue(mesh.urls.amqp, PROJECTOR_DLQ).then((ms) => new Map(ms.map((m) => [m.properties.messageId as string, m])));
    const mustPark = [poison.bytes, poison.noPayload, poison.noHistory].map((p) => p.messageId);
    await waitFor(async () => {
      const ids = await parkedIds();
      return mustPark.every((m) => ids.has(m));
    }, 60_000, 500);
    const parked = await parkedIds();
    const reasons = Object.fromEntries(Object.entries(poison).map(([k, p]) => [k, String(parked.get(p.messageId)?.properties.headers?.['x-failure-reason'] ?? '(not dead-lettered)')]));

    // The rest went through.
    const v = await watch.guard(settle(api, w, mesh.urls.mongo, 60_000));

    // `dlq list` shows them.
    const listed = await dlq(mesh.urls.amqp, 'list');

    // Replay of a message that is still poison: back on the queue, and parked again.
    const replayBytes = await dlq(mesh.urls.amqp, 'replay', poison.bytes.messageId);
    const parkedAgain = await waitFor(async () => (await parkedIds()).has(poison.bytes.messageId) && (await drained(mesh, 2_000)), 30_000, 500);

    // The one that failed only for want of history: create the product (versions 1..3), then replay.
    await api.updateInventory({ productId: ghost, productName: 'Ghost', unitPrice: 1, quantity: 1, lowStockThreshold: 0 });
    await api.updateInventory({ productId: ghost, quantity: 2 });
    await api.updateInventory({ productId: ghost, quantity: 3 });
    const ghostProjected = await waitFor(async () => (await api.getProductInventory(ghost)).item?.totalQuantity === 3, 20_000);
    const replayHistory = await dlq(mesh.urls.amqp, 'replay', poison.noHistory.messageId);
    const wentThrough = await waitFor(async () => !(await parkedIds()).has(poison.noHistory.messageId) && (await drained(mesh, 2_000)), 30_000, 500);
    const ghostItem = (await api.getProductInventory(ghost)).item;

    report('poison messages', w, v, {
      faults: { poisonPublished: Object.keys(poison).length },
      poisonParked: Object.values(poison).filter((p) => parked.has(p.messageId)).length,
      reasons,
      logs: mesh.seen,
    });
    expectClean(v, mesh.logs);
    expect({
      parked: Object.fromEntries(Object.entries(poison).map(([k, p]) => [k, parked.has(p.messageId)])),
      reasonsGiven: Object.fromEntries(Object.entries(reasons).map(([k, r]) => [k, r !== '(not dead-lettered)' && r.length > 0])),
      failedQueue: [...parked.values()].every((m) => m.properties.headers?.['x-failed-queue'] === PROJECTOR_QUEUE),
      listExit: listed.code,
      listShowsAll: Object.values(poison).filter((p) => parked.has(p.messageId)).every((p) => listed.stdout.includes(p.messageId)),
      listShowsReasons: listed.stdout.includes('reason='),
      replayBytes: [replayBytes.code, replayBytes.stdout.includes(poison.bytes.messageId)],
      parkedAgain,
      ghostProjected,
      replayHistory: [replayHistory.code, replayHistory.stdout.includes(poison.noHistory.messageId)],
      wentThrough,
      ghostItem: { totalQuantity: ghostItem?.totalQuantity, productName: ghostItem?.productName },
    }).toEqual({
      parked: { bytes: true, unknownStream: true, noPayload: true, noHistory: true },
      reasonsGiven: { bytes: true, unknownStream: true, noPayload: true, noHistory: true },
      failedQueue: true,
      listExit: 0,
      listShowsAll: true,
      listShowsReasons: true,
      replayBytes: [0, true],
      parkedAgain: true,
      ghostProjected: true,
      replayHistory: [0, true],
      wentThrough: true,
      ghostItem: { totalQuantity: 3, productName: 'Ghost' },
    });
  });
}, 300_000);
