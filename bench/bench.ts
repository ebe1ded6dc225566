// runBench: starts the mesh, runs the chosen workloads with warm-ups,
// judges the targets and writes results/<date>.json, the charts and
// RESULTS.md. `npm run bench` (bench/run.ts) is its command line; the smoke
// test calls it with `smoke: true`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ServiceName } from '../kit/mesh';
import { repoRoot } from '../lib/paths';
import { PROFILES, WORKLOADS, type Mode, type Workload } from './config';
import { purgeBacklog, waitQuiet, type Ctx } from './context';
import { Figures } from './figures';
import { HttpClient, typedClients } from './harness/clients';
import { machineInfo, machineJiffies, versions } from './harness/machine';
import { PROCS, readProc, startBenchMesh } from './harness/mesh';
import { profilesIn, summarizeProfile, type ProfileSummary } from './profile';
import { Progress } from './progress';
import { distributionsOf, renderMarkdown, writeCharts, type BenchResults } from './report';
import { ratePerWindow } from './stats';
import { judgeTargets } from './targets';
import { runBaselines } from './workloads/baselines';
import { runCommands, stockCatalog } from './workloads/commands';
import { runBursts } from './workloads/bursts';
import { runProjection } from './workloads/projection';
import { runOverhead } from './workloads/overhead';
import { runRoundtrips } from './workloads/roundtrips';
import { runGrowth, runQueries } from './workloads/queries';

export interface BenchOptions {
  mode?: Mode;
  /** Shorthand for mode 'smoke': every code path, tiny sizes, seconds. */
  smoke?: boolean;
  only?: Workload[];
  /** Where the JSON and charts go (default bench/results). */
  outDir?: string;
  /** Where RESULTS.md goes (default bench/RESULTS.md, or outDir/RESULTS.md when outDir is given). */
  resultsMd?: string;
  progress?: boolean;
  /** Services to run under `node --cpu-prof`. */
  cpuProfile?: ServiceName[];
}

export interface BenchOutput {
  jsonPath: string;
  resultsMdPath: string;
  results: BenchResults;
}

const PLANNED_SEC: Record<Mode, number> = { smoke: 56, quick: 246, full: 1_120 };

export async function runBench(o: BenchOptions = {}): Promise<BenchOutput> {
  const mode: Mode = o.smoke ? 'smoke' : (o.mode ?? 'full');
  const p = PROFILES[mode];
  const only = new Set<Workload>(o.only?.length ? o.only : WORKLOADS);
  const outDir = o.outDir ?? join(repoRoot, 'bench', 'results');
  const resultsMdPath = o.resultsMd ?? (o.outDir ? join(o.outDir, 'RESULTS.md') : join(repoRoot, 'bench', 'RESULTS.md'));
  mkdirSync(outDir, { recursive: true });
  const date = new Date();
  const stem = date.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  const progress = new Progress(o.progress ?? true, PLANNED_SEC[mode]);
  const machine = machineInfo();

  const profileDir = join(outDir, `${stem}-profiles`);
  const env: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {};
  for (const svc of o.cpuProfile ?? []) {
    mkdirSync(join(profileDir, svc), { recursive: true });
    // Node refuses --cpu-prof in NODE_OPTIONS; a preload starts the profiler instead.
    env[svc] = {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${join(repoRoot, 'dist', 'bench', 'cpu-profile-preload.js')}`.trim(),
      BENCH_CPU_PROFILE_DIR: join(profileDir, svc),
    };
  }

  progress.step('setup: starting the store, command-svc, query-svc, projector-svc and the edge');
  const bm = await startBenchMesh({ env });
  // Ctrl-C or a kill must not leave the mesh running without its bench.
  const onSignal = (sig: NodeJS.Signals) => void bm.stop().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const grpc = typedClients(bm.mesh.urls.command, bm.mesh.urls.query);
  const http = new HttpClient(bm.mesh.urls.edge, 64);
  const ctx: Ctx = {
    p, only, bm, grpc, http,
    figs: new Figures(),
    series: [],
    distributions: {},
    progress,
    notes: [],
    catalog: [],
    unpaid: [],
    acks: [],
    synthetic: 0,
    t0: performance.now(),
    phases: [],
    dataset: { orders: 0, sampleOrderIds: [], userIds: [], nextUser: 0, nextSeed: 0 },
    helperCpu: 0,
    cappedWaits: [],
    created: 0,
  };
  let vers: Record<string, string> = {};
  const idle = new Map<string, number>();
  try {
    vers = await versions(bm.mongo, bm.mesh.urls.amqp);
    for (const name of PROCS) {
      const pid = bm.pid(name);
      const proc = pid ? readProc(pid) : undefined;
      if (proc) idle.set(name, proc.rssMb);
    }
    const phase = async (name: string, fn: () => Promise<void>) => {
      bm.phase = name;
      const cpu0: Record<string, number> = { ...bm.cpu(), 'no-op server': ctx.helperCpu };
      const j0 = machineJiffies();
      const t0 = performance.now();
      await fn();
      // Leave a quiet system to the next phase (a projector that fell behind is given a bounded time).
      if (name !== 'setup' && !(await waitQuiet(ctx, p.holdDrainCapMs)).drained) await purgeBacklog(ctx, `end of ${name}`);
      const cpu1: Record<string, number> = { ...bm.cpu(), 'no-op server': ctx.helperCpu };
      const j1 = machineJiffies();
      const cpu: Record<string, number> = {};
      for (const k of Object.keys(cpu1)) cpu[k] = cpu1[k] - (cpu0[k] ?? 0);
      const ours = Object.values(cpu).reduce((a, b) => a + b, 0);
      const total = (j1.total - j0.total) / 100;
      const busy = (j1.busy - j0.busy) / 100;
      ctx.phases.push({
        phase: name,
        start: (t0 - ctx.t0) / 1000,
        seconds: (performance.now() - t0) / 1000,
        cpu,
        machineBusy: total ? busy / total : 0,
        foreignBusy: total ? Math.max(0, busy - ours) / total : 0,
        loadavg: loadavg()[0],
      });
      progress.log(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    };

    await phase('setup', () => stockCatalog(ctx));
    if (only.has('baselines')) await phase('baselines', () => runBaselines(ctx));
    if (only.has('commands')) await phase('commands', () => runCommands(ctx));
    if (only.has('roundtrips')) await phase('roundtrips', () => runRoundtrips(ctx));
    if (only.has('projection')) await phase('projection', () => runProjection(ctx));
    if (only.has('queries')) await phase('queries', () => runQueries(ctx));
    if (only.has('growth')) await phase('growth', () => runGrowth(ctx));
    // Last: the flash sale leaves one product with every burst order's reservation open.
    if (only.has('bursts')) await phase('bursts', () => runBursts(ctx));
    // After everything else: it restarts every service, twice a round.
    if (only.has('overhead')) await phase('overhead', () => runOverhead(ctx));
    bm.phase = 'end';
    bm.sample();
    // What the stores hold at the end (a growing outbox or dead-letter queue would show here).
    try {
      const counts: string[] = [];
      for (const [db, col] of [['cqrs_write', 'commits'], ['cqrs_write', 'outbox'], ['cqrs_write', 'stream_heads'], ['cqrs_read', 'orders'], ['cqrs_read', 'user_summaries'], ['cqrs_read', 'inventory']]) {
        counts.push(`${db}.${col} ${await bm.mongo.db(db).collection(col).estimatedDocumentCount()}`);
      }
      ctx.notes.push(`documents at the end of the run: ${counts.join(', ')}`);
    } catch (err) {
      ctx.notes.push(`could not count the stores' documents: ${(err as Error).message}`);
    }
  } finally {
    grpc.close();
    http.close();
    progress.step('stopping the mesh');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await bm.stop();
  }

  // (5) Memory: peak RSS of every process over the whole run.
  const memory: BenchResults['memory'] = [];
  for (const name of PROCS) {
    const peak = bm.peaks.get(name);
    if (!peak) continue;
    memory.push({ process: name, peakRssMb: peak.hwmMb, phase: peak.phase, idleRssMb: idle.get(name) ?? NaN });
    ctx.figs.add(`memory.${name}.peak_rss_mb`, peak.hwmMb, { unit: 'MiB', better: 'lower', label: `${name}: peak RSS (VmHWM), reached during ${peak.phase}`, group: 'memory' });
    ctx.figs.add(`memory.${name}.idle_rss_mb`, idle.get(name) ?? NaN, { unit: 'MiB', better: 'lower', label: `${name}: RSS after start-up`, group: 'memory' });
    ctx.figs.relate(`memory.${name}.peak_rss_mb`, `memory.${name}.idle_rss_mb`, 'peak ÷ after start-up');
  }

  relateSystemToBaselines(ctx);

  // Time series for the charts.
  const end = performance.now();
  const win = mode === 'full' ? 2_000 : 1_000;
  const rel = (pts: Array<[number, number]>) => pts.map(([t, v]) => [(t - ctx.t0 + win / 2) / 1000, v] as [number, number]);
  ctx.series.push({ name: 'acks', title: 'commands acknowledged /s', unit: '1/s', chart: 'throughput', points: rel(ratePerWindow(ctx.acks, ctx.t0, end, win)) });
  ctx.series.push({ name: 'stored', title: 'events stored+published /s', unit: '1/s', chart: 'throughput', points: rel(ratePerWindow(bm.tap.stored, ctx.t0, end, win)) });
  ctx.series.push({ name: 'projected', title: 'events projected /s', unit: '1/s', chart: 'throughput', points: rel(ratePerWindow(bm.tap.projected, ctx.t0, end, win)) });
  for (const [name, list] of bm.samples) {
    ctx.series.push({ name: `rss_${name}`, title: name, unit: 'MiB', chart: 'memory', points: list.map((s) => [s.t, s.rssMb]) });
  }

  const cpuProfiles: Record<string, ProfileSummary[]> = {};
  for (const svc of o.cpuProfile ?? []) {
    cpuProfiles[svc] = profilesIn(join(profileDir, svc)).map((f) => summarizeProfile(f));
    if (!cpuProfiles[svc].length) ctx.notes.push(`no CPU profile was written for ${svc}`);
  }
  if (ctx.cappedWaits.length) ctx.notes.push(`${ctx.cappedWaits.length} waits for the system to drain hit their cap (${ctx.cappedWaits.slice(0, 6).join('; ')}${ctx.cappedWaits.length > 6 ? '; …' : ''}): the projection fell behind the load, and the next step started with a backlog`);
  if (bm.tap.errors.length) ctx.notes.push(`the services logged ${bm.tap.errors.length} error lines, e.g. ${bm.tap.errors[0].slice(0, 300)}`);
  if (bm.tap.deadLettered) ctx.notes.push(`${bm.tap.deadLettered} events were dead-lettered`);

  const results: BenchResults = {
    schema: 1,
    date: date.toISOString(),
    mode,
    workloads: [...only],
    durationSec: (performance.now() - ctx.t0) / 1000,
    machine: { ...machine, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
    versions: vers,
    profile: p,
    figures: ctx.figs.all(),
    targets: judgeTargets(ctx.figs, p),
    series: ctx.series,
    distributions: distributionsOf(ctx.distributions),
    phases: ctx.phases,
    memory,
    notes: ctx.notes,
    charts: [],
    cpuProfiles,
    roundtrips: ctx.roundtrips,
    docSizes: ctx.docSizes,
    bursts: ctx.bursts,
  };
  progress.step('writing results, charts and RESULTS.md');
  results.charts = writeCharts(results, ctx.distributions, outDir, stem);
  const jsonPath = join(outDir, `${stem}.json`);
  writeFileSync(jsonPath, JSON.stringify(results, null, 1));
  writeFileSync(resultsMdPath, renderMarkdown(results, resultsMdPath, outDir, jsonPath, join(repoRoot, 'bench', 'analysis.md')));
  progress.done();
  return { jsonPath, resultsMdPath, results };
}

/** Re-renders RESULTS.md from a results JSON (after editing bench/analysis.md, say); charts are left as they are. */
export function renderResults(jsonFile: string, resultsMdPath = join(repoRoot, 'bench', 'RESULTS.md')): string {
  const jsonPath = resolve(jsonFile);
  const results = JSON.parse(readFileSync(jsonPath, 'utf8')) as BenchResults;
  writeFileSync(resultsMdPath, renderMarkdown(results, resultsMdPath, dirname(jsonPath), jsonPath, join(repoRoot, 'bench', 'analysis.md')));
  return resultsMdPath;
}

/** Puts each system figure beside its raw baseline. */
function relateSystemToBaselines(ctx: Ctx): void {
  const f = ctx.figs;
  for (const c of ctx.p.concurrencies) {
    for (const cmd of ['create_order', 'process_payment']) {
      f.relate(`commands.${cmd}.c${c}.throughput`, `baselines.grpc_noop.create_order_sizes.c${c}.throughput`, 'command ÷ no-op gRPC calls/s');
      f.relate(`commands.${cmd}.c${c}.p50`, `baselines.grpc_noop.create_order_sizes.c${c}.p50`, 'command ÷ no-op gRPC latency');
      f.relate(`commands.${cmd}.c${c}.p99`, `baselines.grpc_noop.create_order_sizes.c${c}.p99`, 'command ÷ no-op gRPC latency');
    }
  }
  const store = f.median('baselines.store.upsert_c16.throughput') > f.median('baselines.store.upsert_single.throughput') ? 'baselines.store.upsert_c16.throughput' : 'baselines.store.upsert_single.throughput';
  f.relate('projection.e2e_sustained_throughput', store, 'orders/s ÷ raw store upserts/s (slowest raw component)');
  f.relate('projection.saturation.published_events_per_s', 'baselines.amqp.publish_confirm.w64.throughput', 'events/s ÷ raw publish+confirm msg/s');
  f.relate('projection.saturation.applied_events_per_s', 'baselines.amqp.consume_ack.p64.throughput', 'events/s ÷ raw consume+ack msg/s');
  f.relate('projection.drain.prefetch1.events_per_s', 'baselines.store.upsert_single.throughput', 'events/s ÷ raw single upserts/s');
  for (const r of ['r50', 'r80']) {
    f.relate(`projection.${r}.lag_p99`, 'baselines.amqp.broker_latency.p99', 'lag ÷ broker publish→consume p99');
    f.relate(`projection.${r}.lag_p50`, 'baselines.amqp.broker_latency.p50', 'lag ÷ broker publish→consume p50');
    f.relate(`projection.${r}.applied_events_per_s`, 'baselines.amqp.consume_ack.p64.throughput', 'events/s ÷ raw consume+ack msg/s');
  }
  f.relate('growth.seed_docs_per_s', 'baselines.store.upsert_single.throughput', 'bulk-inserted orders/s ÷ single upserts/s');
}
