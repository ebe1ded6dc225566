// The product aggregate: stock on hand and the reservations held against it.
// Reservations are keyed by order id, which makes every reaction idempotent:
// reserving twice for one order, or releasing what is gone, decides nothing.
import type { StreamDecider } from './decider';
import { PreconditionError, Violations } from './errors';
import { event, unhandled, type ProductEvent } from './events';
import { checkUnitPrice } from './validation';

export interface ProductState {
  exists: boolean;
  productId: number;
  productName: string;
  unitPriceCents: number;
  totalQuantity: number;
  lowStockThreshold: number;
  /** order id → units held */
  reservations: Record<string, number>;
  /** order id → the open reservation's slot (its number on this product) */
  slots: Record<string, number>;
  /** The slot the next reservation takes. */
  nextSlot: number;
}

export const initialProduct = (): ProductState => ({
  exists: false,
  productId: 0,
  productName: '',
  unitPriceCents: 0,
  totalQuantity: 0,
  lowStockThreshold: 0,
  reservations: {},
  slots: {},
  nextSlot: 0,
});

export const reservedQuantity = (s: ProductState): number =>
  Object.values(s.reservations).reduce((a, b) => a + b, 0);
export const availableQuantity = (s: ProductState): number => s.totalQuantity - reservedQuantity(s);

export type ProductCommand =
  | {
      type: 'UpdateInventory';
      productId: number;
      productName?: string;
      unitPriceCents?: number;
      quantity?: number;
      quantityDelta?: number;
      lowStockThreshold?: number;
    }
  | { type: 'Reserve'; productId: number; orderId: string; quantity: number }
  | { type: 'Release'; orderId: string }
  | { type: 'Sell'; orderId: string };

/** Why a reservation was refused, in words an order's timeline can show. */
export class ReservationRefused extends PreconditionError {
  override name = 'ReservationRefused';
}

export function decideProduct(command: ProductCommand, state: ProductState): ProductEvent[] {
  switch (command.type) {
    case 'UpdateInventory':
      return decideUpdate(command, state);
    case 'Reserve': {
      if (!state.exists) throw new ReservationRefused(`unknown product ${command.productId}`);
      if (command.orderId in state.reservations) return [];
      const available = availableQuantity(state);
      if (available < command.quantity) {
        throw new ReservationRefused(
          `not enough stock for product ${state.productId}: ${command.quantity} requested, ${available} available`,
        );
      }
      return [event('inventoryReserved', { productId: state.productId, orderId: command.orderId, quantity: command.quantity, slot: state.nextSlot })];
    }
    case 'Release':
    case 'Sell': {
      const quantity = state.reservations[command.orderId];
      if (quantity === undefined) return [];
      const value = { productId: state.productId, orderId: command.orderId, quantity, slot: state.slots[command.orderId] ?? 0 };
      return [command.type === 'Release' ? event('inventoryReleased', value) : event('inventorySold', value)];
    }
  }
}

function decideUpdate(command: Extract<ProductCommand, { type: 'UpdateInventory' }>, state: ProductState): ProductEvent[] {
  // A price above zero is a rule of the catalogue, however the command came in.
  if (command.unitPriceCents !== undefined) {
    const v = new Violations();
    checkUnitPrice(v, command.unitPriceCents);
    v.throwIfAny();
  }
  if (!state.exists && (command.productName === undefined || command.unitPriceCents === undefined)) {
    throw new PreconditionError(`product ${command.productId} does not exist yet: product_name and unit_price are required to create it`);
  }
  let total = command.quantity ?? state.totalQuantity;
  total += command.quantityDelta ?? 0;
  const reserved = reservedQuantity(state);
  if (total < reserved) {
    throw new PreconditionError(`stock of product ${command.productId} cannot go to ${total}: ${reserved} units are reserved by orders`);
  }
  return [
    event('inventoryUpdated', {
      productId: command.productId,
      productName: command.productName ?? state.productName,
      unitPriceCents: command.unitPriceCents ?? state.unitPriceCents,
      totalQuantity: total,
      lowStockThreshold: command.lowStockThreshold ?? state.lowStockThreshold,
    }),
  ];
}

export function evolveProduct(state: ProductState, e: ProductEvent): ProductState {
  switch (e.$case) {
    case 'inventoryUpdated': {
      const { productId, productName, unitPriceCents, totalQuantity, lowStockThreshold } = e.value;
      return { ...state, exists: true, productId, productName, unitPriceCents, totalQuantity, lowStockThreshold };
    }
    case 'inventoryReserved':
      return {
        ...state,
        reservations: { ...state.reservations, [e.value.orderId]: e.value.quantity },
        slots: { ...state.slots, [e.value.orderId]: e.value.slot },
        nextSlot: Math.max(state.nextSlot ?? 0, e.value.slot + 1),
      };
    case 'inventoryReleased':
      return { ...state, reservations: without(state.reservations, e.value.orderId), slots: without(state.slots ?? {}, e.value.orderId) };
    case 'inventorySold':
      return {
        ...state,
        totalQuantity: state.totalQuantity - e.value.quantity,
        reservations: without(state.reservations, e.value.orderId),
        slots: without(state.slots ?? {}, e.value.orderId),
      };
    default:
      return unhandled(e);
  }
}

export const productDecider: StreamDecider<ProductState, ProductCommand, 'product'> = { streamKind: 'product', decide: decideProduct, evolve: evolveProduct, initialState: initialProduct };

function without(map: Record<string, number>, key: string): Record<string, number> {
  const { [key]: _, ...rest } = map;
  return rest;
}
