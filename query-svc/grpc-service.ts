// QueryService over gRPC: reads the read models, never the write store.
import type { Filter } from 'mongodb';
import { OrderStatus } from '../gen/ts/cqrs/v1/common';
import type { QueryServiceServer } from '../gen/ts/cqrs/v1/query_service';
import { NotFoundError, Violations } from '../domain/errors';
import { validateOrderId } from '../domain/validation';
import { mayActFor } from '../lib/access';
import { unary } from '../lib/grpc-server';
import type { HealthReport } from '../lib/health';
import type { Logger } from '../lib/logger';
import type { ReadStore } from '../lib/read-store';
import { numericKey, type InventoryDoc, type OrderDoc } from '../read-models';
import { pageUserOrders } from './user-orders-page';
import { decodeToken, encodeToken, pageSize } from './page-token';
import { toInventoryItem, toOrder, toUserSummary } from './read-model-mapping';
import type { LiveQueries } from './live-queries';
import { liveService } from './live-service';
import type { ReadYourWrites } from './read-your-writes';
import { orderStatistics } from './statistics';

function positiveId(value: number, field: string): void {
  new Violations().check(Number.isInteger(value) && value > 0, field, 'must be a positive integer').throwIfAny();
}

function statusFilter(status: OrderStatus): Filter<OrderDoc> {
  if (status === OrderStatus.ORDER_STATUS_UNSPECIFIED) return {};
  new Violations().check(OrderStatus[status] !== undefined && status >= 0, 'status', 'is not a known order status').throwIfAny();
  return { status: OrderStatus[status] };
}

/** Newest first; ties broken by id so the order is total and pages are stable. */
async function pageOrders(read: ReadStore, filter: Filter<OrderDoc>, size: number, token: string) {
  const after = decodeToken(token, ['number', 'string']) as [number, string] | undefined;
  const keyset: Filter<OrderDoc> = after
    ? { $or: [{ created_at: { $lt: new Date(after[0]) } }, { created_at: new Date(after[0]), _id: { $gt: after[1] } }] }
    : {};
  const docs = await read.orders.find({ ...filter, ...keyset }).sort({ created_at: -1, _id: 1 }).limit(size + 1).toArray();
  const page = docs.slice(0, size);
  const last = page[page.length - 1];
  return {
    orders: page.map(toOrder),
    nextPageToken: docs.length > size ? encodeToken([last.created_at.getTime(), last._id]) : '',
  };
}

/**
 * Each query first waits, given a consistency token, until the read models
 * it reads reflect it (read-your-writes.ts); `reads` says which those are.
 */
export function queryService(read: ReadStore, ryw: ReadYourWrites, live: LiveQueries, health: () => HealthReport, log: Logger): QueryServiceServer {
  return {
    ...liveService(read, ryw, live, log),
    getOrder: unary(log, 'GetOrder', async (req, md, call) => {
      const v = new Violations();
      validateOrderId(v, req.orderId);
      v.throwIfAny();
      await ryw.reach(req, { orders: { id: req.orderId } }, call);
      const doc = await read.orders.findOne({ _id: req.orderId });
      // Someone else's order answers exactly as a missing one does.
      if (!doc || !mayActFor(md, doc.user_id)) throw new NotFoundError(`order ${req.orderId} not found`);
      return { order: toOrder(doc) };
    }),
    listOrders: unary(log, 'ListOrders', async (req, _md, call) => {
      const filter = statusFilter(req.status);
      const size = pageSize(req.pageSize);
      await ryw.reach(req, { orders: {} }, call);
      return pageOrders(read, filter, size, req.pageToken);
    }),
    listUserOrders: unary(log, 'ListUserOrders', async (req, _md, call) => {
      positiveId(req.userId, 'user_id');
      const status = statusFilter(req.status).status as string | undefined;
      const size = pageSize(req.pageSize);
      await ryw.reach(req, { derived: { model: 'user orders', userId: req.userId } }, call);
      return pageUserOrders(read, req.userId, status, size, req.pageToken);
    }),
    getUserSummary: unary(log, 'GetUserSummary', async (req, _md, call) => {
      positiveId(req.userId, 'user_id');
      await ryw.reach(req, { derived: { model: 'user summary', userId: req.userId } }, call);
      const doc = await read.userSummaries.findOne({ _id: numericKey(req.userId) });
      if (!doc) throw new NotFoundError(`user ${req.userId} has no orders`);
      return { summary: toUserSummary(doc) };
    }),
    getInventory: unary(log, 'GetInventory', async (req, _md, call) => {
      const size = pageSize(req.pageSize);
      const after = decodeToken(req.pageToken, ['string']) as [string] | undefined;
      await ryw.reach(req, { inventory: {} }, call);
      const filter: Filter<InventoryDoc> = { ...(req.lowStockOnly ? { low_stock_alert: true } : {}), ...(after ? { _id: { $gt: after[0] } } : {}) };
      const docs = await read.inventory.find(filter).sort({ _id: 1 }).limit(size + 1).toArray();
      const page = docs.slice(0, size);
      return { items: page.map(toInventoryItem), nextPageToken: docs.length > size ? encodeToken([page[page.length - 1]._id]) : '' };
    }),
    getProductInventory: unary(log, 'GetProductInventory', async (req, _md, call) => {
      positiveId(req.productId, 'product_id');
      await ryw.reach(req, { inventory: { productId: req.productId } }, call);
      const doc = await read.inventory.findOne({ _id: numericKey(req.productId) });
      if (!doc) throw new NotFoundError(`product ${req.productId} not found`);
      return { item: toInventoryItem(doc) };
    }),
    getOrderStatistics: unary(log, 'GetOrderStatistics', async (req, _md, call) => {
      await ryw.reach(req, { derived: { model: 'order statistics' } }, call);
      return { statistics: await orderStatistics(read) };
    }),
    getQueryHealth: unary(log, 'GetQueryHealth', async () => health()),
  };
}
