// The order aggregate, as a decider over the order stream's events.
import { OrderStatus, type OrderLine, type PaymentMethod, type PricedLine } from '../gen/ts/cqrs/v1/common';
import type { StreamDecider } from './decider';
import { NotFoundError, PreconditionError } from './errors';
import { event, unhandled, type OrderEvent } from './events';

export interface OrderState {
  status: OrderStatus; // ORDER_STATUS_UNSPECIFIED until created
  orderId: string;
  userId: number;
  lines: OrderLine[];
  totalCents: number;
  paymentId: string;
}

export const initialOrder = (): OrderState => ({
  status: OrderStatus.ORDER_STATUS_UNSPECIFIED,
  orderId: '',
  userId: 0,
  lines: [],
  totalCents: 0,
  paymentId: '',
});

export type OrderCommand =
  | { type: 'CreateOrder'; orderId: string; userId: number; userEmail: string; lines: OrderLine[] }
  | { type: 'ValidateOrder'; lines: PricedLine[] }
  | { type: 'RejectOrder'; reason: string }
  | { type: 'ProcessPayment'; paymentId: string; amountCents: number; method: PaymentMethod }
  | { type: 'ShipOrder'; trackingNumber: string }
  | { type: 'CompleteOrder' }
  | { type: 'CancelOrder'; reason: string };

const exists = (s: OrderState) => s.status !== OrderStatus.ORDER_STATUS_UNSPECIFIED;
const name = (s: OrderStatus) => OrderStatus[s];

function requireStatus(state: OrderState, allowed: OrderStatus[], action: string): void {
  if (!exists(state)) throw new NotFoundError(`order not found`);
  if (!allowed.includes(state.status)) {
    const need = allowed.map(name).join(' or ');
    throw new PreconditionError(`cannot ${action} order ${state.orderId}: it is ${name(state.status)}, must be ${need}`);
  }
}

export function decideOrder(command: OrderCommand, state: OrderState): OrderEvent[] {
  const orderId = state.orderId;
  switch (command.type) {
    case 'CreateOrder': {
      if (exists(state)) throw new PreconditionError(`order ${command.orderId} already exists`);
      const { type: _, ...value } = command;
      return [event('orderInitiated', value)];
    }
    case 'ValidateOrder': {
      requireStatus(state, [OrderStatus.PENDING], 'validate');
      const totalCents = command.lines.reduce((sum, l) => sum + l.unitPriceCents * l.quantity, 0);
      return [event('orderValidated', { orderId, lines: command.lines, totalCents })];
    }
    case 'RejectOrder':
      requireStatus(state, [OrderStatus.PENDING], 'reject');
      return [event('orderRejected', { orderId, reason: command.reason })];
    case 'ProcessPayment':
      return decidePayment(command, state);
    case 'ShipOrder':
      requireStatus(state, [OrderStatus.PAID], 'ship');
      return [event('orderShipped', { orderId, trackingNumber: command.trackingNumber })];
    case 'CompleteOrder':
      requireStatus(state, [OrderStatus.SHIPPED], 'complete');
      return [event('orderCompleted', { orderId })];
    case 'CancelOrder':
      if (exists(state) && [OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED].includes(state.status)) {
        // Refunds are not modelled: money taken is never silently kept.
        throw new PreconditionError(`cannot cancel order ${orderId}: it is ${name(state.status)}, and paid orders cannot be cancelled (refunds are not supported)`);
      }
      requireStatus(state, [OrderStatus.PENDING, OrderStatus.VALIDATED], 'cancel');
      return [event('orderCancelled', { orderId, reason: command.reason })];
  }
}

function decidePayment(command: Extract<OrderCommand, { type: 'ProcessPayment' }>, state: OrderState): OrderEvent[] {
  if (exists(state) && state.status === OrderStatus.PENDING) {
    throw new PreconditionError(`cannot pay order ${state.orderId} yet: its stock check has not finished (PENDING)`);
  }
  requireStatus(state, [OrderStatus.VALIDATED], 'pay');
  if (command.amountCents !== state.totalCents) {
    const fmt = (c: number) => (c / 100).toFixed(2);
    throw new PreconditionError(
      `payment amount ${fmt(command.amountCents)} does not equal the order total ${fmt(state.totalCents)}`,
    );
  }
  const { paymentId, amountCents, method } = command;
  return [
    event('paymentProcessed', { orderId: state.orderId, paymentId, amountCents, method }),
    event('orderPaid', { orderId: state.orderId, paymentId, amountCents }),
  ];
}

export function evolveOrder(state: OrderState, e: OrderEvent): OrderState {
  switch (e.$case) {
    case 'orderInitiated':
      return { ...state, status: OrderStatus.PENDING, orderId: e.value.orderId, userId: e.value.userId, lines: e.value.lines };
    case 'orderValidated':
      return { ...state, status: OrderStatus.VALIDATED, totalCents: e.value.totalCents };
    case 'orderRejected':
      return { ...state, status: OrderStatus.REJECTED };
    case 'orderPaid':
      return { ...state, status: OrderStatus.PAID, paymentId: e.value.paymentId };
    case 'orderShipped':
      return { ...state, status: OrderStatus.SHIPPED };
    case 'orderCompleted':
      return { ...state, status: OrderStatus.COMPLETED };
    case 'orderCancelled':
      return { ...state, status: OrderStatus.CANCELLED };
    // Neither changes the order's state: OrderPaid does, and PaymentFailed is never emitted (events.proto).
    case 'paymentProcessed':
    case 'paymentFailed':
      return state;
    default:
      return unhandled(e);
  }
}

export const orderDecider: StreamDecider<OrderState, OrderCommand, 'order'> = { streamKind: 'order', decide: decideOrder, evolve: evolveOrder, initialState: initialOrder };
