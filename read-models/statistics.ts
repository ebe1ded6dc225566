// Order statistics as stored: one document of counters over every order
// (`order_stats`), with orders created per minute over the last day for
// recent activity, and the TOP_PRODUCTS products ordered most. A query reads
// that one document, so its cost does not grow with the number of orders,
// and neither does the document.
import { emptyCounters, type Derived, type ProductCount } from './counters';

export const DAY_MINUTES = 24 * 60;
export const STATS_ID = 'all';

export interface StatsDoc extends Derived {
  /** minute since epoch → orders created in it, the last day's only */
  created_minutes: Record<string, number>;
  /** The TOP_PRODUCTS products with the most units, ranked (byRank); every product's units are in product_counts. */
  top_products: ProductCount[];
}

export const emptyStats = (): StatsDoc => ({ _id: STATS_ID, ...emptyCounters(), created_minutes: {}, top_products: [], inflight: {} });

export interface Statistics {
  total_orders: number;
  by_status: Record<string, number>;
  revenue_cents: number;
  paid_orders: number;
  top_products: ProductCount[];
  orders_last_hour: number;
  orders_last_day: number;
}

export function statisticsOf(s: StatsDoc, now: Date): Statistics {
  const nowMinute = Math.floor(now.getTime() / 60_000);
  let hour = 0;
  let day = 0;
  for (const [minute, n] of Object.entries(s.created_minutes)) {
    const age = nowMinute - Number(minute);
    if (age < 60) hour += n;
    if (age < DAY_MINUTES) day += n;
  }
  return {
    total_orders: s.total_orders, by_status: s.by_status, revenue_cents: s.revenue_cents, paid_orders: s.paid_orders,
    top_products: s.top_products ?? [], orders_last_hour: hour, orders_last_day: day,
  };
}
