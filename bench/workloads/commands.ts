// (1) Commands through the typed gRPC clients: CreateOrder, then
// ProcessPayment on orders the order process has validated, closed loop at
// each concurrency. Between steps the system drains, so every step starts
// from a quiet mesh.
import { performance } from 'node:perf_hooks';
import { PaymentMethod } from '../../gen/ts/cqrs/v1/common';
import { createOrder, waitDecided, waitQuiet, type CreatedOrder, type Ctx } from '../context';
import { closedLoop, closedLoopWindows, type RunResult } from '../load';
import { summarize } from '../stats';

let seq = 0;
/** A process-wide order counter, so requests vary across steps. */
export const nextOrderIndex = () => seq++;

function addCommandRun(ctx: Ctx, command: string, c: number, r: RunResult): void {
  const s = summarize(r.latencies);
  const prefix = `commands.${command}.c${c}`;
  const label = `${command === 'create_order' ? 'CreateOrder' : 'ProcessPayment'} c=${c}`;
  const g = 'commands';
  ctx.figs.add(`${prefix}.throughput`, r.throughput, { unit: 'calls/s', better: 'higher', label: `${label}: throughput`, group: g, samples: r.ok });
  ctx.figs.add(`${prefix}.p50`, s.p50, { unit: 'ms', better: 'lower', label: `${label}: latency p50`, group: g, samples: s.n });
  ctx.figs.add(`${prefix}.p95`, s.p95, { unit: 'ms', better: 'lower', label: `${label}: latency p95`, group: g });
  ctx.figs.add(`${prefix}.p99`, s.p99, { unit: 'ms', better: 'lower', label: `${label}: latency p99`, group: g });
  ctx.figs.add(`${prefix}.error_rate`, r.errors / Math.max(1, r.errors + r.ok), { unit: 'fraction', better: 'lower', label: `${label}: errors / calls`, group: g });
  if (r.errors) ctx.notes.push(`${label}: ${r.errors} errors (${Object.entries(r.errorKinds).map(([k, n]) => `${k}: ${n}`).join(', ')})`);
  (ctx.distributions[`${label}`] ??= []).push(...r.latencies);
}

export async function stockCatalog(ctx: Ctx): Promise<void> {
  ctx.progress.step(`setup: stocking ${ctx.p.products} products through UpdateInventory`);
  ctx.catalog = Array.from({ length: ctx.p.products }, (_, k) => ({ productId: 10_001 + k, name: `Bench product ${k + 1}`, priceCents: 199 + ((k * 373) % 9_800) }));
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < ctx.catalog.length) {
        const p = ctx.catalog[next++];
        await ctx.grpc.updateInventory({ productId: p.productId, productName: p.name, unitPrice: p.priceCents / 100, quantity: 10_000_000, lowStockThreshold: 10 });
      }
    }),
  );
  await waitQuiet(ctx);
}

/** Makes sure `n` validated, unpaid orders exist for the payment steps. */
async function ensureUnpaid(ctx: Ctx, n: number): Promise<void> {
  if (ctx.unpaid.length >= n) return;
  ctx.progress.step(`commands: creating ${n - ctx.unpaid.length} more orders to pay`);
  const want = n - ctx.unpaid.length;
  await closedLoop({ concurrency: 16, durationMs: 600_000, maxCalls: want, op: () => createOrder(ctx, nextOrderIndex()) });
  await waitDecided(ctx);
}

export async function runCommands(ctx: Ctx): Promise<void> {
  const p = ctx.p;
  // Repeats are consecutive windows of one steady loop per concurrency (one warm-up each).
  for (const c of p.concurrencies) {
    ctx.progress.step(`commands: CreateOrder c=${c}, ${p.repeats} × ${p.stepMs / 1000} s windows`);
    const runs = await closedLoopWindows({ concurrency: c, durationMs: p.stepMs, windows: p.repeats, warmupMs: p.warmupMs, op: () => createOrder(ctx, nextOrderIndex()) });
    for (const run of runs) addCommandRun(ctx, 'create_order', c, run);
    ctx.progress.step(`commands: CreateOrder c=${c}: draining`);
    await waitQuiet(ctx);
  }
  const best = Math.max(...p.concurrencies.map((c) => ctx.figs.median(`commands.create_order.c${c}.throughput`)));
  ctx.maxCommandRate = best;

  // Payments: only orders the order process validated can be paid (stock is
  // ample, so every order is validated once the order process has seen it).
  await waitDecided(ctx);
  const pay = (o: CreatedOrder) => ctx.grpc.processPayment({ orderId: o.orderId, amount: o.amountCents / 100, method: PaymentMethod.CREDIT_CARD });
  for (const c of p.concurrencies) {
    const expected = Math.ceil(best * 1.3 * ((p.stepMs * p.repeats + p.warmupMs) / 1000)) + c * 3 + 10;
    await ensureUnpaid(ctx, expected);
    ctx.progress.step(`commands: ProcessPayment c=${c}, ${p.repeats} × ${p.stepMs / 1000} s windows`);
    const runs = await closedLoopWindows({
      concurrency: c,
      durationMs: p.stepMs,
      windows: p.repeats,
      warmupMs: p.warmupMs,
      op: async () => {
        const o = ctx.unpaid.shift();
        if (!o) throw new Error('no validated order left to pay');
        await pay(o);
        ctx.acks.push(performance.now());
      },
    });
    for (const run of runs) addCommandRun(ctx, 'process_payment', c, run);
    await waitQuiet(ctx);
  }
}
