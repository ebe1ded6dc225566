// The user order summary: counters over the user's orders (contribution.ts),
// and the user's orders listed in buckets of a bounded size (user_orders),
// so neither document grows with the number of orders.
import { numericKey } from '../lib/read-store';
import { contributionOf, encodeContribution, emptyCounters, moveCounters, takenIn, topProducts, type Contribution, type Derived, type ProductCount } from './contribution';
import type { OrderDoc } from './order-projection';

export interface UserSummaryDoc extends Derived {
  _id: string; // numericKey(user_id)
  user_id: number;
  favorite_products: ProductCount[];
  /** How many user_orders buckets the user has, and how full the last one is. */
  order_buckets: number;
  last_bucket_size: number;
}

export interface UserOrderEntry {
  v: number;
  created_at: Date;
  status: string;
}

export interface UserOrdersBucket {
  _id: string; // userOrdersKey(user_id, bucket)
  rev?: number;
  user_id: number;
  /** order id → "version created-at-ms status": one string, cheaper for the store than a nested document. */
  orders: Record<string, string>;
}

export function decodeEntry(s: string): UserOrderEntry {
  const [v, t, status] = s.split(' ');
  return { v: Number(v), created_at: new Date(Number(t)), status };
}

const FAVORITES = 5;
export const USER_BUCKET_SIZE = 100;

export const userOrdersKey = (userId: number, bucket: number) => `${numericKey(userId)}:${String(bucket).padStart(6, '0')}`;

export const emptySummary = (userId: number): UserSummaryDoc => ({
  _id: numericKey(userId), user_id: userId, ...emptyCounters(), favorite_products: [], order_buckets: 0, last_bucket_size: 0, inflight: {},
});

/** The bucket a user's next new order goes to, and the summary that counts it there. */
export function placeNewOrder(s: UserSummaryDoc): { bucket: number; summary: UserSummaryDoc } {
  if (s.order_buckets > 0 && s.last_bucket_size < USER_BUCKET_SIZE) {
    return { bucket: s.order_buckets - 1, summary: { ...s, last_bucket_size: s.last_bucket_size + 1 } };
  }
  return { bucket: s.order_buckets, summary: { ...s, order_buckets: s.order_buckets + 1, last_bucket_size: 1 } };
}

/**
 * The summary with this order's latest version taken in, and the bucket that
 * lists it; the same object if the summary already holds this version or a newer one.
 */
export function withOrder(s: UserSummaryDoc, o: OrderDoc): UserSummaryDoc {
  const from = takenIn(s, o);
  if (from && from.v >= o.version) return s;
  const placed = from ? { bucket: from.bucket, summary: s } : placeNewOrder(s);
  return withContribution(placed.summary, o.order_id, from, contributionOf(o, placed.bucket));
}

/** The summary with the order's contribution moved from `from` to `to`, remembered in flight. */
export function withContribution(s: UserSummaryDoc, orderId: string, from: Contribution | undefined, to: Contribution): UserSummaryDoc {
  const moved = moveCounters(s, from, to);
  return { ...moved, favorite_products: topProducts(moved, FAVORITES), inflight: { ...s.inflight, [orderId]: encodeContribution(to) } };
}

/** The bucket with the order's entry, or the same object if it holds a newer one. */
export function withOrderEntry(b: UserOrdersBucket, o: OrderDoc): UserOrdersBucket {
  const known = b.orders[o.order_id];
  if (known && decodeEntry(known).v >= o.version) return b;
  return { ...b, orders: { ...b.orders, [o.order_id]: `${o.version} ${o.created_at.getTime()} ${o.status}` } };
}
