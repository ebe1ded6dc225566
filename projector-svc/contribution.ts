// What one order adds to the documents derived from many orders (a user's
// summary, the statistics): counters only, so those documents stay the same
// size however many orders there are. A derived document is changed by the
// difference between what an order contributes now and what it contributed
// when the document last saw it, and remembers for a while which
// contributions it took in (`inflight`), so a crash between writing it and
// writing the order cannot make a redelivery add the same difference twice.
import { PAID_STATUSES, type OrderDoc } from './order-projection';

export interface Contribution {
  /** The order's version this contribution is of. */
  v: number;
  status: string;
  total_cents: number;
  created_minute: number;
  lines: Array<{ product_id: number; product_name: string; quantity: number }>;
  /** Which of the user's order buckets lists the order. */
  bucket: number;
}

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
  /** product id → units ordered and name; bounded by the catalogue, not the orders. */
  products: Record<string, { product_name: string; count: number }>;
}

export interface Derived extends Counters {
  _id: string;
  /** Revision, for writes that must not overwrite another writer's (see the projector). */
  rev?: number;
  /** order id → the contribution taken in, until the order itself is known to be stored with it. */
  inflight: Record<string, Contribution>;
}

const MINUTE = 60_000;
export const minuteOf = (d: Date) => Math.floor(d.getTime() / MINUTE);

export const emptyCounters = (): Counters => ({ total_orders: 0, by_status: {}, revenue_cents: 0, paid_orders: 0, products: {} });

export function contributionOf(o: OrderDoc, bucket: number): Contribution {
  return {
    v: o.version,
    status: o.status,
    total_cents: o.total_cents,
    created_minute: minuteOf(o.created_at),
    lines: o.items.map((i) => ({ product_id: i.product_id, product_name: i.product_name, quantity: i.quantity })),
    bucket,
  };
}

/** The contribution a derived document already holds of this order: the newer of what it remembers and what the order says. */
export function takenIn(doc: Derived, order: OrderDoc): Contribution | undefined {
  const remembered = doc.inflight[order.order_id];
  const stored = order.contrib;
  if (!remembered) return stored;
  return !stored || remembered.v > stored.v ? remembered : stored;
}

/** The counters with `from` taken out and `to` put in. */
export function moveCounters<T extends Counters>(t: T, from: Contribution | undefined, to: Contribution): T {
  const next = { ...t, by_status: { ...t.by_status }, products: { ...t.products } };
  if (from) add(next, from, -1);
  add(next, to, 1);
  return next;
}

function add(t: Counters, c: Contribution, sign: 1 | -1): void {
  t.total_orders += sign;
  bump(t.by_status, c.status, sign);
  if (PAID_STATUSES.includes(c.status)) {
    t.revenue_cents += sign * c.total_cents;
    t.paid_orders += sign;
  }
  for (const l of c.lines) {
    const p = t.products[l.product_id] ?? { product_name: '', count: 0 };
    const count = p.count + sign * l.quantity;
    if (count === 0) delete t.products[l.product_id];
    else t.products[l.product_id] = { product_name: p.product_name || (sign > 0 ? l.product_name : ''), count };
  }
}

function bump(map: Record<string, number>, key: string, by: number): void {
  const n = (map[key] ?? 0) + by;
  if (n === 0) delete map[key];
  else map[key] = n;
}

/** Ranked by units, then id; the first line that knew a product's name names it. */
export function topProducts(products: Counters['products'], n: number): ProductCount[] {
  return Object.entries(products)
    .map(([id, p]) => ({ product_id: Number(id), product_name: p.product_name, count: p.count }))
    .sort((a, b) => b.count - a.count || a.product_id - b.product_id)
    .slice(0, n);
}

/**
 * Forgets remembered contributions the orders are known to be stored with:
 * `storedVersion` answers from what this process last wrote, undefined when unknown.
 */
export function pruneInflight(inflight: Record<string, Contribution>, storedVersion: (orderId: string) => number | undefined): Record<string, Contribution> {
  return Object.fromEntries(Object.entries(inflight).filter(([id, c]) => (storedVersion(id) ?? -1) < c.v));
}
