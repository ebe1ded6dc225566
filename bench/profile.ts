// Summarizes V8 CPU profiles (`node --cpu-prof`) of the services: the
// functions with the most self time, and self time by package or project
// folder, so a report can say where a service spends its CPU.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Non-idle sampled time. */
  busyMs: number;
  top: Array<{ fn: string; where: string; selfMs: number; pct: number }>;
  byArea: Array<{ area: string; selfMs: number; pct: number }>;
}

function area(url: string): string {
  if (!url) return '(native/idle)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return 'node internals';
  const proj = /\/dist\/([^/]+)\//.exec(url);
  if (proj) return `project ${proj[1]}/`;
  return url.split('/').slice(-2).join('/');
}

export function summarizeProfile(path: string, topN = 15): ProfileSummary {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  if (prof.samples && prof.timeDeltas) {
    for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  } else {
    const total = (prof.endTime - prof.startTime) / 1000;
    const hits = prof.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0) || 1;
    for (const n of prof.nodes) self.set(n.id, ((n.hitCount ?? 0) * total) / hits);
  }
  const fns = new Map<string, { fn: string; where: string; selfMs: number }>();
  const areas = new Map<string, number>();
  let busy = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') {
      if (name !== '(idle)') {
        busy += ms;
        areas.set(name, (areas.get(name) ?? 0) + ms);
        const key = name;
        const e = fns.get(key) ?? { fn: name, where: '', selfMs: 0 };
        e.selfMs += ms;
        fns.set(key, e);
      }
      continue;
    }
    busy += ms;
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^file:\/\//, '').replace(/.*\/(node_modules|dist)\//, '$1/')}:${n.callFrame.lineNumber + 1}` : '(native)';
    const key = `${name}@${where}`;
    const e = fns.get(key) ?? { fn: name, where, selfMs: 0 };
    e.selfMs += ms;
    fns.set(key, e);
    const a = area(n.callFrame.url);
    areas.set(a, (areas.get(a) ?? 0) + ms);
  }
  const pct = (ms: number) => (busy ? (100 * ms) / busy : 0);
  return {
    file: path,
    totalMs: (prof.endTime - prof.startTime) / 1000,
    busyMs: busy,
    top: [...fns.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topN).map((f) => ({ ...f, pct: pct(f.selfMs) })),
    byArea: [...areas.entries()].map(([a, ms]) => ({ area: a, selfMs: ms, pct: pct(ms) })).sort((a, b) => b.selfMs - a.selfMs).slice(0, 12),
  };
}

/** Every .cpuprofile in `dir`, newest instance per service name prefix. */
export function profilesIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
  } catch {
    return [];
  }
}
