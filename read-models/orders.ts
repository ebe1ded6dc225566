// The Order read model as stored (collection `orders`, keyed by order id).

export interface OrderItemDoc {
  product_id: number;
  product_name: string;
  quantity: number;
  unit_price_cents: number;
}

export interface OrderDoc {
  _id: string;
  version: number;
  order_id: string;
  user_id: number;
  user_email: string;
  status: string; // OrderStatus name, e.g. "PAID"
  status_reason: string;
  total_cents: number;
  items: OrderItemDoc[];
  payment_info: { payment_id: string; amount_cents: number; method: string; status: string; processed_at: Date } | null;
  timeline: Array<{ event: string; timestamp: Date }>;
  created_at: Date;
  updated_at: Date;
  /** What the derived documents (user summary, statistics) have taken in of this order (encoded); written after them. */
  contrib?: string;
}

/** Statuses in which the order's money counts as spent / revenue. */
export const PAID_STATUSES = ['PAID', 'SHIPPED', 'COMPLETED'];

/**
 * The order version an encoded contribution (OrderDoc.contrib) is of, 0 for
 * none: the derived documents (user summary, order buckets, statistics) have
 * taken in the order up to this version.
 */
export const contributionVersion = (s: string | undefined): number => (typeof s === 'string' && s ? Number(s.slice(0, s.indexOf(' '))) : 0);
