// The read models as pure folds over a stream's events.
import fc from 'fast-check';
import { PaymentMethod } from '../../gen/ts/cqrs/v1/common';
import { event, type DomainEvent } from '../../domain/events';
import { bucketEntries, bucketOrders, numericKey, PAID_STATUSES, pendingKey, pendingOrders, type InventoryDoc, type OrderDoc, type PendingBucket, type UserOrdersBucket, type UserSummaryDoc } from '../../read-models';
import { emptyInventory, projectInventory, refilled, withPendingChange } from '../../projector-svc/inventory-projection';
import { emptyOrder, projectOrder } from '../../projector-svc/order-projection';
import type { ProductCounters, Tallied } from '../../projector-svc/product-counts';
import { emptySummary, newBucket, withOrder, withOrderEntry } from '../../projector-svc/user-summary-projection';
import { deepFreeze } from '../support/given-when-then';

const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const at = (i: number) => new Date(T0 + i * 60_000);

/** Folds events (versions 1..n, a minute apart) the way the projector does, freezing every input. */
function foldOrder(orderId: string, events: DomainEvent[], from?: OrderDoc): OrderDoc {
  const start = from ?? emptyOrder(orderId, at(0));
  return events.reduce(
    (doc, payload, i) => projectOrder(deepFreeze(doc), deepFreeze({ version: start.version + i + 1, occurredAt: at(start.version + i + 1), payload })),
    start,
  );
}
function foldInventory(productId: number, events: DomainEvent[]): InventoryDoc {
  return events.reduce(
    (doc, payload, i) => projectInventory(deepFreeze(doc), deepFreeze({ version: i + 1, occurredAt: at(i + 1), payload })),
    emptyInventory(productId) as InventoryDoc,
  );
}

const O = '3f1c2b8e-8d4a-4e39-9a52-0c8f5d7b6a11';
const initiated = (orderId = O, userId = 123, lines = [{ productId: 456, quantity: 2 }, { productId: 789, quantity: 1 }]) =>
  event('orderInitiated', { orderId, userId, userEmail: 'ada@example.com', lines });
const validated = (orderId = O) =>
  event('orderValidated', {
    orderId,
    lines: [
      { productId: 456, productName: 'Widget', quantity: 2, unitPriceCents: 1999 },
      { productId: 789, productName: 'Gadget', quantity: 1, unitPriceCents: 500 },
    ],
    totalCents: 4498,
  });
const processed = event('paymentProcessed', { orderId: O, paymentId: 'pay-1', amountCents: 4498, method: PaymentMethod.PAYPAL });
const paid = event('orderPaid', { orderId: O, paymentId: 'pay-1', amountCents: 4498 });
const shipped = event('orderShipped', { orderId: O, trackingNumber: 'TRK' });
const completed = event('orderCompleted', { orderId: O });

describe('order projection', () => {
  test('the timeline has one entry per event, in order, with its name and timestamp', () => {
    const doc = foldOrder(O, [initiated(), validated(), processed, paid, shipped, completed]);
    expect(doc.timeline).toEqual([
      { event: 'OrderInitiated', timestamp: at(1) },
      { event: 'OrderValidated', timestamp: at(2) },
      { event: 'PaymentProcessed', timestamp: at(3) },
      { event: 'OrderPaid', timestamp: at(4) },
      { event: 'OrderShipped', timestamp: at(5) },
      { event: 'OrderCompleted', timestamp: at(6) },
    ]);
    expect(doc.version).toBe(6);
    expect(doc.status).toBe('COMPLETED');
    expect(doc.created_at).toEqual(at(1));
    expect(doc.updated_at).toEqual(at(6));
  });

  test('the order starts PENDING with its user, email and unpriced items', () => {
    const doc = foldOrder(O, [initiated()]);
    expect(doc).toMatchObject({
      _id: O, order_id: O, version: 1, user_id: 123, user_email: 'ada@example.com', status: 'PENDING', total_cents: 0, payment_info: null,
      items: [
        { product_id: 456, product_name: '', quantity: 2, unit_price_cents: 0 },
        { product_id: 789, product_name: '', quantity: 1, unit_price_cents: 0 },
      ],
    });
  });

  test('items are named and priced once the order is validated, with the total', () => {
    const doc = foldOrder(O, [initiated(), validated()]);
    expect(doc.status).toBe('VALIDATED');
    expect(doc.total_cents).toBe(4498);
    expect(doc.items).toEqual([
      { product_id: 456, product_name: 'Widget', quantity: 2, unit_price_cents: 1999 },
      { product_id: 789, product_name: 'Gadget', quantity: 1, unit_price_cents: 500 },
    ]);
  });

  test('payment_info comes from PaymentProcessed; OrderPaid makes it PAID', () => {
    const afterPayment = foldOrder(O, [initiated(), validated(), processed]);
    expect(afterPayment.status).toBe('VALIDATED');
    expect(afterPayment.payment_info).toEqual({ payment_id: 'pay-1', amount_cents: 4498, method: 'PAYPAL', status: 'PROCESSED', processed_at: at(3) });
    const afterPaid = foldOrder(O, [paid], afterPayment);
    expect(afterPaid.status).toBe('PAID');
    expect(afterPaid.payment_info).toEqual(afterPayment.payment_info);
  });

  test('a failed payment is recorded with its reason and leaves the status', () => {
    const failed = event('paymentFailed', { orderId: O, paymentId: 'pay-0', amountCents: 4498, method: PaymentMethod.DEBIT_CARD, reason: 'card declined' });
    const doc = foldOrder(O, [initiated(), validated(), failed]);
    expect(doc.status).toBe('VALIDATED');
    expect(doc.status_reason).toBe('card declined');
    expect(doc.payment_info).toMatchObject({ payment_id: 'pay-0', method: 'DEBIT_CARD', status: 'FAILED' });
    expect(doc.timeline.map((t) => t.event)).toEqual(['OrderInitiated', 'OrderValidated', 'PaymentFailed']);
  });

  test.each([
    ['REJECTED', event('orderRejected', { orderId: O, reason: 'not enough stock for product 456: 2 requested, 1 available' })],
    ['CANCELLED', event('orderCancelled', { orderId: O, reason: 'changed my mind' })],
  ])('a %s order keeps the reason', (status, e) => {
    const doc = foldOrder(O, [initiated(), e]);
    expect(doc.status).toBe(status);
    expect(doc.status_reason).toBe((e.value as { reason: string }).reason);
  });

  test('projecting does not touch the previous document', () => {
    const before = foldOrder(O, [initiated()]);
    const copy = structuredClone(before);
    foldOrder(O, [validated()], before);
    expect(before).toEqual(copy);
  });
});

describe('inventory projection', () => {
  const P = 456;
  const updated = (totalQuantity: number, lowStockThreshold = 5) =>
    event('inventoryUpdated', { productId: P, productName: 'Widget', unitPriceCents: 1999, totalQuantity, lowStockThreshold });

  test('available, reserved, total, pending orders and the low-stock alert follow the events', () => {
    const doc = foldInventory(P, [
      updated(20),
      event('inventoryReserved', { productId: P, orderId: 'b-order', quantity: 6, slot: 0 }),
      event('inventoryReserved', { productId: P, orderId: 'a-order', quantity: 4, slot: 1 }),
      event('inventoryReserved', { productId: P, orderId: 'c-order', quantity: 3, slot: 2 }),
      event('inventorySold', { productId: P, orderId: 'c-order', quantity: 3, slot: 2 }),
    ]);
    expect(doc).toMatchObject({
      _id: numericKey(P), version: 5, product_id: P, product_name: 'Widget', unit_price_cents: 1999,
      total_quantity: 17, reserved_quantity: 10, available_quantity: 7, low_stock_threshold: 5, low_stock_alert: false,
      pending_count: 2, updated_at: at(5),
    });
    expect(pendingOrders(doc)).toEqual(['a-order', 'b-order']);
  });

  test('the alert is raised when available drops below the threshold, and cleared when released', () => {
    const low = foldInventory(P, [updated(10), event('inventoryReserved', { productId: P, orderId: 'o', quantity: 6, slot: 0 })]);
    expect(low).toMatchObject({ available_quantity: 4, low_stock_alert: true });
    const back = projectInventory(low, { version: 3, occurredAt: at(3), payload: event('inventoryReleased', { productId: P, orderId: 'o', quantity: 6, slot: 0 }) });
    expect(back).toMatchObject({ version: 3, available_quantity: 10, reserved_quantity: 0, low_stock_alert: false, pending_count: 0 });
    expect(pendingOrders(back)).toEqual([]);
    expect(foldInventory(P, [updated(5, 5)]).low_stock_alert).toBe(false); // exactly at the threshold
  });
});

describe('pending buckets', () => {
  const P = 456;
  const change = (b: PendingBucket, payload: DomainEvent) => withPendingChange(deepFreeze(b), { version: 1, occurredAt: at(1), payload });
  const reserved = (orderId: string, slot: number) => event('inventoryReserved', { productId: P, orderId, quantity: 1, slot });
  const sold = (orderId: string, slot: number) => event('inventorySold', { productId: P, orderId, quantity: 1, slot });
  const empty: PendingBucket = { _id: pendingKey(P, 0), product_id: P, pending: '' };

  test('reservations are listed by slot in one string, and gone once sold; a copy of an event changes nothing', () => {
    let b = [reserved('b', 7), reserved('a', 3), reserved('c', 9)].reduce(change, empty);
    expect(b.pending).toBe('3:a 7:b 9:c');
    expect(change(b, reserved('a', 3))).toBe(b);
    b = change(b, sold('b', 7));
    expect(bucketEntries(b)).toEqual([{ id: 'a', slot: 3 }, { id: 'c', slot: 9 }]);
    expect(change(b, sold('b', 7))).toBe(b);
  });

  test('a bucket stored as a map of order ids (before 2026-12-08) is read, and written back as one string', () => {
    const old: PendingBucket = { _id: pendingKey(P, 0), product_id: P, orders: { z: 5, y: 2 } } as unknown as PendingBucket;
    expect(bucketEntries(old)).toEqual([{ id: 'y', slot: 2 }, { id: 'z', slot: 5 }]);
    const after = change(old, reserved('x', 8));
    expect(after).toEqual({ _id: pendingKey(P, 0), product_id: P, pending: '2:y 5:z 8:x' });
    const doc = refilled({ ...emptyInventory(P), pending_count: 2, next_slot: 6 }, [old]);
    expect(pendingOrders(doc)).toEqual(['y', 'z']);
  });
});

describe("a user's order buckets", () => {
  test('orders are listed in one string, each at its latest version; an older copy changes nothing', () => {
    const a = orderAt('a', 'PENDING', [[1, 'W', 1, 100]]);
    const b = orderAt('b', 'VALIDATED', [[1, 'W', 1, 100]]);
    let bucket = [a, b].reduce(withOrderEntry, deepFreeze(newBucket(123, 0, 0)));
    expect(bucket.listed).toBe(`a:1:${a.created_at.getTime()}:PENDING b:2:${b.created_at.getTime()}:VALIDATED`);
    const paid = orderAt('a', 'PAID', [[1, 'W', 1, 100]]);
    bucket = withOrderEntry(deepFreeze(bucket), paid);
    expect([...bucketOrders(bucket)].map(([id, e]) => [id, e.v, e.status])).toEqual([['a', paid.version, 'PAID'], ['b', 2, 'VALIDATED']]);
    expect(withOrderEntry(bucket, a)).toBe(bucket);
  });

  test('a bucket stored as a map of order ids (before 2026-12-08) is read, and written back as one string', () => {
    const old = { _id: 'k', user_id: 123, orders: { z: '1 5000 PENDING' } } as unknown as UserOrdersBucket;
    expect([...bucketOrders(old)]).toEqual([['z', { v: 1, created_at: new Date(5000), status: 'PENDING' }]]);
    const a = orderAt('a', 'PENDING', [[1, 'W', 1, 100]]);
    const after = withOrderEntry(deepFreeze(old), a);
    expect(after).toEqual({ _id: 'k', user_id: 123, listed: `z:1:5000:PENDING a:1:${a.created_at.getTime()}:PENDING` });
  });
});

// ---- user summary ----

type Status = 'PENDING' | 'VALIDATED' | 'PAID' | 'SHIPPED' | 'COMPLETED' | 'CANCELLED' | 'REJECTED';
type Line = [productId: number, name: string, quantity: number, unitPriceCents: number];

/** An order document at a given status, through the real order fold. */
const orderAt = (orderId: string, status: Status, lines: Line[], userId = 123): OrderDoc => foldOrder(orderId, orderEvents(orderId, status, lines, userId));

/** The events that take an order to a status. */
function orderEvents(orderId: string, status: Status, lines: Line[], userId = 123): DomainEvent[] {
  const total = lines.reduce((s, [, , q, p]) => s + q * p, 0);
  const events: DomainEvent[] = [initiated(orderId, userId, lines.map(([productId, , quantity]) => ({ productId, quantity })))];
  const validate = event('orderValidated', {
    orderId, totalCents: total, lines: lines.map(([productId, productName, quantity, unitPriceCents]) => ({ productId, productName, quantity, unitPriceCents })),
  });
  const pay = [
    event('paymentProcessed', { orderId, paymentId: `pay-${orderId}`, amountCents: total, method: PaymentMethod.CREDIT_CARD }),
    event('orderPaid', { orderId, paymentId: `pay-${orderId}`, amountCents: total }),
  ];
  const path: Record<string, DomainEvent[]> = {
    PENDING: [],
    VALIDATED: [validate],
    REJECTED: [event('orderRejected', { orderId, reason: 'no stock' })],
    CANCELLED: [validate, event('orderCancelled', { orderId, reason: 'changed my mind' })],
    PAID: [validate, ...pay],
    SHIPPED: [validate, ...pay, event('orderShipped', { orderId, trackingNumber: 't' })],
    COMPLETED: [validate, ...pay, event('orderShipped', { orderId, trackingNumber: 't' }), event('orderCompleted', { orderId })],
  };
  return [...events, ...path[status]];
}
/** The summary with the user's product counters, folded as the projector folds them. */
const tally = (orders: OrderDoc[], userId = 123): Tallied<UserSummaryDoc> =>
  orders.reduce((t, o) => withOrder(deepFreeze(t.doc), deepFreeze(o), t.counters), { doc: emptySummary(userId), counters: NO_COUNTERS });
const summarize = (orders: OrderDoc[], userId = 123): UserSummaryDoc => tally(orders, userId).doc;
const NO_COUNTERS: ProductCounters = new Map();

describe('user summary projection', () => {
  const a = orderAt('order-a', 'PAID', [[1, 'Apple', 2, 100]]);

  test('withOrder is idempotent: the same digest twice returns the same object', () => {
    const once = withOrder(emptySummary(123), a, NO_COUNTERS);
    expect(once.doc).not.toBe(emptySummary(123));
    expect(withOrder(once.doc, a, once.counters).doc).toBe(once.doc);
    expect(withOrder(once.doc, structuredClone(a), once.counters).doc).toBe(once.doc);
    expect(withOrder(once.doc, structuredClone(a), once.counters).counters).toBe(once.counters);
  });

  test('an older version of an order is ignored', () => {
    const pending = orderAt('order-a', 'PENDING', [[1, 'Apple', 2, 100]]);
    const paidFirst = summarize([a]);
    expect(withOrder(paidFirst, pending, tally([a]).counters).doc).toBe(paidFirst);
    expect(paidFirst.by_status).toEqual({ PAID: 1 });
    // ... and a newer one replaces it.
    const fromPending = summarize([pending, a]);
    expect(fromPending.by_status).toEqual({ PAID: 1 });
    expect(fromPending.revenue_cents).toBe(200);
  });

  test('total_orders counts distinct orders; order_statuses sums to it', () => {
    const s = summarize([
      orderAt('o1', 'PENDING', [[1, 'Apple', 1, 100]]),
      orderAt('o2', 'PAID', [[1, 'Apple', 1, 100]]),
      orderAt('o1', 'VALIDATED', [[1, 'Apple', 1, 100]]),
      orderAt('o3', 'REJECTED', [[2, 'Pear', 1, 100]]),
      orderAt('o2', 'SHIPPED', [[1, 'Apple', 1, 100]]),
    ]);
    expect(s.total_orders).toBe(3);
    expect(s.by_status).toEqual({ VALIDATED: 1, SHIPPED: 1, REJECTED: 1 });
    expect(Object.values(s.by_status).reduce((x, y) => x + y, 0)).toBe(s.total_orders);
  });

  test('total_spent counts only PAID, SHIPPED and COMPLETED orders', () => {
    const s = summarize([
      orderAt('p', 'PAID', [[1, 'Apple', 1, 1000]]),
      orderAt('s', 'SHIPPED', [[1, 'Apple', 1, 200]]),
      orderAt('c', 'COMPLETED', [[1, 'Apple', 1, 30]]),
      orderAt('v', 'VALIDATED', [[1, 'Apple', 1, 4]]),
      orderAt('x', 'CANCELLED', [[1, 'Apple', 1, 50000]]),
      orderAt('r', 'REJECTED', [[1, 'Apple', 1, 60000]]),
      orderAt('n', 'PENDING', [[1, 'Apple', 1, 70000]]),
    ]);
    expect(s.revenue_cents).toBe(1230);
    expect(s.paid_orders).toBe(3);
    expect(s.total_orders).toBe(7);
  });

  test('favorite_products are sorted by count (units), ties by product id, at most five, named once known', () => {
    const s = summarize([
      orderAt('o1', 'PENDING', [[9, 'Nine', 1, 1], [3, 'Three', 5, 1]]), // PENDING: names not known yet
      orderAt('o2', 'PAID', [[7, 'Seven', 4, 1], [3, 'Three', 2, 1], [1, 'One', 4, 1]]),
      orderAt('o3', 'VALIDATED', [[2, 'Two', 1, 1], [5, 'Five', 2, 1], [6, 'Six', 3, 1]]),
    ]);
    expect(s.favorite_products).toEqual([
      { product_id: 3, product_name: 'Three', count: 7 },
      { product_id: 1, product_name: 'One', count: 4 },
      { product_id: 7, product_name: 'Seven', count: 4 },
      { product_id: 6, product_name: 'Six', count: 3 },
      { product_id: 5, product_name: 'Five', count: 2 },
    ]);
    expect(summarize([orderAt('o1', 'PENDING', [[9, 'Nine', 1, 1]])]).favorite_products).toEqual([{ product_id: 9, product_name: '', count: 1 }]);
  });

  test('property: whatever the order and repetition of digests, the summary depends only on the latest version of each order', () => {
    const statusArb = fc.constantFrom<Status>('PENDING', 'VALIDATED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED', 'REJECTED');
    const orderArb = fc.record({
      status: statusArb,
      lines: fc.uniqueArray(fc.record({ id: fc.integer({ min: 1, max: 8 }), qty: fc.integer({ min: 1, max: 9 }), price: fc.integer({ min: 0, max: 5000 }) }), {
        selector: (l) => l.id, minLength: 1, maxLength: 4,
      }),
    });
    fc.assert(
      fc.property(
        fc.array(orderArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (specs, picks) => {
          // Each order's full history of documents (one per version) ...
          const histories = specs.map((spec, n) => {
            const events = orderEvents(`order-${n}`, spec.status, spec.lines.map((l): Line => [l.id, `P${l.id}`, l.qty, l.price]));
            return events.map((_, v) => foldOrder(`order-${n}`, events.slice(0, v + 1)));
          });
          // ... delivered as an arbitrary interleaving with repeats and stale versions, then every final one.
          const all = histories.flat();
          const sequence = [...picks.map((p) => all[p % all.length]), ...histories.map((h) => h[h.length - 1])];
          const s = summarize(sequence);
          const expected = summarize(histories.map((h) => h[h.length - 1]));
          expect(s).toEqual(expected);
          expect(s.total_orders).toBe(specs.length);
          expect(Object.values(s.by_status).reduce((x, y) => x + y, 0)).toBe(specs.length);
          const finals = histories.map((h) => h[h.length - 1]);
          expect(s.revenue_cents).toBe(finals.filter((o) => PAID_STATUSES.includes(o.status)).reduce((x, o) => x + o.total_cents, 0));
          const counts = s.favorite_products.map((p) => p.count);
          expect(counts).toEqual([...counts].sort((x, y) => y - x));
        },
      ),
      { numRuns: 200 },
    );
  });
});
