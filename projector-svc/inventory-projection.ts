// The Inventory read model: stock counters folded from the product stream,
// and its pending orders kept bounded. Every open reservation is listed in a
// bucket of at most PENDING_BUCKET by its slot (inventory_pending); the
// product document shows the longest-held PENDING_SHOWN of them and counts
// all, so neither document grows with the orders a product has seen.
import {
  bucketEntries, bucketOf, decodePending, encodePending, numericKey, PENDING_SHOWN, type InventoryDoc, type PendingBucket, type PendingEntry,
} from '../read-models';
import { isEventOf, unhandled } from '../domain/events';
import type { StreamEvent } from './order-projection';

export const emptyInventory = (productId: number): InventoryDoc => ({
  _id: numericKey(productId), version: 0, product_id: productId, product_name: '', available_quantity: 0, reserved_quantity: 0, total_quantity: 0,
  low_stock_threshold: 0, low_stock_alert: false, unit_price_cents: 0, pending_count: 0, pending: '', pending_low: 0, next_slot: 0,
  updated_at: new Date(0),
});

export function projectInventory(doc: InventoryDoc, e: StreamEvent): InventoryDoc {
  const p = e.payload;
  if (!isEventOf('product', p)) throw new Error(`product ${doc.product_id}: ${p.$case} is not an event of a product stream`);
  let next: InventoryDoc = { ...doc, version: e.version, updated_at: e.occurredAt };
  switch (p.$case) {
    case 'inventoryUpdated':
      next = { ...next, product_name: p.value.productName, unit_price_cents: p.value.unitPriceCents, total_quantity: p.value.totalQuantity, low_stock_threshold: p.value.lowStockThreshold };
      break;
    case 'inventoryReserved': {
      // Shown only if every open reservation is: then it is among the longest-held.
      const shown = decodePending(doc.pending);
      const allShown = shown.length === doc.pending_count && shown.length < PENDING_SHOWN;
      next = {
        ...next, reserved_quantity: doc.reserved_quantity + p.value.quantity, pending_count: doc.pending_count + 1, next_slot: Math.max(doc.next_slot, p.value.slot + 1),
        pending: allShown ? encodePending([...shown, { id: p.value.orderId, slot: p.value.slot }]) : doc.pending,
      };
      break;
    }
    case 'inventoryReleased':
    case 'inventorySold':
      next = {
        ...next, reserved_quantity: doc.reserved_quantity - p.value.quantity, pending_count: doc.pending_count - 1,
        total_quantity: p.$case === 'inventorySold' ? doc.total_quantity - p.value.quantity : doc.total_quantity,
        pending: encodePending(decodePending(doc.pending).filter((x) => x.id !== p.value.orderId)),
      };
      break;
    default:
      return unhandled(p);
  }
  const available = next.total_quantity - next.reserved_quantity;
  return { ...next, available_quantity: available, low_stock_alert: available < next.low_stock_threshold };
}

/** Fewer shown than there are (and room to show them): the projector refills from the buckets. */
export const needsRefill = (d: InventoryDoc) => decodePending(d.pending).length < Math.min(PENDING_SHOWN, d.pending_count);

/** The bucket with the event's reservation added or removed; the same object if nothing changes. */
export function withPendingChange(b: PendingBucket, e: StreamEvent): PendingBucket {
  const p = e.payload;
  if (p.$case !== 'inventoryReserved' && p.$case !== 'inventoryReleased' && p.$case !== 'inventorySold') return b;
  const entries = bucketEntries(b);
  const { orderId, slot } = p.value;
  const held = entries.findIndex((x) => x.id === orderId);
  if (p.$case === 'inventoryReserved') {
    if (held >= 0 && entries[held].slot === slot) return b;
    const rest = entries.filter((x) => x.id !== orderId);
    const at = rest.findIndex((x) => x.slot > slot);
    rest.splice(at < 0 ? rest.length : at, 0, { id: orderId, slot });
    return stored(b, rest);
  }
  return held < 0 ? b : stored(b, entries.filter((x) => x.id !== orderId));
}

/** Written in the one-string layout, whichever it was read in. */
function stored(b: PendingBucket, entries: PendingEntry[]): PendingBucket {
  const { orders: _, ...rest } = b;
  return { ...rest, pending: encodePending(entries) };
}

/** The slot whose bucket an event changes, if it changes one. */
export function pendingSlot(e: StreamEvent): number | undefined {
  const p = e.payload;
  return p.$case === 'inventoryReserved' || p.$case === 'inventoryReleased' || p.$case === 'inventorySold' ? p.value.slot : undefined;
}

/** The product shown with the longest-held open reservations found in its buckets, from its lowest on. */
export function refilled(d: InventoryDoc, buckets: PendingBucket[]): InventoryDoc {
  const entries = buckets.flatMap(bucketEntries).sort((a, b) => a.slot - b.slot);
  const pending = entries.slice(0, PENDING_SHOWN);
  const low = pending.length ? bucketOf(pending[0].slot) : bucketOf(Math.max(0, d.next_slot - 1));
  return { ...d, pending: encodePending(pending), pending_low: Math.max(d.pending_low, low) };
}
