// What the documents derived from many orders (a user's summary, the
// statistics) hold: counters only, so they stay the same size however many
// orders there are. How an order's contribution moves them is the
// projector's (projector-svc/contribution.ts).

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
  /** product id → units ordered; bounded by the catalogue, not the orders. */
  products: Record<string, number>;
  /** product id → its name, once a line knew it. */
  product_names: Record<string, string>;
}

export interface Derived extends Counters {
  _id: string;
  /** Revision, for writes that must not overwrite another writer's (see the projector). */
  rev?: number;
  /** order id → the contribution taken in (encoded), until the order itself is known to be stored with it. */
  inflight: Record<string, string>;
}

export const emptyCounters = (): Counters => ({ total_orders: 0, by_status: {}, revenue_cents: 0, paid_orders: 0, products: {}, product_names: {} });

/** Ranked by units, then id; the first line that knew a product's name names it. */
export function topProducts(t: Pick<Counters, 'products' | 'product_names'>, n: number): ProductCount[] {
  return Object.entries(t.products)
    .map(([id, count]) => ({ product_id: Number(id), product_name: t.product_names[id] ?? '', count }))
    .sort((a, b) => b.count - a.count || a.product_id - b.product_id)
    .slice(0, n);
}
