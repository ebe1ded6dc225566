// The user order summary as stored: counters over the user's orders
// (`user_summaries`), and the user's orders listed in buckets of at most
// USER_BUCKET_SIZE (`user_orders`), so neither grows with the orders. A page
// of a user's orders reads buckets newest first and stops once no older
// bucket can hold an order newer than the page's last: each bucket knows how
// recent the orders before it are.
import type { Derived, ProductCount } from './counters';
import { numericKey } from './keys';

export const USER_BUCKET_SIZE = 20;

export interface UserSummaryDoc extends Derived {
  _id: string; // numericKey(user_id)
  user_id: number;
  /** The TOP_PRODUCTS products with the most units, ranked (byRank); every product's units are in user_product_counts. */
  favorite_products: ProductCount[];
  /** How many user_orders buckets the user has, and how full the last one is. */
  order_buckets: number;
  last_bucket_size: number;
  /** The latest created_at (ms) of the orders listed; absent where a version before this one listed them. */
  newest_listed_ms?: number;
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
  /**
   * "id:version:created-at-ms:status" for each order, space-separated: one
   * string, as a document of 20 fields cost the store twice what one of one
   * string does per write (bench/analysis.md).
   */
  listed: string;
  /** How buckets stored before 2026-12-08 list them (order id → "version created-at-ms status"): read, never written. */
  orders?: Record<string, string>;
  /** No order in an earlier bucket was created after this (ms); absent if not known. */
  newest_before_ms?: number;
}

export const userOrdersKey = (userId: number, bucket: number) => `${numericKey(userId)}:${String(bucket).padStart(6, '0')}`;

export function decodeEntry(s: string): UserOrderEntry {
  const [v, t, status] = s.split(' ');
  return { v: Number(v), created_at: new Date(Number(t)), status };
}

/** A bucket's orders, from either layout, in the order they were listed. */
export function bucketOrders(b: Pick<UserOrdersBucket, 'listed' | 'orders'>): Map<string, UserOrderEntry> {
  if (b.orders) return new Map(Object.entries(b.orders).map(([id, e]) => [id, decodeEntry(e)]));
  return new Map(
    (b.listed ? b.listed.split(' ') : []).map((item) => {
      const parts = item.split(':');
      const [v, t, status] = parts.slice(-3);
      return [parts.slice(0, -3).join(':'), { v: Number(v), created_at: new Date(Number(t)), status }];
    }),
  );
}

export const encodeListed = (orders: Map<string, UserOrderEntry>): string =>
  [...orders].map(([id, e]) => `${id}:${e.v}:${e.created_at.getTime()}:${e.status}`).join(' ');
