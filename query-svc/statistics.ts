// Order statistics from the read store at the moment of asking: the sum of
// every shard's totals (projector-svc/statistics-projection.ts), so the cost
// of a query does not grow with the number of orders.
import type { OrderStatistics } from '../gen/ts/cqrs/v1/read_models';
import { toDecimal } from '../domain/money';
import type { ReadStore } from '../lib/read-store';
import { mergeTotals } from '../projector-svc/statistics-projection';

export async function orderStatistics(read: ReadStore, now = new Date()): Promise<OrderStatistics> {
  const m = mergeTotals(await read.statsTotals.find({}).toArray(), now);
  return {
    totalOrders: m.total_orders,
    ordersByStatus: m.by_status,
    totalRevenue: toDecimal(m.revenue_cents),
    averageOrderValue: m.paid_orders ? toDecimal(Math.round(m.revenue_cents / m.paid_orders)) : 0,
    topProducts: m.top_products.map((p) => ({ productId: p.product_id, productName: p.product_name, count: p.count })),
    ordersLastHour: m.orders_last_hour,
    ordersLastDay: m.orders_last_day,
    generatedAt: now,
  };
}
