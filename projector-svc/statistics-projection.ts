// Order statistics kept ready to read (read-models/statistics.ts): each
// order's contribution moved into the one document of counters, its units
// into each product's counter (product_counts) and the top products, and the
// orders created per minute over the last hour and per hour over the last day.
import { createdHours, DAY_HOURS, HOUR_MINUTES, hourOfMinute, minuteOf, productCountKey, TOP_PRODUCTS, type OrderDoc, type StatsDoc } from '../read-models';
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
  const nowMinute = minuteOf(now);
  const created = from ? undefined : to.created_minute;
  const minutes = recent(s.created_minutes, nowMinute, HOUR_MINUTES, created);
  const hours = recent(createdHours(s), hourOfMinute(nowMinute), DAY_HOURS, created === undefined ? undefined : hourOfMinute(created));
  return {
    doc: { ...moved, created_minutes: minutes, created_hours: hours, top_products: products.top, inflight: { ...s.inflight, [orderId]: encodeContribution(to) } },
    counters: products.counters,
  };
}

/** The counts of the last `keep` units up to `now`, with one more order in `unit` if it is one of them. */
function recent(counts: Record<string, number>, now: number, keep: number, unit: number | undefined): Record<string, number> {
  const kept: Record<string, number> = {};
  for (const [u, n] of Object.entries(counts)) if (now - Number(u) < keep) kept[u] = n;
  if (unit !== undefined && now - unit < keep) kept[unit] = (kept[unit] ?? 0) + 1;
  return kept;
}
