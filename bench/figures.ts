// The results model: every figure is measured once per repeat and reported
// as min/median/max; a figure can stand beside a baseline figure with their
// ratio. Targets are judged from figures. Everything here is plain JSON.
import { median } from './stats';

export type Better = 'higher' | 'lower' | 'none';

export interface Figure {
  name: string;
  /** Workload section: commands, projection, queries, growth, memory, baselines. */
  group: string;
  label: string;
  unit: string;
  better: Better;
  values: number[];
  min: number;
  median: number;
  max: number;
  /** Calls or events behind the figure, summed over repeats. */
  samples?: number;
  baseline?: { name: string; label: string; median: number; ratio: number; meaning: string };
  note?: string;
}

export interface FigureMeta {
  unit: string;
  better: Better;
  label?: string;
  group?: string;
  samples?: number;
  note?: string;
}

export interface Target {
  id: string;
  title: string;
  /** null: not measured in this run. */
  pass: boolean | null;
  measured: string;
  threshold: string;
  detail?: string;
}

export interface Series {
  name: string;
  title: string;
  unit: string;
  /** [seconds since the run started, value] */
  points: Array<[number, number]>;
  chart: string;
}

export class Figures {
  private readonly map = new Map<string, Figure>();

  add(name: string, value: number, meta: FigureMeta): void {
    if (!Number.isFinite(value)) return;
    let f = this.map.get(name);
    if (!f) {
      f = { name, group: meta.group ?? name.split('.')[0], label: meta.label ?? name, unit: meta.unit, better: meta.better, values: [], min: NaN, median: NaN, max: NaN };
      this.map.set(name, f);
    }
    f.values.push(value);
    if (meta.samples !== undefined) f.samples = (f.samples ?? 0) + meta.samples;
    if (meta.note) f.note = meta.note;
    f.min = Math.min(...f.values);
    f.max = Math.max(...f.values);
    f.median = median(f.values);
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  get(name: string): Figure | undefined {
    return this.map.get(name);
  }

  median(name: string): number {
    return this.map.get(name)?.median ?? NaN;
  }

  /** Puts `baseline` beside `name`: ratio = median(name) / median(baseline). */
  relate(name: string, baseline: string, meaning: string): void {
    const f = this.map.get(name);
    const b = this.map.get(baseline);
    if (!f || !b || !b.median) return;
    f.baseline = { name: baseline, label: b.label, median: b.median, ratio: f.median / b.median, meaning };
  }

  all(): Figure[] {
    return [...this.map.values()];
  }
}
