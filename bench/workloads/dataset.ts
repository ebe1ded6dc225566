// (4) The read store at a given size: orders shaped exactly like
// projector-svc writes them, made by folding realistic event sequences
// through the projector's own folds (projectOrder, withContribution,
// withStatsContribution, withOrderEntry), with the matching user summaries,
// user order buckets, order statistics and product counters, bulk-inserted. Seeded users have ids of their own
// so they never collide with the users the command workloads create.
import { randomUUID } from 'node:crypto';
import type { Collection } from 'mongodb';
import { PaymentMethod } from '../../gen/ts/cqrs/v1/common';
import { event, type DomainEvent } from '../../domain/events';
import { READ_DB } from '../../lib/mongo';
import { emptyStats, STATS_ID, type OrderDoc, type ProductCounterDoc, type StatsDoc, type UserOrdersBucket, type UserSummaryDoc } from '../../read-models';
import { emptyOrder, projectOrder } from '../../projector-svc/order-projection';
import { contributionOf, encodeContribution } from '../../projector-svc/contribution';
import type { ProductCounters } from '../../projector-svc/product-counts';
import { withStatsContribution } from '../../projector-svc/statistics-projection';
import { emptySummary, newBucket, placeNewOrder, withContribution, withOrderEntry } from '../../projector-svc/user-summary-projection';
import { ReadStore } from '../../lib/read-store';
import { rng } from '../../kit/random';
import type { Ctx } from '../context';
export type { OrderDoc };

export const SEEDED_USERS_FROM = 1_000_000;
const DAY = 86_400_000;
const BATCH = 1_000;

/** One order's life, by a status mix of a running shop. */
export function seededOrder(ctx: Ctx, i: number, userId: number, now: number): OrderDoc {
  const r = rng(i + 1).next;
  const orderId = randomUUID();
  const createdAt = now - Math.floor(r() * 30 * DAY);
  const nLines = 1 + Math.floor(r() * 3);
  const products = new Set<number>();
  while (products.size < nLines) products.add(Math.floor(r() * ctx.catalog.length));
  const lines = [...products].map((k) => ({ product: ctx.catalog[k], quantity: 1 + Math.floor(r() * 3) }));
  const totalCents = lines.reduce((s, l) => s + l.product.priceCents * l.quantity, 0);
  const paymentId = randomUUID();
  const events: DomainEvent[] = [
    event('orderInitiated', { orderId, userId, userEmail: `user${userId}@example.com`, lines: lines.map((l) => ({ productId: l.product.productId, quantity: l.quantity })) }),
  ];
  const kind = i % 20; // 5% pending, 5% rejected, 10% validated, 5% cancelled, 40% paid, 20% shipped, 15% completed
  if (kind === 1) events.push(event('orderRejected', { orderId, reason: 'insufficient stock for product' }));
  else if (kind !== 0) {
    events.push(event('orderValidated', { orderId, lines: lines.map((l) => ({ productId: l.product.productId, productName: l.product.name, quantity: l.quantity, unitPriceCents: l.product.priceCents })), totalCents }));
    if (kind === 4) events.push(event('orderCancelled', { orderId, reason: 'customer changed their mind' }));
    else if (kind >= 5) {
      events.push(event('paymentProcessed', { orderId, paymentId, amountCents: totalCents, method: PaymentMethod.CREDIT_CARD }));
      events.push(event('orderPaid', { orderId, paymentId, amountCents: totalCents }));
      if (kind >= 13) events.push(event('orderShipped', { orderId, trackingNumber: `TRK${i}` }));
      if (kind >= 17) events.push(event('orderCompleted', { orderId }));
    }
  }
  let doc = emptyOrder(orderId, new Date(createdAt));
  events.forEach((payload, k) => {
    doc = projectOrder(doc, { version: k + 1, occurredAt: new Date(createdAt + k * 7 * 60_000), payload });
  });
  return doc;
}

/** Replaces a collection's documents: bulk delete and insert; any _id that came back meanwhile is upserted. */
async function replaceAll(col: Collection<{ _id: unknown }>, docs: Array<{ _id: unknown }>): Promise<void> {
  await col.deleteMany({});
  try {
    await col.insertMany(docs, { ordered: false });
  } catch (err) {
    const failed = new Set<number>(((err as { writeErrors?: Array<{ index: number }> }).writeErrors ?? []).map((w) => w.index));
    if (!failed.size) throw err;
    for (const i of failed) await col.replaceOne({ _id: docs[i]._id as never }, docs[i], { upsert: true });
  }
}

async function readStore(ctx: Ctx): Promise<ReadStore> {
  return ReadStore.open(ctx.bm.mongo.db(READ_DB));
}

export async function orderCount(ctx: Ctx): Promise<number> {
  return (await readStore(ctx)).orders.estimatedDocumentCount();
}

/** Tops the read store up to `n` orders (no-op when it holds that many). */
export async function ensureOrders(ctx: Ctx, n: number): Promise<{ inserted: number; ms: number }> {
  const t0 = Date.now();
  const read = await readStore(ctx);
  const orders = read.orders;
  const summaries = read.userSummaries;
  const d = ctx.dataset;
  let missing = n - (await orderCount(ctx));
  if (missing <= 0) {
    await sampleExisting(ctx, read);
    return { inserted: 0, ms: 0 };
  }
  // The statistics as the projector keeps them: every seeded order's contribution moved in.
  let stats: StatsDoc = (await read.stats.findOne({ _id: STATS_ID })) ?? emptyStats();
  // One per product of the catalogue at most: read whole.
  let productCounters: ProductCounters = new Map((await read.productCounts.find({}).toArray()).map((k) => [k.product_id, k]));
  let userCounters: ProductCounters = new Map();
  let inserted = 0;
  const per = ctx.p.ordersPerUser;
  const now = Date.now();
  let summary: UserSummaryDoc | undefined;
  let bucket: UserOrdersBucket | undefined;
  while (missing > 0) {
    const size = Math.min(BATCH, missing);
    ctx.progress.step(`dataset: seeding the read store towards ${n} orders (${inserted + size} of ${inserted + missing} inserted)`);
    const docs: OrderDoc[] = [];
    const users: UserSummaryDoc[] = [];
    const buckets: UserOrdersBucket[] = [];
    const counters: ProductCounterDoc[] = [];
    const finishUser = () => {
      users.push({ ...summary!, inflight: {}, rev: 1 });
      counters.push(...[...userCounters.values()].map((k) => ({ ...k, pending: {}, rev: 1 })));
      userCounters = new Map();
      buckets.push({ ...bucket!, rev: 1 });
      d.userIds.push(summary!.user_id);
      summary = bucket = undefined;
    };
    for (let k = 0; k < size; k++) {
      const i = d.nextSeed++;
      const userId = SEEDED_USERS_FROM + Math.floor(i / per);
      const order = seededOrder(ctx, i, userId, now);
      const placed = placeNewOrder(summary && summary.user_id === userId ? summary : emptySummary(userId), order.created_at);
      const contrib = contributionOf(order, placed.bucket);
      docs.push({ ...order, contrib: encodeContribution(contrib) });
      ({ doc: summary, counters: userCounters } = withContribution(placed.summary, order.order_id, undefined, contrib, userCounters));
      // A user's full buckets are stored as the next one opens.
      if (placed.opened && bucket && bucket.user_id === userId) buckets.push({ ...bucket, rev: 1 });
      bucket = withOrderEntry(placed.opened ? newBucket(userId, placed.bucket, placed.opened.newestBeforeMs) : bucket!, order);
      // Each seeded order is stored with its contribution, so none stays in flight:
      // keeping them would copy an ever larger map for every order (quadratic seeding).
      const moved = withStatsContribution(stats, order.order_id, undefined, contrib, new Date(now), productCounters);
      stats = { ...moved.doc, inflight: {} };
      productCounters = moved.counters;
      if (i % per === per - 1) finishUser();
      if (d.sampleOrderIds.length < 5_000) d.sampleOrderIds.push(order._id);
      else if (Math.random() < 0.1) d.sampleOrderIds[Math.floor(Math.random() * d.sampleOrderIds.length)] = order._id;
    }
    if (missing - size <= 0 && summary) {
      // Users never span two top-ups: the next seed starts a new user.
      finishUser();
      d.nextSeed = Math.ceil(d.nextSeed / per) * per;
    }
    await orders.insertMany(docs, { ordered: false });
    if (users.length) await summaries.insertMany(users, { ordered: false });
    if (buckets.length) await read.userOrders.insertMany(buckets, { ordered: false });
    if (counters.length) await read.userProductCounts.insertMany(counters, { ordered: false });
    inserted += size;
    missing -= size;
  }
  ctx.progress.step(`dataset: writing the order statistics for ${n} orders`);
  await replaceAll(read.stats as unknown as Collection<{ _id: unknown }>, [{ ...stats, inflight: {}, rev: (stats.rev ?? 0) + 1 } as { _id: unknown }]);
  const products = [...productCounters.values()].map((k) => ({ ...k, pending: {}, rev: (k.rev ?? 0) + 1 }));
  await replaceAll(read.productCounts as unknown as Collection<{ _id: unknown }>, products as Array<{ _id: unknown }>);
  d.orders = await orderCount(ctx);
  await sampleExisting(ctx, read);
  return { inserted, ms: Date.now() - t0 };
}

/** When nothing was seeded (the store was already big enough), queries pick from what is there. */
async function sampleExisting(ctx: Ctx, read: ReadStore): Promise<void> {
  const d = ctx.dataset;
  d.orders = await orderCount(ctx);
  if (d.sampleOrderIds.length && d.userIds.length) return;
  const some = await read.orders.find({}, { projection: { _id: 1, user_id: 1 } }).limit(2_000).toArray();
  d.sampleOrderIds.push(...some.map((o) => o._id));
  d.userIds.push(...new Set(some.map((o) => o.user_id)));
}
