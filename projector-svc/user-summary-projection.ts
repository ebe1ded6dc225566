// The user order summary (read-models/users.ts): each order's contribution
// moved into the user's counters, its units into the user's product counters
// (user_product_counts) and favourites, and the order listed in one of the
// user's bounded buckets.
import {
  bucketOrders, emptyCounters, encodeListed, numericKey, TOP_PRODUCTS, USER_BUCKET_SIZE, userOrdersKey, userProductKey, type OrderDoc, type UserOrdersBucket, type UserSummaryDoc,
} from '../read-models';
import { contributionOf, encodeContribution, moveCounters, takenIn, type Contribution } from './contribution';
import { moveProducts, type ProductCounters, type Tallied } from './product-counts';

export const emptySummary = (userId: number): UserSummaryDoc => ({
  _id: numericKey(userId), user_id: userId, ...emptyCounters(), favorite_products: [], order_buckets: 0, last_bucket_size: 0, inflight: {},
});

/**
 * The bucket a user's next new order goes to, and the summary that counts it
 * there. `opened`: the bucket is new, and no order listed before it was
 * created after this (undefined if a version before this one listed them).
 */
export function placeNewOrder(s: UserSummaryDoc, createdAt: Date): { bucket: number; summary: UserSummaryDoc; opened?: { newestBeforeMs?: number } } {
  const known = newestListed(s);
  const newest = known === undefined ? {} : { newest_listed_ms: Math.max(known, createdAt.getTime()) };
  if (s.order_buckets > 0 && s.last_bucket_size < USER_BUCKET_SIZE) {
    return { bucket: s.order_buckets - 1, summary: { ...s, last_bucket_size: s.last_bucket_size + 1, ...newest } };
  }
  return { bucket: s.order_buckets, summary: { ...s, order_buckets: s.order_buckets + 1, last_bucket_size: 1, ...newest }, opened: { newestBeforeMs: known } };
}

/** The latest created_at of the orders the summary has listed: 0 with none, undefined if an earlier version listed them. */
export const newestListed = (s: UserSummaryDoc): number | undefined => (s.order_buckets === 0 ? 0 : s.newest_listed_ms);

/** A user's bucket as first stored. */
export function newBucket(userId: number, bucket: number, newestBeforeMs: number | undefined): UserOrdersBucket {
  return { _id: userOrdersKey(userId, bucket), user_id: userId, listed: '', ...(newestBeforeMs === undefined ? {} : { newest_before_ms: newestBeforeMs }) };
}

/**
 * The summary with this order's latest version taken in, and the bucket that
 * lists it, with the user's product counters (by product id) it was moved
 * with; the same objects if the summary already holds this version or a newer one.
 */
export function withOrder(s: UserSummaryDoc, o: OrderDoc, counters: ProductCounters): Tallied<UserSummaryDoc> {
  const from = takenIn(s, o);
  if (from && from.v >= o.version) return { doc: s, counters };
  const placed = from ? { bucket: from.bucket, summary: s } : placeNewOrder(s, o.created_at);
  return withContribution(placed.summary, o.order_id, from, contributionOf(o, placed.bucket), counters);
}

/** The summary with the order's contribution moved from `from` to `to`, remembered in flight. */
export function withContribution(s: UserSummaryDoc, orderId: string, from: Contribution | undefined, to: Contribution, counters: ProductCounters): Tallied<UserSummaryDoc> {
  const moved = moveCounters(s, from, to);
  const products = moveProducts(s.favorite_products, counters, (p) => userProductKey(s.user_id, p), orderId, from, to, TOP_PRODUCTS);
  return { doc: { ...moved, favorite_products: products.top, inflight: { ...s.inflight, [orderId]: encodeContribution(to) } }, counters: products.counters };
}

/** The bucket with the order's entry, or the same object if it holds a newer one. */
export function withOrderEntry(b: UserOrdersBucket, o: OrderDoc): UserOrdersBucket {
  const orders = bucketOrders(b);
  const known = orders.get(o.order_id);
  if (known && known.v >= o.version) return b;
  orders.set(o.order_id, { v: o.version, created_at: o.created_at, status: o.status });
  // Written in the one-string layout, whichever it was read in.
  const { orders: _, ...rest } = b;
  return { ...rest, listed: encodeListed(orders) };
}
