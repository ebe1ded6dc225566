// Order statistics as stored: one document of counters over every order
// (`order_stats`), with recent activity as orders created per minute over the
// last hour and per hour over the last day, and the TOP_PRODUCTS products
// ordered most. A query reads that one document, so its cost does not grow
// with the number of orders, and neither does the document: at most 60
// minutes and 24 hours are kept, however many orders or days there are (per
// minute over a day, it grew to 1,440 counters as the day filled).
import { emptyCounters, type Derived, type ProductCount } from './counters';

export const HOUR_MINUTES = 60;
export const DAY_HOURS = 24;
export const STATS_ID = 'all';

export const minuteOf = (d: Date) => Math.floor(d.getTime() / 60_000);
export const hourOfMinute = (minute: number) => Math.floor(minute / HOUR_MINUTES);

export interface StatsDoc extends Derived {
  /** minute since epoch → orders created in it, the last hour's only */
  created_minutes: Record<string, number>;
  /** hour since epoch → orders created in it, the last day's only (absent from stores written before it: created_minutes then held the day) */
  created_hours?: Record<string, number>;
  /** The TOP_PRODUCTS products with the most units, ranked (byRank); every product's units are in product_counts. */
  top_products: ProductCount[];
}

export const emptyStats = (): StatsDoc => ({ _id: STATS_ID, ...emptyCounters(), created_minutes: {}, created_hours: {}, top_products: [], inflight: {} });

export interface Statistics {
  total_orders: number;
  by_status: Record<string, number>;
  revenue_cents: number;
  paid_orders: number;
  top_products: ProductCount[];
  orders_last_hour: number;
  orders_last_day: number;
}

/**
 * Orders created in the last 60 minutes (exact to the minute) and in the
 * last day, counted by whole hours: the current hour and the 23 before it.
 */
export function statisticsOf(s: StatsDoc, now: Date): Statistics {
  const nowMinute = minuteOf(now);
  const nowHour = hourOfMinute(nowMinute);
  let hour = 0;
  let day = 0;
  for (const [minute, n] of Object.entries(s.created_minutes)) if (nowMinute - Number(minute) < HOUR_MINUTES) hour += n;
  for (const [h, n] of Object.entries(createdHours(s))) if (nowHour - Number(h) < DAY_HOURS) day += n;
  return {
    total_orders: s.total_orders, by_status: s.by_status, revenue_cents: s.revenue_cents, paid_orders: s.paid_orders,
    top_products: s.top_products ?? [], orders_last_hour: hour, orders_last_day: day,
  };
}

/** The orders created per hour; a store from before the hours were kept has them in its minutes. */
export function createdHours(s: StatsDoc): Record<string, number> {
  if (s.created_hours) return s.created_hours;
  const hours: Record<string, number> = {};
  for (const [minute, n] of Object.entries(s.created_minutes)) {
    const h = hourOfMinute(Number(minute));
    hours[h] = (hours[h] ?? 0) + n;
  }
  return hours;
}
