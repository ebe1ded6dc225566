// Order statistics from the read store at the moment of asking: one
// document of counters (read-models/statistics.ts), so the cost
// of a query does not grow with the number of orders.
import type { OrderStatistics } from '../gen/ts/cqrs/v1/read_models';
import { toDecimal } from '../domain/money';
import type { ReadStore } from '../lib/read-store';
import { emptyStats, statisticsOf, STATS_ID, type StatsDoc } from '../read-models';
import { averageValue, toProductCounts } from './read-model-mapping';

export async function orderStatistics(read: ReadStore, now = new Date()): Promise<OrderStatistics> {
  return statisticsMessage((await read.stats.findOne({ _id: STATS_ID })) ?? emptyStats(), now);
}

/** The statistics document as the API shows it at `now` (recent activity counts from now). */
export function statisticsMessage(doc: StatsDoc, now: Date): OrderStatistics {
  const m = statisticsOf(doc, now);
  return {
    totalOrders: m.total_orders,
    ordersByStatus: m.by_status,
    totalRevenue: toDecimal(m.revenue_cents),
    averageOrderValue: averageValue(m.revenue_cents, m.paid_orders),
    topProducts: toProductCounts(m.top_products),
    ordersLastHour: m.orders_last_hour,
    ordersLastDay: m.orders_last_day,
    generatedAt: now,
  };
}
