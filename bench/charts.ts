// Hand-written charts: a small scene of lines, dots, rectangles and text,
// rendered both to SVG and (through bench/png.ts) to PNG. Line charts (linear
// or log axes, optional scatter and vertical markers) and grouped bar charts.
import { Canvas, parseColor } from './png';

type Anchor = 'start' | 'middle' | 'end';
type Prim =
  | { k: 'line'; pts: Array<[number, number]>; color: string; width: number; dash?: [number, number] }
  | { k: 'rect'; x: number; y: number; w: number; h: number; color: string; opacity?: number }
  | { k: 'dot'; x: number; y: number; r: number; color: string; opacity?: number }
  | { k: 'text'; x: number; y: number; text: string; scale: number; color: string; anchor: Anchor };

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

class Scene {
  readonly prims: Prim[] = [];
  constructor(
    readonly width: number,
    readonly height: number,
  ) {}

  line(pts: Array<[number, number]>, color: string, width = 1, dash?: [number, number]) {
    if (pts.length >= 2) this.prims.push({ k: 'line', pts, color, width, dash });
  }
  rect(x: number, y: number, w: number, h: number, color: string, opacity?: number) {
    this.prims.push({ k: 'rect', x, y, w, h, color, opacity });
  }
  dot(x: number, y: number, r: number, color: string, opacity?: number) {
    this.prims.push({ k: 'dot', x, y, r, color, opacity });
  }
  text(x: number, y: number, text: string, scale = 1, color = '#222222', anchor: Anchor = 'start') {
    this.prims.push({ k: 'text', x, y, text, scale, color, anchor });
  }

  toSvg(): string {
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">`, `<rect width="100%" height="100%" fill="#ffffff"/>`];
    for (const p of this.prims) {
      if (p.k === 'line') {
        out.push(`<polyline fill="none" stroke="${p.color}" stroke-width="${p.width}"${p.dash ? ` stroke-dasharray="${p.dash.join(' ')}"` : ''} points="${p.pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`);
      } else if (p.k === 'rect') {
        out.push(`<rect x="${p.x.toFixed(1)}" y="${p.y.toFixed(1)}" width="${Math.max(0, p.w).toFixed(1)}" height="${Math.max(0, p.h).toFixed(1)}" fill="${p.color}"${p.opacity !== undefined ? ` fill-opacity="${p.opacity}"` : ''}/>`);
      } else if (p.k === 'dot') {
        out.push(`<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="${p.r}" fill="${p.color}"${p.opacity !== undefined ? ` fill-opacity="${p.opacity}"` : ''}/>`);
      } else {
        out.push(`<text x="${p.x.toFixed(1)}" y="${(p.y + 7 * p.scale).toFixed(1)}" font-size="${(9.5 * p.scale).toFixed(1)}" fill="${p.color}" text-anchor="${p.anchor}">${esc(p.text)}</text>`);
      }
    }
    out.push('</svg>');
    return out.join('\n');
  }

  /** PNG at `factor`× the scene's size. */
  toPng(factor = 2): Buffer {
    const c = new Canvas(this.width * factor, this.height * factor);
    for (const p of this.prims) {
      if (p.k === 'line') {
        for (let i = 1; i < p.pts.length; i++) {
          c.line(p.pts[i - 1][0] * factor, p.pts[i - 1][1] * factor, p.pts[i][0] * factor, p.pts[i][1] * factor, parseColor(p.color), p.width * factor, p.dash ? [p.dash[0] * factor, p.dash[1] * factor] : undefined);
        }
      } else if (p.k === 'rect') c.fillRect(p.x * factor, p.y * factor, p.w * factor, p.h * factor, parseColor(p.color), p.opacity ?? 1);
      else if (p.k === 'dot') c.dot(p.x * factor, p.y * factor, p.r * factor, parseColor(p.color), p.opacity ?? 1);
      else c.text(p.x * factor, p.y * factor, p.text, parseColor(p.color), Math.max(1, Math.round(p.scale * factor)), p.anchor);
    }
    return c.toPng();
  }
}

export interface Chart {
  svg: string;
  png: Buffer;
}

export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
  color?: string;
  mode?: 'line' | 'dots';
  dash?: [number, number];
  width?: number;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  logX?: boolean;
  logY?: boolean;
  yMin?: number;
  markers?: Array<{ x: number; label: string }>;
  width?: number;
  height?: number;
}

const fmtTick = (v: number) => {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 100) return String(Math.round(v));
  return String(+v.toPrecision(3));
};

function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

export function lineChart(o: LineChartOptions): Chart {
  const W = o.width ?? 960, H = o.height ?? 520;
  const s = new Scene(W, H);
  const m = { l: 70, r: 20, t: 44, b: 56 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const all = o.series.flatMap((x) => x.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0) && (!o.logY || y > 0));
  let [x0, x1] = all.length ? [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))] : [0, 1];
  let [y0, y1] = all.length ? [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))] : [0, 1];
  if (!o.logY) y0 = Math.min(o.yMin ?? 0, y0);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  if (!o.logY) y1 += (y1 - y0) * 0.05;
  const tx = (v: number) => (o.logX ? Math.log10(v) : v);
  const ty = (v: number) => (o.logY ? Math.log10(v) : v);
  const X = (v: number) => m.l + ((tx(v) - tx(x0)) / (tx(x1) - tx(x0))) * pw;
  const Y = (v: number) => m.t + ph - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * ph;

  s.text(W / 2, 12, o.title, 1.4, '#111111', 'middle');
  for (const v of o.logY ? logTicks(y0, y1) : niceTicks(y0, y1)) {
    s.line([[m.l, Y(v)], [m.l + pw, Y(v)]], '#e4e4e4', 1);
    s.text(m.l - 6, Y(v) - 4, fmtTick(v), 1, '#444444', 'end');
  }
  for (const v of o.logX ? logTicks(x0, x1) : niceTicks(x0, x1, 8)) {
    s.line([[X(v), m.t], [X(v), m.t + ph]], '#f0f0f0', 1);
    s.text(X(v), m.t + ph + 6, fmtTick(v), 1, '#444444', 'middle');
  }
  s.line([[m.l, m.t], [m.l, m.t + ph], [m.l + pw, m.t + ph]], '#555555', 1);
  s.text(m.l + pw / 2, H - 18, o.xLabel, 1, '#222222', 'middle');
  s.text(m.l - 60, m.t - 16, o.yLabel, 1, '#222222', 'start');
  for (const mk of o.markers ?? []) {
    if (mk.x < x0 || mk.x > x1) continue;
    s.line([[X(mk.x), m.t], [X(mk.x), m.t + ph]], '#aaaaaa', 1, [3, 3]);
    s.text(X(mk.x) + 3, m.t + 2, mk.label, 0.9, '#777777', 'start');
  }
  const clampY = (v: number) => Math.min(m.t + ph, Math.max(m.t, v));
  o.series.forEach((ser, k) => {
    const color = ser.color ?? PALETTE[k % PALETTE.length];
    const pts = ser.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0) && (!o.logY || y > 0)).map(([x, y]) => [X(x), clampY(Y(y))] as [number, number]);
    if (ser.mode === 'dots') for (const [x, y] of pts) s.dot(x, y, 1.6, color, 0.55);
    else s.line(pts, color, ser.width ?? 1.6, ser.dash);
  });
  // Legend, top right.
  const names = o.series.map((x, k) => ({ name: x.name, color: x.color ?? PALETTE[k % PALETTE.length] }));
  const lw = Math.max(...names.map((n) => n.name.length), 4) * 6 + 30;
  const lx = m.l + pw - lw - 6;
  s.rect(lx, m.t + 6, lw, names.length * 14 + 8, '#ffffff', 0.85);
  names.forEach((n, k) => {
    s.rect(lx + 6, m.t + 12 + k * 14, 14, 6, n.color);
    s.text(lx + 26, m.t + 11 + k * 14, n.name, 1, '#222222', 'start');
  });
  return { svg: s.toSvg(), png: s.toPng() };
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  categories: string[];
  groups: Array<{ name: string; values: number[]; color?: string }>;
  logY?: boolean;
  width?: number;
  height?: number;
}

export function barChart(o: BarChartOptions): Chart {
  const W = o.width ?? 960, H = o.height ?? 520;
  const s = new Scene(W, H);
  const m = { l: 70, r: 20, t: 44, b: 70 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const vals = o.groups.flatMap((g) => g.values).filter((v) => Number.isFinite(v) && (!o.logY || v > 0));
  let y0 = o.logY ? Math.min(...vals) / 1.5 : 0;
  let y1 = (vals.length ? Math.max(...vals) : 1) * (o.logY ? 1.5 : 1.08);
  if (!(y1 > y0)) [y0, y1] = [o.logY ? 0.1 : 0, 1];
  const ty = (v: number) => (o.logY ? Math.log10(v) : v);
  const Y = (v: number) => m.t + ph - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * ph;
  s.text(W / 2, 12, o.title, 1.4, '#111111', 'middle');
  for (const v of o.logY ? logTicks(y0, y1) : niceTicks(y0, y1)) {
    s.line([[m.l, Y(v)], [m.l + pw, Y(v)]], '#e4e4e4', 1);
    s.text(m.l - 6, Y(v) - 4, fmtTick(v), 1, '#444444', 'end');
  }
  s.line([[m.l, m.t], [m.l, m.t + ph], [m.l + pw, m.t + ph]], '#555555', 1);
  s.text(m.l - 60, m.t - 16, o.yLabel, 1, '#222222', 'start');
  const cw = pw / Math.max(1, o.categories.length);
  const bw = (cw * 0.8) / Math.max(1, o.groups.length);
  o.categories.forEach((cat, i) => {
    s.text(m.l + cw * i + cw / 2, m.t + ph + 8, cat, 1, '#222222', 'middle');
    o.groups.forEach((g, k) => {
      const v = g.values[i];
      if (!Number.isFinite(v) || (o.logY && v <= 0)) return;
      const x = m.l + cw * i + cw * 0.1 + bw * k;
      const y = Y(v);
      s.rect(x, y, bw - 2, m.t + ph - y, g.color ?? PALETTE[k % PALETTE.length]);
      s.text(x + bw / 2 - 1, y - 11, fmtTick(v), 0.9, '#333333', 'middle');
    });
  });
  o.groups.forEach((g, k) => {
    const x = m.l + 10 + k * 170;
    s.rect(x, H - 26, 14, 8, g.color ?? PALETTE[k % PALETTE.length]);
    s.text(x + 20, H - 27, g.name, 1, '#222222', 'start');
  });
  return { svg: s.toSvg(), png: s.toPng() };
}
