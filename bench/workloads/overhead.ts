// (10) What observability costs: the same closed loop of CreateOrder through
// the edge (REST → gRPC → store → broker → order process → projector), with
// every service restarted per variant. Tracing on exports every span over
// OTLP/HTTP to a receiver in the bench process that counts and drops them,
// so the export is paid for and the keeping is not. Variants alternate
// (off, on, off, on, …) so that a drift of the shared machine hits each alike.
import { performance } from 'node:perf_hooks';
import { SERVICES, type ServiceName } from '../../kit/mesh';
import { startOtlpReceiver, tracingEnv, type OtlpReceiver } from '../../kit/otlp-receiver';
import { orderRequest, restartService, waitQuiet, type Ctx } from '../context';
import { closedLoop } from '../load';
import { summarize } from '../stats';

const g = 'overhead';

export interface Variant {
  name: string;
  label: string;
  /** The services' settings for this variant. */
  env: (sink: OtlpReceiver) => NodeJS.ProcessEnv;
}

/** The first is the reference the others are compared with. */
export const VARIANTS: Variant[] = [
  { name: 'off', label: 'tracing off', env: () => ({}) },
  { name: 'tracing', label: 'tracing on (OTLP export)', env: (sink) => tracingEnv(sink.url) },
  // What production would run: the instrumentation everywhere, one trace in ten recorded and exported.
  { name: 'tracing_10pct', label: 'tracing on, 10% sampled', env: (sink) => ({ ...tracingEnv(sink.url), OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }) },
];

/** The four services again, with `env` on top of the mesh's settings. */
async function restartAll(ctx: Ctx, env: NodeJS.ProcessEnv, why: string): Promise<void> {
  const backends = SERVICES.filter((s) => s !== 'edge');
  await Promise.all(backends.map((s) => restartService(ctx, s as ServiceName, env, why)));
  await restartService(ctx, 'edge', env, why);
}

const cpuOfMesh = (cpu: Record<string, number>) => ['store', ...SERVICES].reduce((sum, k) => sum + (cpu[k] ?? 0), 0);

async function measure(ctx: Ctx, v: Variant, sink: OtlpReceiver, round: number): Promise<void> {
  const p = ctx.p;
  ctx.progress.step(`overhead: ${v.label}, round ${round + 1} of ${p.overheadRounds}: restarting the services`);
  await restartAll(ctx, v.env(sink), `the overhead workload (${v.label})`);
  await waitQuiet(ctx);
  ctx.progress.step(`overhead: ${v.label}, round ${round + 1}: CreateOrder through the edge, c=${p.overheadConcurrency}, ${p.overheadStepMs / 1000} s`);
  const spans0 = sink.count();
  const cpu0 = ctx.bm.cpu();
  let acked = 0;
  const r = await closedLoop({
    concurrency: p.overheadConcurrency,
    durationMs: p.overheadStepMs,
    warmupMs: p.warmupMs,
    op: async (i) => {
      const { req } = orderRequest(ctx, 1_000_000 + round * 100_000 + i);
      await ctx.http.post('/cqrs/commands/orders', { user_id: req.userId, product_id: req.productId, quantity: req.quantity });
      ctx.acks.push(performance.now());
      acked++;
    },
  });
  // Until the order process and the projector are done with it: their work is part of each order's cost.
  await waitQuiet(ctx, p.holdDrainCapMs);
  const cpuMs = (cpuOfMesh(ctx.bm.cpu()) - cpuOfMesh(cpu0)) * 1000;
  const s = summarize(r.latencies);
  const label = `CreateOrder via the edge c=${p.overheadConcurrency}, ${v.label}`;
  const prefix = `overhead.${v.name}`;
  ctx.figs.add(`${prefix}.throughput`, r.throughput, { unit: 'calls/s', better: 'higher', label: `${label}: throughput`, group: g, samples: r.ok });
  ctx.figs.add(`${prefix}.p50`, s.p50, { unit: 'ms', better: 'lower', label: `${label}: latency p50`, group: g, samples: s.n });
  ctx.figs.add(`${prefix}.p99`, s.p99, { unit: 'ms', better: 'lower', label: `${label}: latency p99`, group: g });
  ctx.figs.add(`${prefix}.cpu_ms_per_order`, acked ? cpuMs / acked : NaN, { unit: 'ms', better: 'lower', label: `${label}: CPU of the mesh (store and services) per order, projection included`, group: g, samples: acked });
  if (v.name !== VARIANTS[0].name) {
    ctx.figs.add(`${prefix}.spans_per_order`, acked ? (sink.count() - spans0) / acked : NaN, { unit: 'spans', better: 'none', label: `${label}: spans exported per order`, group: g });
  }
  if (r.errors) ctx.notes.push(`${label}: ${r.errors} errors (${Object.entries(r.errorKinds).map(([k, n]) => `${k}: ${n}`).join(', ')})`);
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
  }
}
