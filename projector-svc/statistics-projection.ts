// Order statistics kept ready to read (read-models/statistics.ts): each
// order's contribution moved into the one document of counters, its units
// into each product's counter (product_counts) and the top products, and the
// orders created per minute over the last day.
import { DAY_MINUTES, productCountKey, TOP_PRODUCTS, type OrderDoc, type StatsDoc } from '../read-models';
import { contributionOf, encodeContribution, moveCounters, takenIn, type Contribution } from './contribution';
import { moveProducts, type ProductCounters, type Tallied } from './product-counts';

/** The statistics with this order's latest version taken in; the same objects if they hold it already. */
export function withOrderStats(s: StatsDoc, o: OrderDoc, now: Date, counters: ProductCounters): Tallied<StatsDoc> {
  const from = takenIn(s, o);
  return from && from.v >= o.version ? { doc: s, counters } : withStatsContribution(s, o.order_id, from, contributionOf(o, 0), now, counters);
}

/** The statistics with the order's contribution moved from `from` to `to`, remembered in flight. */
export function withStatsContribution(s: StatsDoc, orderId: string, from: Contribution | undefined, to: Contribution, now: Date, counters: ProductCounters): Tallied<StatsDoc> {
  const moved = moveCounters(s, from, to);
  const products = moveProducts(s.top_products, counters, productCountKey, orderId, from, to, TOP_PRODUCTS);
  const nowMinute = Math.floor(now.getTime() / 60_000);
  const minutes: Record<string, number> = {};
  for (const [m, n] of Object.entries(s.created_minutes)) if (nowMinute - Number(m) < DAY_MINUTES) minutes[m] = n;
  if (!from && nowMinute - to.created_minute < DAY_MINUTES) minutes[to.created_minute] = (minutes[to.created_minute] ?? 0) + 1;
  return {
    doc: { ...moved, created_minutes: minutes, top_products: products.top, inflight: { ...s.inflight, [orderId]: encodeContribution(to) } },
    counters: products.counters,
  };
}
