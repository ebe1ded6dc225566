// What the documents derived from many orders (a user's summary, the
// statistics) hold: counters, and the top products with their units, so they
// stay the same size however many orders there are and however large the
// catalogue. Each product's exact units live in a small counter document of
// its own (user_product_counts: one per user and product; product_counts: one
// per product), read and written by _id only. How an order's contribution
// moves them is the projector's (projector-svc/contribution.ts, product-counts.ts).
import { numericKey } from './keys';

/** Units of one product over many orders, for favourite and top products. */
export interface ProductCount {
  product_id: number;
  product_name: string;
  count: number;
}

export interface Counters {
  total_orders: number;
  by_status: Record<string, number>;
  revenue_cents: number;
  paid_orders: number;
}

export interface Derived extends Counters {
  _id: string;
  /** Revision, for writes that must not overwrite another writer's (see the projector). */
  rev?: number;
  /** order id → the contribution taken in (encoded), until the order itself is known to be stored with it. */
  inflight: Record<string, string>;
}

/** How many top products a user's summary (favourites) and the statistics keep, ranked: what the queries show. */
export const TOP_PRODUCTS = 5;

/** One product's units over one user's orders (user_product_counts) or over every order (product_counts). */
export interface ProductCounterDoc {
  _id: string; // userProductKey(user_id, product_id) or productCountKey(product_id)
  rev?: number;
  product_id: number;
  /** The first name a line gave the product; '' until one did. */
  product_name: string;
  /** Units ordered. */
  count: number;
  /**
   * order id → "version units": what this counter took in of the order, kept
   * until the document it feeds (the summary, the statistics) is known to
   * hold that version too (projector-svc/product-counts.ts says why).
   */
  pending: Record<string, string>;
}

export const userProductKey = (userId: number, productId: number) => `${numericKey(userId)}:${numericKey(productId)}`;
export const productCountKey = (productId: number) => numericKey(productId);

export const emptyCounters = (): Counters => ({ total_orders: 0, by_status: {}, revenue_cents: 0, paid_orders: 0 });

/** Ranked by units, then id. */
export const byRank = (a: ProductCount, b: ProductCount) => b.count - a.count || a.product_id - b.product_id;
