// The Inventory read model: the product aggregate's own evolve, flattened
// into the fields queries filter and sort on.
import { evolveProduct, initialProduct, type ProductState } from '../domain/inventory';
import { inventoryItem } from '../lib/inventory-view';
import { numericKey } from '../lib/read-store';
import type { StreamEvent } from './order-projection';

export interface InventoryDoc {
  _id: string; // numericKey(product_id)
  version: number;
  state: ProductState;
  product_id: number;
  product_name: string;
  available_quantity: number;
  reserved_quantity: number;
  total_quantity: number;
  low_stock_threshold: number;
  low_stock_alert: boolean;
  unit_price_cents: number;
  pending_orders: string[];
  updated_at: Date;
}

export const emptyInventory = (productId: number): Pick<InventoryDoc, '_id' | 'version' | 'state'> => ({
  _id: numericKey(productId), version: 0, state: { ...initialProduct(), productId },
});

export function projectInventory(doc: Pick<InventoryDoc, '_id' | 'version' | 'state'>, e: StreamEvent): InventoryDoc {
  const state = evolveProduct(doc.state, e.payload);
  const item = inventoryItem(state);
  return {
    _id: doc._id, version: e.version, state,
    product_id: item.productId, product_name: item.productName, available_quantity: item.availableQuantity,
    reserved_quantity: item.reservedQuantity, total_quantity: item.totalQuantity, low_stock_threshold: item.lowStockThreshold,
    low_stock_alert: item.lowStockAlert, unit_price_cents: state.unitPriceCents, pending_orders: item.pendingOrders, updated_at: e.occurredAt,
  };
}
