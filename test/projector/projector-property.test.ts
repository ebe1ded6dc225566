// The projector against the real MongoDB-compatible store (embedded FerretDB):
// whatever the broker does (duplicates, reordering within and across streams,
// concurrent deliveries, batches), the read models equal the pure fold of
// each stream in version order.
import fc from 'fast-check';
import pino from 'pino';
import { PaymentMethod, type OrderLine } from '../../gen/ts/cqrs/v1/common';
import { event, parseStream, type DomainEvent, type EventOfKind, type StreamKind } from '../../domain/events';
import { orderStream, productStream } from '../../domain/events';
import { orderDecider, type OrderCommand } from '../../domain/order';
import { decideProduct, evolveProduct, initialProduct, productDecider, type ProductCommand } from '../../domain/inventory';
import type { StreamDecider } from '../../domain/decider';
import type { Envelope } from '../../lib/consumer';
import { decodeEnvelope, encodeEnvelope } from '../../lib/envelope';
import { EventStore } from '../../lib/event-store';
import { storeSuite } from '../support/store-suite';
import { within, sleep } from '../../kit/wait';
import { ReadStore } from '../../lib/read-store';
import { bucketEntries, bucketOrders, emptyStats, numericKey, pendingOrders, STATS_ID, USER_BUCKET_SIZE, type InventoryDoc, type OrderDoc, type UserSummaryDoc } from '../../read-models';
import { emptyInventory, projectInventory } from '../../projector-svc/inventory-projection';
import { emptyOrder, projectOrder } from '../../projector-svc/order-projection';
import { contributionVersion } from '../../projector-svc/contribution';
import type { ProductCounters, Tallied } from '../../projector-svc/product-counts';
import { Projector } from '../../projector-svc/projector';
import { withOrderStats } from '../../projector-svc/statistics-projection';
import { emptySummary, withOrder } from '../../projector-svc/user-summary-projection';

const HANDLE_TIMEOUT_MS = 10_000;
const silent = pino({ level: 'silent' });

const { client: storeClient, withDatabases } = storeSuite('pp');

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const PRODUCTS = [101, 102, 103];
const PRICES: Record<number, [string, number]> = { 101: ['Widget', 1999], 102: ['Gadget {"$gt": ""}', 10], 103: ['Doohickey', 1] };

type OrderPath = 'PENDING' | 'VALIDATED' | 'REJECTED' | 'CANCELLED' | 'PAID' | 'SHIPPED' | 'COMPLETED' | 'CANCELLED_PENDING';
interface OrderSpec {
  userId: number;
  lines: OrderLine[];
  path: OrderPath;
}
type ProductStep = { kind: 'reserve'; order: number; quantity: number } | { kind: 'release' | 'sell'; order: number } | { kind: 'delta'; delta: number } | { kind: 'set'; quantity: number };
interface ProductSpec {
  productId: number;
  initial: number;
  steps: ProductStep[];
}
interface Scenario {
  orders: OrderSpec[];
  products: ProductSpec[];
}

const orderSpecArb: fc.Arbitrary<OrderSpec> = fc.record({
  userId: fc.constantFrom(1, 2),
  lines: fc.uniqueArray(fc.record({ productId: fc.constantFrom(...PRODUCTS), quantity: fc.integer({ min: 1, max: 5 }) }), {
    selector: (l) => l.productId, minLength: 1, maxLength: 3,
  }),
  path: fc.constantFrom<OrderPath>('PENDING', 'VALIDATED', 'REJECTED', 'CANCELLED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED_PENDING'),
});
const productStepArb: fc.Arbitrary<ProductStep> = fc.oneof(
  fc.record({ kind: fc.constant('reserve' as const), order: fc.nat(3), quantity: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constantFrom('release' as const, 'sell' as const), order: fc.nat(3) }),
  fc.record({ kind: fc.constant('delta' as const), delta: fc.integer({ min: -5, max: 8 }) }),
  fc.record({ kind: fc.constant('set' as const), quantity: fc.integer({ min: 0, max: 20 }) }),
);
const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  orders: fc.array(orderSpecArb, { minLength: 1, maxLength: 4 }),
  products: fc
    .uniqueArray(fc.constantFrom(...PRODUCTS), { minLength: 1, maxLength: 2 })
    .chain((ids) =>
      fc.tuple(...ids.map((productId) => fc.record({ productId: fc.constant(productId), initial: fc.integer({ min: 0, max: 15 }), steps: fc.array(productStepArb, { maxLength: 8 }) }))),
    ),
});

interface Commit {
  streamId: string;
  events: DomainEvent[];
  stateAfter: unknown;
}

/** Runs commands through decide/evolve; refused ones (domain errors) are skipped, as a client would see them refused. */
function commitsOf<S, C, K extends StreamKind>(streamId: string, decider: StreamDecider<S, C, K>, commands: C[]): Commit[] {
  const out: Commit[] = [];
  let state = decider.initialState();
  for (const command of commands) {
    let events: EventOfKind<K>[];
    try {
      events = decider.decide(command, state);
    } catch (err) {
      if ((err as Error).name === 'PreconditionError' || (err as Error).name === 'ReservationRefused') continue;
      throw err;
    }
    if (!events.length) continue;
    state = events.reduce(decider.evolve, state);
    out.push({ streamId, events, stateAfter: state });
  }
  return out;
}

function orderCommands(orderId: string, spec: OrderSpec): OrderCommand[] {
  const priced = spec.lines.map((l) => ({ ...l, productName: PRICES[l.productId][0], unitPriceCents: PRICES[l.productId][1] }));
  const total = priced.reduce((s, l) => s + l.quantity * l.unitPriceCents, 0);
  const create: OrderCommand = { type: 'CreateOrder', orderId, userId: spec.userId, userEmail: `user${spec.userId}@example.com`, lines: spec.lines };
  const validate: OrderCommand = { type: 'ValidateOrder', lines: priced };
  const pay: OrderCommand = { type: 'ProcessPayment', paymentId: `pay-${orderId}`, amountCents: total, method: PaymentMethod.BANK_TRANSFER };
  const paths: Record<OrderPath, OrderCommand[]> = {
    PENDING: [],
    VALIDATED: [validate],
    REJECTED: [{ type: 'RejectOrder', reason: `not enough stock for product ${spec.lines[0].productId}` }],
    CANCELLED_PENDING: [{ type: 'CancelOrder', reason: 'too slow' }],
    CANCELLED: [validate, { type: 'CancelOrder', reason: 'changed my mind' }],
    PAID: [validate, pay],
    SHIPPED: [validate, pay, { type: 'ShipOrder', trackingNumber: `TRK-${orderId}` }],
    COMPLETED: [validate, pay, { type: 'ShipOrder', trackingNumber: `TRK-${orderId}` }, { type: 'CompleteOrder' }],
  };
  return [create, ...paths[spec.path]];
}

function productCommands(spec: ProductSpec): ProductCommand[] {
  const [productName, unitPriceCents] = PRICES[spec.productId];
  const productId = spec.productId;
  return [
    { type: 'UpdateInventory', productId, productName, unitPriceCents, quantity: spec.initial, lowStockThreshold: 3 },
    ...spec.steps.map((s): ProductCommand => {
      switch (s.kind) {
        case 'reserve':
          return { type: 'Reserve', productId, orderId: uuid(s.order + 1), quantity: s.quantity };
        case 'release':
          return { type: 'Release', orderId: uuid(s.order + 1) };
        case 'sell':
          return { type: 'Sell', orderId: uuid(s.order + 1) };
        case 'delta':
          return { type: 'UpdateInventory', productId, quantityDelta: s.delta };
        case 'set':
          return { type: 'UpdateInventory', productId, quantity: s.quantity };
      }
    }),
  ];
}

/** Every stream's commits, in the order they are written (streams interleaved round-robin). */
function planCommits(sc: Scenario): Commit[][] {
  return [
    ...sc.orders.map((spec, i) => commitsOf(orderStream(uuid(i + 1)), orderDecider, orderCommands(uuid(i + 1), spec))),
    ...sc.products.map((spec) => commitsOf(productStream(spec.productId), productDecider, productCommands(spec))),
  ];
}
const eventCount = (sc: Scenario) => planCommits(sc).flat().reduce((n, c) => n + c.events.length, 0);

// ---------- deliveries: duplicates, reorderings, concurrency ----------

interface Delivery {
  /** Extra copies: indexes (into the written events) delivered again. */
  duplicates: number[];
  /** How far from write order each delivery may drift: 0 = in order, large = any order. */
  spread: number;
  jitter: number[];
  /** Sizes of the groups handed to the projector at once (concurrently). */
  groups: number[];
}

const deliveryArb = (n: number): fc.Arbitrary<Delivery> =>
  fc.record({
    duplicates: fc.array(fc.nat(n - 1), { maxLength: n }),
    spread: fc.constantFrom(0, 2, 5, 1_000_000),
    jitter: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2 * n, maxLength: 2 * n }),
    groups: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2 * n, maxLength: 2 * n }),
  });

/** The order in which written events (by index) reach the projector. */
function deliveryOrder(n: number, d: Delivery): number[] {
  const items = [...Array.from({ length: n }, (_, i) => i), ...d.duplicates];
  return items
    .map((index, j) => ({ index, key: index + d.jitter[j] * d.spread, j }))
    .sort((a, b) => a.key - b.key || a.j - b.j)
    .map((x) => x.index);
}

// ---------- the expected read models: pure folds in version order ----------

function expectedModels(streams: Map<string, Envelope[]>) {
  const orders: OrderDoc[] = [];
  const inventory: InventoryDoc[] = [];
  for (const [streamId, events] of streams) {
    const sorted = [...events].sort((a, b) => a.version - b.version);
    expect(sorted.map((e) => e.version)).toEqual(sorted.map((_, i) => i + 1));
    const steps = sorted.map((e) => ({ version: e.version, occurredAt: e.occurredAt!, payload: e.payload }));
    const ref = parseStream(streamId);
    if (ref?.kind === 'order') orders.push(steps.reduce(projectOrder, emptyOrder(ref.id, new Date(0))));
    else if (ref?.kind === 'product') inventory.push(steps.reduce((doc, e) => projectInventory(doc, e), emptyInventory(ref.id) as InventoryDoc));
    else throw new Error(`no projection for stream ${streamId}`);
  }
  // Each folded with its product counters, as the projector folds them.
  const summaries = new Map<number, Tallied<UserSummaryDoc>>();
  for (const o of orders) {
    const t = summaries.get(o.user_id) ?? { doc: emptySummary(o.user_id), counters: new Map() };
    summaries.set(o.user_id, withOrder(t.doc, o, t.counters));
  }
  const stats = orders.reduce((t, o) => withOrderStats(t.doc, o, new Date(), t.counters), { doc: emptyStats(), counters: new Map() as ProductCounters }).doc;
  const listed = orders.map((o) => [o.user_id, o.order_id, o.status] as const);
  const byId = <T extends { _id: unknown }>(xs: T[]) => [...xs].sort((a, b) => String(a._id).localeCompare(String(b._id)));
  return { orders: byId(orders), inventory: byId(inventory), summaries: byId([...summaries.values()].map((t) => content(t.doc))), stats: content(stats), listed: sortRows(listed) };
}

/** A derived document without the contributions it still remembers in flight (bookkeeping, pruned as orders are stored). */
const content = <D extends { inflight: unknown; rev?: number }>({ inflight: _, rev: __, ...rest }: D) => rest;
const sortRows = <T extends readonly unknown[]>(rows: T[]) => [...rows].sort((a, b) => String(a).localeCompare(String(b)));

async function readModels(read: ReadStore) {
  const byId = <T extends { _id: unknown }>(xs: T[]) => [...xs].sort((a, b) => String(a._id).localeCompare(String(b._id)));
  const orders = byId(await read.orders.find({}).toArray());
  // Every order is stored with the contribution the derived documents took in of its latest version.
  for (const o of orders) expect(contributionVersion(o.contrib)).toBe(o.version);
  const buckets = await read.userOrders.find({}).toArray();
  return {
    orders: orders.map(({ contrib: _, ...o }) => o),
    inventory: byId(await read.inventory.find({}).toArray()),
    summaries: byId(await read.userSummaries.find({}).toArray()).map(content),
    stats: content((await read.stats.findOne({ _id: STATS_ID })) ?? emptyStats()),
    listed: sortRows(buckets.flatMap((b) => [...bucketOrders(b)].map(([id, e]) => [b.user_id, id, e.status] as const))),
  };
}

/** Writes the scenario's commits for real; returns each stream's stored envelopes and all of them in write order. */
async function writeCommits(es: EventStore, plan: Commit[][]) {
  const streams = new Map<string, Envelope[]>();
  const written: Envelope[] = [];
  const cursors = plan.map(() => 0);
  const versions = new Map<string, number>();
  let tick = 0;
  // Round-robin over streams, so write order interleaves them as live traffic would.
  for (let more = true; more; ) {
    more = false;
    for (let s = 0; s < plan.length; s++) {
      const commit = plan[s][cursors[s]++];
      if (!commit) continue;
      more = true;
      const expected = versions.get(commit.streamId) ?? 0;
      const now = new Date(Date.UTC(2024, 4, 1, 12, 0, tick++));
      const envelopes = (await es.append(commit.streamId, expected, commit.events, { correlationId: `c-${tick}`, causationId: `c-${tick}` }, commit.stateAfter, now)) as Envelope[];
      versions.set(commit.streamId, expected + commit.events.length);
      streams.set(commit.streamId, [...(streams.get(commit.streamId) ?? []), ...envelopes]);
      written.push(...envelopes);
    }
  }
  return { streams, written };
}

/** What the consumer hands the projector: the envelope decoded from the broker's bytes, a fresh object per delivery. */
const redeliver = (e: Envelope): Envelope => decodeEnvelope(encodeEnvelope(e));

describe('projector against the real store', () => {
  test('read models equal the fold of each stream in order, whatever the delivery (property)', async () => {
    const arb = scenarioArb.chain((scenario) => deliveryArb(eventCount(scenario)).map((delivery) => ({ scenario, delivery })));
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(arb, ({ scenario, delivery }) =>
        withDatabases(async (writeDb, readDb) => {
          runs++;
          const es = new EventStore(writeDb);
          const read = new ReadStore(readDb);
          await read.ensureIndexes();
          const projector = new Projector(read, es, silent);

          const { streams, written } = await writeCommits(es, planCommits(scenario));
          const order = deliveryOrder(written.length, delivery);
          expect(order.length).toBe(written.length + delivery.duplicates.length);

          // Deliver in groups, one after another: a group is either one
          // batch (as the consumer hands over a burst) or single deliveries
          // handled concurrently.
          for (let i = 0, g = 0; i < order.length; g++) {
            const group = order.slice(i, i + delivery.groups[g]).map((k) => redeliver(written[k]));
            i += group.length;
            const handled = g % 2 === 0 ? projector.handleBatch(group) : Promise.all(group.map((e) => projector.handle(e))).then(() => undefined);
            await within(handled, HANDLE_TIMEOUT_MS, `delivery group ${g}`);
          }

          const expected = expectedModels(streams);
          const actual = await readModels(read);
          expect(actual.orders).toEqual(expected.orders);
          expect(actual.inventory).toEqual(expected.inventory);
          expect(actual.summaries).toEqual(expected.summaries);
          expect(actual.stats).toEqual(expected.stats);
          expect(actual.listed).toEqual(expected.listed);
        }),
      ),
      { numRuns: 25, interruptAfterTimeLimit: 50_000, markInterruptAsFailure: true },
    );
    expect(runs).toBeGreaterThanOrEqual(25);
    // Every run dropped what it created.
    const { databases } = await storeClient().db('admin').admin().listDatabases();
    expect(databases.map((d) => d.name).filter((n) => n.startsWith('pp_'))).toEqual([]);
  }, 90_000);

  test('an event ahead of a gap the write store cannot fill is refused, and nothing is applied', async () => {
    await withDatabases(async (writeDb, readDb) => {
      const es = new EventStore(writeDb);
      const read = new ReadStore(readDb);
      const projector = new Projector(read, es, silent);
      const orderId = uuid(42);
      const [commit] = commitsOf(orderStream(orderId), orderDecider, orderCommands(orderId, { userId: 1, lines: [{ productId: 101, quantity: 1 }], path: 'PENDING' }));
      const [v1] = (await es.append(commit.streamId, 0, commit.events, { correlationId: 'c', causationId: 'c' }, commit.stateAfter)) as Envelope[];
      // v3 was never stored (e.g. a forged or corrupted message).
      const v3: Envelope = { ...v1, eventId: 'forged', version: 3, payload: { $case: 'orderCompleted', value: { orderId } } };
      await expect(within(projector.handle(v3), HANDLE_TIMEOUT_MS, 'handle v3')).rejects.toThrow(`stream order-${orderId} is missing events 1..3 in the write store`);
      expect(await read.orders.countDocuments({})).toBe(0);
      expect(await read.userSummaries.countDocuments({})).toBe(0);

      // The stream itself still projects normally afterwards.
      await within(projector.handle(redeliver(v1)), HANDLE_TIMEOUT_MS, 'handle v1');
      expect(await read.orders.findOne({ _id: orderId })).toMatchObject({ version: 1, status: 'PENDING', user_id: 1 });
    });
  }, 30_000);

  test('a failed batch fails only once none of its writes is still in flight', async () => {
    await withDatabases(async (writeDb, readDb) => {
      const es = new EventStore(writeDb);
      const read = new ReadStore(readDb);
      // The user summaries' write is slow; the inventory's, beside it in the same batch, fails at once.
      const summaries = readDb.collection<UserSummaryDoc>('user_summaries');
      const slow = summaries.bulkWrite.bind(summaries);
      summaries.bulkWrite = (async (...args: Parameters<typeof slow>) => {
        await sleep(300);
        return slow(...args);
      }) as typeof summaries.bulkWrite;
      const inventory = readDb.collection<InventoryDoc>('inventory');
      inventory.bulkWrite = (async () => {
        throw new Error('inventory write refused');
      }) as typeof inventory.bulkWrite;
      Object.defineProperty(read, 'userSummaries', { get: () => summaries });
      Object.defineProperty(read, 'inventory', { get: () => inventory });
      const orderId = uuid(44);
      const [commit] = commitsOf(orderStream(orderId), orderDecider, orderCommands(orderId, { userId: 3, lines: [{ productId: 101, quantity: 1 }], path: 'PENDING' }));
      const [v1] = (await es.append(commit.streamId, 0, commit.events, { correlationId: 'c', causationId: 'c' }, commit.stateAfter)) as Envelope[];
      const product = productStream(999);
      const [p1] = (await es.append(product, 0, [event('inventoryUpdated', { productId: 999, productName: 'x', unitPriceCents: 1, totalQuantity: 1, lowStockThreshold: 0 })], { correlationId: 'c', causationId: 'c' }, {})) as Envelope[];

      const projector = new Projector(read, es, silent);
      await expect(within(projector.handleBatch([redeliver(v1), redeliver(p1)]), HANDLE_TIMEOUT_MS, 'the batch')).rejects.toThrow('inventory write refused');
      // Had the failure been reported early, this write would still be on its way.
      expect(await read.userSummaries.findOne({ _id: numericKey(3) })).toMatchObject({ user_id: 3, total_orders: 1 });
      // The order itself is written only after what is derived from it, so it is not there yet.
      expect(await read.orders.findOne({ _id: orderId })).toBeNull();
    });
  }, 30_000);

  test('a projector that forgot its cache never writes an order back to an older version', async () => {
    await withDatabases(async (writeDb, readDb) => {
      const es = new EventStore(writeDb);
      const read = new ReadStore(readDb);
      const orderId = uuid(43);
      const commits = commitsOf(orderStream(orderId), orderDecider, orderCommands(orderId, { userId: 2, lines: [{ productId: 101, quantity: 1 }], path: 'PAID' }));
      const { written } = await writeCommits(es, [commits]);
      const [first, ...rest] = written;
      const a = new Projector(read, es, silent);
      await within(a.handleBatch([redeliver(first)]), HANDLE_TIMEOUT_MS, 'a: v1');
      // Another instance (the new active consumer) applies the rest meanwhile.
      await within(new Projector(read, es, silent).handleBatch(rest.map(redeliver)), HANDLE_TIMEOUT_MS, 'b: the rest');
      const latest = written.length;
      expect(await read.orders.findOne({ _id: orderId })).toMatchObject({ version: latest, status: 'PAID' });
      // a gets the deliveries again on its new channel; it must read the store, not its memory.
      a.forgetCache();
      await within(a.handleBatch([redeliver(written[1])]), HANDLE_TIMEOUT_MS, 'a: a copy of v2');
      expect(await read.orders.findOne({ _id: orderId })).toMatchObject({ version: latest, status: 'PAID' });
      expect(contributionVersion((await read.orders.findOne({ _id: orderId }))?.contrib)).toBe(latest);
      expect((await read.userSummaries.findOne({}))?.by_status).toEqual({ PAID: 1 });
    });
  }, 30_000);
});

describe('documents that do not grow with the orders', () => {
  test('a product with many open reservations shows the 100 longest-held, counts all, and keeps every bucket bounded', async () => {
    await withDatabases(async (writeDb, readDb) => {
      const es = new EventStore(writeDb);
      const read = new ReadStore(readDb);
      const projector = new Projector(read, es, silent);
      const product = productStream(7);
      const meta = { correlationId: 'c', causationId: 'c' };
      let state = initialProduct();
      let version = 0;
      const run = async (commands: ProductCommand[]) => {
        const events: DomainEvent[] = [];
        for (const c of commands) {
          const decided = decideProduct(c, state);
          state = decided.reduce(evolveProduct, state);
          events.push(...decided);
        }
        const written = (await es.append(product, version, events, meta, state)) as Envelope[];
        version += events.length;
        // Delivered in batches of 50, as the consumer would hand them over.
        for (let i = 0; i < written.length; i += 50) await within(projector.handleBatch(written.slice(i, i + 50).map(redeliver)), HANDLE_TIMEOUT_MS, 'a batch');
      };
      await run([{ type: 'UpdateInventory', productId: 7, productName: 'Flash', unitPriceCents: 100, quantity: 1_000, lowStockThreshold: 0 }]);
      const orders = Array.from({ length: 250 }, (_, i) => uuid(1_000 + i));
      await run(orders.map((orderId) => ({ type: 'Reserve', productId: 7, orderId, quantity: 2 })));
      let doc = await read.inventory.findOne({ _id: numericKey(7) });
      expect(doc).toMatchObject({ pending_count: 250, reserved_quantity: 500 });
      expect(pendingOrders(doc!)).toEqual(orders.slice(0, 100).sort());

      // The longest-held 150 are sold: the next 100 by slot are shown, from the buckets.
      await run(orders.slice(0, 150).map((orderId) => ({ type: 'Sell', orderId })));
      doc = await read.inventory.findOne({ _id: numericKey(7) });
      expect(doc).toMatchObject({ pending_count: 100, reserved_quantity: 200, total_quantity: 700 });
      expect(pendingOrders(doc!)).toEqual(orders.slice(150).sort());
      // A release among those shown, and a new reservation, keep it exact.
      await run([{ type: 'Release', orderId: orders[160] }, { type: 'Reserve', productId: 7, orderId: uuid(9_999), quantity: 1 }]);
      doc = await read.inventory.findOne({ _id: numericKey(7) });
      const open = [...orders.slice(150).filter((o) => o !== orders[160]), uuid(9_999)];
      expect(doc).toMatchObject({ pending_count: 100 });
      expect(pendingOrders(doc!)).toEqual(open.sort());
      expect(pendingOrders(doc!)).toEqual(Object.keys(state.reservations).sort());

      const buckets = await read.inventoryPending.find({}).toArray();
      expect(Math.max(...buckets.map((b) => bucketEntries(b).length))).toBeLessThanOrEqual(100);
      expect(buckets.flatMap((b) => bucketEntries(b).map((x) => x.id)).sort()).toEqual(open.sort());
      expect(buckets.every((b) => b.orders === undefined && typeof b.pending === 'string')).toBe(true);
    });
  }, 60_000);

  test("a user's orders are listed in buckets of at most USER_BUCKET_SIZE, each knowing how recent the orders before it are, and the summary holds counters only", async () => {
    await withDatabases(async (writeDb, readDb) => {
      const es = new EventStore(writeDb);
      const read = new ReadStore(readDb);
      const projector = new Projector(read, es, silent);
      const ids = Array.from({ length: 230 }, (_, i) => uuid(5_000 + i));
      const written: Envelope[] = [];
      for (const id of ids) {
        const [commit] = commitsOf(orderStream(id), orderDecider, orderCommands(id, { userId: 9, lines: [{ productId: 101, quantity: 1 }], path: 'PENDING' }));
        written.push(...((await es.append(commit.streamId, 0, commit.events, { correlationId: 'c', causationId: 'c' }, commit.stateAfter)) as Envelope[]));
      }
      for (let i = 0; i < written.length; i += 64) await within(projector.handleBatch(written.slice(i, i + 64).map(redeliver)), HANDLE_TIMEOUT_MS, 'a batch');
      const summary = await read.userSummaries.findOne({ _id: numericKey(9) });
      const full = Math.floor(230 / USER_BUCKET_SIZE), rest = 230 % USER_BUCKET_SIZE;
      expect(summary).toMatchObject({ total_orders: 230, by_status: { PENDING: 230 }, order_buckets: full + (rest ? 1 : 0), last_bucket_size: rest || USER_BUCKET_SIZE });
      // What is still remembered in flight is at most the last batch's.
      expect(Object.keys(summary!.inflight).length).toBeLessThanOrEqual(64);
      const buckets = (await read.userOrders.find({}).toArray()).sort((a, b) => (a._id < b._id ? -1 : 1));
      expect(buckets.map((b) => bucketOrders(b).size)).toEqual([...Array<number>(full).fill(USER_BUCKET_SIZE), ...(rest ? [rest] : [])]);
      expect(buckets.flatMap((b) => [...bucketOrders(b).keys()]).sort()).toEqual([...ids].sort());
      expect(buckets.every((b) => b.orders === undefined && typeof b.listed === 'string')).toBe(true);
      // No order in an earlier bucket is newer than what the later bucket says.
      const createdAt = (b: (typeof buckets)[number]) => [...bucketOrders(b).values()].map((e) => e.created_at.getTime());
      expect(buckets[0].newest_before_ms).toBe(0);
      for (let b = 1; b < buckets.length; b++) {
        expect(buckets[b].newest_before_ms).toBe(Math.max(...buckets.slice(0, b).flatMap(createdAt)));
      }
      expect(summary!.newest_listed_ms).toBe(Math.max(...buckets.flatMap(createdAt)));
    });
  }, 60_000);
});
