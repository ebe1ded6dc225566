// What every workload shares: the mesh, clients, figures, time series, the
// catalog and the orders created so far, and a way to wait for the system to
// drain between steps.
import { performance } from 'node:perf_hooks';
import type { Profile, Workload } from './config';
import type { Figures, Series } from './figures';
import { STORE_STATS_MS, type BenchMesh, type StoreCounts } from './harness/mesh';
import type { Grpc, HttpClient } from './harness/clients';
import type { Progress } from './progress';
import amqp from 'amqplib';
import type { ServiceName } from '../kit/mesh';
import { ORDER_PROCESS_QUEUE, PROJECTOR_QUEUE } from '../lib/consumer';
import { stopChild } from '../kit/processes';
import { sleep } from '../kit/wait';
import type { RoundtripTable } from './workloads/roundtrips';
import type { DocSizeTable } from './workloads/docsize';
import type { BurstRow } from './workloads/bursts';

export interface Product {
  productId: number;
  name: string;
  priceCents: number;
}

export interface CreatedOrder {
  orderId: string;
  amountCents: number;
}

export interface PhaseCpu {
  phase: string;
  /** Seconds since the run started. */
  start: number;
  seconds: number;
  /** CPU seconds per process during the phase. */
  cpu: Record<string, number>;
  /** Share of the whole machine (all cores) busy, and the share not ours. */
  machineBusy: number;
  foreignBusy: number;
  loadavg: number;
}

export interface Ctx {
  p: Profile;
  only: Set<Workload>;
  bm: BenchMesh;
  grpc: Grpc;
  http: HttpClient;
  figs: Figures;
  series: Series[];
  /** Latency samples kept for the distribution charts (ms). */
  distributions: Record<string, number[]>;
  progress: Progress;
  notes: string[];
  catalog: Product[];
  /** Orders created and not yet paid, for the payment steps. */
  unpaid: CreatedOrder[];
  /** Every client-acknowledged command, for the throughput-over-time chart. */
  acks: number[];
  /** Events the bench published itself (synthetic backlogs). */
  synthetic: number;
  t0: number;
  phases: PhaseCpu[];
  /** Order ids and user ids seeded into the read store, for queries. */
  dataset: { orders: number; sampleOrderIds: string[]; userIds: number[]; nextUser: number; nextSeed: number };
  /** CreateOrder calls acknowledged. */
  created: number;
  /** Waits that hit their cap. */
  cappedWaits: string[];
  /** CPU seconds of helper processes (the no-op gRPC server) that have exited. */
  helperCpu: number;
  maxCommandRate?: number;
  /** Dataset size the query workload ran at. */
  queriesAt?: number;
  /** Store round trips per order, per service and phase (the roundtrips workload). */
  roundtrips?: RoundtripTable;
  /** Largest document per collection at each growth size (the growth workload). */
  docSizes?: DocSizeTable;
  /** Bursts and the flash sale (the bursts workload). */
  bursts?: BurstRow[];
}

export const relTime = (ctx: Ctx, t: number) => (t - ctx.t0) / 1000;

export function orderRequest(ctx: Ctx, i: number) {
  const product = ctx.catalog[(i * 7919) % ctx.catalog.length];
  const quantity = 1 + (i % 3);
  return {
    req: { userId: 1 + ((i * 7) % ctx.p.users), productId: product.productId, quantity, userEmail: `user${i % ctx.p.users}@example.com`, items: [] },
    amountCents: product.priceCents * quantity,
  };
}

/** Creates one order through gRPC and remembers it for payment. */
export async function createOrder(ctx: Ctx, i: number): Promise<CreatedOrder> {
  const { req, amountCents } = orderRequest(ctx, i);
  const res = await ctx.grpc.createOrder(req);
  ctx.acks.push(performance.now());
  ctx.created++;
  const o = { orderId: res.orderId, amountCents };
  ctx.unpaid.push(o);
  return o;
}

/**
 * Waits until every event the command side stored (and every synthetic one)
 * has been projected and nothing new was stored for a moment: the order
 * process and the projector are idle. Bounded by `timeoutMs`: a slow
 * projector must not stall the run; a capped wait is counted and reported.
 */
export async function waitQuiet(ctx: Ctx, timeoutMs = ctx.p.quietTimeoutMs): Promise<{ ms: number; drained: boolean }> {
  const tap = ctx.bm.tap;
  const t0 = performance.now();
  let stableSince = performance.now();
  let lastStored = tap.stored.length;
  let lastProjected = tap.projected.length;
  const stallMs = ctx.p.mode === 'full' ? 8_000 : 4_000;
  for (;;) {
    const now = performance.now();
    if (tap.stored.length !== lastStored || tap.projected.length !== lastProjected) {
      lastStored = tap.stored.length;
      lastProjected = tap.projected.length;
      stableSince = now;
    }
    const caughtUp = tap.projected.length >= tap.stored.length + ctx.synthetic;
    if (caughtUp && now - stableSince >= 300) return { ms: now - t0, drained: true };
    if (!caughtUp && now - stableSince >= stallMs) {
      // Nothing moves, yet the counts differ (an event parked on the dead-letter queue, say).
      ctx.notes.push(`the system stopped moving with ${tap.stored.length + ctx.synthetic - tap.projected.length} events stored but not seen projected; counts re-based`);
      ctx.synthetic -= tap.stored.length + ctx.synthetic - tap.projected.length;
      return { ms: now - t0 - stallMs, drained: true };
    }
    if (now - t0 > timeoutMs) {
      ctx.cappedWaits.push(`${Math.round(timeoutMs / 1000)} s cap, ${tap.stored.length + ctx.synthetic - tap.projected.length} events behind`);
      return { ms: now - t0, drained: false };
    }
    await sleep(50);
  }
}

/** Waits until the order process has validated (or rejected) every order created so far. */
export async function waitDecided(ctx: Ctx, timeoutMs = 120_000): Promise<void> {
  const t0 = performance.now();
  while (ctx.bm.tap.decided < ctx.created) {
    if (performance.now() - t0 > timeoutMs) {
      ctx.notes.push(`the order process had decided ${ctx.bm.tap.decided} of ${ctx.created} orders after ${Math.round(timeoutMs / 1000)} s`);
      return;
    }
    await sleep(50);
  }
}

/**
 * Empties the services' queues (what is left after a capped wait), so later
 * phases start quiet: purges both queues, restarts projector-svc (its
 * prefetched, unacknowledged deliveries go back to the queue when it dies)
 * and purges again. The read model misses those events; the bench's later
 * phases do not depend on them.
 */
export async function purgeBacklog(ctx: Ctx, why: string): Promise<void> {
  const tap = ctx.bm.tap;
  const behind = tap.stored.length + ctx.synthetic - tap.projected.length;
  if (behind <= 0) return;
  const conn = await amqp.connect(ctx.bm.mesh.urls.amqp, { timeout: 5_000 });
  let purged = 0;
  try {
    const ch = await conn.createChannel();
    const purge = async () => {
      for (const q of [PROJECTOR_QUEUE, ORDER_PROCESS_QUEUE]) purged += (await ch.purgeQueue(q)).messageCount;
    };
    await purge();
    const projector = ctx.bm.mesh.children.get('projector-svc');
    ctx.bm.sample();
    if (projector) await stopChild(projector, 1_000);
    await purge();
    await restartService(ctx, 'projector-svc', {}, `the purge at ${why}`);
    await ch.close();
  } finally {
    await conn.close().catch(() => undefined);
  }
  // The order process finishes what it holds (at most its prefetch); then re-base the count.
  let last = -1;
  for (let i = 0; i < 100 && tap.stored.length !== last; i++) {
    last = tap.stored.length;
    await sleep(300);
  }
  ctx.synthetic = tap.projected.length - tap.stored.length;
  ctx.notes.push(`${why}: the projection was ${behind} events behind; ${purged} queued messages were purged and projector-svc restarted, so the next step starts quiet`);
}

/**
 * (Re)starts one service and waits for its readiness line. The launcher
 * (kit/mesh.ts) gives up after 30 s; a restarted service that is still running
 * then is waited for a while longer (`restartReadyCapMs`, bounded) and the
 * run says so in its notes, rather than the whole run failing. One that is
 * not ready by then fails the run, with its last lines. Returns ms until ready.
 */
export async function restartService(ctx: Ctx, name: ServiceName, env: NodeJS.ProcessEnv, why: string): Promise<number> {
  const tap = ctx.bm.tap;
  const t0 = performance.now();
  try {
    const child = await ctx.bm.mesh.start(name, env);
    return (tap.readyAt.get(child.proc.pid ?? -1) ?? performance.now()) - t0;
  } catch (err) {
    const child = ctx.bm.mesh.children.get(name);
    const pid = child?.proc.pid ?? -1;
    const alive = () => child !== undefined && child.proc.exitCode === null && child.proc.signalCode === null;
    if (!/not ready within/.test((err as Error).message) || !alive()) throw err;
    const cap = ctx.p.restartReadyCapMs;
    while (!tap.readyAt.has(pid) && alive() && performance.now() - t0 < cap) await sleep(50);
    const readyAt = tap.readyAt.get(pid);
    if (readyAt === undefined) {
      throw new Error(`${name} (pid ${pid}), restarted for ${why}, was not ready within ${Math.round(cap / 1000)} s (${alive() ? 'still running' : 'exited'}); ${(err as Error).message}`);
    }
    ctx.notes.push(`${name}, restarted for ${why}, logged its readiness line only after ${((readyAt - t0) / 1000).toFixed(1)} s (the launcher waits 30 s; the bench waited up to ${Math.round(cap / 1000)} s)`);
    return readyAt - t0;
  }
}

/** The services that talk to the store. */
export const STORE_CLIENTS = ['command-svc', 'projector-svc', 'query-svc'] as const;
export type StoreClient = (typeof STORE_CLIENTS)[number];

export interface StoreSnapshot {
  at: number;
  counts: Record<StoreClient, StoreCounts>;
}

/**
 * The services' cumulative store command counts, once every service has
 * logged what it did up to now (each logs them every STORE_STATS_MS).
 */
export async function storeSnapshot(ctx: Ctx): Promise<StoreSnapshot> {
  const at = performance.now();
  await sleep(2 * STORE_STATS_MS + 100);
  const counts = {} as Record<StoreClient, StoreCounts>;
  for (const s of STORE_CLIENTS) counts[s] = ctx.bm.tap.countsOf(s);
  return { at, counts };
}
