// The rules a command's values must keep, whatever carried them in: each
// check adds to a Violations list, naming the field by its proto name, so a
// client learns about every bad field at once. Mapping a request message to
// a command is the adapter's (command-svc/requests.ts); the domain knows no
// request type. Strings are only ever stored as values, never used as query
// documents, so "$gt" in a name is just text.
import { PaymentMethod, type OrderLine } from '../gen/ts/cqrs/v1/common';
import type { Violations } from './errors';

export const MAX_LINES = 50;
export const MAX_QUANTITY = 10_000;
export const MAX_TEXT = 200;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const isPositiveInteger = (n: number) => Number.isInteger(n) && n > 0;

export function validateOrderId(v: Violations, orderId: string, field = 'order_id'): void {
  if (!orderId) v.add(field, 'is required');
  else v.check(UUID.test(orderId), field, 'must be an order id (UUID)');
}

export function checkUserId(v: Violations, userId: number): void {
  v.check(isPositiveInteger(userId), 'user_id', 'is required and must be a positive integer');
}

export function checkProductId(v: Violations, productId: number, field = 'product_id'): void {
  v.check(isPositiveInteger(productId), field, 'is required and must be a positive integer');
}

export function checkEmail(v: Violations, email: string): void {
  if (email) v.check(email.length <= MAX_TEXT && EMAIL.test(email), 'user_email', 'must be an email address');
}

/** An order's lines: at most MAX_LINES, each product once, each quantity from 1 to MAX_QUANTITY. `prefix` names a line's fields. */
export function checkLines(v: Violations, lines: OrderLine[], prefix: (i: number) => string): void {
  v.check(lines.length <= MAX_LINES, 'items', `must hold at most ${MAX_LINES} lines`);
  const seen = new Set<number>();
  lines.forEach((line, i) => {
    checkLine(v, line, prefix(i));
    if (seen.has(line.productId)) v.add(`${prefix(i)}product_id`, 'appears twice: put the total quantity on one line');
    seen.add(line.productId);
  });
}

export function checkLine(v: Violations, line: OrderLine, prefix: string): void {
  checkProductId(v, line.productId, `${prefix}product_id`);
  v.check(
    isPositiveInteger(line.quantity) && line.quantity <= MAX_QUANTITY,
    `${prefix}quantity`,
    `is required and must be an integer from 1 to ${MAX_QUANTITY}`,
  );
}

/** Cents of a payment, or undefined when the amount had more than two decimals. */
export function checkAmount(v: Violations, amountCents: number | undefined): void {
  v.check(amountCents !== undefined && amountCents > 0, 'amount', 'must be a positive amount with at most two decimals');
}

export function checkPaymentMethod(v: Violations, method: PaymentMethod): void {
  v.check(
    method > 0 && PaymentMethod[method] !== undefined,
    'method',
    `must be one of ${Object.keys(PaymentMethod).filter((k) => isNaN(Number(k)) && k !== 'UNRECOGNIZED' && k !== 'PAYMENT_METHOD_UNSPECIFIED').join(', ')}`,
  );
}

/** A product's price, in cents (undefined: the amount had more than two decimals). Free products would make orders whose total can never be paid. */
export function checkUnitPrice(v: Violations, unitPriceCents: number | undefined): void {
  v.check(unitPriceCents !== undefined && unitPriceCents > 0, 'unit_price', 'must be a positive amount with at most two decimals');
}

export function checkProductName(v: Violations, name: string): void {
  v.check(name.trim().length > 0 && name.length <= MAX_TEXT, 'product_name', `must be 1 to ${MAX_TEXT} characters`);
}

export function checkReason(v: Violations, reason: string): void {
  v.check(reason.length <= MAX_TEXT, 'reason', `must be at most ${MAX_TEXT} characters`);
}
