// The user order summary, derived from the user's orders. Each order's latest
// digest (with its stream version) is kept in the user's document and the
// totals are recomputed from the digests, so replaying an order event can
// neither double-count nor drift: setting a digest twice is setting it once.
// The digests also serve ListUserOrders: one lookup by user id finds the
// user's orders, whatever the size of the orders collection.
import { numericKey } from '../lib/read-store';
import { PAID_STATUSES, type OrderDoc } from './order-projection';
import { ProductCounts } from './product-counts';

export interface OrderDigest {
  version: number;
  status: string;
  created_at: Date;
  total_cents: number;
  lines: Array<{ product_id: number; product_name: string; quantity: number }>;
}

export interface UserSummaryDoc {
  _id: string; // numericKey(user_id)
  user_id: number;
  orders: Record<string, OrderDigest>;
  total_orders: number;
  total_spent_cents: number;
  paid_orders: number;
  favorite_products: Array<{ product_id: number; product_name: string; count: number }>;
  order_statuses: Record<string, number>;
}

const FAVORITES = 5;

export const emptySummary = (userId: number): UserSummaryDoc => ({
  _id: numericKey(userId), user_id: userId, orders: {}, total_orders: 0, total_spent_cents: 0, paid_orders: 0, favorite_products: [], order_statuses: {},
});

/** Returns the summary with this order's digest, or the same object if it is not newer. */
export function withOrder(summary: UserSummaryDoc, order: OrderDoc): UserSummaryDoc {
  const known = summary.orders[order.order_id];
  if (known && known.version >= order.version) return summary;
  const digest: OrderDigest = {
    version: order.version,
    status: order.status,
    created_at: order.created_at,
    total_cents: order.total_cents,
    lines: order.items.map((i) => ({ product_id: i.product_id, product_name: i.product_name, quantity: i.quantity })),
  };
  return summarize({ ...summary, orders: { ...summary.orders, [order.order_id]: digest } });
}

function summarize(s: UserSummaryDoc): UserSummaryDoc {
  const digests = Object.values(s.orders);
  const statuses: Record<string, number> = {};
  const products = new ProductCounts();
  let spent = 0;
  let paid = 0;
  for (const d of digests) {
    statuses[d.status] = (statuses[d.status] ?? 0) + 1;
    if (PAID_STATUSES.includes(d.status)) {
      spent += d.total_cents;
      paid++;
    }
    for (const l of d.lines) products.add(l.product_id, l.product_name, l.quantity);
  }
  const favorite_products = products.top(FAVORITES);
  return { ...s, total_orders: digests.length, total_spent_cents: spent, paid_orders: paid, order_statuses: statuses, favorite_products };
}
