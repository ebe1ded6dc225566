// The product aggregate: stock on hand and reservations held against it.
import fc from 'fast-check';
import { PreconditionError, ValidationError } from '../../domain/errors';
import { event, type ProductEvent } from '../../domain/events';
import {
  availableQuantity,
  decideProduct,
  evolveProduct,
  initialProduct,
  productDecider,
  reservedQuantity,
  ReservationRefused,
  type ProductCommand,
  type ProductState,
} from '../../domain/inventory';
import { fold, specFor } from '../support/given-when-then';

const given = specFor(productDecider);

const P = 456;
const created = (totalQuantity = 10) =>
  event('inventoryUpdated', { productId: P, productName: 'Widget', unitPriceCents: 1999, totalQuantity, lowStockThreshold: 3 });
const reserved = (orderId: string, quantity: number, slot = 0) => event('inventoryReserved', { productId: P, orderId, quantity, slot });
const released = (orderId: string, quantity: number, slot = 0) => event('inventoryReleased', { productId: P, orderId, quantity, slot });
const sold = (orderId: string, quantity: number, slot = 0) => event('inventorySold', { productId: P, orderId, quantity, slot });

const update = (c: Omit<Extract<ProductCommand, { type: 'UpdateInventory' }>, 'type' | 'productId'>): ProductCommand => ({
  type: 'UpdateInventory',
  productId: P,
  ...c,
});
const reserve = (orderId: string, quantity: number): ProductCommand => ({ type: 'Reserve', productId: P, orderId, quantity });

describe('creating a product', () => {
  test('with a name and a price it is created, unset fields defaulting to 0', () => {
    given([])
      .when(update({ productName: 'Widget', unitPriceCents: 1999 }))
      .then([event('inventoryUpdated', { productId: P, productName: 'Widget', unitPriceCents: 1999, totalQuantity: 0, lowStockThreshold: 0 })]);
  });

  test.each([0, -100])('a price of %i cents is refused, naming unit_price: an order totalling 0.00 could never be paid', (unitPriceCents) => {
    const err = given([]).when(update({ productName: 'Sticker', unitPriceCents, quantity: 5 })).thenThrows(ValidationError) as ValidationError;
    expect(err.violations).toEqual([{ field: 'unit_price', description: 'must be a positive amount with at most two decimals' }]);
    given([created()]).when(update({ unitPriceCents })).thenThrows(ValidationError, /unit_price/);
  });

  test.each([
    ['no name', { unitPriceCents: 100, quantity: 5 }],
    ['no price', { productName: 'Widget', quantity: 5 }],
    ['neither', { quantity: 5 }],
  ])('with %s it is refused, saying both are required', (_, c) => {
    given([]).when(update(c)).thenThrows(PreconditionError, new RegExp(`product ${P} does not exist yet: product_name and unit_price are required`));
  });

  test('an existing product can be updated without name or price, keeping them', () => {
    given([created(10)])
      .when(update({ quantity: 4 }))
      .then([event('inventoryUpdated', { productId: P, productName: 'Widget', unitPriceCents: 1999, totalQuantity: 4, lowStockThreshold: 3 })]);
  });
});

describe('quantity: set or delta', () => {
  test('quantity sets the units on hand', () => {
    const s = given([created(10)]).when(update({ quantity: 25 })).then([event('inventoryUpdated', { productId: P, productName: 'Widget', unitPriceCents: 1999, totalQuantity: 25, lowStockThreshold: 3 })]);
    expect(s.totalQuantity).toBe(25);
  });

  test('quantity_delta adds to, or removes from, the units on hand', () => {
    expect(given([created(10)]).when(update({ quantityDelta: 5 })).then([event('inventoryUpdated', { productId: P, productName: 'Widget', unitPriceCents: 1999, totalQuantity: 15, lowStockThreshold: 3 })]).totalQuantity).toBe(15);
    expect(given([created(10)]).when(update({ quantityDelta: -4 })).then([event('inventoryUpdated', { productId: P, productName: 'Widget', unitPriceCents: 1999, totalQuantity: 6, lowStockThreshold: 3 })]).totalQuantity).toBe(6);
  });

  test('stock cannot be set below what orders have reserved', () => {
    given([created(10), reserved('o1', 4), reserved('o2', 3)])
      .when(update({ quantity: 6 }))
      .thenThrows(PreconditionError, new RegExp(`stock of product ${P} cannot go to 6: 7 units are reserved by orders`));
  });

  test('stock cannot be lowered by a delta below what orders have reserved', () => {
    given([created(10), reserved('o1', 4)])
      .when(update({ quantityDelta: -7 }))
      .thenThrows(PreconditionError, /cannot go to 3: 4 units are reserved/);
  });

  test('stock can go down to exactly what is reserved', () => {
    const s = given([created(10), reserved('o1', 4)]).when(update({ quantityDelta: -6 })).then([event('inventoryUpdated', { productId: P, productName: 'Widget', unitPriceCents: 1999, totalQuantity: 4, lowStockThreshold: 3 })]);
    expect(availableQuantity(s)).toBe(0);
  });

  test('a delta cannot take stock below zero, even with nothing reserved', () => {
    given([created(3)]).when(update({ quantityDelta: -5 })).thenThrows(PreconditionError, /cannot go to -2/);
  });
});

describe('Reserve', () => {
  test('with enough stock → InventoryReserved', () => {
    const s = given([created(10)]).when(reserve('o1', 4)).then([reserved('o1', 4)]);
    expect(reservedQuantity(s)).toBe(4);
    expect(availableQuantity(s)).toBe(6);
  });

  test('all of the available stock can be reserved', () => {
    given([created(10), reserved('o1', 4)]).when(reserve('o2', 6)).then([reserved('o2', 6, 1)]);
  });

  test('not enough stock → ReservationRefused naming the numbers', () => {
    given([created(10), reserved('o1', 4)])
      .when(reserve('o2', 7))
      .thenThrows(ReservationRefused, new RegExp(`not enough stock for product ${P}: 7 requested, 6 available`));
  });

  test('stock sold to other orders is not available', () => {
    given([created(10), reserved('o1', 8), sold('o1', 8)]).when(reserve('o2', 3)).thenThrows(ReservationRefused, /not enough stock.*3 requested, 2 available/);
  });

  test('an unknown product → ReservationRefused "unknown product N"', () => {
    given([]).when({ type: 'Reserve', productId: 999, orderId: 'o1', quantity: 1 }).thenThrows(ReservationRefused, /^unknown product 999$/);
  });

  test('reserving twice for one order decides nothing (idempotent), even if the quantity differs or stock is gone', () => {
    given([created(10), reserved('o1', 4)]).when(reserve('o1', 4)).thenNothing();
    given([created(10), reserved('o1', 4)]).when(reserve('o1', 9)).thenNothing();
    given([created(4), reserved('o1', 4)]).when(reserve('o1', 4)).thenNothing();
  });

  test('an order whose reservation was released can reserve again', () => {
    given([created(10), reserved('o1', 4), released('o1', 4)]).when(reserve('o1', 4)).then([reserved('o1', 4, 1)]);
  });
});

describe('Release and Sell', () => {
  const held = [created(10), reserved('o1', 4), reserved('o2', 2)];

  test('releasing a reservation → InventoryReleased with its quantity; stock returns to available', () => {
    const s = given(held).when({ type: 'Release', orderId: 'o1' }).then([released('o1', 4)]);
    expect(s.reservations).toEqual({ o2: 2 });
    expect(s.totalQuantity).toBe(10);
    expect(availableQuantity(s)).toBe(8);
  });

  test('selling a reservation → InventorySold; sold units leave the total', () => {
    const s = given(held).when({ type: 'Sell', orderId: 'o1' }).then([sold('o1', 4)]);
    expect(s.reservations).toEqual({ o2: 2 });
    expect(s.totalQuantity).toBe(6);
    expect(reservedQuantity(s)).toBe(2);
    expect(availableQuantity(s)).toBe(4);
  });

  test.each(['Release', 'Sell'] as const)('%s of an order with no reservation decides nothing', (type) => {
    given(held).when({ type, orderId: 'o3' }).thenNothing();
    given([...held, released('o1', 4)]).when({ type, orderId: 'o1' }).thenNothing();
    given([...held, sold('o1', 4)]).when({ type, orderId: 'o1' }).thenNothing();
    given([]).when({ type, orderId: 'o1' }).thenNothing();
  });
});

describe('state', () => {
  test('available = total − reserved', () => {
    const s = fold(productDecider, [created(20), reserved('a', 3), reserved('b', 5), released('a', 3), reserved('c', 1), sold('b', 5)]);
    expect(s.totalQuantity).toBe(15);
    expect(reservedQuantity(s)).toBe(1);
    expect(availableQuantity(s)).toBe(14);
    expect(s.reservations).toEqual({ c: 1 });
  });

  test('an update keeps the reservations', () => {
    const s = fold(productDecider, [created(20), reserved('a', 3), created(30)]);
    expect(s.reservations).toEqual({ a: 3 });
    expect(availableQuantity(s)).toBe(27);
  });

  test('a new product does not exist and holds nothing', () => {
    const s = initialProduct();
    expect(s.exists).toBe(false);
    expect(reservedQuantity(s)).toBe(0);
    expect(availableQuantity(s)).toBe(0);
    expect(fold(productDecider, [created(1)]).exists).toBe(true);
  });
});

describe('invariants under any sequence of commands (property)', () => {
  const orders = ['o1', 'o2', 'o3', 'o4'];
  const orderArb = fc.constantFrom(...orders);
  const commandArb: fc.Arbitrary<ProductCommand> = fc.oneof(
    fc.record({ type: fc.constant('Reserve' as const), productId: fc.constant(P), orderId: orderArb, quantity: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ type: fc.constant('Release' as const), orderId: orderArb }),
    fc.record({ type: fc.constant('Sell' as const), orderId: orderArb }),
    fc.record({ type: fc.constant('UpdateInventory' as const), productId: fc.constant(P), quantity: fc.integer({ min: 0, max: 20 }) }),
    fc.record({ type: fc.constant('UpdateInventory' as const), productId: fc.constant(P), quantityDelta: fc.integer({ min: -10, max: 10 }) }),
  );
  const createArb = fc.integer({ min: 0, max: 20 }).map<ProductCommand>((quantity) => ({
    type: 'UpdateInventory', productId: P, productName: 'Widget', unitPriceCents: 100, quantity,
  }));

  test('available never goes negative and reserved equals the sum of open reservations', () => {
    fc.assert(
      fc.property(createArb, fc.array(commandArb, { maxLength: 40 }), (first, commands) => {
        let state: ProductState = initialProduct();
        // The model: what a correct product must hold, kept apart from the aggregate.
        const open = new Map<string, number>();
        // Each reservation takes the next slot; its release or sale names it.
        const slots = new Map<string, number>();
        let nextSlot = 0;
        let total = 0;
        for (const command of [first, ...commands]) {
          let events: ProductEvent[] = [];
          let error: unknown;
          try {
            events = decideProduct(command, state);
          } catch (err) {
            error = err;
          }
          if (error !== undefined && !(error instanceof PreconditionError)) throw error;
          state = events.reduce(evolveProduct, state);

          const openSum = () => [...open.values()].reduce((a, b) => a + b, 0);
          switch (command.type) {
            case 'Reserve': {
              if (open.has(command.orderId)) expect(events).toEqual([]);
              else if (total - openSum() >= command.quantity) {
                expect(events).toEqual([reserved(command.orderId, command.quantity, nextSlot)]);
                open.set(command.orderId, command.quantity);
                slots.set(command.orderId, nextSlot++);
              } else expect(error).toBeInstanceOf(ReservationRefused);
              break;
            }
            case 'Release':
            case 'Sell': {
              const q = open.get(command.orderId);
              if (q === undefined) expect(events).toEqual([]);
              else {
                const slot = slots.get(command.orderId)!;
                expect(events).toEqual([command.type === 'Release' ? released(command.orderId, q, slot) : sold(command.orderId, q, slot)]);
                open.delete(command.orderId);
                if (command.type === 'Sell') total -= q;
              }
              break;
            }
            case 'UpdateInventory': {
              const wanted = (command.quantity ?? total) + (command.quantityDelta ?? 0);
              // Refused exactly when it would leave fewer units than are reserved (or below zero).
              expect(error === undefined).toBe(wanted >= openSum() && wanted >= 0);
              if (error === undefined) total = wanted;
              break;
            }
          }
          expect(state.totalQuantity).toBe(total);
          expect(reservedQuantity(state)).toBe(openSum());
          expect(Object.keys(state.reservations).sort()).toEqual([...open.keys()].sort());
          expect(availableQuantity(state)).toBeGreaterThanOrEqual(0);
          expect(availableQuantity(state)).toBe(state.totalQuantity - reservedQuantity(state));
        }
      }),
      { numRuns: 300 },
    );
  });
});
