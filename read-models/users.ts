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
  /** order id → "version created-at-ms status": one string, cheaper for the store than a nested document. */
  orders: Record<string, string>;
  /** No order in an earlier bucket was created after this (ms); absent if not known. */
  newest_before_ms?: number;
}

export const userOrdersKey = (userId: number, bucket: number) => `${numericKey(userId)}:${String(bucket).padStart(6, '0')}`;

export const encodeEntry = (e: UserOrderEntry): string => `${e.v} ${e.created_at.getTime()} ${e.status}`;

export function decodeEntry(s: string): UserOrderEntry {
  const [v, t, status] = s.split(' ');
  return { v: Number(v), created_at: new Date(Number(t)), status };
}
