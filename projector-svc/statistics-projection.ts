// Order statistics kept ready to read: orders are spread over a fixed number
// of shards by id; each shard keeps the latest digest of its orders and, in
// a separate small document, the totals recomputed from those digests. A
// statistics query reads only the totals documents, so its cost does not
// grow with the number of orders; recomputing from digests (never adding
// deltas) means a replayed event can neither double-count nor drift.
import { numericKey } from '../lib/read-store';
import { PAID_STATUSES, type OrderDoc } from './order-projection';
import { ProductCounts, type ProductCount } from './product-counts';

// Enough shards that each rewrite stays small (a few hundred digests at
// 100 k orders), few enough that a query reads them all quickly.
export const STAT_SHARDS = 256;
const MINUTE = 60_000;
const DAY_MINUTES = 24 * 60;

export interface StatsDigest {
  version: number;
  status: string;
  total_cents: number;
  created_minute: number;
  lines: Array<{ product_id: number; product_name: string; quantity: number }>;
}

export interface StatsDigestShard {
  _id: string; // numericKey(shard)
  rev: number;
  orders: Record<string, StatsDigest>;
}

export interface StatsTotals {
  _id: string; // numericKey(shard)
  rev: number;
  total_orders: number;
  by_status: Record<string, number>;
  revenue_cents: number;
  paid_orders: number;
  /** product id → units ordered and name */
  products: Record<string, { product_name: string; count: number }>;
  /** minute since epoch → orders created in it (only the last day's are read) */
  created_minutes: Record<string, number>;
}

export const statShard = (orderId: string) => parseInt(orderId.replace(/-/g, '').slice(0, 8), 16) % STAT_SHARDS;

export const emptyDigestShard = (shard: number): StatsDigestShard => ({ _id: numericKey(shard), rev: 0, orders: {} });

/** The shard with this order's digest, or the same object if it is not newer. */
export function withOrderDigest(shard: StatsDigestShard, order: OrderDoc): StatsDigestShard {
  const known = shard.orders[order.order_id];
  if (known && known.version >= order.version) return shard;
  const digest: StatsDigest = {
    version: order.version,
    status: order.status,
    total_cents: order.total_cents,
    created_minute: Math.floor(order.created_at.getTime() / MINUTE),
    lines: order.items.map((i) => ({ product_id: i.product_id, product_name: i.product_name, quantity: i.quantity })),
  };
  return { ...shard, rev: shard.rev + 1, orders: { ...shard.orders, [order.order_id]: digest } };
}

/** Totals of one shard; minute buckets older than a day are left out, nothing reads them. */
export function shardTotals(shard: StatsDigestShard, now: Date): StatsTotals {
  const oldestMinute = Math.floor(now.getTime() / MINUTE) - DAY_MINUTES;
  const products = new ProductCounts();
  const t: StatsTotals = { _id: shard._id, rev: shard.rev, total_orders: 0, by_status: {}, revenue_cents: 0, paid_orders: 0, products: {}, created_minutes: {} };
  for (const d of Object.values(shard.orders)) {
    t.total_orders++;
    t.by_status[d.status] = (t.by_status[d.status] ?? 0) + 1;
    if (PAID_STATUSES.includes(d.status)) {
      t.revenue_cents += d.total_cents;
      t.paid_orders++;
    }
    if (d.created_minute >= oldestMinute) t.created_minutes[d.created_minute] = (t.created_minutes[d.created_minute] ?? 0) + 1;
    for (const l of d.lines) products.add(l.product_id, l.product_name, l.quantity);
  }
  return { ...t, products: products.toRecord() };
}

export interface MergedStatistics {
  total_orders: number;
  by_status: Record<string, number>;
  revenue_cents: number;
  paid_orders: number;
  top_products: ProductCount[];
  orders_last_hour: number;
  orders_last_day: number;
}

export function mergeTotals(shards: StatsTotals[], now: Date, top = 5): MergedStatistics {
  const nowMinute = Math.floor(now.getTime() / MINUTE);
  const m: MergedStatistics = { total_orders: 0, by_status: {}, revenue_cents: 0, paid_orders: 0, top_products: [], orders_last_hour: 0, orders_last_day: 0 };
  const products = new ProductCounts();
  for (const s of shards) {
    m.total_orders += s.total_orders;
    m.revenue_cents += s.revenue_cents;
    m.paid_orders += s.paid_orders;
    for (const [k, n] of Object.entries(s.by_status)) m.by_status[k] = (m.by_status[k] ?? 0) + n;
    for (const [minute, n] of Object.entries(s.created_minutes)) {
      const age = nowMinute - Number(minute);
      if (age < 60) m.orders_last_hour += n;
      if (age < DAY_MINUTES) m.orders_last_day += n;
    }
    for (const [id, p] of Object.entries(s.products)) products.add(Number(id), p.product_name, p.count);
  }
  m.top_products = products.top(top);
  return m;
}
