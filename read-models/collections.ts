// The read store's collections, by projection. Their live names come from a
// pointer document (lib/read-store.ts), so a rebuild can switch them.

export const PROJECTIONS = ['orders', 'inventory', 'inventory_pending', 'user_summaries', 'user_orders', 'order_stats', 'user_product_counts', 'product_counts'] as const;
export type Projection = (typeof PROJECTIONS)[number];
export type CollectionNames = Record<Projection, string>;

export const DEFAULT_NAMES = Object.fromEntries(PROJECTIONS.map((p) => [p, p])) as CollectionNames;
