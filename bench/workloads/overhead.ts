// (10) What observability costs, metrics and tracing: CreateOrder through
// the edge (REST → gRPC → store → broker → order process → projector) with
// every service restarted per variant, as a closed loop (throughput) and then at a fixed rate
// (latency, and CPU per order of every process). Tracing on exports every
// span over OTLP/HTTP to a receiver in the bench process that counts and
// drops them, so the export is paid for and the keeping is not. Variants
// alternate (off, on, …, off, on, …) so that a drift of the shared machine
// hits each alike.
import { performance } from 'node:perf_hooks';
import { SERVICES, type ServiceName } from '../../kit/mesh';
import { startOtlpReceiver, tracingEnv, type OtlpReceiver } from '../../kit/otlp-receiver';
import { orderRequest, restartService, waitQuiet, type Ctx } from '../context';
import { closedLoop, openLoop } from '../load';
import { summarize } from '../stats';
import { sleep } from '../../kit/wait';

const g = 'overhead';

export interface Variant {
  name: string;
  label: string;
  /** The services' settings for this variant. */
  env: (sink: OtlpReceiver) => NodeJS.ProcessEnv;
  /** It exports spans: wait for them, count them. */
  traced?: boolean;
}

/** The first is the reference the others are compared with. Metrics are on unless METRICS_PORT is off (the mesh gives each process a port). */
export const VARIANTS: Variant[] = [
  { name: 'off', label: 'metrics and tracing off', env: () => ({ METRICS_PORT: 'off' }) },
  { name: 'metrics', label: 'metrics on, tracing off', env: () => ({}) },
  { name: 'tracing', label: 'metrics and tracing on (every trace exported)', traced: true, env: (sink) => tracingEnv(sink.url, { scheduleDelayMs: EXPORT_EVERY_MS }) },
  // What production would run: the instrumentation everywhere, one trace in ten recorded and exported.
  {
    name: 'tracing_10pct',
    label: 'metrics on, tracing on with 10% sampled',
    traced: true,
    env: (sink) => ({ ...tracingEnv(sink.url, { scheduleDelayMs: EXPORT_EVERY_MS }), OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }),
  },
];

/** Spans are exported this often (the SDK's default is 5 s), so a variant's spans arrive before the next one starts. */
const EXPORT_EVERY_MS = 1_000;

/** Waits until no span has arrived for a while: the services' last export of this variant is in. */
async function exportsSettled(sink: OtlpReceiver): Promise<void> {
  const deadline = performance.now() + 10 * EXPORT_EVERY_MS;
  let last = -1;
  while (sink.count() !== last && performance.now() < deadline) {
    last = sink.count();
    await sleep(1.5 * EXPORT_EVERY_MS);
  }
}

/** The four services again, with `env` on top of the mesh's settings. */
async function restartAll(ctx: Ctx, env: NodeJS.ProcessEnv, why: string): Promise<void> {
  const backends = SERVICES.filter((s) => s !== 'edge');
  await Promise.all(backends.map((s) => restartService(ctx, s as ServiceName, env, why)));
  await restartService(ctx, 'edge', env, why);
}

const MESH = ['store', ...SERVICES];

/** One CreateOrder through the edge, as a client of the REST API sends it. */
function postOrder(ctx: Ctx, i: number): Promise<unknown> {
  const { req } = orderRequest(ctx, i);
  return ctx.http.post('/cqrs/commands/orders', { user_id: req.userId, product_id: req.productId, quantity: req.quantity }).then(() => ctx.acks.push(performance.now()));
}

async function measure(ctx: Ctx, v: Variant, sink: OtlpReceiver, round: number): Promise<void> {
  const p = ctx.p;
  const step = (what: string) => ctx.progress.step(`overhead: ${v.label}, round ${round + 1} of ${p.overheadRounds}: ${what}`);
  const prefix = `overhead.${v.name}`;
  const first = 1_000_000 + round * 100_000 + VARIANTS.indexOf(v) * 30_000;
  step('restarting the services');
  await restartAll(ctx, v.env(sink), `the overhead workload (${v.label})`);
  await waitQuiet(ctx);

  // How many commands it takes at all (closed loop): the figure a shared machine shakes most.
  step(`closed loop through the edge, c=${p.overheadConcurrency}, ${p.overheadStepMs / 1000} s`);
  const sat = await closedLoop({ concurrency: p.overheadConcurrency, durationMs: p.overheadStepMs, warmupMs: p.warmupMs, op: (i) => postOrder(ctx, first + i) });
  ctx.figs.add(`${prefix}.throughput`, sat.throughput, { unit: 'calls/s', better: 'higher', label: `${v.label}: CreateOrder via the edge, closed loop c=${p.overheadConcurrency}: throughput`, group: g, samples: sat.ok });
  await waitQuiet(ctx, p.holdDrainCapMs);
  if (v.traced) await exportsSettled(sink);

  // What each order costs at the same offered rate: CPU per order is then free of the idle
  // work (health checks, lag reports) that a slower variant would spread over fewer orders.
  step(`${p.overheadRatePerSec}/s through the edge, ${p.overheadStepMs / 1000} s`);
  const spans0 = sink.count();
  const cpu0 = ctx.bm.cpu();
  const fixed = await openLoop({ ratePerSec: p.overheadRatePerSec, durationMs: p.overheadStepMs, maxInFlight: 64, op: (i) => postOrder(ctx, first + 20_000 + i) });
  // Until the order process and the projector are done with them: their work is part of each order's cost.
  await waitQuiet(ctx, p.holdDrainCapMs);
  const cpu1 = ctx.bm.cpu();
  if (v.traced) await exportsSettled(sink);
  const label = `${v.label}: CreateOrder via the edge at ${p.overheadRatePerSec}/s`;
  const s = summarize(fixed.latencies);
  const n = fixed.ok;
  const perOrder = (procs: string[]) => (n ? (procs.reduce((sum, k) => sum + (cpu1[k] ?? 0) - (cpu0[k] ?? 0), 0) * 1000) / n : NaN);
  ctx.figs.add(`${prefix}.p50`, s.p50, { unit: 'ms', better: 'lower', label: `${label}: latency p50`, group: g, samples: s.n });
  ctx.figs.add(`${prefix}.p99`, s.p99, { unit: 'ms', better: 'lower', label: `${label}: latency p99`, group: g });
  ctx.figs.add(`${prefix}.cpu_ms_per_order`, perOrder(MESH), { unit: 'ms', better: 'lower', label: `${label}: CPU of the mesh (store and services) per order, projection included`, group: g, samples: n });
  for (const proc of MESH) ctx.figs.add(`${prefix}.cpu_ms_per_order.${proc}`, perOrder([proc]), { unit: 'ms', better: 'lower', label: `${label}: CPU of ${proc} per order`, group: g });
  if (v.traced) ctx.figs.add(`${prefix}.spans_per_order`, n ? (sink.count() - spans0) / n : NaN, { unit: 'spans', better: 'none', label: `${label}: spans exported per order`, group: g });
  for (const [what, r] of [['closed loop', sat], [`${p.overheadRatePerSec}/s`, fixed]] as const) {
    if (r.errors) ctx.notes.push(`overhead, ${v.label}, ${what}: ${r.errors} errors (${Object.entries(r.errorKinds).map(([k, c]) => `${k}: ${c}`).join(', ')})`);
  }
  if (fixed.shed) ctx.notes.push(`overhead, ${v.label}: ${fixed.shed} of ${fixed.offered} orders at ${p.overheadRatePerSec}/s were not sent (64 in flight already): the rate is above what the mesh takes`);
}

export async function runOverhead(ctx: Ctx, variants: Variant[] = VARIANTS): Promise<void> {
  const sink = await startOtlpReceiver({ keep: false });
  try {
    for (let round = 0; round < ctx.p.overheadRounds; round++) {
      for (const v of variants) await measure(ctx, v, sink, round);
    }
  } finally {
    // Whatever comes next runs as configured.
    await restartAll(ctx, {}, 'the end of the overhead workload');
    await sink.close();
  }
  const ref = variants[0].name;
  for (const v of variants.slice(1)) {
    ctx.figs.relate(`overhead.${v.name}.throughput`, `overhead.${ref}.throughput`, `calls/s ÷ ${variants[0].label}`);
    ctx.figs.relate(`overhead.${v.name}.p50`, `overhead.${ref}.p50`, `latency ÷ ${variants[0].label}`);
    ctx.figs.relate(`overhead.${v.name}.p99`, `overhead.${ref}.p99`, `latency ÷ ${variants[0].label}`);
    ctx.figs.relate(`overhead.${v.name}.cpu_ms_per_order`, `overhead.${ref}.cpu_ms_per_order`, `CPU per order ÷ ${variants[0].label}`);
    for (const proc of MESH) ctx.figs.relate(`overhead.${v.name}.cpu_ms_per_order.${proc}`, `overhead.${ref}.cpu_ms_per_order.${proc}`, `CPU per order ÷ ${variants[0].label}`);
  }
}
