// Applies events to the read models exactly once and in stream order over
// at-least-once, possibly reordered delivery, a batch at a time. Each
// read-model document keeps the version of the last event applied: older or
// equal versions are duplicates and are skipped; a version ahead of a gap
// fetches the missing events from the write store first. A batch reads each
// document it touches once (from this process's cache when it can) and writes
// each changed document once, one bulkWrite per collection; the queue's
// single active consumer keeps other instances out. Documents derived from
// many orders are written before the orders, and the product counters
// before those (contribution.ts, product-counts.ts say why).
import type { Collection } from 'mongodb';
import { ConcurrencyError } from '../domain/errors';
import { orderStream, parseStream, productStream } from '../domain/events';
import type { StreamPosition } from '../lib/consistency-token';
import { readStream, type EventStore } from '../lib/event-store';
import { isDuplicateKey, writeErrorsOf } from '../lib/mongo';
import { PROJECTOR_QUEUE, UnprocessableEvent, type Envelope } from '../lib/consumer';
import { eventsDuplicates, eventsGapsFilled } from '../lib/metrics';
import type { Logger } from '../lib/logger';
import { KeyedLock } from '../lib/keyed-lock';
import { Lru } from '../lib/lru';
import { deliveryFieldsOf, inSpan } from '../lib/spans';
import type { ReadStore } from '../lib/read-store';
import {
  bucketEntries, bucketOf, emptyStats, numericKey, pendingKey, PENDING_SHOWN, productCountKey, STATS_ID, TOP_PRODUCTS, userOrdersKey, userProductKey,
  type Derived, type InventoryDoc, type OrderDoc, type PendingBucket, type ProductCount, type ProductCounterDoc, type UserOrdersBucket,
} from '../read-models';
import { contributionOf, contributionVersion, decodeContribution, encodeContribution, pruneInflight, takenIn } from './contribution';
import { withoutHeld, type ProductCounters } from './product-counts';
import { listsAll } from './top-products';
import { emptyInventory, needsRefill, pendingSlot, projectInventory, refilled, withPendingChange } from './inventory-projection';
import { emptyOrder, projectOrder, type StreamEvent } from './order-projection';
import { withOrderStats } from './statistics-projection';
import { emptySummary, newBucket, newestListed, withOrder, withOrderEntry } from './user-summary-projection';

interface ReadDoc {
  _id: string;
}
interface Versioned extends ReadDoc {
  version: number;
}
interface Projected<D> {
  before: D;
  after: D;
  applied: Envelope[];
  filled: number;
  /** Every event folded in, gap fill included, in version order. */
  folded: StreamEvent[];
  /** The store held no document for the stream when the batch read it. */
  unstored?: boolean;
}

const CACHED_DOCS = 20_000;
const CONSUMER = { consumer: PROJECTOR_QUEUE };

export class Projector {
  private readonly serial = new KeyedLock();
  private readonly docs = new Lru<string, ReadDoc>(CACHED_DOCS);
  /** Counters a write found stored though their summary did not list them (product-counts.ts): looked for until written. */
  private readonly strayCounters = new Set<string>();
  /**
   * The collections of the batch in hand. A rebuild switches the live names
   * while the projector runs; a batch that read one set of collections and
   * wrote another would pair orders with summaries they never fed.
   */
  private read: ReadStore;

  constructor(
    private readonly live: ReadStore,
    private readonly write: EventStore,
    private readonly log: Logger,
    /** Told, once a batch is stored, where each stream it touched stands in the read models. */
    private readonly onApplied?: (positions: StreamPosition[]) => void,
  ) {
    this.read = live.pinned();
  }

  /** Another instance may have written since this one last did: read from the store again. */
  forgetCache(): void {
    this.docs.clear();
  }

  handle(e: Envelope): Promise<void> {
    return this.handleBatch([e]);
  }

  /** Batches are applied one at a time, in the order they are handed over. */
  handleBatch(events: Envelope[]): Promise<void> {
    return this.serial.run('batch', () => this.apply(events));
  }

  private async apply(events: Envelope[]): Promise<void> {
    this.read = this.live.pinned();
    const streams = groupBy(events, (e) => e.streamId);
    const orderIds = new Map<string, string>();
    const productIds = new Map<string, number>();
    for (const id of streams.keys()) {
      const ref = parseStream(id);
      if (!ref) throw new UnprocessableEvent(`no projection for stream ${id}`);
      if (ref.kind === 'order') orderIds.set(id, ref.id);
      else productIds.set(id, ref.id);
    }
    const of = (ids: Map<string, unknown>) => [...streams].filter(([id]) => ids.has(id));
    const [orders, products] = await settled([
      this.fold(this.read.orders, of(orderIds), (id, e) => emptyOrder(orderIds.get(id)!, e.occurredAt ?? new Date()), projectOrder),
      // An empty product is never stored: only folded documents are saved.
      this.fold(this.read.inventory, of(productIds), (id) => emptyInventory(productIds.get(id)!), projectInventory),
    ]);
    // Behind: the derived documents have not (all) taken in the order's latest version.
    const behind = orders.map((r) => r.after).filter((o) => o.version > 0 && contributionVersion(o.contrib) < o.version);
    const [taken] = await settled([this.syncDerived(behind), this.savePending(products)]);
    const toSave = orders
      .filter((r) => r.after !== r.before || taken.has(r.after._id))
      .map((r) => (taken.has(r.after._id) ? { ...r.after, contrib: taken.get(r.after._id) } : r.after));
    await this.save(this.read.orders, toSave, unstoredIds(orders));
    this.logApplied(events.length, [...orders, ...products]);
    // Every read model of these streams is stored by now (orders last, with their contributions).
    this.onApplied?.([
      ...orders.map((r) => ({ streamId: orderStream(r.after.order_id), version: r.after.version })),
      ...products.map((r) => ({ streamId: productStream(r.after.product_id), version: r.after.version })),
    ].filter((p) => p.version > 0));
  }

  private async fold<D extends Versioned>(
    coll: Collection<D>,
    streams: Array<[string, Envelope[]]>,
    empty: (streamId: string, first: Envelope) => D,
    fold: (doc: D, e: StreamEvent) => D,
  ): Promise<Array<Projected<D>>> {
    return settled(
      streams.map(async ([streamId, es]) => {
        const blank = empty(streamId, es[0]);
        const stored = await this.load(coll, blank._id);
        return { ...(await this.catchUp(streamId, es, stored ?? blank, fold)), unstored: !stored };
      }),
    );
  }

  private async catchUp<D extends Versioned>(streamId: string, es: Envelope[], doc: D, fold: (doc: D, e: StreamEvent) => D): Promise<Projected<D>> {
    const fresh = uniqueVersions(es.filter((e) => e.version > doc.version));
    if (fresh.length === 0) return { before: doc, after: doc, applied: [], filled: 0, folded: [] };
    const last = fresh[fresh.length - 1].version;
    const contiguous = fresh.every((e, i) => e.version === doc.version + 1 + i);
    const events = contiguous ? fresh : await readStream(this.write, streamId, doc.version + 1, last);
    if (events.length !== last - doc.version) {
      throw new Error(`stream ${streamId} is missing events ${doc.version + 1}..${last} in the write store`);
    }
    const folded = events.map((ev) => ({ version: ev.version, occurredAt: ev.occurredAt ?? new Date(), payload: ev.payload }));
    return { before: doc, after: folded.reduce(fold, doc), applied: fresh, filled: events.length - fresh.length, folded };
  }

  /**
   * Moves each order's contribution into its user's summary and the
   * statistics, then lists it in the user's order bucket. Returns what each
   * order contributes now, to be stored with the order after these writes.
   * A user's buckets are read as soon as the summary says which they are,
   * beside the other users' reads, so the batch waits for one round of
   * reads here and then for the writes.
   */
  private async syncDerived(orders: OrderDoc[]): Promise<Map<string, string>> {
    const taken = new Map<string, string>();
    if (orders.length === 0) return taken;
    const now = new Date();
    const batch = new Set(orders.map((o) => o.order_id));
    const [users, stats] = await settled([
      settled(
        [...groupBy(orders, (o) => o.user_id)].map(async ([userId, os]) => {
          const before = (await this.load(this.read.userSummaries, numericKey(userId))) ?? emptySummary(userId);
          const read = await this.counters(this.read.userProductCounts, (p) => userProductKey(userId, p), before, before.favorite_products, os);
          let s = before;
          let counters = read;
          const opened = new Map<number, number | undefined>();
          for (const o of os) {
            const prev = s;
            ({ doc: s, counters } = withOrder(s, o, counters));
            // The summary before this order knows how recent every order listed before the new bucket is.
            if (s.order_buckets > prev.order_buckets) opened.set(s.order_buckets - 1, newestListed(prev));
            taken.set(o.order_id, encodeContribution(contributionOf(o, takenIn(s, o)!.bucket)));
          }
          const [summary, buckets, changedCounters] = await settled([
            s === before ? Promise.resolve(undefined) : this.pruned(s, batch),
            this.listed(userId, os, taken, opened),
            this.changedCounters(read, counters, before, batch),
          ]);
          return { summary, buckets, counters: changedCounters };
        }),
      ),
      (async () => {
        // A store from before the top-N lists has none: start one (`npm run rebuild` makes it exact).
        const stored = await this.load(this.read.stats, STATS_ID);
        const before = stored ? { ...emptyStats(), ...stored } : emptyStats();
        const read = await this.counters(this.read.productCounts, productCountKey, before, before.top_products, orders);
        const after = orders.reduce((t, o) => withOrderStats(t.doc, o, now, t.counters), { doc: before, counters: read });
        const [doc, counters] = await settled([after.doc === before ? Promise.resolve(undefined) : this.pruned(after.doc, batch), this.changedCounters(read, after.counters, before, batch)]);
        return { doc, counters };
      })(),
    ]);
    // Counters first: what a summary or the statistics hold of an order, their counters hold too.
    await settled([this.saveCounters(this.read.userProductCounts, users.flatMap((u) => u.counters)), this.saveCounters(this.read.productCounts, stats.counters)]);
    await settled([this.saveGuarded(this.read.userSummaries, users.map((u) => u.summary).filter(isDefined)), this.saveGuarded(this.read.stats, stats.doc ? [stats.doc] : [])]);
    // Only once the summaries name them (contribution.ts says why).
    await this.saveGuarded(this.read.userOrders, users.flatMap((u) => u.buckets));
    return taken;
  }

  /**
   * The counters of the products the orders name, read once each. A product
   * the fed document does not list while it lists fewer than TOP_PRODUCTS
   * has no counter yet (a counter is written only before a document that
   * then lists it), so it is not looked for, unless a write found one there
   * anyway: a crash between the two writes.
   */
  private async counters(coll: Collection<ProductCounterDoc>, keyOf: (productId: number) => string, fed: Derived, top: ProductCount[], orders: OrderDoc[]): Promise<ProductCounters> {
    const ids = new Set<number>();
    for (const o of orders) for (const l of [...o.items, ...(takenIn(fed, o)?.lines ?? [])]) ids.add(l.product_id);
    const listed = new Set(top.map((e) => e.product_id));
    const unlistedHaveNone = listsAll(top, TOP_PRODUCTS);
    const found = await settled(
      [...ids].map((p) => (unlistedHaveNone && !listed.has(p) && !this.strayCounters.has(keyOf(p)) ? Promise.resolve(undefined) : this.load(coll, keyOf(p)))),
    );
    return new Map(found.filter(isDefined).map((k) => [k.product_id, k]));
  }

  /**
   * The counters the batch changed, each without what it keeps pending of
   * orders the fed document (as read) is known to hold at that version: in
   * its inflight, or stored with the order.
   */
  private async changedCounters(read: ProductCounters, after: ProductCounters, fed: Derived, batch: Set<string>): Promise<ProductCounterDoc[]> {
    const changed = [...after.values()].filter((k) => read.get(k.product_id) !== k);
    // Each order once, however many of these counters keep it; read only where the inflight does not answer.
    const newest = new Map<string, number>();
    for (const k of changed) for (const [id, c] of Object.entries(k.pending)) if (!batch.has(id)) newest.set(id, Math.max(newest.get(id) ?? 0, contributionVersion(c)));
    const holds = new Map<string, number>();
    await settled(
      [...newest].map(async ([id, v]) => {
        const inflight = contributionVersion(fed.inflight[id]);
        const o = inflight >= v ? undefined : await this.load(this.read.orders, id);
        holds.set(id, Math.max(inflight, contributionVersion(o?.contrib)));
      }),
    );
    return changed.map((k) => withoutHeld(k, (id) => holds.get(id)));
  }

  /** As saveGuarded; a counter taken for new that the store already holds is looked for from then on. */
  private async saveCounters(coll: Collection<ProductCounterDoc>, docs: ProductCounterDoc[]): Promise<void> {
    try {
      await this.saveGuarded(coll, docs);
    } catch (err) {
      if (err instanceof ConcurrencyError) for (const d of docs) if (d.rev === undefined) this.strayCounters.add(d._id);
      throw err;
    }
    for (const d of docs) this.strayCounters.delete(d._id);
  }

  /**
   * One user's order buckets with each order entered in the one its
   * contribution names; unchanged ones left out. `opened`: the buckets this
   * batch opens, with how recent the orders before each are.
   */
  private async listed(userId: number, orders: OrderDoc[], taken: Map<string, string>, opened: Map<number, number | undefined>): Promise<UserOrdersBucket[]> {
    const byBucket = groupBy(orders, (o) => decodeContribution(taken.get(o.order_id)!).bucket);
    const buckets = await settled(
      [...byBucket].map(async ([b, os]) => {
        const before = (await this.load(this.read.userOrders, userOrdersKey(userId, b))) ?? newBucket(userId, b, opened.get(b));
        const after = os.reduce(withOrderEntry, before);
        return after === before ? undefined : after;
      }),
    );
    return buckets.filter(isDefined);
  }

  /**
   * Lists each product's reservations in their buckets, shows the
   * longest-held ones again where one shown has gone, then saves the
   * products: buckets first, so a crash between leaves nothing a redelivery
   * cannot redo.
   */
  private async savePending(products: Array<Projected<InventoryDoc>>): Promise<void> {
    const loaded = new Map<string, PendingBucket>();
    const buckets = new Map<string, PendingBucket>();
    const bucket = async (productId: number, b: number) => {
      const key = pendingKey(productId, b);
      if (!buckets.has(key)) {
        const found = (await this.load(this.read.inventoryPending, key)) ?? { _id: key, product_id: productId, pending: '' };
        loaded.set(key, found);
        buckets.set(key, found);
      }
      return buckets.get(key)!;
    };
    // Products have buckets of their own: their lookups go out side by side.
    await settled(
      products.map(async (r) => {
        for (const e of r.folded) {
          const slot = pendingSlot(e);
          if (slot === undefined) continue;
          const b = await bucket(r.after.product_id, bucketOf(slot));
          buckets.set(b._id, withPendingChange(b, e));
        }
        if (!needsRefill(r.after)) return;
        const found: PendingBucket[] = [];
        let count = 0;
        for (let b = r.after.pending_low; count < PENDING_SHOWN && b <= bucketOf(r.after.next_slot - 1); b++) {
          const got = await bucket(r.after.product_id, b);
          found.push(got);
          count += bucketEntries(got).length;
        }
        r.after = refilled(r.after, found);
      }),
    );
    await this.saveGuarded(this.read.inventoryPending, [...buckets.values()].filter((b) => loaded.get(b._id) !== b));
    await this.save(this.read.inventory, changed(products), unstoredIds(products));
  }

  /**
   * Forgets the contributions in flight that their orders are now stored
   * with; those of this batch's orders are not stored yet.
   */
  private async pruned<D extends Derived>(doc: D, batch: Set<string>): Promise<D> {
    const stored = new Map<string, number>();
    await Promise.all(
      Object.keys(doc.inflight)
        .filter((id) => !batch.has(id))
        .map(async (id) => {
          const o = await this.load(this.read.orders, id);
          if (o?.contrib) stored.set(id, contributionVersion(o.contrib));
        }),
    );
    return { ...doc, inflight: pruneInflight(doc.inflight, (id) => stored.get(id)) };
  }

  private async load<D extends ReadDoc>(coll: Collection<D>, id: string): Promise<D | undefined> {
    const cached = this.docs.get(cacheKey(coll, id)) as D | undefined;
    if (cached) return cached;
    const found = (await coll.findOne({ _id: id } as never)) as D | null;
    if (found) this.docs.set(cacheKey(coll, id), found);
    return found ?? undefined;
  }

  /**
   * One round trip per collection; cached only once stored, so a failed batch
   * is recomputed from what the store holds. A document the batch found
   * absent is inserted: one insert of many documents is one cheap write where
   * each replace reads the old document first. Should another writer have
   * stored it meanwhile, the insert fails and so does the batch.
   */
  private async save<D extends ReadDoc>(coll: Collection<D>, docs: D[], unstored: Set<string>): Promise<void> {
    if (docs.length === 0) return;
    await inSpan('read-store write', writeAttributes(coll, docs.length), () => coll.bulkWrite(
      docs.map((d) =>
        unstored.has(d._id) ? { insertOne: { document: d as never } } : { replaceOne: { filter: { _id: d._id } as never, replacement: d, upsert: true } },
      ),
      { ordered: false },
    ));
    for (const d of docs) this.docs.set(cacheKey(coll, d._id), d);
  }

  /**
   * For documents many streams change (a user's, a bucket, the statistics):
   * each write names the revision it read, so a second writer (a rebuild's
   * catch-up, an instance taking over) that got there first makes this one
   * fail rather than be overwritten; the batch is then recomputed from the store.
   */
  private async saveGuarded<D extends ReadDoc & { rev?: number }>(coll: Collection<D>, docs: D[]): Promise<void> {
    if (docs.length === 0) return;
    const ops = docs.map((d) =>
      d.rev === undefined
        ? { insertOne: { document: { ...d, rev: 1 } } }
        : { replaceOne: { filter: { _id: d._id, rev: d.rev } as never, replacement: { ...d, rev: d.rev + 1 } } },
    );
    const replaces = docs.filter((d) => d.rev !== undefined).length;
    let lost = false;
    try {
      lost = (await inSpan('read-store write', writeAttributes(coll, docs.length), () => coll.bulkWrite(ops as never, { ordered: false }))).matchedCount < replaces;
    } catch (err) {
      if (!writeErrorsOf(err)?.some(isDuplicateKey)) throw err;
      lost = true;
    }
    if (lost) {
      for (const d of docs) this.docs.delete(cacheKey(coll, d._id));
      throw new ConcurrencyError(`another writer changed ${coll.collectionName} meanwhile`);
    }
    for (const d of docs) this.docs.set(cacheKey(coll, d._id), { ...d, rev: (d.rev ?? 0) + 1 });
  }

  private logApplied(received: number, results: Array<Projected<unknown>>): void {
    let applied = 0;
    for (const r of results) {
      applied += r.applied.length;
      eventsGapsFilled.inc(CONSUMER, r.filled);
      for (const e of r.applied) {
        this.log.info({ ...deliveryFieldsOf(e), eventId: e.eventId, streamId: e.streamId, version: e.version, correlationId: e.correlationId, type: e.payload.$case, filled: r.filled }, 'event projected');
      }
    }
    eventsDuplicates.inc(CONSUMER, received - applied);
  }
}

/** What a read-store write's span says (lib/spans.ts). */
const writeAttributes = (coll: { collectionName: string }, docs: number) => ({
  'db.system.name': 'mongodb', 'db.collection.name': coll.collectionName, 'db.operation.name': 'bulkWrite', 'db.operation.batch.size': docs,
});

const unstoredIds = (rs: Array<Projected<ReadDoc>>) => new Set(rs.filter((r) => r.unstored).map((r) => r.after._id));

const changed = <D>(rs: Array<Projected<D>>) => rs.filter((r) => r.after !== r.before).map((r) => r.after);

/** Keyed by collection name too, so a rebuild's switch to fresh collections starts cold. */
const cacheKey = (coll: { collectionName: string }, id: string) => `${coll.collectionName}/${id}`;

/**
 * Promise.all, but waits for every branch before failing: a batch that
 * failed must have no read or write still in flight when it is retried, or
 * an older document could land (in the store or the cache) after a newer one.
 */
async function settled<T extends readonly unknown[]>(branches: [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const results = await Promise.allSettled(branches);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

function groupBy<T, K>(items: T[], key: (t: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const t of items) {
    const k = key(t);
    const g = groups.get(k);
    if (g) g.push(t);
    else groups.set(k, [t]);
  }
  return groups;
}

/** Sorted by version, one envelope per version (a batch may hold copies). */
function uniqueVersions(es: Envelope[]): Envelope[] {
  const byVersion = new Map(es.map((e) => [e.version, e] as const));
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

const isDefined = <T>(t: T | undefined): t is T => t !== undefined;
