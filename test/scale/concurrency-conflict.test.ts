// Optimistic concurrency between two processes on one stream: two real
// command-svc, one store, one broker, commands on the same stream sent to
// both at once. Each process holds the stream's state in its cache, so the
// one that writes second has read the same version as the first: its commit
// id is taken, it loses the race, reloads and decides again (up to 8 times,
// then ABORTED). Whatever the interleaving, every acknowledged command takes
// effect exactly once, a refused or aborted one not at all, and the stream
// stays contiguous, with no event lost or stored twice.
import { MongoClient } from 'mongodb';
import { status, type ServiceError } from '@grpc/grpc-js';
import { OrderStatus, PaymentMethod } from '../../gen/ts/cqrs/v1/common';
import { orderDecider } from '../../domain/order';
import { productDecider } from '../../domain/inventory';
import { orderStream, productStream, type DomainEvent, type StreamKind } from '../../domain/events';
import { evolveStored, type StreamDecider } from '../../domain/decider';
import { EventStore, readStream } from '../../lib/event-store';
import { WRITE_DB } from '../../lib/mongo';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { eventually } from '../../kit/wait';
import { MeshApi } from '../support/faults-workload';

const PRODUCT = 7_001;
const ROUNDS = 30;
const LOST_RACE = 'lost a race for the stream; deciding again';

let mesh: TestMesh;
/** Races a command-svc lost (its "lost a race" lines), both processes together. */
let lost = 0;
let one: MeshApi;
let two: MeshApi;
let mongo: MongoClient;
let store: EventStore;

beforeAll(async () => {
  mesh = await startTestMesh({ onLine: (_name, line) => void (line.includes(LOST_RACE) && lost++) });
  const second = await mesh.instance('command-svc');
  one = new MeshApi(mesh.urls.command, mesh.urls.query);
  two = new MeshApi(second.addr!, mesh.urls.query);
  mongo = await new MongoClient(mesh.urls.mongo, { serverSelectionTimeoutMS: 5_000 }).connect();
  store = new EventStore(mongo.db(WRITE_DB));
}, 120_000);

afterAll(async () => {
  one?.close();
  two?.close();
  await mongo?.close();
  await mesh?.teardown();
}, 60_000);

/** The outcome of a call: acknowledged, or the gRPC status it was refused with. */
const outcome = (p: Promise<unknown>): Promise<'ok' | keyof typeof status> =>
  p.then(
    () => 'ok',
    (err: ServiceError) => (status[err.code] as keyof typeof status) ?? 'UNKNOWN',
  );

/** Every event of a stream, as stored, checked contiguous (1..n) with no event stored twice. */
async function storedStream(streamId: string): Promise<DomainEvent[]> {
  const events = await readStream(store, streamId, 1, Number.MAX_SAFE_INTEGER);
  expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
  expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  return events.map((e) => e.payload);
}

function fold<S, C, K extends StreamKind>(decider: StreamDecider<S, C, K>, streamId: string, events: DomainEvent[]): S {
  return events.reduce(evolveStored(decider, streamId), decider.initialState());
}

test('stock adjusted through both processes at once: every acknowledged delta counts once', async () => {
  await one.updateInventory({ productId: PRODUCT, productName: 'Contended', unitPrice: 2.5, quantity: 1_000, lowStockThreshold: 0 });
  // Each process now caches the stream (the second one after reading it).
  await two.updateInventory({ productId: PRODUCT, quantityDelta: 1 });
  await one.updateInventory({ productId: PRODUCT, quantityDelta: 1 });
  const before = lost;

  const outcomes: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Both at once, on the same version each process last saw.
    outcomes.push(...(await Promise.all([one, two].map((api) => outcome(api.updateInventory({ productId: PRODUCT, quantityDelta: 1 }))))));
  }
  const acked = outcomes.filter((o) => o === 'ok').length;
  // The loser decides again; only a stream that moves on 8 times in a row is ABORTED.
  expect(outcomes.filter((o) => o !== 'ok' && o !== 'ABORTED')).toEqual([]);
  expect(acked).toBeGreaterThan(ROUNDS);
  expect(lost - before).toBeGreaterThan(0);

  const streamId = productStream(PRODUCT);
  const events = await storedStream(streamId);
  expect(events.filter((e) => e.$case === 'inventoryUpdated')).toHaveLength(3 + acked);
  const expected = 1_000 + 2 + acked;
  expect(fold(productDecider, streamId, events).totalQuantity).toBe(expected);
  const shown = await eventually(async () => {
    const { item } = await one.getProductInventory(PRODUCT);
    return item?.totalQuantity === expected ? item : undefined;
  }, 20_000, `the read model to show ${expected} units`);
  expect(shown.availableQuantity).toBe(expected);
}, 120_000);

test('one order paid through both processes at once: exactly one payment, the other refused', async () => {
  const orders = await Promise.all(
    Array.from({ length: 6 }, (_, i) => one.createOrder({ userId: 900 + i, productId: PRODUCT, quantity: 2 }).then((r) => r.orderId)),
  );
  for (const orderId of orders) {
    await eventually(async () => ((await one.getOrder(orderId)).order?.status === OrderStatus.VALIDATED ? true : undefined), 20_000, `order ${orderId} to be validated`);
    // A command the order refuses (it is not paid yet: nothing is stored)
    // makes each process read the order from the store and keep it cached,
    // so both decide the payment below on the same version, without a read.
    const refused = await Promise.all([one, two].map((api) => outcome(api.shipOrder({ orderId }))));
    expect(refused).toEqual(['FAILED_PRECONDITION', 'FAILED_PRECONDITION']);
  }
  const before = lost;
  for (const orderId of orders) {
    const results = await Promise.all([one, two].map((api) => outcome(api.processPayment({ orderId, amount: 5, method: PaymentMethod.CREDIT_CARD }))));
    // The winner pays; the loser reloads, sees PAID, and is refused.
    expect(results.sort()).toEqual(['FAILED_PRECONDITION', 'ok']);
  }
  expect(lost - before).toBeGreaterThan(0);

  for (const orderId of orders) {
    const streamId = orderStream(orderId);
    const events = await storedStream(streamId);
    expect(events.filter((e) => e.$case === 'paymentProcessed')).toHaveLength(1);
    expect(events.filter((e) => e.$case === 'orderPaid')).toHaveLength(1);
    expect(fold(orderDecider, streamId, events).totalCents).toBe(500);
  }
  // Each order's stock is sold once (the order process reacts to the one OrderPaid).
  const sold = await eventually(async () => {
    const events = await storedStream(productStream(PRODUCT));
    const n = events.filter((e) => e.$case === 'inventorySold' && orders.includes(e.value.orderId)).length;
    return n >= orders.length ? events : undefined;
  }, 20_000, 'every paid order to be sold');
  const perOrder = orders.map((id) => sold.filter((e) => e.$case === 'inventorySold' && e.value.orderId === id).length);
  expect(perOrder).toEqual(orders.map(() => 1));
}, 120_000);
