// CommandService requests (generated messages) → domain commands, at the gRPC
// adapter. The rules each value must keep are the domain's (domain/validation.ts);
// this file only says which request field carries what, and converts
// decimals to cents.
import type {
  CancelOrderRequest,
  CreateOrderRequest,
  ProcessPaymentRequest,
  UpdateInventoryRequest,
} from '../gen/ts/cqrs/v1/command_service';
import type { OrderLine } from '../gen/ts/cqrs/v1/common';
import { Violations } from '../domain/errors';
import type { ProductCommand } from '../domain/inventory';
import { toCents } from '../domain/money';
import type { OrderCommand } from '../domain/order';
import {
  checkAmount, checkEmail, checkLine, checkLines, checkPaymentMethod, checkProductId, checkProductName, checkReason, checkUnitPrice, checkUserId,
  validateOrderId,
} from '../domain/validation';

export function toCreateOrder(req: CreateOrderRequest, orderId: string): Extract<OrderCommand, { type: 'CreateOrder' }> {
  const v = new Violations();
  checkUserId(v, req.userId);
  checkEmail(v, req.userEmail);
  // Two forms: the seed's one product and quantity, or lines in `items`.
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
    checkLines(v, lines, (i) => `items[${i}].`);
  }
  v.throwIfAny();
  return { type: 'CreateOrder', orderId, userId: req.userId, userEmail: req.userEmail, lines };
}

export function toProcessPayment(req: ProcessPaymentRequest, paymentId: string): Extract<OrderCommand, { type: 'ProcessPayment' }> {
  const v = new Violations();
  validateOrderId(v, req.orderId);
  const amountCents = toCents(req.amount);
  checkAmount(v, amountCents);
  checkPaymentMethod(v, req.method);
  v.throwIfAny();
  return { type: 'ProcessPayment', paymentId, amountCents: amountCents!, method: req.method };
}

export function toUpdateInventory(req: UpdateInventoryRequest): Extract<ProductCommand, { type: 'UpdateInventory' }> {
  const v = new Violations();
  checkProductId(v, req.productId);
  if (req.productName !== undefined) checkProductName(v, req.productName);
  const unitPriceCents = req.unitPrice === undefined ? undefined : toCents(req.unitPrice);
  if (req.unitPrice !== undefined) checkUnitPrice(v, unitPriceCents);
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
  checkReason(v, req.reason);
  v.throwIfAny();
  return { type: 'CancelOrder', reason: req.reason };
}

/** For commands that carry nothing but the order id. */
export function checkOrderId(orderId: string): void {
  const v = new Violations();
  validateOrderId(v, orderId);
  v.throwIfAny();
}
