// Applies events to the read models exactly once and in stream order over
// at-least-once, possibly reordered delivery. Each read-model document keeps
// the version of the last event applied: older or equal versions are
// duplicates and are skipped; a version ahead of a gap fetches the missing
// events from the write store first. Events of one stream are applied one at
// a time; the queue's single active consumer keeps other instances out.
import { readStream, type EventStore } from '../lib/event-store';
import { UnprocessableEvent, type Envelope } from '../lib/consumer';
import type { Logger } from '../lib/logger';
import { numericKey, type ReadStore } from '../lib/read-store';
import { emptyInventory, projectInventory, type InventoryDoc } from './inventory-projection';
import { KeyedLock } from '../lib/keyed-lock';
import { emptyOrder, projectOrder, type OrderDoc, type StreamEvent } from './order-projection';
import { emptyDigestShard, shardTotals, statShard, withOrderDigest } from './statistics-projection';
import { emptySummary, withOrder } from './user-summary-projection';

interface Versioned {
  version: number;
}

export class Projector {
  private readonly locks = new KeyedLock();

  constructor(
    private readonly read: ReadStore,
    private readonly write: EventStore,
    private readonly log: Logger,
  ) {}

  handle(e: Envelope): Promise<void> {
    return this.locks.run(e.streamId, async () => {
      if (e.streamId.startsWith('order-')) await this.onOrder(e);
      else if (e.streamId.startsWith('product-')) await this.onProduct(e);
      else throw new UnprocessableEvent(`no projection for stream ${e.streamId}`);
    });
  }

  private async onOrder(e: Envelope): Promise<void> {
    const orderId = e.streamId.slice('order-'.length);
    const current = (await this.read.orders.findOne({ _id: orderId })) ?? emptyOrder(orderId, e.occurredAt ?? new Date());
    const order = await this.catchUp(e, current, projectOrder, (d) => this.read.orders.replaceOne({ _id: d._id }, d, { upsert: true }));
    // Always, even for a duplicate: a crash may have come between the order
    // and the user summary, and syncing a digest twice changes nothing.
    if (order.version > 0) await Promise.all([this.syncUserSummary(order), this.syncStatistics(order)]);
  }

  private async onProduct(e: Envelope): Promise<void> {
    const productId = Number(e.streamId.slice('product-'.length));
    const current = (await this.read.inventory.findOne({ _id: numericKey(productId) })) ?? emptyInventory(productId);
    await this.catchUp(e, current, projectInventory, (d) => this.read.inventory.replaceOne({ _id: d._id }, d as InventoryDoc, { upsert: true }));
  }

  private syncUserSummary(order: OrderDoc): Promise<void> {
    return this.locks.run(`user-${order.user_id}`, async () => {
      const summary = (await this.read.userSummaries.findOne({ _id: numericKey(order.user_id) })) ?? emptySummary(order.user_id);
      const next = withOrder(summary, order);
      if (next !== summary) await this.read.userSummaries.replaceOne({ _id: next._id }, next, { upsert: true });
    });
  }

  private syncStatistics(order: OrderDoc): Promise<void> {
    const shard = statShard(order.order_id);
    return this.locks.run(`stats-${shard}`, async () => {
      const digests = (await this.read.statsDigests.findOne({ _id: numericKey(shard) })) ?? emptyDigestShard(shard);
      const next = withOrderDigest(digests, order);
      if (next !== digests) await this.read.statsDigests.replaceOne({ _id: next._id }, next, { upsert: true });
      // The totals follow the digests' revision. A crash between the two
      // writes is mended when the event comes again (a duplicate): then the
      // totals' revision is checked against the digests'.
      const stale = next !== digests || (await this.read.statsTotals.findOne({ _id: next._id }, { projection: { rev: 1 } }))?.rev !== next.rev;
      if (stale) await this.read.statsTotals.replaceOne({ _id: next._id }, shardTotals(next, new Date()), { upsert: true });
    });
  }

  private async catchUp<D extends Versioned, R extends D>(
    e: Envelope,
    doc: D,
    project: (doc: D, e: StreamEvent) => R,
    save: (doc: R) => Promise<unknown>,
  ): Promise<D> {
    if (e.version <= doc.version) {
      this.log.debug({ eventId: e.eventId, streamId: e.streamId, version: e.version }, 'duplicate event skipped');
      return doc;
    }
    const events = e.version === doc.version + 1 ? [e] : await readStream(this.write, e.streamId, doc.version + 1, e.version);
    if (events.length !== e.version - doc.version) {
      throw new Error(`stream ${e.streamId} is missing events ${doc.version + 1}..${e.version} in the write store`);
    }
    let next: D = doc;
    for (const ev of events) next = project(next, { version: ev.version, occurredAt: ev.occurredAt ?? new Date(), payload: ev.payload });
    await save(next as R);
    this.log.info(
      { eventId: e.eventId, streamId: e.streamId, version: e.version, correlationId: e.correlationId, type: e.payload.$case, filled: events.length - 1 },
      'event projected',
    );
    return next;
  }
}
