// Small, dependency-free statistics for the bench: percentiles (linear
// interpolation between closest ranks), summaries, least-squares trends and
// histograms.

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** The p-th percentile (0..100) of an ascending array; NaN when empty. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (!n) return NaN;
  if (n === 1) return sorted[0];
  const rank = (Math.min(Math.max(p, 0), 100) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function sortNumbers(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

export function percentile(values: ArrayLike<number>, p: number): number {
  return percentileSorted(sortNumbers(values), p);
}

export function summarize(values: ArrayLike<number>): Summary {
  const s = sortNumbers(values);
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i];
  return {
    n: s.length,
    min: s.length ? s[0] : NaN,
    p50: percentileSorted(s, 50),
    p95: percentileSorted(s, 95),
    p99: percentileSorted(s, 99),
    max: s.length ? s[s.length - 1] : NaN,
    mean: s.length ? sum / s.length : NaN,
  };
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

export interface Trend {
  /** units of y per unit of x */
  slope: number;
  intercept: number;
  r2: number;
  n: number;
}

/** Ordinary least squares y = intercept + slope·x. */
export function linearTrend(xs: ArrayLike<number>, ys: ArrayLike<number>): Trend {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return { slope: 0, intercept: n ? ys[0] : NaN, r2: 0, n };
  let sx = 0, sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i];
    sy += ys[i];
  }
  const mx = sx / n, my = sy / n;
  let sxx = 0, sxy = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - mx, dy = ys[i] - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  const slope = sxx ? sxy / sxx : 0;
  const r2 = sxx && syy ? (sxy * sxy) / (sxx * syy) : 0;
  return { slope, intercept: my - slope * mx, r2, n };
}

export interface MonotonicTrend {
  /** Kendall's S: pairs that rise less pairs that fall. */
  s: number;
  /** S normalised (continuity-corrected, ties accounted for): above 1.645 is an upward trend at the 5% level, one-sided. */
  z: number;
  /** Sen's slope: the median of the pairwise slopes, in units of y per unit of x; an outlier or a step moves it little. */
  senSlope: number;
  n: number;
}

/**
 * The Mann–Kendall test for a monotonic trend, with Sen's slope. Unlike a
 * least-squares slope it says how sure it is: on points that wander (a
 * machine whose speed varies), a slope fitted through them is some size
 * either way, and only its sign and the consistency of the rise tell a
 * trend from the wander.
 */
export function mannKendall(xs: ArrayLike<number>, ys: ArrayLike<number>): MonotonicTrend {
  const n = Math.min(xs.length, ys.length);
  let s = 0;
  const slopes: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      s += Math.sign(ys[j] - ys[i]);
      if (xs[j] !== xs[i]) slopes.push((ys[j] - ys[i]) / (xs[j] - xs[i]));
    }
  }
  const ties = new Map<number, number>();
  for (let i = 0; i < n; i++) ties.set(ys[i], (ties.get(ys[i]) ?? 0) + 1);
  let tied = 0;
  for (const t of ties.values()) tied += t * (t - 1) * (2 * t + 5);
  const variance = (n * (n - 1) * (2 * n + 5) - tied) / 18;
  const z = variance > 0 && s !== 0 ? (s - Math.sign(s)) / Math.sqrt(variance) : 0;
  return { s, z, senSlope: slopes.length ? median(slopes) : 0, n };
}

export interface Bin {
  lo: number;
  hi: number;
  count: number;
}

/** Log-spaced bins (latencies span decades); `bins` per decade. */
export function logHistogram(values: ArrayLike<number>, perDecade = 10): Bin[] {
  const s = sortNumbers(values).filter((v) => v > 0);
  if (!s.length) return [];
  const lo = Math.floor(Math.log10(s[0]) * perDecade);
  const hi = Math.ceil(Math.log10(s[s.length - 1]) * perDecade + 1e-9) || lo + 1;
  const bins: Bin[] = [];
  for (let k = lo; k < Math.max(hi, lo + 1); k++) bins.push({ lo: 10 ** (k / perDecade), hi: 10 ** ((k + 1) / perDecade), count: 0 });
  for (const v of s) {
    const k = Math.min(bins.length - 1, Math.max(0, Math.floor(Math.log10(v) * perDecade) - lo));
    bins[k].count++;
  }
  return bins;
}

/** Groups timestamped samples into fixed windows: [windowStart, values[]]. */
export function windows(samples: Array<[number, number]>, windowMs: number, start?: number): Array<[number, number[]]> {
  if (!samples.length) return [];
  const t0 = start ?? samples[0][0];
  const out = new Map<number, number[]>();
  for (const [t, v] of samples) {
    const k = Math.floor((t - t0) / windowMs);
    if (k < 0) continue;
    (out.get(k) ?? out.set(k, []).get(k)!).push(v);
  }
  return [...out.entries()].sort((a, b) => a[0] - b[0]).map(([k, vs]) => [t0 + k * windowMs, vs]);
}

/** Counts of event times per window, including empty windows, from start to end. */
export function ratePerWindow(times: ArrayLike<number>, start: number, end: number, windowMs = 1_000): Array<[number, number]> {
  const n = Math.max(1, Math.ceil((end - start) / windowMs));
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < times.length; i++) {
    const k = Math.floor((times[i] - start) / windowMs);
    if (k >= 0 && k < n) counts[k]++;
  }
  return counts.map((c, k) => [start + k * windowMs, (c * 1_000) / windowMs]);
}
