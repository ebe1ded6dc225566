// Turns what a client sent (generated request types) into domain commands,
// naming every bad field with its proto name. Strings are only ever stored as
// values, never used as query documents, so "$gt" in a name is just text.
import type {
  CancelOrderRequest,
  CreateOrderRequest,
  ProcessPaymentRequest,
  UpdateInventoryRequest,
} from '../gen/ts/cqrs/v1/command_service';
import { PaymentMethod, type OrderLine } from '../gen/ts/cqrs/v1/common';
import { Violations } from './errors';
import type { ProductCommand } from './inventory';
import { toCents } from './money';
import type { OrderCommand } from './order';

export const MAX_LINES = 50;
export const MAX_QUANTITY = 10_000;
const MAX_TEXT = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const positive = (n: number) => Number.isInteger(n) && n > 0;

export function validateOrderId(v: Violations, orderId: string, field = 'order_id'): void {
  if (!orderId) v.add(field, 'is required');
  else v.check(UUID.test(orderId), field, 'must be an order id (UUID)');
}

export function toCreateOrder(req: CreateOrderRequest, orderId: string): Extract<OrderCommand, { type: 'CreateOrder' }> {
  const v = new Violations();
  v.check(positive(req.userId), 'user_id', 'is required and must be a positive integer');
  if (req.userEmail) v.check(req.userEmail.length <= MAX_TEXT && EMAIL.test(req.userEmail), 'user_email', 'must be an email address');
  const single = req.productId !== 0 || req.quantity !== 0;
  let lines: OrderLine[];
  if (single && req.items.length) {
    v.add('items', 'give either product_id and quantity, or items, not both');
    lines = [];
  } else if (single || !req.items.length) {
    lines = [{ productId: req.productId, quantity: req.quantity }];
    checkLine(v, lines[0], '');
  } else {
    lines = req.items;
    v.check(lines.length <= MAX_LINES, 'items', `must hold at most ${MAX_LINES} lines`);
    const seen = new Set<number>();
    lines.forEach((line, i) => {
      checkLine(v, line, `items[${i}].`);
      if (seen.has(line.productId)) v.add(`items[${i}].product_id`, 'appears twice: put the total quantity on one line');
      seen.add(line.productId);
    });
  }
  v.throwIfAny();
  return { type: 'CreateOrder', orderId, userId: req.userId, userEmail: req.userEmail, lines };
}

function checkLine(v: Violations, line: OrderLine, prefix: string): void {
  v.check(positive(line.productId), `${prefix}product_id`, 'is required and must be a positive integer');
  v.check(
    positive(line.quantity) && line.quantity <= MAX_QUANTITY,
    `${prefix}quantity`,
    `is required and must be an integer from 1 to ${MAX_QUANTITY}`,
  );
}

export function toProcessPayment(req: ProcessPaymentRequest, paymentId: string): Extract<OrderCommand, { type: 'ProcessPayment' }> {
  const v = new Violations();
  validateOrderId(v, req.orderId);
  const amountCents = toCents(req.amount);
  v.check(amountCents !== undefined && amountCents > 0, 'amount', 'must be a positive amount with at most two decimals');
  v.check(
    req.method > 0 && PaymentMethod[req.method] !== undefined,
    'method',
    `must be one of ${Object.keys(PaymentMethod).filter((k) => isNaN(Number(k)) && k !== 'UNRECOGNIZED' && k !== 'PAYMENT_METHOD_UNSPECIFIED').join(', ')}`,
  );
  v.throwIfAny();
  return { type: 'ProcessPayment', paymentId, amountCents: amountCents!, method: req.method };
}

export function toUpdateInventory(req: UpdateInventoryRequest): Extract<ProductCommand, { type: 'UpdateInventory' }> {
  const v = new Violations();
  v.check(positive(req.productId), 'product_id', 'is required and must be a positive integer');
  if (req.productName !== undefined) {
    v.check(req.productName.trim().length > 0 && req.productName.length <= MAX_TEXT, 'product_name', `must be 1 to ${MAX_TEXT} characters`);
  }
  const unitPriceCents = req.unitPrice === undefined ? undefined : toCents(req.unitPrice);
  if (req.unitPrice !== undefined) {
    // Free products would make orders whose total can never be paid.
    v.check(unitPriceCents !== undefined && unitPriceCents > 0, 'unit_price', 'must be a positive amount with at most two decimals');
  }
  if (req.quantity !== undefined) v.check(req.quantity >= 0, 'quantity', 'must not be negative');
  if (req.quantity !== undefined && req.quantityDelta !== undefined) {
    v.add('quantity_delta', 'give either quantity (set) or quantity_delta (adjust), not both');
  }
  if (req.lowStockThreshold !== undefined) v.check(req.lowStockThreshold >= 0, 'low_stock_threshold', 'must not be negative');
  v.throwIfAny();
  return {
    type: 'UpdateInventory',
    productId: req.productId,
    productName: req.productName?.trim(),
    unitPriceCents,
    quantity: req.quantity,
    quantityDelta: req.quantityDelta,
    lowStockThreshold: req.lowStockThreshold,
  };
}

export function toCancelOrder(req: CancelOrderRequest): Extract<OrderCommand, { type: 'CancelOrder' }> {
  const v = new Violations();
  validateOrderId(v, req.orderId);
  v.check(req.reason.length <= MAX_TEXT, 'reason', `must be at most ${MAX_TEXT} characters`);
  v.throwIfAny();
  return { type: 'CancelOrder', reason: req.reason };
}

/** For commands that carry nothing but the order id. */
export function checkOrderId(orderId: string): void {
  const v = new Violations();
  validateOrderId(v, orderId);
  v.throwIfAny();
}
