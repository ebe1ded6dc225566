// The live queries of QueryService: what each watches, from the read
// models (live-queries.ts runs them). A token in the request is waited for
// first (read-your-writes.ts), so a client can watch the order it just created.
import type { ServerWritableStream } from '@grpc/grpc-js';
import type * as api from '../gen/ts/cqrs/v1/query_service';
import { NotFoundError, Violations } from '../domain/errors';
import { orderStream, parseStream } from '../domain/events';
import { validateOrderId } from '../domain/validation';
import { mayActFor } from '../lib/access';
import { streamContext, streaming } from '../lib/grpc-server';
import type { Logger } from '../lib/logger';
import type { ReadStore } from '../lib/read-store';
import { emptyStats, numericKey, STATS_ID } from '../read-models';
import type { LiveQueries } from './live-queries';
import type { ReadYourWrites } from './read-your-writes';
import { toInventoryItem, toOrder } from './read-model-mapping';
import { statisticsMessage } from './statistics';

/** Products a WatchInventory of every product sends first; the catalogue is small. */
const MAX_PRODUCTS = 10_000;

export function liveService(read: ReadStore, ryw: ReadYourWrites, live: LiveQueries, log: Logger) {
  return {
    watchOrder: streaming(log, 'WatchOrder', async (call: ServerWritableStream<api.WatchOrderRequest, api.WatchOrderResponse>) => {
      const req = call.request;
      const v = new Violations();
      validateOrderId(v, req.orderId);
      v.throwIfAny();
      await ryw.reach(req, { orders: { id: req.orderId } }, streamContext(call));
      const load = async () => (await read.orders.findOne({ _id: req.orderId })) ?? undefined;
      const found = await load();
      // Someone else's order answers exactly as a missing one does (as GetOrder).
      if (!found || !mayActFor(metadataOf(call), found.user_id)) throw new NotFoundError(`order ${req.orderId} not found`);
      await live.serve(call, 'WatchOrder', {
        keysOf: (p) => (p.streamId === orderStream(req.orderId) ? [req.orderId] : []),
        initial: async () => {
          const doc = await load();
          return doc ? [[req.orderId, doc]] : [];
        },
        load,
        version: (d) => d.version,
        message: (d) => ({ order: toOrder(d) }),
      });
    }),
    watchInventory: streaming(log, 'WatchInventory', async (call: ServerWritableStream<api.WatchInventoryRequest, api.WatchInventoryResponse>) => {
      const req = call.request;
      const one = req.productId;
      new Violations().check(Number.isInteger(one) && one >= 0, 'product_id', 'must be a positive integer, or 0 for every product').throwIfAny();
      await ryw.reach(req, { inventory: one ? { productId: one } : {} }, streamContext(call));
      const load = async (id: number) => (await read.inventory.findOne({ _id: numericKey(id) })) ?? undefined;
      const current = async () => (one ? [await load(one)].filter((d) => d !== undefined) : await read.inventory.find({}).sort({ _id: 1 }).limit(MAX_PRODUCTS).toArray());
      if (one && !(await load(one))) throw new NotFoundError(`product ${one} not found`);
      await live.serve(call, 'WatchInventory', {
        keysOf: (p) => {
          const ref = parseStream(p.streamId);
          return ref?.kind === 'product' && (!one || ref.id === one) ? [ref.id] : [];
        },
        initial: async () => (await current()).map((d) => [d.product_id, d] as [number, typeof d]),
        load,
        version: (d) => d.version,
        message: (d) => ({ item: toInventoryItem(d) }),
      });
    }),
    watchOrderStatistics: streaming(log, 'WatchOrderStatistics', async (call: ServerWritableStream<api.WatchOrderStatisticsRequest, api.WatchOrderStatisticsResponse>) => {
      await ryw.reach(call.request, { derived: { model: 'order statistics' } }, streamContext(call));
      const load = async () => (await read.stats.findOne({ _id: STATS_ID })) ?? emptyStats();
      await live.serve(call, 'WatchOrderStatistics', {
        keysOf: (p) => (parseStream(p.streamId)?.kind === 'order' ? [STATS_ID] : []),
        initial: async () => [[STATS_ID, await load()]],
        load,
        version: (d) => d.rev ?? 0,
        message: (d) => ({ statistics: statisticsMessage(d, new Date()) }),
      });
    }),
  };
}

function metadataOf(call: ServerWritableStream<unknown, unknown>): Record<string, string> {
  const md: Record<string, string> = {};
  for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === 'string') md[k] = v;
  return md;
}
