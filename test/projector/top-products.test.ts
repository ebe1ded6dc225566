// The bounded top products and the counters behind them, as pure functions:
// given a list (or counters), when a product's units grow (or an order's
// contribution moves), then the list is the exact top N of every counter.
import fc from 'fast-check';
import { byRank, productCountKey, type OrderDoc, type ProductCount, type ProductCounterDoc } from '../../read-models';
import type { Contribution } from '../../projector-svc/contribution';
import { emptyCounter, heldUnits, moveProducts, withoutHeld, type ProductCounters } from '../../projector-svc/product-counts';
import { listsAll, withRanked } from '../../projector-svc/top-products';
import { emptySummary, withOrder } from '../../projector-svc/user-summary-projection';
import { deepFreeze } from '../support/given-when-then';

const N = 3;
const pc = (product_id: number, count: number, product_name = `P${product_id}`): ProductCount => ({ product_id, product_name, count });

/** given(list).when(product at its units now).then(list): inputs frozen, so a change in place fails. */
const given = (top: ProductCount[]) => ({
  when: (entry: ProductCount) => {
    const got = withRanked(deepFreeze(top), deepFreeze(entry), N);
    return {
      then: (expected: ProductCount[]) => expect(got).toEqual(expected),
      thenUnchanged: () => expect(got).toBe(top),
    };
  },
});

describe('top products: one product at a time', () => {
  test('a list with room takes any product with units, ranked', () => {
    given([]).when(pc(7, 2)).then([pc(7, 2)]);
    given([pc(7, 2)]).when(pc(3, 5)).then([pc(3, 5), pc(7, 2)]);
  });

  test('a listed product that grows moves up past those it now outranks', () => {
    given([pc(1, 9), pc(2, 5), pc(3, 4)]).when(pc(3, 6)).then([pc(1, 9), pc(3, 6), pc(2, 5)]);
  });

  test('ties are ranked by product id', () => {
    given([pc(5, 4), pc(9, 2)]).when(pc(2, 4)).then([pc(2, 4), pc(5, 4), pc(9, 2)]);
    // Tied with the last of a full list, a lower id enters and a higher one does not.
    given([pc(1, 9), pc(4, 5), pc(6, 3)]).when(pc(5, 3)).then([pc(1, 9), pc(4, 5), pc(5, 3)]);
    given([pc(1, 9), pc(4, 5), pc(6, 3)]).when(pc(8, 3)).thenUnchanged();
  });

  test('a product that outranks the last of a full list enters and pushes it out', () => {
    given([pc(1, 9), pc(2, 5), pc(3, 4)]).when(pc(8, 7)).then([pc(1, 9), pc(8, 7), pc(2, 5)]);
  });

  test('a product pushed out enters again once its units (kept in its counter) grow past the last listed', () => {
    const pushedOut = withRanked([pc(1, 9), pc(2, 5), pc(3, 4)], pc(8, 7), N);
    expect(pushedOut.map((e) => e.product_id)).toEqual([1, 8, 2]);
    // Tied with the last (2, 5 units), a higher id stays out; one more unit and it is back.
    given(pushedOut).when(pc(3, 5)).thenUnchanged();
    given(pushedOut).when(pc(3, 6)).then([pc(1, 9), pc(8, 7), pc(3, 6)]);
  });

  test('a product that does not outrank the last of a full list leaves the list as it is', () => {
    given([pc(1, 9), pc(2, 5), pc(3, 4)]).when(pc(8, 2)).thenUnchanged();
  });

  test('the same units and name change nothing; a name learnt later names the listed product', () => {
    given([pc(1, 9), pc(2, 5)]).when(pc(2, 5)).thenUnchanged();
    given([pc(1, 9, ''), pc(2, 5)]).when(pc(1, 9, 'One')).then([pc(1, 9, 'One'), pc(2, 5)]);
  });

  test('a list shorter than N lists every product with units', () => {
    expect(listsAll([pc(1, 1), pc(2, 1)], N)).toBe(true);
    expect(listsAll([pc(1, 1), pc(2, 1), pc(3, 1)], N)).toBe(false);
  });

  test('property: whatever the growths, the list is the top N of all units, ranked by units then id', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ id: fc.integer({ min: 1, max: 12 }), by: fc.integer({ min: 1, max: 4 }) }), { maxLength: 60 }), (growths) => {
        const units = new Map<number, number>();
        let top: ProductCount[] = [];
        for (const g of growths) {
          units.set(g.id, (units.get(g.id) ?? 0) + g.by);
          top = withRanked(top, pc(g.id, units.get(g.id)!), N);
        }
        const all = [...units].map(([id, count]) => pc(id, count)).sort(byRank);
        expect(top).toEqual(all.slice(0, N));
      }),
      { numRuns: 300 },
    );
  });
});

const contribution = (v: number, lines: Array<[number, string, number]>): Contribution => ({
  v, status: 'PENDING', total_cents: 0, created_minute: 0, bucket: 0, lines: lines.map(([product_id, product_name, quantity]) => ({ product_id, product_name, quantity })),
});
const NONE: ProductCounters = new Map();
const counterOf = (counters: ProductCounters, productId: number): ProductCounterDoc | undefined => counters.get(productId);

describe('product counters: an order moved in', () => {
  test('a new order adds its units to each product, remembered pending, and ranks them', () => {
    const { top, counters } = moveProducts([], NONE, productCountKey, 'o1', undefined, contribution(1, [[4, '', 2], [9, '', 1]]), N);
    expect(top).toEqual([pc(4, 2, ''), pc(9, 1, '')]);
    expect(counterOf(counters, 4)).toEqual({ ...emptyCounter(productCountKey(4), 4), count: 2, pending: { o1: '1 2' } });
  });

  test('the next version of an order moves no units; its names name the products once', () => {
    const created = moveProducts([], NONE, productCountKey, 'o1', undefined, contribution(1, [[4, '', 2]]), N);
    const validated = moveProducts(created.top, created.counters, productCountKey, 'o1', contribution(1, [[4, '', 2]]), contribution(2, [[4, 'Four', 2]]), N);
    expect(validated.top).toEqual([pc(4, 2, 'Four')]);
    expect(counterOf(validated.counters, 4)).toMatchObject({ count: 2, product_name: 'Four', pending: { o1: '1 2' } });
    // Named already: the same counters and list again.
    const paid = moveProducts(validated.top, validated.counters, productCountKey, 'o1', contribution(2, [[4, 'Four', 2]]), contribution(3, [[4, 'Four', 2]]), N);
    expect(paid.counters).toBe(validated.counters);
    expect(paid.top).toBe(validated.top);
  });

  test('counters ahead of their summary (a crash between the writes) count the order once, and the summary ranks it', () => {
    // The counters were written with o1; the summary that feeds from them was not.
    const written = moveProducts([], NONE, productCountKey, 'o1', undefined, contribution(1, [[4, '', 3]]), N).counters;
    const again = moveProducts([], written, productCountKey, 'o1', undefined, contribution(1, [[4, '', 3]]), N);
    expect(again.counters).toBe(written);
    expect(again.top).toEqual([pc(4, 3, '')]);
    expect(heldUnits(written.get(4)!, 'o1', undefined)).toBe(3);
  });

  test('a product pushed out of the summary keeps its exact units and enters again from them', () => {
    let t = { top: [] as ProductCount[], counters: NONE };
    const order = (id: string, lines: Array<[number, number]>) => {
      t = moveProducts(t.top, t.counters, productCountKey, id, undefined, contribution(1, lines.map(([p, q]) => [p, `P${p}`, q])), N);
    };
    order('a', [[1, 2], [2, 3], [3, 4]]);
    order('b', [[5, 5]]); // 1 is pushed out with 2 units
    expect(t.top.map((e) => e.product_id)).toEqual([5, 3, 2]);
    order('c', [[1, 2]]); // 1 has 4 now: back in, above 2 (3 units)
    expect(t.top).toEqual([pc(5, 5), pc(1, 4), pc(3, 4)]);
    expect(t.counters.get(2)?.count).toBe(3);
  });

  test('a counter forgets what it keeps pending once its summary is known to hold that version', () => {
    const k: ProductCounterDoc = { ...emptyCounter('k', 4), count: 5, pending: { o1: '1 2', o2: '3 3' } };
    expect(withoutHeld(k, (id) => ({ o1: 1, o2: 2 })[id])).toEqual({ ...k, pending: { o2: '3 3' } });
    expect(withoutHeld(k, () => undefined)).toBe(k);
  });
});

describe('favourites over a summary and its counters', () => {
  /** An order's document at a version: v1 unnamed lines (OrderInitiated), later ones named (OrderValidated on). */
  const orderAt = (n: number, v: number, lines: Array<[number, number]>): OrderDoc => ({
    _id: `o${n}`, order_id: `o${n}`, version: v, user_id: 1, user_email: '', status: v === 1 ? 'PENDING' : 'VALIDATED', status_reason: '', total_cents: 0,
    items: lines.map(([product_id, quantity]) => ({ product_id, product_name: v === 1 ? '' : `P${product_id}`, quantity, unit_price_cents: 0 })),
    payment_info: null, timeline: [], created_at: new Date(0), updated_at: new Date(0),
  });

  test('property: whatever versions arrive, repeated or stale, the favourites are the top five of every order\'s units, named once validated', () => {
    const linesArb = fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 5 })), { selector: (l) => l[0], minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(fc.array(linesArb, { minLength: 1, maxLength: 8 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 3 })), { maxLength: 30 }), (orders, picks) => {
        const deliveries = [...picks.map(([n, v]) => orderAt(n % orders.length, v, orders[n % orders.length])), ...orders.map((lines, n) => orderAt(n, 3, lines))];
        const { doc } = deliveries.reduce((t, o) => withOrder(deepFreeze(t.doc), deepFreeze(o), t.counters), { doc: emptySummary(1), counters: NONE });
        const units = new Map<number, number>();
        for (const lines of orders) for (const [p, q] of lines) units.set(p, (units.get(p) ?? 0) + q);
        expect(doc.favorite_products).toEqual([...units].map(([p, count]) => pc(p, count)).sort(byRank).slice(0, 5));
      }),
      { numRuns: 300 },
    );
  });
});
