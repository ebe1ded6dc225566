// (2) Projection: how fast projector-svc applies events, and the lag from a
// command's acknowledgement to the change being visible through query-svc
// GetOrder, at 50% and 80% of the best CreateOrder rate, held for a while,
// with a least-squares trend to show whether it stays flat. Also: a
// saturation run (commands as fast as they go) for the end-to-end rate and
// whether the projector keeps up with what is published, and the projector
// alone draining a queued backlog with its normal prefetch and one event at
// a time.
import { performance } from 'node:perf_hooks';
import { status } from '@grpc/grpc-js';
import { stopChild } from '../../kit/processes';
import { createOrder, purgeBacklog, relTime, restartService, STORE_CLIENTS, storeSnapshot, waitQuiet, type Ctx } from '../context';
import { countsSince } from '../harness/mesh';
import { closedLoop, closedLoopWindows, openLoop } from '../load';
import { sleep } from '../../kit/wait';
import { linearTrend, mannKendall, summarize, windows } from '../stats';
import { nextOrderIndex } from './commands';
import { publishSynthetic } from './synthetic';

const g = 'projection';
/** A single-line CreateOrder makes OrderInitiated, InventoryReserved and OrderValidated. */
const EVENTS_PER_ORDER = 3;
/** A lag probe gives up after this long; it then counts as this lag (a lower bound, 20× the target's 1 s). */
const PROBE_TIMEOUT_MS = 20_000;
/** Without the projector's word, a probe still looks after this long, doubling up to BLIND_MAX_MS (a fallback). */
const BLIND_FIRST_MS = 250;
const BLIND_MAX_MS = 4_000;
/** When the projector has applied the order but GetOrder does not show it yet: again after 5 ms, doubling up to 100 ms. */
const RETRY_FIRST_MS = 5;
const RETRY_MAX_MS = 100;

export interface ProbeStats {
  probes: number;
  calls: number;
  /** Probes whose order the projector was seen applying before GetOrder found it. */
  signalled: number;
}

/**
 * The lag of one order: acknowledgement → the first GetOrder (query-svc)
 * that finds it. The probe does not poll blindly: it waits for projector-svc's
 * "event projected" line for the order's stream and then asks GetOrder, so a
 * probe costs about one GetOrder whatever the lag. Should GetOrder not show
 * it yet, it asks again after 5 ms, doubling up to 100 ms; without the line it
 * still asks after 250 ms, doubling up to 4 s, so a missed line cannot hang it.
 */
export async function probeLag(ctx: Ctx, orderId: string, ackAt: number, stats: ProbeStats, timeoutMs = PROBE_TIMEOUT_MS): Promise<number | undefined> {
  const tap = ctx.bm.tap;
  stats.probes++;
  // (tap.tracking is on while probes run: a line that came before the probe started is in orderProjectedAt.)
  let seen = tap.orderProjectedAt.has(orderId);
  let blind = BLIND_FIRST_MS, retry = RETRY_FIRST_MS;
  for (let first = true; ; first = false) {
    seen ||= tap.orderProjectedAt.has(orderId);
    if (!seen) {
      seen = await tap.whenOrderProjected(orderId, Math.max(0, Math.min(blind, ackAt + timeoutMs - performance.now())));
      blind = Math.min(blind * 2, BLIND_MAX_MS);
    } else if (!first) {
      await sleep(retry);
      retry = Math.min(retry * 2, RETRY_MAX_MS);
    }
    stats.calls++;
    try {
      await ctx.grpc.getOrder(orderId);
      if (seen) stats.signalled++;
      return performance.now() - ackAt;
    } catch (err) {
      if ((err as { code?: number }).code !== status.NOT_FOUND) throw err;
    }
    if (performance.now() - ackAt > timeoutMs) return undefined;
  }
}

async function measureMaxRate(ctx: Ctx): Promise<number> {
  ctx.progress.step('projection: measuring the best CreateOrder rate (commands workload not run)');
  const c = Math.max(...ctx.p.concurrencies);
  const run = await closedLoop({ concurrency: c, durationMs: ctx.p.stepMs, warmupMs: ctx.p.warmupMs, op: () => createOrder(ctx, nextOrderIndex()) });
  await waitQuiet(ctx);
  return run.throughput;
}

/** `basis`: what the rate is a share of (default: the best CreateOrder rate) and its figure key. */
async function hold(ctx: Ctx, pct: number, maxRate: number, basis = { key: `r${pct}`, of: 'max' }): Promise<void> {
  const p = ctx.p;
  const holdMs = pct === 80 ? p.holdMs : p.hold50Ms;
  const rate = Math.max(0.5, (maxRate * pct) / 100);
  const tap = ctx.bm.tap;
  const key = basis.key;
  const probes: Array<Promise<void>> = [];
  const probeStats: ProbeStats = { probes: 0, calls: 0, signalled: 0 };
  let lastProbe = -Infinity;
  const lags: Array<[number, number]> = []; // [ack time, lag ms] from GetOrder
  const acked = new Map<string, number>(); // order id → ack time
  let probeErrors = 0, probeTimeouts = 0;
  // The warm-up's commands are still in flight when the hold's begin, as in any steady load; none is probed.
  ctx.progress.step(`projection: warming up at ${rate.toFixed(1)} CreateOrder/s for ${Math.round(p.holdWarmupMs / 1000)} s before the hold`);
  const warm = openLoop({ ratePerSec: rate, durationMs: p.holdWarmupMs, maxInFlight: 256, op: () => createOrder(ctx, nextOrderIndex()) });
  await sleep(p.holdWarmupMs);
  tap.tracking = true;
  tap.orderProjectedAt.clear();
  const backlog: Array<[number, number]> = [];
  const backlogTimer = setInterval(() => backlog.push([relTime(ctx, performance.now()), tap.stored.length + ctx.synthetic - tap.projected.length]), 500);
  const store0 = await storeSnapshot(ctx);
  const projectedBefore = tap.projected.length;
  const storedBefore = tap.stored.length;
  const t0 = performance.now();
  ctx.progress.step(`projection: holding ${rate.toFixed(1)} CreateOrder/s (${pct}% of ${basis.of}, ${maxRate.toFixed(1)}) for ${Math.round(holdMs / 1000)} s`);
  const run = await openLoop({
    ratePerSec: rate,
    durationMs: holdMs,
    maxInFlight: 256,
    op: () => createOrder(ctx, nextOrderIndex()),
    onDone: (_i, _start, done, res) => {
      const orderId = (res as { orderId: string }).orderId;
      acked.set(orderId, done);
      // One probe per `lagProbeEveryMs` of acknowledgements, whatever the rate.
      if (done - lastProbe >= p.lagProbeEveryMs) {
        lastProbe = done;
        probes.push(
          probeLag(ctx, orderId, done, probeStats).then(
            (lag) => {
              // A probe that gave up counts at its timeout (a lower bound), so the slowest orders are not left out.
              if (lag === undefined) probeTimeouts++;
              lags.push([done, lag ?? PROBE_TIMEOUT_MS]);
            },
            () => {
              probeErrors++;
            },
          ),
        );
      }
    },
  });
  const holdEnd = performance.now();
  const warmed = await warm;
  if (warmed.errors || warmed.shed) ctx.notes.push(`warm-up before the hold at ${pct}% of ${basis.of}: ${warmed.errors} commands failed, ${warmed.shed} not sent`);
  const projectedInHold = tap.projected.length - projectedBefore;
  const storedInHold = tap.stored.length - storedBefore;
  await Promise.all(probes);
  const probesDone = performance.now();
  const store1 = await storeSnapshot(ctx);
  const quiet = await waitQuiet(ctx, p.holdDrainCapMs);
  clearInterval(backlogTimer);
  tap.tracking = false;
  const holdSec = (holdEnd - t0) / 1000;

  const label = `at ${pct}% of ${basis.of} (${rate.toFixed(1)} orders/s)`;
  ctx.figs.add(`projection.${key}.offered_rate`, rate, { unit: 'orders/s', better: 'none', label: `offered CreateOrder rate ${label}`, group: g });
  ctx.figs.add(`projection.${key}.achieved_rate`, run.ok / (holdMs / 1000), { unit: 'orders/s', better: 'higher', label: `acknowledged CreateOrder rate ${label}`, group: g, samples: run.ok });
  ctx.figs.add(`projection.${key}.applied_events_per_s`, projectedInHold / holdSec, { unit: 'events/s', better: 'higher', label: `events applied by projector-svc ${label}`, group: g, samples: projectedInHold });
  ctx.figs.add(`projection.${key}.stored_events_per_s`, storedInHold / holdSec, { unit: 'events/s', better: 'none', label: `events stored and published by command-svc ${label}`, group: g });
  ctx.figs.add(`projection.${key}.drain_after_hold_ms`, quiet.ms, { unit: 'ms', better: 'lower', label: `time to drain after the hold ${label}${quiet.drained ? '' : ' (capped: still behind)'}`, group: g });
  // What the probes cost: GetOrder calls per second, and query-svc's store round trips meanwhile (the probes are its only callers).
  const probeSec = Math.max(0.001, (probesDone - t0) / 1000);
  const querySvc = countsSince(store1.counts['query-svc'], store0.counts['query-svc']);
  ctx.figs.add(`projection.${key}.probe_get_order_per_s`, probeStats.calls / probeSec, { unit: 'calls/s', better: 'lower', label: `lag probes: GetOrder calls per second ${label} (one probe per ${p.lagProbeEveryMs} ms of acknowledgements)`, group: g, samples: probeStats.calls });
  ctx.figs.add(`projection.${key}.probe_calls_per_probe`, probeStats.calls / Math.max(1, probeStats.probes), { unit: 'calls', better: 'lower', label: `lag probes: GetOrder calls per probe ${label}`, group: g, samples: probeStats.probes });
  ctx.figs.add(`projection.${key}.probe_signalled`, probeStats.signalled / Math.max(1, probeStats.probes), { unit: 'fraction', better: 'none', label: `lag probes that found the order right after projector-svc logged it (the rest by the fallback checks) ${label}`, group: g });
  const spanMs = Math.max(1, store1.at - store0.at);
  const allWork = STORE_CLIENTS.reduce((sum, svc) => sum + countsSince(store1.counts[svc], store0.counts[svc]).work, 0);
  ctx.figs.add(`projection.${key}.query_svc_store_roundtrips_per_s`, (querySvc.work * 1000) / spanMs, { unit: 'round trips/s', better: 'lower', label: `query-svc store round trips per second during the hold ${label} (the lag probes' load on the store)`, group: g, samples: querySvc.work });
  ctx.figs.add(`projection.${key}.store_roundtrips_per_s`, (allWork * 1000) / spanMs, { unit: 'round trips/s', better: 'none', label: `store round trips per second of all services during the hold ${label}`, group: g, samples: allWork });
  if (allWork) ctx.figs.add(`projection.${key}.probe_store_share`, querySvc.work / allWork, { unit: 'fraction', better: 'lower', label: `query-svc's (the probes') share of the store round trips during the hold ${label}`, group: g });
  if (run.shed) ctx.notes.push(`hold ${label}: ${run.shed} of ${run.offered} commands not sent (256 already in flight): the command side could not keep the rate`);
  if (run.errors) ctx.notes.push(`hold ${label}: ${run.errors} commands failed (${JSON.stringify(run.errorKinds)})`);
  if (probeErrors || probeTimeouts) ctx.notes.push(`hold ${label}: ${probeErrors} lag probes failed, ${probeTimeouts} gave up after ${PROBE_TIMEOUT_MS / 1000} s (counted as ${PROBE_TIMEOUT_MS / 1000} s: the lag percentiles are lower bounds)`);

  // The hold split in `repeats` equal segments: each is one repeat.
  const segMs = (holdEnd - t0) / p.repeats;
  for (let s = 0; s < p.repeats; s++) {
    const seg = lags.filter(([t]) => t >= t0 + s * segMs && t < t0 + (s + 1) * segMs).map(([, l]) => l);
    if (!seg.length) continue;
    const st = summarize(seg);
    ctx.figs.add(`projection.${key}.lag_p50`, st.p50, { unit: 'ms', better: 'lower', label: `lag ack → visible in GetOrder ${label}: p50`, group: g, samples: st.n });
    ctx.figs.add(`projection.${key}.lag_p95`, st.p95, { unit: 'ms', better: 'lower', label: `lag ack → visible in GetOrder ${label}: p95`, group: g });
    ctx.figs.add(`projection.${key}.lag_p99`, st.p99, { unit: 'ms', better: 'lower', label: `lag ack → visible in GetOrder ${label}: p99`, group: g });
  }
  const trend = linearTrend(lags.map(([t]) => (t - t0) / 1000), lags.map(([, l]) => l));
  ctx.figs.add(`projection.${key}.hold_s`, holdSec, { unit: 's', better: 'none', label: `length of the hold ${label}`, group: g });
  ctx.figs.add(`projection.${key}.lag_trend`, trend.slope * 60, { unit: 'ms/min', better: 'lower', label: `lag trend (least-squares slope over the hold) ${label}`, group: g, samples: trend.n });
  const winMs = Math.max(1_000, (holdEnd - t0) / 10);
  const wins = windows(lags, winMs, t0).map(([t, vs]) => [(t - t0 + winMs / 2) / 1000, summarize(vs)] as const);
  const p99s = wins.map(([t, st]) => [t, st.p99] as [number, number]);
  const p99Trend = linearTrend(p99s.map(([t]) => t), p99s.map(([, v]) => v));
  ctx.figs.add(`projection.${key}.lag_p99_trend`, p99Trend.slope * 60, { unit: 'ms/min', better: 'lower', label: `trend of the per-window lag p99 ${label}`, group: g, samples: p99s.length });
  // The same ten windows' medians, tested for a monotonic rise (the target's judge: bench/targets.ts).
  const mk = mannKendall(wins.map(([t]) => t), wins.map(([, st]) => st.p50));
  ctx.figs.add(`projection.${key}.lag_mk_z`, mk.z, { unit: 'z', better: 'lower', label: `Mann–Kendall z of the per-window lag medians ${label} (above 1.645: rising, 5% one-sided)`, group: g, samples: mk.n });
  ctx.figs.add(`projection.${key}.lag_sen_rise`, mk.senSlope * holdSec, { unit: 'ms', better: 'lower', label: `Sen's slope of the per-window lag medians over the hold ${label}`, group: g, samples: mk.n });

  // The projector's own view: when each order's first event was applied.
  const applied: number[] = [];
  for (const [orderId, ackAt] of acked) {
    const at = tap.orderProjectedAt.get(orderId);
    if (at !== undefined) applied.push(at - ackAt);
  }
  if (applied.length) {
    const st = summarize(applied);
    ctx.figs.add(`projection.${key}.applied_lag_p50`, st.p50, { unit: 'ms', better: 'lower', label: `lag ack → applied by projector-svc (log), every order, ${label}: p50`, group: g, samples: st.n });
    ctx.figs.add(`projection.${key}.applied_lag_p99`, st.p99, { unit: 'ms', better: 'lower', label: `lag ack → applied by projector-svc (log), every order, ${label}: p99`, group: g });
  }

  ctx.series.push({ name: `lag_${key}`, title: `Projection lag ${label}`, unit: 'ms', chart: 'lag', points: lags.map(([t, l]) => [relTime(ctx, t), l]) });
  ctx.series.push({ name: `lag_${key}_p99`, title: `Per-window lag p99 ${label}`, unit: 'ms', chart: 'lag', points: p99s.map(([t, v]) => [relTime(ctx, t0) + t, v]) });
  const holdS = (holdEnd - t0) / 1000;
  ctx.series.push({ name: `lag_${key}_trend`, title: `Lag trend ${label}`, unit: 'ms', chart: 'lag', points: [[relTime(ctx, t0), trend.intercept], [relTime(ctx, t0) + holdS, trend.intercept + trend.slope * holdS]] });
  ctx.series.push({ name: `backlog_${key}`, title: `Unprojected events ${label}`, unit: 'events', chart: 'backlog', points: backlog });
  ctx.distributions[`lag ${pct}%`] = lags.map(([, l]) => l);
}

async function saturation(ctx: Ctx): Promise<void> {
  const p = ctx.p;
  const tap = ctx.bm.tap;
  const c = Math.max(...p.concurrencies);
  for (let r = 0; r < p.saturationRepeats; r++) {
    await waitQuiet(ctx);
    ctx.progress.step(`projection: saturation, CreateOrder c=${c} for ${Math.round(p.saturationMs / 1000)} s, repeat ${r + 1}/${p.saturationRepeats}`);
    const projected0 = tap.projected.length;
    const created0 = ctx.created;
    const t0 = performance.now();
    // The steady part of the loop, split into `repeats` windows.
    const runs = await closedLoopWindows({ concurrency: c, durationMs: p.saturationMs / p.repeats, windows: p.repeats, warmupMs: p.warmupMs, op: () => createOrder(ctx, nextOrderIndex()) });
    ctx.progress.step(`projection: saturation repeat ${r + 1}/${p.saturationRepeats}: waiting for the projection to catch up`);
    await waitQuiet(ctx, p.holdDrainCapMs);
    const total = (performance.now() - t0) / 1000;
    // Every order created in this run, and the share of their events projected by now.
    const orders = ctx.created - created0;
    const expected = orders * EVENTS_PER_ORDER;
    const doneFraction = expected ? Math.min(1, (tap.projected.length - projected0) / expected) : 0;
    for (const run of runs) {
      // Published and applied during this window of steady load.
      const from = run.startedAt, to = run.startedAt + run.elapsedMs;
      const inWindow = (times: number[]) => tap.countSince(times, from) - tap.countSince(times, to);
      const stored = inWindow(tap.stored), projected = inWindow(tap.projected);
      const sec = run.elapsedMs / 1000;
      ctx.figs.add('projection.saturation.command_rate', run.throughput, { unit: 'orders/s', better: 'higher', label: `CreateOrder rate at saturation (c=${c})`, group: g, samples: run.ok });
      ctx.figs.add('projection.saturation.published_events_per_s', stored / sec, { unit: 'events/s', better: 'higher', label: 'events stored and published at saturation', group: g, samples: stored });
      ctx.figs.add('projection.saturation.applied_events_per_s', projected / sec, { unit: 'events/s', better: 'higher', label: 'events applied by projector-svc at saturation', group: g, samples: projected });
      ctx.figs.add('projection.saturation.keep_up', stored ? projected / stored : NaN, { unit: 'fraction', better: 'higher', label: 'projector keep-up: events applied ÷ events published during saturation', group: g });
    }
    ctx.figs.add('projection.e2e_sustained_throughput', (orders * doneFraction) / total, {
      unit: 'orders/s',
      better: 'higher',
      label: 'end-to-end sustained command → projection throughput (orders created at saturation ÷ time until their events were projected)',
      group: g,
      samples: orders,
    });
  }
}

/** The projector alone, draining `count` queued synthetic events with the given prefetch. */
async function drain(ctx: Ctx, prefetch: number | undefined, seed: number): Promise<{ rate: number; readyMs: number }> {
  const p = ctx.p;
  const tap = ctx.bm.tap;
  const label = `projector drain with prefetch ${prefetch ?? 'as configured'}`;
  // Start from an empty queue: what a capped wait left behind is purged, so only the synthetic backlog is queued.
  if (!(await waitQuiet(ctx, p.holdDrainCapMs)).drained) await purgeBacklog(ctx, `before the ${label}`);
  const projector = ctx.bm.mesh.children.get('projector-svc');
  ctx.bm.sample();
  if (projector) await stopChild(projector);
  await publishSynthetic(ctx.bm.mesh.urls.amqp, p.drainEvents, seed, ctx.catalog.map((x) => x.productId));
  ctx.synthetic += p.drainEvents;
  const before = tap.projected.length;
  const t0 = performance.now();
  // Restarted behind the queued backlog: the readiness line must not wait for it (restartService bounds the wait).
  const readyMs = await restartService(ctx, 'projector-svc', prefetch ? { CONSUMER_PREFETCH: String(prefetch) } : {}, `the ${label}`);
  const deadline = performance.now() + p.syntheticCapMs;
  while (tap.projected.length - before < p.drainEvents && performance.now() < deadline) await sleep(20);
  const done = tap.projected.length - before;
  // From the first event applied to the last: the apply rate, start-up excluded.
  const start = tap.projected[before] ?? t0;
  const last = tap.projected[before + done - 1] ?? performance.now();
  if (done < p.drainEvents) {
    ctx.notes.push(`${label}: ${done} of ${p.drainEvents} queued events applied within the ${Math.round(p.syntheticCapMs / 1000)} s cap (rate measured on those)`);
    await purgeBacklog(ctx, label);
  }
  // Fewer than two applied within the cap: the rate is at most what was applied over the cap.
  const rate = done > 1 ? ((done - 1) * 1000) / Math.max(1, last - start) : (done * 1000) / Math.max(1, performance.now() - t0);
  return { rate, readyMs };
}

export async function runProjection(ctx: Ctx): Promise<void> {
  const p = ctx.p;
  const maxRate = ctx.maxCommandRate ?? (ctx.maxCommandRate = await measureMaxRate(ctx));
  ctx.figs.add('projection.max_command_rate', maxRate, { unit: 'orders/s', better: 'higher', label: 'best CreateOrder throughput (over concurrencies), the 100% rate', group: g });
  for (const pct of [50, 80]) {
    // Each hold starts from a drained system.
    if (!(await waitQuiet(ctx, p.holdDrainCapMs)).drained) await purgeBacklog(ctx, `before the ${pct}% hold`);
    await hold(ctx, pct, maxRate);
  }
  await saturation(ctx);
  // The command side alone acknowledges more than the read side can take in, so
  // 80% of its best rate overloads the mesh: the lag at 80% of what the mesh
  // sustains end to end (commands acknowledged and projected) is held too.
  const sustained = ctx.figs.median('projection.e2e_sustained_throughput');
  if (sustained && sustained > 0) {
    if (!(await waitQuiet(ctx, p.holdDrainCapMs)).drained) await purgeBacklog(ctx, 'before the 80% of sustained hold');
    await hold(ctx, 80, sustained, { key: 'r80_sustained', of: 'the end-to-end sustained rate' });
  }

  for (let r = 0; r < p.drainRepeats; r++) {
    ctx.progress.step(`projection: projector-svc draining ${p.drainEvents} queued events one at a time (prefetch 1), repeat ${r + 1}/${p.drainRepeats}`);
    const one = await drain(ctx, 1, 1_000_000 * (r + 1));
    ctx.figs.add('projection.drain.prefetch1.events_per_s', one.rate, { unit: 'events/s', better: 'higher', label: 'projector-svc applying queued events one at a time (CONSUMER_PREFETCH=1)', group: g, samples: p.drainEvents });
    ctx.figs.add('projection.drain.prefetch1.ready_ms', one.readyMs, { unit: 'ms', better: 'lower', label: `projector-svc restarted with prefetch 1 behind ${p.drainEvents} queued events: start → readiness line`, group: g });
    ctx.progress.step(`projection: projector-svc draining ${p.drainEvents} queued events as configured, repeat ${r + 1}/${p.drainRepeats}`);
    const batched = await drain(ctx, undefined, 1_000_000 * (r + 1) + 500_000);
    ctx.figs.add('projection.drain.prefetch64.events_per_s', batched.rate, { unit: 'events/s', better: 'higher', label: 'projector-svc applying a queued backlog as configured (CONSUMER_PREFETCH default)', group: g, samples: p.drainEvents });
    ctx.figs.add('projection.drain.prefetch64.ready_ms', batched.readyMs, { unit: 'ms', better: 'lower', label: `projector-svc restarted as configured behind ${p.drainEvents} queued events: start → readiness line`, group: g });
  }
  ctx.figs.relate('projection.drain.prefetch64.events_per_s', 'projection.drain.prefetch1.events_per_s', 'backlog rate ÷ one-at-a-time rate');
}
