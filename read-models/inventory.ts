// The Inventory read model as stored: one document per product (`inventory`)
// and its open reservations in buckets of at most PENDING_BUCKET by slot
// (`inventory_pending`). The product document shows the longest-held
// PENDING_SHOWN of them and counts all, so neither grows with the orders.
import { numericKey } from './keys';

/** How many pending orders a product's inventory shows; pending_orders_count says how many there are. */
export const PENDING_SHOWN = 100;
export const PENDING_BUCKET = 100;

export interface PendingEntry {
  id: string;
  slot: number;
}

export interface InventoryDoc {
  _id: string; // numericKey(product_id)
  version: number;
  product_id: number;
  product_name: string;
  available_quantity: number;
  reserved_quantity: number;
  total_quantity: number;
  low_stock_threshold: number;
  low_stock_alert: boolean;
  unit_price_cents: number;
  /** How many orders hold a reservation. */
  pending_count: number;
  /**
   * The open reservations with the lowest slots, at most PENDING_SHOWN, by
   * slot, as one string ("slot:id slot:id ..."): the store's cost per
   * document grows with its nested fields. pendingOrders() reads it.
   */
  pending: string;
  /** No bucket below this one holds an open reservation. */
  pending_low: number;
  /** One past the highest slot seen. */
  next_slot: number;
  updated_at: Date;
}

/** A bucket of open reservations. */
export interface PendingBucket {
  _id: string; // pendingKey(product_id, bucket)
  rev?: number;
  product_id: number;
  /**
   * "slot:id slot:id ..." (encodePending), one string: a bucket of 100 as
   * that many fields cost the store 2.7× as much per write as one of 1
   * (bench/analysis.md), a cost that rose and fell with every bucket filled.
   */
  pending: string;
  /** How buckets stored before 2026-12-08 list them (order id → slot): read, never written. */
  orders?: Record<string, number>;
}

export const bucketOf = (slot: number) => Math.floor(slot / PENDING_BUCKET);
export const pendingKey = (productId: number, bucket: number) => `${numericKey(productId)}:${String(bucket).padStart(8, '0')}`;

export const encodePending = (es: PendingEntry[]): string => es.map((e) => `${e.slot}:${e.id}`).join(' ');
export const decodePending = (s: string): PendingEntry[] =>
  s ? s.split(' ').map((x) => ({ slot: Number(x.slice(0, x.indexOf(':'))), id: x.slice(x.indexOf(':') + 1) })) : [];

/** A bucket's open reservations, from either layout, by slot. */
export const bucketEntries = (b: PendingBucket): PendingEntry[] =>
  b.orders ? Object.entries(b.orders).map(([id, slot]) => ({ id, slot })).sort((x, y) => x.slot - y.slot) : decodePending(b.pending);

/** The pending orders a query shows: those in the document, sorted by id. */
export const pendingOrders = (d: Pick<InventoryDoc, 'pending'>): string[] => decodePending(d.pending).map((e) => e.id).sort();
