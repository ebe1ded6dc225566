// (3) Queries through query-svc directly (typed gRPC clients) and through the
// edge (REST), with the edge's overhead as ratios; and (4) the same queries
// as the read store grows. A query whose single call already takes longer
// than `slowQueryMs` is measured one call at a time within a time budget
// (a closed loop at N concurrent calls would only queue behind it).
import { performance } from 'node:perf_hooks';
import * as qry from '../../gen/ts/cqrs/v1/query_service';
import { NoopGrpc } from '../baselines/grpc';
import type { Ctx } from '../context';
import { closedLoop, type RunResult } from '../load';
import { summarize } from '../stats';
import { addRun } from './baselines';
import { ensureOrders } from './dataset';
import { measureDocSizes } from './docsize';

type Path = 'grpc' | 'edge';

interface QueryDef {
  key: string;
  name: string;
  grpc: (ctx: Ctx, i: number) => Promise<unknown>;
  rest: (ctx: Ctx, i: number) => string;
  /** Request and response bytes on the wire for one call (for the no-op baseline). */
  sizes: (ctx: Ctx) => Promise<{ req: number; res: number }>;
}

const orderId = (ctx: Ctx, i: number) => ctx.dataset.sampleOrderIds[(i * 7919) % ctx.dataset.sampleOrderIds.length];
const userId = (ctx: Ctx, i: number) => ctx.dataset.userIds[(i * 104729) % ctx.dataset.userIds.length];
const bytes = (b: { finish(): Uint8Array }) => b.finish().length;

export const QUERIES: QueryDef[] = [
  {
    key: 'get_order',
    name: 'GetOrder',
    grpc: (ctx, i) => ctx.grpc.getOrder(orderId(ctx, i)),
    rest: (ctx, i) => `/cqrs/queries/orders/${orderId(ctx, i)}`,
    sizes: async (ctx) => ({ req: bytes(qry.GetOrderRequest.encode(qry.GetOrderRequest.fromPartial({ orderId: orderId(ctx, 0) }))), res: bytes(qry.GetOrderResponse.encode(await ctx.grpc.getOrder(orderId(ctx, 0)))) }),
  },
  {
    key: 'list_user_orders',
    name: 'ListUserOrders',
    grpc: (ctx, i) => ctx.grpc.listUserOrders(userId(ctx, i)),
    rest: (ctx, i) => `/cqrs/queries/users/${userId(ctx, i)}/orders`,
    sizes: async (ctx) => ({
      req: bytes(qry.ListUserOrdersRequest.encode(qry.ListUserOrdersRequest.fromPartial({ userId: userId(ctx, 0), status: 0, pageSize: 0, pageToken: '' }))),
      res: bytes(qry.ListUserOrdersResponse.encode(await ctx.grpc.listUserOrders(userId(ctx, 0)))),
    }),
  },
  {
    key: 'get_user_summary',
    name: 'GetUserSummary',
    grpc: (ctx, i) => ctx.grpc.getUserSummary(userId(ctx, i)),
    rest: (ctx, i) => `/cqrs/queries/users/${userId(ctx, i)}/summary`,
    sizes: async (ctx) => ({ req: bytes(qry.GetUserSummaryRequest.encode(qry.GetUserSummaryRequest.fromPartial({ userId: userId(ctx, 0) }))), res: bytes(qry.GetUserSummaryResponse.encode(await ctx.grpc.getUserSummary(userId(ctx, 0)))) }),
  },
  {
    key: 'get_inventory',
    name: 'GetInventory',
    grpc: (ctx) => ctx.grpc.getInventory(),
    rest: () => `/cqrs/queries/inventory`,
    sizes: async (ctx) => ({ req: bytes(qry.GetInventoryRequest.encode(qry.GetInventoryRequest.fromPartial({ lowStockOnly: false, pageSize: 0, pageToken: '' }))), res: bytes(qry.GetInventoryResponse.encode(await ctx.grpc.getInventory())) }),
  },
  {
    key: 'get_order_statistics',
    name: 'GetOrderStatistics',
    grpc: (ctx) => ctx.grpc.getOrderStatistics(),
    rest: () => `/cqrs/queries/statistics/orders`,
    sizes: async (ctx) => ({ req: 0, res: bytes(qry.GetOrderStatisticsResponse.encode(await ctx.grpc.getOrderStatistics())) }),
  },
];

export interface QueryRun {
  run: RunResult;
  concurrency: number;
  slow: boolean;
}

/** One measured run of a query on one path. */
export async function measureQuery(ctx: Ctx, q: QueryDef, path: Path): Promise<QueryRun> {
  const p = ctx.p;
  const op = path === 'grpc' ? (i: number) => q.grpc(ctx, i) : (i: number) => ctx.http.get(q.rest(ctx, i));
  await op(0); // warm
  const t = performance.now();
  await op(1);
  const single = performance.now() - t;
  if (single > p.slowQueryMs) {
    const maxCalls = Math.max(p.minSlowSamples, Math.floor(p.slowQueryBudgetMs / single));
    const run = await closedLoop({ concurrency: 1, durationMs: Math.max(p.slowQueryBudgetMs, single * maxCalls * 1.5), maxCalls, op });
    return { run, concurrency: 1, slow: true };
  }
  const run = await closedLoop({ concurrency: p.queryConcurrency, durationMs: p.queryStepMs, warmupMs: Math.min(p.warmupMs, 500), op });
  return { run, concurrency: p.queryConcurrency, slow: false };
}

function addQueryRun(ctx: Ctx, prefix: string, label: string, group: string, r: QueryRun): void {
  const s = summarize(r.run.latencies);
  const how = r.slow ? 'one call at a time (slow)' : `c=${r.concurrency}`;
  ctx.figs.add(`${prefix}.p50`, s.p50, { unit: 'ms', better: 'lower', label: `${label} p50 (${how})`, group, samples: s.n });
  ctx.figs.add(`${prefix}.p99`, s.p99, { unit: 'ms', better: 'lower', label: `${label} p99 (${how})`, group });
  ctx.figs.add(`${prefix}.throughput`, r.run.throughput, { unit: 'calls/s', better: 'higher', label: `${label} throughput (${how})`, group });
  if (r.run.errors) ctx.notes.push(`${label}: ${r.run.errors} errors (${JSON.stringify(r.run.errorKinds)})`);
}

/** The grpc suite at the current dataset size, recorded as growth figures. */
async function growthSuite(ctx: Ctx, size: number, recorded?: Map<string, QueryRun[]>): Promise<void> {
  for (const q of QUERIES) {
    const runs = recorded?.get(q.key);
    const list = runs ?? [];
    if (!runs) {
      const reps = ctx.p.repeats;
      for (let r = 0; r < reps; r++) {
        ctx.progress.step(`growth: ${q.name} via gRPC with ${size} orders, repeat ${r + 1}/${reps}`);
        const run = await measureQuery(ctx, q, 'grpc');
        list.push(run);
        if (run.slow) break; // slow queries: one budgeted run
      }
    }
    for (const run of list) addQueryRun(ctx, `growth.${q.key}.n${size}`, `${q.name} via gRPC, ${size} orders:`, 'growth', run);
    (ctx.distributions[`${q.name} n=${size}`] ??= []).push(...list.flatMap((r) => r.run.latencies));
  }
}

export async function runQueries(ctx: Ctx): Promise<void> {
  const size = ctx.p.growthSizes[0];
  const seeded = await ensureOrders(ctx, size);
  if (seeded.inserted) ctx.figs.add(`growth.seed_docs_per_s`, (seeded.inserted * 1000) / seeded.ms, { unit: 'orders/s', better: 'higher', label: 'seeding: orders (+ user summaries) bulk-inserted per second', group: 'growth' });
  const grpcRuns = new Map<string, QueryRun[]>();
  const noop = await NoopGrpc.start();
  try {
    for (const q of QUERIES) {
      const reps = ctx.p.repeats;
      const list: QueryRun[] = [];
      for (let r = 0; r < reps; r++) {
        ctx.progress.step(`queries: ${q.name} via gRPC and via the edge (${ctx.dataset.orders} orders), repeat ${r + 1}/${reps}`);
        // Alternate which path goes first, so a drift in machine load does not favour one.
        const first: Path = r % 2 === 0 ? 'grpc' : 'edge';
        const a = await measureQuery(ctx, q, first);
        const b = await measureQuery(ctx, q, first === 'grpc' ? 'edge' : 'grpc');
        const [g, e] = first === 'grpc' ? [a, b] : [b, a];
        list.push(g);
        addQueryRun(ctx, `queries.grpc.${q.key}`, `${q.name} via gRPC:`, 'queries', g);
        addQueryRun(ctx, `queries.edge.${q.key}`, `${q.name} via the edge (REST):`, 'queries', e);
        const gs = summarize(g.run.latencies), es = summarize(e.run.latencies);
        ctx.figs.add(`queries.edge_overhead.${q.key}.p50`, es.p50 - gs.p50, { unit: 'ms', better: 'lower', label: `${q.name}: edge p50 − gRPC p50`, group: 'queries' });
        (ctx.distributions[`${q.name} gRPC`] ??= []).push(...g.run.latencies);
        (ctx.distributions[`${q.name} edge`] ??= []).push(...e.run.latencies);
        if (g.slow) break;
      }
      grpcRuns.set(q.key, list);
      ctx.figs.relate(`queries.edge.${q.key}.throughput`, `queries.grpc.${q.key}.throughput`, 'edge ÷ direct gRPC throughput');
      ctx.figs.relate(`queries.edge.${q.key}.p50`, `queries.grpc.${q.key}.p50`, 'edge ÷ direct gRPC latency');

      // The same bytes through a no-op grpc-js server, at the same concurrency.
      const sizes = await q.sizes(ctx);
      const conc = list[0].concurrency;
      for (let r = 0; r < (list[0].slow ? 1 : reps); r++) {
        ctx.progress.step(`queries: no-op grpc-js baseline with ${q.name}'s sizes (${sizes.req} B → ${sizes.res} B), repeat ${r + 1}`);
        const [b] = await noop.run({ concurrency: conc, durationMs: ctx.p.baselineStepMs, warmupMs: 200, reqBytes: sizes.req, resBytes: sizes.res });
        addRun(ctx, `baselines.grpc_noop.${q.key}_sizes`, b, `grpc-js no-op unary, ${q.name} sizes (${sizes.req} B → ${sizes.res} B), c=${conc}`);
      }
      ctx.figs.relate(`queries.grpc.${q.key}.p50`, `baselines.grpc_noop.${q.key}_sizes.p50`, 'query ÷ no-op call latency');
      ctx.figs.relate(`queries.grpc.${q.key}.throughput`, `baselines.grpc_noop.${q.key}_sizes.throughput`, 'query ÷ no-op call throughput');
    }
  } finally {
    ctx.helperCpu += await noop.stop();
  }
  ctx.figs.relate('queries.grpc.get_order.p99', 'baselines.store.find_by_id.p99', 'GetOrder ÷ store findOne by _id latency');
  if (ctx.only.has('growth')) await growthSuite(ctx, size, grpcRuns);
  ctx.queriesAt = size;
}

export async function runGrowth(ctx: Ctx): Promise<void> {
  const [small, large] = ctx.p.growthSizes;
  if (ctx.queriesAt !== small) {
    await ensureOrders(ctx, small);
    await growthSuite(ctx, small);
  }
  await measureDocSizes(ctx, small);
  const seeded = await ensureOrders(ctx, large);
  if (seeded.inserted) ctx.figs.add(`growth.seed_docs_per_s`, (seeded.inserted * 1000) / seeded.ms, { unit: 'orders/s', better: 'higher', label: 'seeding: orders (+ user summaries) bulk-inserted per second', group: 'growth' });
  await growthSuite(ctx, large);
  await measureDocSizes(ctx, large);
  for (const q of QUERIES) {
    for (const stat of ['p50', 'p99']) {
      const a = ctx.figs.get(`growth.${q.key}.n${small}.${stat}`);
      const b = ctx.figs.get(`growth.${q.key}.n${large}.${stat}`);
      if (a && b) ctx.figs.relate(`growth.${q.key}.n${large}.${stat}`, `growth.${q.key}.n${small}.${stat}`, `${large} ÷ ${small} orders`);
    }
  }
}
