// Writes a run's results: the JSON (every figure with its repeats, the
// series, the machine), the charts (SVG + PNG), and RESULTS.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { barChart, lineChart, PALETTE, type Chart } from './charts';
import type { Profile } from './config';
import type { PhaseCpu } from './context';
import type { Figure, Series, Target } from './figures';
import type { MachineInfo } from './harness/machine';
import type { ProfileSummary } from './profile';
import type { BurstRow } from './workloads/bursts';
import type { DocSizeTable } from './workloads/docsize';
import type { RoundtripTable } from './workloads/roundtrips';
import { logHistogram, summarize, type Bin, type Summary } from './stats';

export interface BenchResults {
  schema: 1;
  date: string;
  mode: string;
  workloads: string[];
  durationSec: number;
  machine: MachineInfo & { loadavgAtEnd: number[] };
  versions: Record<string, string>;
  profile: Profile;
  figures: Figure[];
  targets: Target[];
  series: Series[];
  distributions: Record<string, Summary & { histogram: Bin[] }>;
  phases: PhaseCpu[];
  memory: Array<{ process: string; peakRssMb: number; phase: string; idleRssMb: number }>;
  notes: string[];
  charts: string[];
  cpuProfiles: Record<string, ProfileSummary[]>;
  /** Store round trips per order, per service and phase (absent when the workload did not run). */
  roundtrips?: RoundtripTable;
  /** Largest document per collection, by read-store size. */
  docSizes?: DocSizeTable;
  bursts?: BurstRow[];
}

export function distributionsOf(samples: Record<string, number[]>): BenchResults['distributions'] {
  const out: BenchResults['distributions'] = {};
  for (const [k, v] of Object.entries(samples)) if (v.length) out[k] = { ...summarize(v), histogram: logHistogram(v, 10) };
  return out;
}

/** CDF points (latency, fraction ≤) of a sample, thinned to ~200 points. */
function cdf(values: number[]): Array<[number, number]> {
  const s = [...values].sort((a, b) => a - b);
  const step = Math.max(1, Math.floor(s.length / 200));
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < s.length; i += step) pts.push([s[i], (i + 1) / s.length]);
  if (s.length) pts.push([s[s.length - 1], 1]);
  return pts;
}

export function writeCharts(r: BenchResults, rawDistributions: Record<string, number[]>, outDir: string, stem: string): string[] {
  const files: string[] = [];
  const save = (name: string, c: Chart) => {
    writeFileSync(join(outDir, `${stem}-${name}.svg`), c.svg);
    writeFileSync(join(outDir, `${stem}-${name}.png`), c.png);
    files.push(`${stem}-${name}.png`, `${stem}-${name}.svg`);
  };
  const markers = r.phases.map((p) => ({ x: p.start, label: p.phase }));
  const sers = (chart: string) => r.series.filter((s) => s.chart === chart);

  const tput = sers('throughput');
  if (tput.length) {
    save('throughput', lineChart({ title: 'Throughput over the run (per second, 1 s windows in --quick, 2 s in full)', xLabel: 'seconds since start', yLabel: 'per second', series: tput.map((s) => ({ name: s.title, points: s.points })), markers }));
  }
  const cmd = Object.entries(rawDistributions).filter(([k]) => /^(CreateOrder|ProcessPayment) c=/.test(k));
  if (cmd.length) {
    save('command-latency', lineChart({ title: 'Command latency distribution (CDF, all repeats)', xLabel: 'latency, ms (log)', yLabel: 'fraction of calls <= x', logX: true, series: cmd.map(([k, v], i) => ({ name: k, points: cdf(v), color: PALETTE[i % PALETTE.length], dash: k.startsWith('Process') ? [5, 3] : undefined })) }));
  }
  const qs = ['GetOrder', 'ListUserOrders', 'GetUserSummary', 'GetInventory', 'GetOrderStatistics'];
  const qd = r.distributions;
  if (qs.some((q) => qd[`${q} gRPC`])) {
    save('query-latency', barChart({
      title: 'Query latency: direct gRPC vs through the edge (REST)',
      yLabel: 'ms (log)',
      logY: true,
      categories: qs,
      groups: [
        { name: 'gRPC p50', values: qs.map((q) => qd[`${q} gRPC`]?.p50 ?? NaN), color: '#1f77b4' },
        { name: 'gRPC p99', values: qs.map((q) => qd[`${q} gRPC`]?.p99 ?? NaN), color: '#aec7e8' },
        { name: 'edge p50', values: qs.map((q) => qd[`${q} edge`]?.p50 ?? NaN), color: '#d62728' },
        { name: 'edge p99', values: qs.map((q) => qd[`${q} edge`]?.p99 ?? NaN), color: '#ff9896' },
      ],
    }));
  }
  const [small, large] = r.profile.growthSizes;
  if (qs.some((q) => qd[`${q} n=${large}`])) {
    save('growth', barChart({
      title: `Query latency as the read store grows (${small} vs ${large} orders, gRPC)`,
      yLabel: 'ms (log)',
      logY: true,
      categories: qs,
      groups: [
        { name: `p50 @ ${small}`, values: qs.map((q) => qd[`${q} n=${small}`]?.p50 ?? NaN), color: '#2ca02c' },
        { name: `p99 @ ${small}`, values: qs.map((q) => qd[`${q} n=${small}`]?.p99 ?? NaN), color: '#98df8a' },
        { name: `p50 @ ${large}`, values: qs.map((q) => qd[`${q} n=${large}`]?.p50 ?? NaN), color: '#9467bd' },
        { name: `p99 @ ${large}`, values: qs.map((q) => qd[`${q} n=${large}`]?.p99 ?? NaN), color: '#c5b0d5' },
      ],
    }));
  }
  const lag = sers('lag');
  if (lag.length) {
    save('lag', lineChart({
      title: 'Projection lag: command acknowledged -> visible through GetOrder',
      xLabel: 'seconds since start',
      yLabel: 'lag, ms',
      series: lag.map((s) => ({
        name: s.title,
        points: s.points,
        mode: s.name.endsWith('_p99') || s.name.endsWith('_trend') ? 'line' : 'dots',
        color: s.name.includes('r50') ? '#1f77b4' : '#d62728',
        dash: s.name.endsWith('_trend') ? [6, 4] : undefined,
        width: s.name.endsWith('_trend') ? 1.2 : 2,
      })),
    }));
  }
  const backlog = sers('backlog');
  if (backlog.length) save('backlog', lineChart({ title: 'Events stored but not yet projected, during the sustained holds', xLabel: 'seconds since start', yLabel: 'events', series: backlog.map((s) => ({ name: s.title, points: s.points })) }));
  const mem = sers('memory');
  if (mem.length) save('memory', lineChart({ title: 'Resident memory per process', xLabel: 'seconds since start', yLabel: 'RSS, MiB', series: mem.map((s) => ({ name: s.title, points: s.points })), markers }));
  return files;
}

const fmt = (v: number | undefined, unit = ''): string => {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  const s = a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : a === 0 ? '0' : v.toPrecision(3);
  return unit === 'fraction' ? `${(v * 100).toFixed(1)}%` : s;
};

const GROUPS: Array<[string, string]> = [
  ['commands', '1. Commands (typed gRPC clients, closed loop)'],
  ['roundtrips', '2. Store round trips per order'],
  ['projection', '3. Projection'],
  ['bursts', '4. Bursts and the flash sale (through the edge)'],
  ['queries', '5. Queries: direct gRPC vs the edge (REST)'],
  ['growth', '6. Growth of the read store'],
  ['docsize', '7. Largest document per collection'],
  ['memory', '8. Memory (peak RSS, VmHWM)'],
  ['baselines', '9. Raw baselines (same run, same machine)'],
  ['overhead', '10. Observability overhead (metrics and tracing off vs on, same run)'],
];

export function renderMarkdown(r: BenchResults, resultsMdPath: string, outDir: string, jsonPath: string, analysisPath?: string): string {
  const rel = (p: string) => relative(join(resultsMdPath, '..'), p) || '.';
  const L: string[] = [];
  const passWord = (p: boolean | null) => (p === null ? 'not measured' : p ? '**PASS**' : '**FAIL**');
  L.push('# Benchmark results', '');
  L.push(`Latest run: **${r.date}**, mode \`${r.mode}\`, workloads ${r.workloads.join(', ')}, ${Math.round(r.durationSec)} s. Raw data: [${basename(jsonPath)}](${rel(jsonPath)}).`, '');
  L.push('Run it with `npm run build && npm run bench` (full: about 18 min on 2 cores), `npm run bench -- --quick` (a short run of every workload), `npm run bench -- --only=commands,queries`; `--profile=projector-svc,query-svc` also records V8 CPU profiles of those services and summarizes them below. Everything starts inside the run: the embedded store, the three services and the edge on OS-picked ports, in a RabbitMQ vhost of its own.', '');
  L.push('## Machine and versions', '');
  const m = r.machine;
  L.push(`| | |`, `| --- | --- |`);
  L.push(`| CPUs | ${m.cpus} × ${m.cpuModel} |`, `| memory | ${m.memoryGiB} GiB |`, `| kernel | ${m.kernel} |`, `| node | ${m.node} |`);
  L.push(`| load average at start / end | ${m.loadavgAtStart.join(' ')} / ${m.loadavgAtEnd.join(' ')} |`);
  for (const [k, v] of Object.entries(r.versions)) L.push(`| ${k} | ${v} |`);
  L.push('');
  L.push('The machine is shared: other engineers run test meshes on it. The table below says, per phase, how much of the machine (both cores = 100%) was busy and how much of that was not this bench (its mesh, its client, its no-op server).', '');
  L.push('| phase | s | machine busy | not ours | CPU s: store | command-svc | projector-svc | query-svc | edge | bench client + no-op server |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const p of r.phases) {
    const c = p.cpu;
    const s1 = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(1));
    L.push(`| ${p.phase} | ${p.seconds.toFixed(0)} | ${(100 * p.machineBusy).toFixed(0)}% | ${(100 * p.foreignBusy).toFixed(0)}% | ${s1(c.store)} | ${s1(c['command-svc'])} | ${s1(c['projector-svc'])} | ${s1(c['query-svc'])} | ${s1(c.edge)} | ${s1((c.bench ?? 0) + (c['no-op server'] ?? 0))} |`);
  }
  L.push('');

  L.push('## Targets', '', '| target | result | measured | threshold |', '| --- | --- | --- | --- |');
  for (const t of r.targets) L.push(`| ${t.title} | ${passWord(t.pass)} | ${t.measured}${t.detail ? `<br><sub>${t.detail}</sub>` : ''} | ${t.threshold} |`);
  L.push('');

  L.push(...roundtripSection(r), ...lagProbeSection(r), ...burstSection(r), ...docSizeSection(r));

  if (analysisPath && existsSync(analysisPath)) {
    L.push(readFileSync(analysisPath, 'utf8').trim(), '');
  }

  L.push('## Every figure', '', 'min / median / max are over the repeats (for the sustained holds, over equal segments of the hold). Where a figure has a baseline, ratio = median ÷ baseline median.', '');
  for (const [g, title] of GROUPS) {
    const figs = r.figures.filter((f) => f.group === g);
    if (!figs.length) continue;
    L.push(`### ${title}`, '', '| figure | unit | min | median | max | n (calls, events or repeats) | baseline (median) | ratio |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const f of figs) {
      const b = f.baseline;
      L.push(`| ${f.label} | ${f.unit === 'fraction' ? '%' : f.unit} | ${fmt(f.min, f.unit)} | ${fmt(f.median, f.unit)} | ${fmt(f.max, f.unit)} | ${f.samples ?? f.values.length} | ${b ? `${b.label}: ${fmt(b.median)}` : ''} | ${b ? `${b.ratio.toFixed(b.ratio < 0.1 ? 4 : 2)} (${b.meaning})` : ''} |`);
    }
    L.push('');
  }

  if (r.memory.length) {
    L.push('### Peak memory per process', '', '| process | idle RSS MiB | peak RSS (VmHWM) MiB | reached during |', '| --- | --- | --- | --- |');
    for (const x of r.memory) L.push(`| ${x.process} | ${fmt(x.idleRssMb)} | ${fmt(x.peakRssMb)} | ${x.phase} |`);
    L.push('');
  }

  const pngs = r.charts.filter((c) => c.endsWith('.png'));
  if (pngs.length) {
    L.push('## Charts', '', 'Each chart is in results/ as PNG and SVG.', '');
    for (const c of pngs) L.push(`![${c}](${rel(join(outDir, c))})`, '');
  }

  const profs = Object.entries(r.cpuProfiles);
  if (profs.length) {
    L.push('## CPU profiles of this run', '');
    for (const [svc, list] of profs) {
      for (const p of list) {
        L.push(`### ${svc} (${basename(p.file)}: ${(p.busyMs / 1000).toFixed(1)} s on CPU of ${(p.totalMs / 1000).toFixed(0)} s)`, '');
        L.push('| self time by area | % |', '| --- | --- |');
        for (const a of p.byArea) L.push(`| ${a.area} | ${a.pct.toFixed(1)} |`);
        L.push('', '| hottest functions (self) | where | % |', '| --- | --- | --- |');
        for (const f of p.top) L.push(`| \`${f.fn}\` | ${f.where} | ${f.pct.toFixed(1)} |`);
        L.push('');
      }
    }
  }

  if (r.notes.length) {
    L.push('## Notes from this run', '');
    for (const n of r.notes) L.push(`- ${n}`);
    L.push('');
  }
  return L.join('\n');
}

const med = (r: BenchResults, name: string) => r.figures.find((f) => f.name === name)?.median ?? NaN;

/** Round trips per order: one row per service and phase, one column per command. */
function roundtripSection(r: BenchResults): string[] {
  const t = r.roundtrips;
  if (!t) return [];
  const L: string[] = ['## Store round trips per order', ''];
  L.push(
    `Counted by the services themselves: with \`STORE_STATS_MS\` set (the bench sets it for every service), \`lib/mongo.ts\` counts every command the driver sends (a \`bulkWrite\` is one insert, update or delete per batch) and logs the counts. ` +
      `**create**: ${t.orders.create} CreateOrder, ${r.profile.roundtripConcurrency} in flight, until every order was validated (or rejected) and projected (${t.seconds.create.toFixed(1)} s${t.complete.create ? '' : ', **capped**: not all done'}); ` +
      `**pay**: ProcessPayment of the ${t.orders.pay} validated orders until PAID was projected and the order process's Sell reaction stored and projected (${t.seconds.pay.toFixed(1)} s${t.complete.pay ? '' : ', **capped**: not all done'}). ` +
      'Left out: ping, hello and endSessions (health checks, the store watchdog, the driver), and each service\'s background round trips on the idle mesh (rate below, measured just before and subtracted command by command).',
    '',
  );
  const commands = new Set<string>();
  for (const bySvc of Object.values(t.perOrder)) for (const row of Object.values(bySvc)) for (const k of Object.keys(row)) if (k !== 'all') commands.add(k);
  const cols = [...commands].sort();
  L.push(`| service | phase | round trips per order | ${cols.join(' | ')} | idle round trips/s |`, `| --- | --- | --- | ${cols.map(() => '---').join(' | ')} | --- |`);
  for (const [svc, phases] of Object.entries(t.perOrder)) {
    for (const [phase, row] of Object.entries(phases)) {
      L.push(`| ${svc} | ${phase} | **${fmt(row.all)}** | ${cols.map((c) => (row[c] ? fmt(row[c]) : '')).join(' | ')} | ${fmt(t.idlePerSec[svc as keyof typeof t.idlePerSec])} |`);
    }
  }
  L.push(`| all services | create | **${fmt(med(r, 'roundtrips.total.create.per_order'))}** | ${cols.map(() => '').join(' | ')} | |`);
  L.push(`| all services | pay | **${fmt(med(r, 'roundtrips.total.pay.per_order'))}** | ${cols.map(() => '').join(' | ')} | |`);
  L.push('', `**Per paid order, every service, create + pay: ${fmt(med(r, 'roundtrips.total.per_paid_order'))} round trips** (target ≤ 6).`, '');
  return L;
}

/** How the lag is probed, with what the probes cost in this run. */
function lagProbeSection(r: BenchResults): string[] {
  if (!r.figures.some((f) => f.name.startsWith('projection.r80.'))) return [];
  const row = (k: string) =>
    `${k === 'r80' ? '80%' : '50%'} hold: ${fmt(med(r, `projection.${k}.probe_get_order_per_s`))} GetOrder calls/s from the probes (${fmt(med(r, `projection.${k}.probe_calls_per_probe`))} per probe; ${fmt(med(r, `projection.${k}.probe_signalled`), 'fraction')} of the probes found the order right after the projector's line); ` +
    `query-svc sent ${fmt(med(r, `projection.${k}.query_svc_store_roundtrips_per_s`))} store round trips/s, ${fmt(med(r, `projection.${k}.probe_store_share`), 'fraction')} of the ${fmt(med(r, `projection.${k}.store_roundtrips_per_s`))}/s all services sent`;
  return [
    '## How the lag is probed',
    '',
    `The lag is command acknowledged → the first GetOrder (query-svc) that finds the order. One acknowledged order per ${r.profile.lagProbeEveryMs} ms is probed. ` +
      "A probe does not poll blindly: it waits for projector-svc's own \"event projected\" line for that order's stream (the bench reads the services' log lines anyway) and then calls GetOrder; " +
      'if GetOrder does not show the order yet it asks again after 5 ms, doubling up to 100 ms; without the line it still asks after 250 ms, doubling up to 4 s, so a missed line cannot hang it. ' +
      'A probe thus costs about one GetOrder whatever the lag (the previous probe polled every 10 ms, so a lagging projector drew ever more GetOrder calls onto the store it shares). ' +
      "A probe answered right after the line overstates the lag by one GetOrder and the time the line takes to reach the bench (a few tens of ms at most when checked); one answered by a blind check, by at most the time since the previous check. What the probes cost in this run (query-svc has no other caller during the holds):",
    '',
    `- ${row('r50')}`,
    `- ${row('r80')}`,
    '',
  ];
}

function burstSection(r: BenchResults): string[] {
  const rows = r.bursts;
  if (!rows?.length) return [];
  const L = ['## Bursts and the flash sale', ''];
  L.push(
    `CreateOrder through the edge (REST), ${rows[0].concurrency} in flight for ${fmt(rows[0].burstSec)} s; then one more order, timed until the order process validated it and until GET through the edge showed it VALIDATED. Figures only.`,
    '',
    '| case | acknowledged /s | ack p99 ms | order process orders/s | projector events/s | undecided / unprojected at burst end | work-off after the burst | new order: validated after | visible VALIDATED after | rejected |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const b of rows) {
    const name = b.kind === 'flash' ? 'flash sale, 1 product' : `burst, ${b.products} products`;
    const ms = (v: number | undefined) => (v === undefined ? 'n/a' : `${fmt(v / 1000)} s`);
    L.push(`| ${name} | ${fmt(b.ackedPerSec)} (${b.acked}) | ${fmt(b.ackP99Ms)} | ${fmt(b.orderProcessPerSec)} | ${fmt(b.projectorEventsPerSec)} | ${b.undecidedAtEnd} / ${b.unprojectedAtEnd} | ${ms(b.workoffMs)}${b.complete ? '' : ' (capped)'} | ${ms(b.afterValidatedMs)} | ${ms(b.afterVisibleMs)} | ${b.rejected} |`);
  }
  L.push('');
  return L;
}

function docSizeSection(r: BenchResults): string[] {
  const t = r.docSizes;
  if (!t) return [];
  const sizes = Object.keys(t).map(Number).sort((a, b) => a - b);
  if (!sizes.length) return [];
  const [small, large] = [sizes[0], sizes[sizes.length - 1]];
  const key = (x: { db: string; collection: string }) => `${x.db}.${x.collection}`;
  const at = (n: number) => new Map((t[n] ?? []).map((x) => [key(x), x]));
  const a = at(small), b = at(large);
  const L = ['## Largest document per collection', ''];
  L.push(
    `Every collection of the read store (cqrs_read) and the write store (cqrs_write), read with the driver, \`BSON.calculateObjectSize\` of each document (FerretDB v1 has no \`$bsonSize\`), with ${small} and with ${large} orders in the read store. The growth step seeds only the read store, with the same number of orders per user at either size; so before each measurement one customer buying one product gets orders through the command side, in proportion to the read store (${r.profile.growthSizes[1] / r.profile.growthSizes[0]}× as many at the large size; every other one paid): their user summary, the product's inventory and its write-side stream would show any growth with one user's or one product's orders. A collection not read whole within ${r.profile.docScanBudgetMs / 1000} s is a sample (documents read / in the collection).`,
    '',
    `| collection | largest @ ${small} (bytes) | largest @ ${large} (bytes) | ratio | largest document @ ${large} | read @ ${large} |`,
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(k), y = b.get(k);
    L.push(`| ${k} | ${x ? x.maxBytes : 'n/a'} | ${y ? y.maxBytes : 'n/a'} | ${x && y ? (y.maxBytes / x.maxBytes).toFixed(2) : ''} | ${y ? `\`${y.maxId}\`` : ''} | ${y ? `${y.scanned} / ${y.docs}` : ''} |`);
  }
  L.push('');
  return L;
}
