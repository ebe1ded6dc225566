// The favourites and top products against the real store (embedded FerretDB),
// over a catalogue larger than the lists: exact however the units move in
// and out of the lists, and counted once across a crash between writing the
// product counters and the summaries they feed.
import pino from 'pino';
import { orderStream } from '../../domain/events';
import { orderDecider, type OrderCommand, type OrderState } from '../../domain/order';
import { ConcurrencyError } from '../../domain/errors';
import type { Envelope } from '../../lib/consumer';
import { decodeEnvelope, encodeEnvelope } from '../../lib/envelope';
import { EventStore } from '../../lib/event-store';
import { ReadStore } from '../../lib/read-store';
import { storeSuite } from '../support/store-suite';
import { within } from '../../kit/wait';
import { byRank, numericKey, productCountKey, STATS_ID, TOP_PRODUCTS, userProductKey, type ProductCount, type StatsDoc, type UserSummaryDoc } from '../../read-models';
import { Projector } from '../../projector-svc/projector';

const HANDLE_TIMEOUT_MS = 10_000;
const silent = pino({ level: 'silent' });

const { withDatabases } = storeSuite('pc');

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const nameOf = (productId: number) => `Product ${productId}`;
type Lines = Array<[productId: number, quantity: number]>;

/** An order created and validated, as its two commits; the envelopes as stored. */
async function placeOrder(es: EventStore, n: number, userId: number, lines: Lines): Promise<Envelope[]> {
  const orderId = uuid(n);
  const commands: OrderCommand[] = [
    { type: 'CreateOrder', orderId, userId, userEmail: `u${userId}@example.com`, lines: lines.map(([productId, quantity]) => ({ productId, quantity })) },
    { type: 'ValidateOrder', lines: lines.map(([productId, quantity]) => ({ productId, quantity, productName: nameOf(productId), unitPriceCents: 100 })) },
  ];
  let state: OrderState = orderDecider.initialState();
  const out: Envelope[] = [];
  for (const c of commands) {
    const events = orderDecider.decide(c, state);
    const version = out.length;
    state = events.reduce(orderDecider.evolve, state);
    out.push(...((await es.append(orderStream(orderId), version, events, { correlationId: 'c', causationId: 'c' }, state)) as Envelope[]));
  }
  return out;
}

const redeliver = (e: Envelope): Envelope => decodeEnvelope(encodeEnvelope(e));

/** The top N by units then id, named: what the summary and the statistics must show. */
function expectedTop(orders: Lines[]): ProductCount[] {
  const units = new Map<number, number>();
  for (const lines of orders) for (const [p, q] of lines) units.set(p, (units.get(p) ?? 0) + q);
  return [...units].map(([product_id, count]) => ({ product_id, product_name: nameOf(product_id), count })).sort(byRank).slice(0, TOP_PRODUCTS);
}

describe('product counters behind the favourites and top products', () => {
  test('over more products than the lists hold, the lists stay the exact top five as products drop out and come back', async () => {
    await withDatabases(async (writeDb, readDb) => {
      const es = new EventStore(writeDb);
      const read = new ReadStore(readDb);
      const projector = new Projector(read, es, silent);
      // Eight products for one user; 1 and 2 lead, drop out, then come back.
      const orders: Lines[] = [
        [[1, 3], [2, 3]],
        [[3, 2], [4, 2], [5, 2]],
        [[6, 4], [7, 4]],
        [[8, 5], [3, 2]],
        [[4, 3]],
        [[1, 4]],
        [[2, 1], [6, 1]],
        [[2, 3]],
      ];
      const shown: number[][] = [];
      for (let i = 0; i < orders.length; i++) {
        const written = await placeOrder(es, i + 1, 7, orders[i]);
        // Some orders one event at a time, others both events in one batch.
        if (i % 2) for (const e of written) await within(projector.handle(redeliver(e)), HANDLE_TIMEOUT_MS, `order ${i}`);
        else await within(projector.handleBatch(written.map(redeliver)), HANDLE_TIMEOUT_MS, `order ${i}`);
        const summary = (await read.userSummaries.findOne({ _id: numericKey(7) })) as UserSummaryDoc;
        expect(summary.favorite_products).toEqual(expectedTop(orders.slice(0, i + 1)));
        shown.push(summary.favorite_products.map((p) => p.product_id));
      }
      // 1 was pushed out and listed again.
      expect(shown.some((ids) => !ids.includes(1))).toBe(true);
      expect(shown[shown.length - 1]).toContain(1);
      const stats = (await read.stats.findOne({ _id: STATS_ID })) as StatsDoc;
      expect(stats.top_products).toEqual(expectedTop(orders));
      // Every product's exact units in its counters, and nothing per product in the summary or statistics.
      const counters = await read.userProductCounts.find({}).toArray();
      expect(Object.fromEntries(counters.map((k) => [k._id, k.count]))).toEqual(
        Object.fromEntries(allUnits(orders).map((p) => [userProductKey(7, p.product_id), p.count])),
      );
      expect((await read.productCounts.findOne({ _id: productCountKey(2) }))?.count).toBe(7);
      // What a counter keeps pending is at most its last batch's orders (one order each here), not every order it counted.
      for (const k of [...counters, ...(await read.productCounts.find({}).toArray())]) expect(Object.keys(k.pending).length).toBeLessThanOrEqual(1);
      expect(Object.keys(present(await read.userSummaries.findOne({ _id: numericKey(7) })))).not.toContain('products');
      expect(Object.keys(stats)).not.toContain('products');
    });
  }, 60_000);

  test('a crash after the counters were written and before the summary: the redelivery counts each order once', async () => {
    await withDatabases(async (writeDb, readDb) => {
      const es = new EventStore(writeDb);
      const read = new ReadStore(readDb);
      const first: Lines = [[1, 2], [2, 1]];
      const second: Lines = [[1, 1], [3, 4]];
      const a = await placeOrder(es, 1, 9, first);
      const b = await placeOrder(es, 2, 9, second);
      // The summaries' and the statistics' writes fail once: the counters before them are stored.
      const summaries = readDb.collection<UserSummaryDoc>('user_summaries');
      const stats = readDb.collection<StatsDoc>('order_stats');
      for (const coll of [summaries, stats] as Array<{ bulkWrite: unknown }>) {
        coll.bulkWrite = async () => {
          throw new Error('the process died here');
        };
      }
      const crashing = Object.create(read) as ReadStore;
      Object.defineProperty(crashing, 'userSummaries', { get: () => summaries });
      Object.defineProperty(crashing, 'stats', { get: () => stats });
      await expect(within(new Projector(crashing, es, silent).handleBatch([...a, ...b].map(redeliver)), HANDLE_TIMEOUT_MS, 'the crashing batch')).rejects.toThrow('the process died here');
      expect((await read.userProductCounts.findOne({ _id: userProductKey(9, 1) }))?.count).toBe(3);
      expect(await read.userSummaries.findOne({ _id: numericKey(9) })).toBeNull();

      // A new process: its summary lists nothing, so it takes the counters for new, finds them stored, and looks again.
      const restarted = new Projector(read, es, silent);
      await expect(within(restarted.handleBatch([...a, ...b].map(redeliver)), HANDLE_TIMEOUT_MS, 'the redelivery')).rejects.toThrow(ConcurrencyError);
      await within(restarted.handleBatch([...a, ...b].map(redeliver)), HANDLE_TIMEOUT_MS, 'the redelivery, again');
      const summary = (await read.userSummaries.findOne({ _id: numericKey(9) })) as UserSummaryDoc;
      expect(summary.favorite_products).toEqual(expectedTop([first, second]));
      expect(summary.total_orders).toBe(2);
      expect(((await read.stats.findOne({ _id: STATS_ID })) as StatsDoc).top_products).toEqual(expectedTop([first, second]));
      expect((await read.userProductCounts.findOne({ _id: userProductKey(9, 1) }))?.count).toBe(3);
      expect((await read.productCounts.findOne({ _id: productCountKey(3) }))?.count).toBe(4);
    });
  }, 60_000);

  test('counters that fail to be written leave the summaries and statistics they feed unwritten', async () => {
    await withDatabases(async (writeDb, readDb) => {
      const es = new EventStore(writeDb);
      const read = new ReadStore(readDb);
      const a = await placeOrder(es, 1, 4, [[1, 2]]);
      const counters = readDb.collection('user_product_counts');
      counters.bulkWrite = async () => {
        throw new Error('the counters are not written');
      };
      const failing = Object.create(read) as ReadStore;
      Object.defineProperty(failing, 'userProductCounts', { get: () => counters });
      await expect(within(new Projector(failing, es, silent).handleBatch(a.map(redeliver)), HANDLE_TIMEOUT_MS, 'the batch')).rejects.toThrow('the counters are not written');
      expect(await read.userSummaries.findOne({ _id: numericKey(4) })).toBeNull();
      expect(await read.stats.findOne({ _id: STATS_ID })).toBeNull();
      expect(await read.orders.findOne({ _id: uuid(1) })).toBeNull();
    });
  }, 30_000);
});

/** Every product's units, named, ranked. */
function allUnits(orders: Lines[]): ProductCount[] {
  const units = new Map<number, number>();
  for (const lines of orders) for (const [p, q] of lines) units.set(p, (units.get(p) ?? 0) + q);
  return [...units].map(([product_id, count]) => ({ product_id, product_name: nameOf(product_id), count })).sort(byRank);
}

function present<T>(d: T | null): T {
  if (!d) throw new Error('no document');
  return d;
}
