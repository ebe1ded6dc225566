// Store round trips per order, per service and per phase, counted by the
// services themselves (lib/mongo.ts logs its command counts when
// STORE_STATS_MS is set; the bench sets it for every service and taps the
// lines). N orders are created as a sustained concurrent load and waited for
// until every one is validated (or rejected) and projected; then every
// validated order is paid, until PAID is projected and the order process's
// Sell reaction is stored and projected. Housekeeping commands (ping, hello,
// endSessions) are left out, and so are the services' background round trips
// (health checks, read-store pointer refresh, outbox relay), measured on the
// idle mesh just before and subtracted.
import { performance } from 'node:perf_hooks';
import { PaymentMethod } from '../../gen/ts/cqrs/v1/common';
import { orderRequest, purgeBacklog, storeSnapshot, STORE_CLIENTS, waitQuiet, type Ctx, type StoreClient, type StoreSnapshot } from '../context';
import { countsSince, type StoreCounts } from '../harness/mesh';
import { sleep } from '../../kit/wait';
import { nextOrderIndex } from './commands';

const g = 'roundtrips';
export const ROUNDTRIP_PHASES = ['create', 'pay'] as const;
export type RoundtripPhase = (typeof ROUNDTRIP_PHASES)[number];

/** What RESULTS.md shows per service and phase: round trips per order, by command. */
export interface RoundtripTable {
  orders: Record<RoundtripPhase, number>;
  seconds: Record<RoundtripPhase, number>;
  /** Per order of the phase, background subtracted, by command (and `all`). */
  perOrder: Record<StoreClient, Record<RoundtripPhase, Record<string, number>>>;
  idlePerSec: Record<StoreClient, number>;
  complete: Record<RoundtripPhase, boolean>;
}

/** `n` calls of `op`, `concurrency` at a time; resolves with the results that succeeded and the errors. */
async function pool<T>(n: number, concurrency: number, op: (i: number) => Promise<T>): Promise<{ ok: T[]; errors: number; firstError?: string }> {
  const ok: T[] = [];
  let next = 0, errors = 0;
  let firstError: string | undefined;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        try {
          ok.push(await op(i));
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  return { ok, errors, firstError };
}

/** Waits (bounded) until `done()` holds; true when it did within the cap. */
async function settle(done: () => boolean, capMs: number): Promise<boolean> {
  const t0 = performance.now();
  while (!done() && performance.now() - t0 < capMs) await sleep(20);
  return done();
}

/** Per order, by command: the phase's count less the idle rate over the phase's span; `all` is their sum. */
function perOrder(delta: StoreCounts, idle: Record<string, number>, ms: number, orders: number): Record<string, number> {
  const out: Record<string, number> = {};
  let all = 0;
  for (const [k, v] of Object.entries(delta.byCommand)) {
    if (HOUSEKEEPING.has(k)) continue;
    const net = Math.max(0, v - (idle[k] ?? 0) * ms);
    out[k] = net / orders;
    all += net;
  }
  out.all = all / orders;
  return out;
}

/** Left out of the per-command rows, as lib/mongo.ts leaves them out of `work`. */
const HOUSEKEEPING = new Set(['ping', 'hello', 'isMaster', 'ismaster', 'endSessions', 'buildInfo', 'buildinfo']);

export async function runRoundtrips(ctx: Ctx): Promise<void> {
  const p = ctx.p;
  const tap = ctx.bm.tap;
  const n = p.roundtripOrders;
  if (!(await waitQuiet(ctx, p.holdDrainCapMs)).drained) await purgeBacklog(ctx, 'before the round-trip count');

  // The background: what the idle services send on their own.
  ctx.progress.step(`roundtrips: the idle mesh's own store round trips, ${p.roundtripIdleMs / 1000} s`);
  const idle0 = await storeSnapshot(ctx);
  await sleep(p.roundtripIdleMs);
  const idle1 = await storeSnapshot(ctx);
  const idlePerMs = {} as Record<StoreClient, number>;
  const idleByCommand = {} as Record<StoreClient, Record<string, number>>;
  for (const s of STORE_CLIENTS) {
    const d = countsSince(idle1.counts[s], idle0.counts[s]);
    const ms = Math.max(1, idle1.at - idle0.at);
    idlePerMs[s] = d.work / ms;
    idleByCommand[s] = Object.fromEntries(Object.entries(d.byCommand).map(([k, v]) => [k, v / ms]));
  }

  // Create: N orders, `roundtripConcurrency` in flight, until all are decided and projected.
  ctx.progress.step(`roundtrips: ${n} CreateOrder, ${p.roundtripConcurrency} in flight, until validated and projected`);
  tap.decisions.clear();
  tap.trackDecisions = true;
  const a0 = await storeSnapshot(ctx);
  // Counted per event type from the phase's start, not from the run's totals, so a backlog left earlier cannot end the phase early.
  const decided0 = tap.typeCounts('orderValidated', 'orderRejected');
  const reserved0 = tap.typeCounts('inventoryReserved');
  const tc0 = performance.now();
  const created = await pool(n, p.roundtripConcurrency, async () => {
    const { req, amountCents } = orderRequest(ctx, nextOrderIndex());
    const res = await ctx.grpc.createOrder(req);
    ctx.acks.push(performance.now());
    ctx.created++;
    return { orderId: res.orderId, amountCents };
  });
  const orders = created.ok;
  const validatedCount = () => orders.filter((o) => tap.decisions.get(o.orderId)?.validated).length;
  const createComplete = await settle(() => {
    if (!orders.every((o) => tap.decisions.has(o.orderId))) return false;
    // Every decision projected, and every reservation (one product line per order).
    return tap.typeCounts('orderValidated', 'orderRejected').projected - decided0.projected >= orders.length && tap.typeCounts('inventoryReserved').projected - reserved0.projected >= validatedCount();
  }, p.roundtripCapMs);
  const createMs = performance.now() - tc0;
  const a1 = await storeSnapshot(ctx);
  tap.trackDecisions = false;
  if (created.errors) ctx.notes.push(`round trips: ${created.errors} of ${n} CreateOrder failed (${created.firstError})`);
  if (!createComplete) ctx.notes.push(`round trips, create: not every order was decided and projected within ${Math.round(p.roundtripCapMs / 1000)} s (${orders.filter((o) => tap.decisions.has(o.orderId)).length} of ${orders.length} decided, ${tap.typeCounts('orderValidated', 'orderRejected').projected - decided0.projected} decisions projected); the per-order figures are lower bounds`);

  // Pay: every validated order, until PAID and the Sell reaction are stored and projected.
  const validated = orders.filter((o) => tap.decisions.get(o.orderId)?.validated);
  ctx.progress.step(`roundtrips: ${validated.length} ProcessPayment, ${p.roundtripConcurrency} in flight, until paid, sold and projected`);
  const paid0 = tap.typeCounts('orderPaid');
  const sold0 = tap.typeCounts('inventorySold');
  const tp0 = performance.now();
  const paid = await pool(validated.length, p.roundtripConcurrency, async (i) => {
    const o = validated[i];
    await ctx.grpc.processPayment({ orderId: o.orderId, amount: o.amountCents / 100, method: PaymentMethod.CREDIT_CARD });
    ctx.acks.push(performance.now());
    return o;
  });
  const paidCount = paid.ok.length;
  // One product line per bench order: one InventorySold each, stored by the order process and projected.
  const payComplete = await settle(() => {
    const pd = tap.typeCounts('orderPaid'), sd = tap.typeCounts('inventorySold');
    return pd.projected - paid0.projected >= paidCount && sd.stored - sold0.stored >= paidCount && sd.projected - sold0.projected >= paidCount;
  }, p.roundtripCapMs);
  const payMs = performance.now() - tp0;
  const a2 = await storeSnapshot(ctx);
  if (paid.errors) ctx.notes.push(`round trips: ${paid.errors} of ${validated.length} ProcessPayment failed (${paid.firstError})`);
  if (!payComplete) ctx.notes.push(`round trips, pay: not every payment was paid, sold and projected within ${Math.round(p.roundtripCapMs / 1000)} s (${tap.typeCounts('orderPaid').projected - paid0.projected} of ${paidCount} PAID projected); the per-order figures are lower bounds`);

  const table: RoundtripTable = {
    orders: { create: orders.length, pay: paidCount },
    seconds: { create: createMs / 1000, pay: payMs / 1000 },
    perOrder: {} as RoundtripTable['perOrder'],
    idlePerSec: {} as Record<StoreClient, number>,
    complete: { create: createComplete, pay: payComplete },
  };
  const spans: Record<RoundtripPhase, [StoreSnapshot, StoreSnapshot]> = { create: [a0, a1], pay: [a1, a2] };
  const totals: Record<RoundtripPhase, number> = { create: 0, pay: 0 };
  for (const s of STORE_CLIENTS) {
    table.idlePerSec[s] = idlePerMs[s] * 1000;
    ctx.figs.add(`roundtrips.${s}.idle_per_s`, idlePerMs[s] * 1000, { unit: 'round trips/s', better: 'lower', label: `${s}: store round trips per second on the idle mesh (subtracted below)`, group: g });
    table.perOrder[s] = {} as Record<RoundtripPhase, Record<string, number>>;
    for (const phase of ROUNDTRIP_PHASES) {
      const [from, to] = spans[phase];
      const count = table.orders[phase];
      if (!count) continue;
      const row = perOrder(countsSince(to.counts[s], from.counts[s]), idleByCommand[s], to.at - from.at, count);
      table.perOrder[s][phase] = row;
      totals[phase] += row.all * count;
      const what = phase === 'create' ? 'CreateOrder until validated and projected' : 'ProcessPayment until paid, sold and projected';
      ctx.figs.add(`roundtrips.${s}.${phase}.per_order`, row.all, { unit: 'round trips', better: 'lower', label: `${s}: store round trips per order, ${what}`, group: g, samples: count });
    }
  }
  for (const phase of ROUNDTRIP_PHASES) {
    const count = table.orders[phase];
    if (!count) continue;
    ctx.figs.add(`roundtrips.total.${phase}.per_order`, totals[phase] / count, { unit: 'round trips', better: 'lower', label: `all services: store round trips per order, ${phase}`, group: g, samples: count });
    ctx.figs.add(`roundtrips.${phase}.orders_per_s`, count / table.seconds[phase], { unit: 'orders/s', better: 'higher', label: `${phase}: orders ÷ time until the last was projected (${p.roundtripConcurrency} in flight)`, group: g, samples: count });
  }
  if (paidCount) {
    ctx.figs.add('roundtrips.total.per_paid_order', (totals.create + totals.pay) / paidCount, { unit: 'round trips', better: 'lower', label: 'all services: store round trips per paid order (create + pay, every service)', group: g, samples: paidCount });
  }
  ctx.roundtrips = table;
}
