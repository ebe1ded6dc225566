// Every rule of an order's life, as given(history).when(command).then(events).
import fc from 'fast-check';
import { OrderStatus, PaymentMethod, type OrderLine, type PricedLine } from '../../gen/ts/cqrs/v1/common';
import { NotFoundError, PreconditionError } from '../../domain/errors';
import { event, type OrderEvent } from '../../domain/events';
import { decideOrder, evolveOrder, initialOrder, orderDecider, type OrderCommand, type OrderState } from '../../domain/order';
import { fold, specFor } from '../support/given-when-then';

const given = specFor(orderDecider);

const orderId = '3f1c2b8e-8d4a-4e39-9a52-0c8f5d7b6a11';
const lines: OrderLine[] = [
  { productId: 456, quantity: 2 },
  { productId: 789, quantity: 3 },
];
const priced: PricedLine[] = [
  { productId: 456, productName: 'Widget', quantity: 2, unitPriceCents: 1999 },
  { productId: 789, productName: 'Gadget', quantity: 3, unitPriceCents: 10 },
];
const TOTAL = 2 * 1999 + 3 * 10; // 4028 cents = 40.28

const initiated = event('orderInitiated', { orderId, userId: 123, userEmail: 'ada@example.com', lines });
const validated = event('orderValidated', { orderId, lines: priced, totalCents: TOTAL });
const rejected = event('orderRejected', { orderId, reason: 'not enough stock for product 456' });
const processed = event('paymentProcessed', { orderId, paymentId: 'pay-1', amountCents: TOTAL, method: PaymentMethod.CREDIT_CARD });
const paid = event('orderPaid', { orderId, paymentId: 'pay-1', amountCents: TOTAL });
const shipped = event('orderShipped', { orderId, trackingNumber: 'TRK-1' });
const completed = event('orderCompleted', { orderId });
const cancelled = event('orderCancelled', { orderId, reason: 'changed my mind' });

/** The history that leaves an order in each status. */
const history: Record<string, OrderEvent[]> = {
  PENDING: [initiated],
  VALIDATED: [initiated, validated],
  REJECTED: [initiated, rejected],
  PAID: [initiated, validated, processed, paid],
  SHIPPED: [initiated, validated, processed, paid, shipped],
  COMPLETED: [initiated, validated, processed, paid, shipped, completed],
  CANCELLED_PENDING: [initiated, cancelled],
  CANCELLED: [initiated, validated, cancelled],
};
const statusOf = (h: string) => (h.startsWith('CANCELLED') ? 'CANCELLED' : h);
const allBut = (...keep: string[]) => Object.keys(history).filter((h) => !keep.includes(h));

const create: OrderCommand = { type: 'CreateOrder', orderId, userId: 123, userEmail: 'ada@example.com', lines };
const validate: OrderCommand = { type: 'ValidateOrder', lines: priced };
const reject: OrderCommand = { type: 'RejectOrder', reason: 'not enough stock for product 456' };
const pay = (amountCents = TOTAL): OrderCommand => ({ type: 'ProcessPayment', paymentId: 'pay-1', amountCents, method: PaymentMethod.CREDIT_CARD });
const ship: OrderCommand = { type: 'ShipOrder', trackingNumber: 'TRK-1' };
const complete: OrderCommand = { type: 'CompleteOrder' };
const cancel: OrderCommand = { type: 'CancelOrder', reason: 'changed my mind' };

describe('CreateOrder', () => {
  test('a new order is initiated with the user, email and lines it was given', () => {
    given([]).when(create).then([initiated]);
  });

  test.each(Object.keys(history))('an order that already exists (%s) cannot be created again', (h) => {
    given(history[h]).when(create).thenThrows(PreconditionError, new RegExp(`order ${orderId} already exists`));
  });
});

describe('ValidateOrder', () => {
  test('validates a PENDING order with the priced lines and their total in integer cents', () => {
    given(history.PENDING).when(validate).then([validated]);
  });

  test('the total is the sum of unit price × quantity, exact in cents', () => {
    const dimes: PricedLine[] = [
      { productId: 1, productName: 'Dime', quantity: 1000, unitPriceCents: 10 },
      { productId: 2, productName: 'Odd', quantity: 7, unitPriceCents: 333 },
      { productId: 3, productName: 'Free', quantity: 5, unitPriceCents: 0 },
    ];
    given(history.PENDING)
      .when({ type: 'ValidateOrder', lines: dimes })
      .then([event('orderValidated', { orderId, lines: dimes, totalCents: 10_000 + 2331 })]);
  });

  test('the total is exact for any prices and quantities', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ price: fc.integer({ min: 0, max: 10_000_000 }), qty: fc.integer({ min: 1, max: 10_000 }) }), { minLength: 1, maxLength: 50 }),
        (ls) => {
          const pl = ls.map((l, i) => ({ productId: i + 1, productName: `p${i}`, quantity: l.qty, unitPriceCents: l.price }));
          const [e] = decideOrder({ type: 'ValidateOrder', lines: pl }, fold(orderDecider, history.PENDING));
          const expected = ls.reduce((s, l) => s + BigInt(l.price) * BigInt(l.qty), 0n);
          if (e.$case !== 'orderValidated') throw new Error(`decided ${e.$case}`);
          expect(Number.isInteger(e.value.totalCents)).toBe(true);
          expect(BigInt(e.value.totalCents)).toBe(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  test.each(allBut('PENDING'))('an order that is %s cannot be validated', (h) => {
    given(history[h]).when(validate).thenThrows(PreconditionError, new RegExp(`cannot validate order ${orderId}: it is ${statusOf(h)}, must be PENDING`));
  });
});

describe('RejectOrder', () => {
  test('rejects a PENDING order with the reason', () => {
    given(history.PENDING).when(reject).then([rejected]);
  });

  test.each(allBut('PENDING'))('an order that is %s cannot be rejected', (h) => {
    given(history[h]).when(reject).thenThrows(PreconditionError, new RegExp(`cannot reject order .*it is ${statusOf(h)}, must be PENDING`));
  });
});

describe('ProcessPayment', () => {
  test('the right amount on a VALIDATED order → PaymentProcessed then OrderPaid', () => {
    given(history.VALIDATED).when(pay()).then([processed, paid]);
  });

  test('a PENDING order cannot be paid yet: its stock check has not finished', () => {
    given(history.PENDING).when(pay()).thenThrows(PreconditionError, /stock check has not finished \(PENDING\)/);
  });

  test.each([
    ['CANCELLED', history.CANCELLED],
    ['CANCELLED', history.CANCELLED_PENDING],
    ['REJECTED', history.REJECTED],
    ['PAID', history.PAID],
    ['SHIPPED', history.SHIPPED],
    ['COMPLETED', history.COMPLETED],
  ])('an order that is %s cannot be paid, and the refusal says why', (status, h) => {
    given(h).when(pay()).thenThrows(PreconditionError, new RegExp(`cannot pay order ${orderId}: it is ${status}, must be VALIDATED`));
  });

  test.each([
    [TOTAL - 1, '40.27'],
    [TOTAL + 1, '40.29'],
    [TOTAL * 10, '402.80'],
    [1, '0.01'],
  ])('a wrong amount (%i cents) is refused, naming both amounts', (amountCents, shown) => {
    const err = given(history.VALIDATED).when(pay(amountCents)).thenThrows(PreconditionError);
    expect(err.message).toBe(`payment amount ${shown} does not equal the order total 40.28`);
  });
});

describe('ShipOrder and CompleteOrder', () => {
  test('a PAID order ships with its tracking number', () => {
    given(history.PAID).when(ship).then([shipped]);
  });

  test.each(allBut('PAID'))('an order that is %s cannot ship', (h) => {
    given(history[h]).when(ship).thenThrows(PreconditionError, new RegExp(`cannot ship order .*it is ${statusOf(h)}, must be PAID`));
  });

  test('a SHIPPED order completes', () => {
    given(history.SHIPPED).when(complete).then([completed]);
  });

  test.each(allBut('SHIPPED'))('an order that is %s cannot complete', (h) => {
    given(history[h]).when(complete).thenThrows(PreconditionError, new RegExp(`cannot complete order .*it is ${statusOf(h)}, must be SHIPPED`));
  });
});

describe('CancelOrder', () => {
  test.each(['PENDING', 'VALIDATED'])('an order that is %s can be cancelled, with the reason', (h) => {
    given(history[h]).when(cancel).then([cancelled]);
  });

  test.each(['PAID', 'SHIPPED', 'COMPLETED'])('a %s order cannot be cancelled: refunds are not supported', (h) => {
    given(history[h])
      .when(cancel)
      .thenThrows(PreconditionError, new RegExp(`cannot cancel order ${orderId}: it is ${h}, and paid orders cannot be cancelled \\(refunds are not supported\\)`));
  });

  test.each(['REJECTED', 'CANCELLED', 'CANCELLED_PENDING'])('an order that is %s cannot be cancelled (again)', (h) => {
    given(history[h]).when(cancel).thenThrows(PreconditionError, new RegExp(`cannot cancel order .*it is ${statusOf(h)}, must be PENDING or VALIDATED`));
  });
});

describe('an unknown order', () => {
  test.each([validate, reject, pay(), ship, complete, cancel].map((c) => [c.type, c] as const))('%s → NotFoundError', (_, command) => {
    given([]).when(command).thenThrows(NotFoundError, /order not found/);
  });
});

describe('evolve', () => {
  test.each([
    ['PENDING', OrderStatus.PENDING],
    ['VALIDATED', OrderStatus.VALIDATED],
    ['REJECTED', OrderStatus.REJECTED],
    ['PAID', OrderStatus.PAID],
    ['SHIPPED', OrderStatus.SHIPPED],
    ['COMPLETED', OrderStatus.COMPLETED],
    ['CANCELLED', OrderStatus.CANCELLED],
    ['CANCELLED_PENDING', OrderStatus.CANCELLED],
  ])('the %s history leaves the order in its status', (h, status) => {
    expect(OrderStatus[fold(orderDecider, history[h]).status]).toBe(OrderStatus[status]);
  });

  test('an order starts unspecified and keeps what its events carry', () => {
    expect(initialOrder().status).toBe(OrderStatus.ORDER_STATUS_UNSPECIFIED);
    const s = fold(orderDecider, history.PAID);
    expect(s).toEqual<OrderState>({ status: OrderStatus.PAID, orderId, userId: 123, lines, totalCents: TOTAL, paymentId: 'pay-1' });
  });

  test('PaymentProcessed alone does not mark the order paid; PaymentFailed changes nothing', () => {
    expect(fold(orderDecider, [initiated, validated, processed]).status).toBe(OrderStatus.VALIDATED);
    const failed = event('paymentFailed', { orderId, paymentId: 'p', amountCents: 1, method: PaymentMethod.PAYPAL, reason: 'declined' });
    const before = fold(orderDecider, history.VALIDATED);
    expect(evolveOrder(before, failed)).toBe(before);
  });
});

describe('the life of an order as a state machine (property)', () => {
  // Allowed transitions: anything else must be refused with a domain error.
  const next: Record<string, Partial<Record<OrderCommand['type'], string>>> = {
    NONE: { CreateOrder: 'PENDING' },
    PENDING: { ValidateOrder: 'VALIDATED', RejectOrder: 'REJECTED', CancelOrder: 'CANCELLED' },
    VALIDATED: { ProcessPayment: 'PAID', CancelOrder: 'CANCELLED' },
    PAID: { ShipOrder: 'SHIPPED' },
    SHIPPED: { CompleteOrder: 'COMPLETED' },
    REJECTED: {},
    COMPLETED: {},
    CANCELLED: {},
  };
  const commands = [create, validate, reject, pay(), pay(TOTAL + 5), ship, complete, cancel];

  test('any sequence of commands moves only along the allowed transitions', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...commands), { maxLength: 12 }), (seq) => {
        let state = initialOrder();
        for (const command of seq) {
          const from = state.status === OrderStatus.ORDER_STATUS_UNSPECIFIED ? 'NONE' : OrderStatus[state.status];
          const wrongAmount = command.type === 'ProcessPayment' && command.amountCents !== TOTAL;
          const to = wrongAmount ? undefined : next[from][command.type];
          let events: OrderEvent[] | undefined;
          let error: unknown;
          try {
            events = decideOrder(command, state);
          } catch (err) {
            error = err;
          }
          if (to === undefined) {
            expect(error).toBeInstanceOf(from === 'NONE' && command.type !== 'CreateOrder' ? NotFoundError : PreconditionError);
            continue;
          }
          expect(error).toBeUndefined();
          expect(events!.length).toBeGreaterThan(0);
          state = events!.reduce(evolveOrder, state);
          expect(OrderStatus[state.status]).toBe(to);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('the given/when/then helper itself can fail', () => {
  test('then() fails when the decided events differ', () => {
    expect(() => given(history.PENDING).when(validate).then([rejected])).toThrow();
  });
  test('thenThrows() fails when nothing is thrown, or another class, or another message', () => {
    expect(() => given(history.PENDING).when(validate).thenThrows(PreconditionError)).toThrow(/expected PreconditionError/);
    expect(() => given([]).when(validate).thenThrows(PreconditionError)).toThrow();
    expect(() => given(history.PAID).when(cancel).thenThrows(PreconditionError, /no such words/)).toThrow();
  });
  test('a decide that mutates its state fails the spec (state is frozen)', () => {
    const mutating = specFor({ ...orderDecider, decide: (_c: OrderCommand, s: OrderState) => { s.lines.push({ productId: 1, quantity: 1 }); return []; } });
    expect(() => mutating(history.PENDING).when(validate).thenNothing()).toThrow(TypeError);
  });
});
