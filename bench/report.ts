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
  ['projection', '2. Projection'],
  ['queries', '3. Queries: direct gRPC vs the edge (REST)'],
  ['growth', '4. Growth of the read store'],
  ['memory', '5. Memory (peak RSS, VmHWM)'],
  ['baselines', '6. Raw baselines (same run, same machine)'],
];

export function renderMarkdown(r: BenchResults, resultsMdPath: string, outDir: string, jsonPath: string, analysisPath?: string): string {
  const rel = (p: string) => relative(join(resultsMdPath, '..'), p) || '.';
  const L: string[] = [];
  const passWord = (p: boolean | null) => (p === null ? 'not measured' : p ? '**PASS**' : '**FAIL**');
  L.push('# Benchmark results', '');
  L.push(`Latest run: **${r.date}**, mode \`${r.mode}\`, workloads ${r.workloads.join(', ')}, ${Math.round(r.durationSec)} s. Raw data: [${basename(jsonPath)}](${rel(jsonPath)}).`, '');
  L.push('Run it with `npm run build && npm run bench` (full: about 16 min on 2 cores), `npm run bench -- --quick` (a short run of every workload), `npm run bench -- --only=commands,queries`; `--profile=projector-svc,query-svc` also records V8 CPU profiles of those services and summarizes them below. Everything starts inside the run: the embedded store, the three services and the edge on OS-picked ports, in a RabbitMQ vhost of its own.', '');
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
