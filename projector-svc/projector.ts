// Applies events to the read models exactly once and in stream order over
// at-least-once, possibly reordered delivery, a batch at a time. Each
// read-model document keeps the version of the last event applied: older or
// equal versions are duplicates and are skipped; a version ahead of a gap
// fetches the missing events from the write store first. A batch reads each
// document it touches once (from this process's cache when it can) and writes
// each changed document once, one bulkWrite per collection; the queue's
// single active consumer keeps other instances out.
import type { Collection } from 'mongodb';
import { readStream, type EventStore } from '../lib/event-store';
import { UnprocessableEvent, type Envelope } from '../lib/consumer';
import type { Logger } from '../lib/logger';
import { KeyedLock } from '../lib/keyed-lock';
import { Lru } from '../lib/lru';
import { numericKey, type ReadStore } from '../lib/read-store';
import { emptyInventory, projectInventory, type InventoryDoc } from './inventory-projection';
import { emptyOrder, projectOrder, type OrderDoc, type StreamEvent } from './order-projection';
import { emptyDigestShard, shardTotals, statShard, withOrderDigest } from './statistics-projection';
import { emptySummary, withOrder } from './user-summary-projection';

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
}

const CACHED_DOCS = 20_000;

export class Projector {
  private readonly serial = new KeyedLock();
  private readonly docs = new Lru<string, ReadDoc>(CACHED_DOCS);

  constructor(
    private readonly read: ReadStore,
    private readonly write: EventStore,
    private readonly log: Logger,
  ) {}

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
    const streams = groupBy(events, (e) => e.streamId);
    const unknown = [...streams.keys()].find((id) => !id.startsWith('order-') && !id.startsWith('product-'));
    if (unknown) throw new UnprocessableEvent(`no projection for stream ${unknown}`);
    const of = (prefix: string) => [...streams].filter(([id]) => id.startsWith(prefix));
    const [orders] = await settled([
      this.project(this.read.orders, of('order-'), (id, e) => emptyOrder(id.slice('order-'.length), e.occurredAt ?? new Date()), projectOrder),
      // An empty product is never stored: only folded documents are saved.
      this.project(this.read.inventory, of('product-'), (id) => emptyInventory(Number(id.slice('product-'.length))) as InventoryDoc, projectInventory),
    ]);
    // Always, even for duplicates: a crash may have come between the orders
    // and the documents derived from them, and syncing a digest twice changes nothing.
    const known = orders.filter((o) => o.version > 0);
    await settled([this.syncUserSummaries(known), this.syncStatistics(known)]);
  }

  private async project<D extends Versioned>(
    coll: Collection<D>,
    streams: Array<[string, Envelope[]]>,
    empty: (streamId: string, first: Envelope) => D,
    fold: (doc: D, e: StreamEvent) => D,
  ): Promise<D[]> {
    const results = await settled(
      streams.map(async ([streamId, es]) => {
        const blank = empty(streamId, es[0]);
        const before = (await this.load(coll, blank._id)) ?? blank;
        return this.catchUp(streamId, es, before, fold);
      }),
    );
    await this.save(coll, results.filter((r) => r.after !== r.before).map((r) => r.after));
    for (const r of results) this.logApplied(r);
    return results.map((r) => r.after);
  }

  private async catchUp<D extends Versioned>(streamId: string, es: Envelope[], doc: D, fold: (doc: D, e: StreamEvent) => D): Promise<Projected<D>> {
    const fresh = uniqueVersions(es.filter((e) => e.version > doc.version));
    if (fresh.length === 0) return { before: doc, after: doc, applied: [], filled: 0 };
    const last = fresh[fresh.length - 1].version;
    const contiguous = fresh.every((e, i) => e.version === doc.version + 1 + i);
    const events = contiguous ? fresh : await readStream(this.write, streamId, doc.version + 1, last);
    if (events.length !== last - doc.version) {
      throw new Error(`stream ${streamId} is missing events ${doc.version + 1}..${last} in the write store`);
    }
    let next = doc;
    for (const ev of events) next = fold(next, { version: ev.version, occurredAt: ev.occurredAt ?? new Date(), payload: ev.payload });
    return { before: doc, after: next, applied: fresh, filled: events.length - fresh.length };
  }

  private async syncUserSummaries(orders: OrderDoc[]): Promise<void> {
    const changed = await settled(
      [...groupBy(orders, (o) => o.user_id)].map(async ([userId, os]) => {
        const before = (await this.load(this.read.userSummaries, numericKey(userId))) ?? emptySummary(userId);
        const after = os.reduce(withOrder, before);
        return after === before ? undefined : after;
      }),
    );
    await this.save(this.read.userSummaries, changed.filter(isDefined));
  }

  private async syncStatistics(orders: OrderDoc[]): Promise<void> {
    const shards = await settled(
      [...groupBy(orders, (o) => statShard(o.order_id))].map(async ([shard, os]) => {
        const before = (await this.load(this.read.statsDigests, numericKey(shard))) ?? emptyDigestShard(shard);
        return { before, after: os.reduce(withOrderDigest, before) };
      }),
    );
    await this.save(this.read.statsDigests, shards.filter((s) => s.after !== s.before).map((s) => s.after));
    // The totals follow the digests' revision. A crash between the two
    // writes is mended when the event comes again (a duplicate): then the
    // totals' revision is checked against the digests'.
    const stale = await settled(
      shards.map(async ({ before, after }) => (after !== before || (await this.load(this.read.statsTotals, after._id))?.rev !== after.rev ? after : undefined)),
    );
    const now = new Date();
    await this.save(this.read.statsTotals, stale.filter(isDefined).map((s) => shardTotals(s, now)));
  }

  private async load<D extends ReadDoc>(coll: Collection<D>, id: string): Promise<D | undefined> {
    const cached = this.docs.get(cacheKey(coll, id)) as D | undefined;
    if (cached) return cached;
    const found = (await coll.findOne({ _id: id } as never)) as D | null;
    if (found) this.docs.set(cacheKey(coll, id), found);
    return found ?? undefined;
  }

  /** One round trip per collection; cached only once stored, so a failed batch is recomputed from what the store holds. */
  private async save<D extends ReadDoc>(coll: Collection<D>, docs: D[]): Promise<void> {
    if (docs.length === 0) return;
    await coll.bulkWrite(
      docs.map((d) => ({ replaceOne: { filter: { _id: d._id } as never, replacement: d, upsert: true } })),
      { ordered: false },
    );
    for (const d of docs) this.docs.set(cacheKey(coll, d._id), d);
  }

  private logApplied({ applied, filled }: Projected<unknown>): void {
    for (const e of applied) {
      this.log.info({ eventId: e.eventId, streamId: e.streamId, version: e.version, correlationId: e.correlationId, type: e.payload.$case, filled }, 'event projected');
    }
  }
}

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
