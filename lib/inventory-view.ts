import type { InventoryItem } from '../gen/ts/cqrs/v1/read_models';
import { availableQuantity, reservedQuantity, type ProductState } from '../domain/inventory';
import { toDecimal } from '../domain/money';

/** The Inventory read model of one product, from the aggregate's state. */
export function inventoryItem(s: ProductState): InventoryItem {
  const available = availableQuantity(s);
  return {
    productId: s.productId,
    productName: s.productName,
    unitPrice: toDecimal(s.unitPriceCents),
    availableQuantity: available,
    reservedQuantity: reservedQuantity(s),
    totalQuantity: s.totalQuantity,
    lowStockThreshold: s.lowStockThreshold,
    lowStockAlert: available < s.lowStockThreshold,
    pendingOrders: Object.keys(s.reservations).sort(),
  };
}
