import type { InventoryItem } from '../gen/ts/cqrs/v1/read_models';
import { availableQuantity, reservedQuantity, type ProductState } from '../domain/inventory';
import { toDecimal } from '../domain/money';
import { PENDING_SHOWN } from '../read-models';

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
    // As the read model shows them: the longest-held (lowest slots) first, a bounded number.
    pendingOrders: Object.keys(s.reservations)
      .sort((a, b) => (s.slots?.[a] ?? 0) - (s.slots?.[b] ?? 0))
      .slice(0, PENDING_SHOWN)
      .sort(),
    pendingOrdersCount: Object.keys(s.reservations).length,
  };
}
