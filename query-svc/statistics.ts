// Order statistics, computed from the read store at the moment of asking, so
// they are never stale and cannot drift from the orders they describe.
import type { OrderStatistics } from '../gen/ts/cqrs/v1/read_models';
import { toDecimal } from '../domain/money';
import { PAID_STATUSES } from '../projector-svc/order-projection';
import type { ReadStore } from '../lib/read-store';

const HOUR = 3_600_000;
const TOP = 5;

export async function orderStatistics(read: ReadStore, now = new Date()): Promise<OrderStatistics> {
  const byStatus: Record<string, number> = {};
  const products = new Map<number, { productId: number; productName: string; count: number }>();
  let total = 0, revenue = 0, paid = 0, lastHour = 0, lastDay = 0;
  const cursor = read.orders.find({}, { projection: { status: 1, total_cents: 1, items: 1, created_at: 1 } });
  for await (const o of cursor) {
    total++;
    byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
    if (PAID_STATUSES.includes(o.status)) {
      revenue += o.total_cents;
      paid++;
    }
    const age = now.getTime() - o.created_at.getTime();
    if (age <= HOUR) lastHour++;
    if (age <= 24 * HOUR) lastDay++;
    for (const i of o.items) {
      const p = products.get(i.product_id) ?? { productId: i.product_id, productName: i.product_name, count: 0 };
      p.count += i.quantity;
      p.productName ||= i.product_name;
      products.set(i.product_id, p);
    }
  }
  return {
    totalOrders: total,
    ordersByStatus: byStatus,
    totalRevenue: toDecimal(revenue),
    averageOrderValue: paid ? toDecimal(Math.round(revenue / paid)) : 0,
    topProducts: [...products.values()].sort((a, b) => b.count - a.count || a.productId - b.productId).slice(0, TOP),
    ordersLastHour: lastHour,
    ordersLastDay: lastDay,
    generatedAt: now,
  };
}
