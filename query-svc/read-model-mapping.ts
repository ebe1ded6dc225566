// Stored documents (snake_case, integer cents) → the generated read-model
// messages (decimal amounts). The only place the two shapes meet.
import { OrderStatus, PaymentMethod } from '../gen/ts/cqrs/v1/common';
import type { InventoryItem, Order, UserOrderSummary } from '../gen/ts/cqrs/v1/read_models';
import { toDecimal } from '../domain/money';
import { pendingOrders, type InventoryDoc, type OrderDoc, type UserSummaryDoc } from '../read-models';

const status = (s: string) => OrderStatus[s as keyof typeof OrderStatus] ?? OrderStatus.ORDER_STATUS_UNSPECIFIED;

export function toOrder(d: OrderDoc): Order {
  return {
    orderId: d.order_id,
    userId: d.user_id,
    userEmail: d.user_email,
    totalAmount: toDecimal(d.total_cents),
    status: status(d.status),
    items: d.items.map((i) => ({
      productId: i.product_id, productName: i.product_name, quantity: i.quantity,
      unitPrice: toDecimal(i.unit_price_cents), subtotal: toDecimal(i.unit_price_cents * i.quantity),
    })),
    paymentInfo: d.payment_info
      ? {
          paymentId: d.payment_info.payment_id, amount: toDecimal(d.payment_info.amount_cents),
          method: PaymentMethod[d.payment_info.method as keyof typeof PaymentMethod] ?? PaymentMethod.PAYMENT_METHOD_UNSPECIFIED,
          status: d.payment_info.status, processedAt: d.payment_info.processed_at,
        }
      : undefined,
    timeline: d.timeline.map((t) => ({ event: t.event, timestamp: t.timestamp })),
    createdAt: d.created_at,
    updatedAt: d.updated_at,
    statusReason: d.status_reason,
  };
}

export function toInventoryItem(d: InventoryDoc): InventoryItem {
  return {
    productId: d.product_id, productName: d.product_name, unitPrice: toDecimal(d.unit_price_cents),
    availableQuantity: d.available_quantity, reservedQuantity: d.reserved_quantity, totalQuantity: d.total_quantity,
    lowStockThreshold: d.low_stock_threshold, lowStockAlert: d.low_stock_alert, pendingOrders: pendingOrders(d), pendingOrdersCount: d.pending_count,
  };
}

export function toUserSummary(d: UserSummaryDoc): UserOrderSummary {
  return {
    userId: d.user_id,
    totalOrders: d.total_orders,
    totalSpent: toDecimal(d.revenue_cents),
    avgOrderValue: averageValue(d.revenue_cents, d.paid_orders),
    favoriteProducts: toProductCounts(d.favorite_products),
    orderStatuses: d.by_status,
  };
}

/** Revenue per paid order, rounded to the cent; 0 before the first payment. */
export const averageValue = (revenueCents: number, paidOrders: number) => (paidOrders ? toDecimal(Math.round(revenueCents / paidOrders)) : 0);

export const toProductCounts = (ps: Array<{ product_id: number; product_name: string; count: number }>) =>
  ps.map((p) => ({ productId: p.product_id, productName: p.product_name, count: p.count }));
