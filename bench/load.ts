// Load generators. Closed loop: `concurrency` workers each issue the next
// call as soon as the previous one answers (throughput at a concurrency).
// Open loop: calls start on a fixed schedule whatever the answers (a rate),
// with a cap on calls in flight so an overloaded system is reported, not
// buried under an unbounded queue. Latencies are in milliseconds.
import { performance } from 'node:perf_hooks';

export interface RunResult {
  /** Latencies of successful calls that started inside the measured window. */
  latencies: number[];
  /** Completion times (performance.now()) of successful measured calls. */
  completions: number[];
  ok: number;
  errors: number;
  errorKinds: Record<string, number>;
  /** Measured window, ms. */
  elapsedMs: number;
  startedAt: number;
  throughput: number;
}

export type Op = (i: number) => Promise<unknown>;

const errorKind = (err: unknown) => {
  const e = err as { code?: number | string; message?: string };
  return e?.code !== undefined ? `code ${e.code}` : (e?.message ?? String(err)).slice(0, 60);
};

export interface ClosedLoopOptions {
  concurrency: number;
  durationMs: number;
  /**
   * Warm-up before the measured window. The window also waits until every
   * worker's first call has answered, so at high concurrency on a slow
   * system the window opens in steady state, not during the first wave.
   */
  warmupMs?: number;
  /** Stop after this many successful calls in the window even if time is left. */
  maxCalls?: number;
  op: Op;
}

/**
 * Repeats as consecutive windows of one steady closed loop: one warm-up,
 * then `windows` windows of `durationMs`, each a RunResult of its own.
 */
export async function closedLoopWindows(o: ClosedLoopOptions & { windows: number }): Promise<RunResult[]> {
  const all = await closedLoop({ ...o, durationMs: o.durationMs * o.windows });
  const out: RunResult[] = [];
  const win = all.elapsedMs / o.windows;
  for (let k = 0; k < o.windows; k++) {
    const from = all.startedAt + k * win, to = from + win;
    const idx = all.completions.map((t, i) => [t, i] as const).filter(([t]) => t >= from && (t < to || (k === o.windows - 1 && t <= to)));
    const latencies = idx.map(([, i]) => all.latencies[i]);
    const completions = idx.map(([t]) => t);
    out.push({
      latencies,
      completions,
      ok: latencies.length,
      errors: k === 0 ? all.errors : 0,
      errorKinds: k === 0 ? all.errorKinds : {},
      elapsedMs: win,
      startedAt: from,
      throughput: (latencies.length * 1000) / win,
    });
  }
  return out;
}

/**
 * A closed loop: the measured window counts the calls that *complete* in it
 * (throughput = completions ÷ window; latencies of those calls), the usual
 * steady-state definition. Calls still running when the window closes are
 * awaited (they load the system) but not counted.
 */
export async function closedLoop(o: ClosedLoopOptions): Promise<RunResult> {
  const latencies: number[] = [];
  const completions: number[] = [];
  const errorKinds: Record<string, number> = {};
  let errors = 0;
  let seq = 0;
  const t0 = performance.now();
  let firstWave = 0;
  let measureFrom = Infinity;
  let end = Infinity;
  const open = (now: number) => {
    if (measureFrom !== Infinity) return;
    if (now - t0 >= (o.warmupMs ?? 0) && firstWave >= o.concurrency) {
      measureFrom = now;
      end = now + o.durationMs;
    }
  };
  // With no warm-up the window opens at once.
  if (!o.warmupMs) {
    measureFrom = t0;
    end = t0 + o.durationMs;
  }
  const warmTimer = o.warmupMs ? setTimeout(() => open(performance.now()), o.warmupMs) : undefined;
  const worker = async () => {
    let first = true;
    for (;;) {
      const start = performance.now();
      if (start >= end || (o.maxCalls !== undefined && latencies.length >= o.maxCalls)) return;
      try {
        await o.op(seq++);
        const done = performance.now();
        if (done >= measureFrom && done <= end) {
          latencies.push(done - start);
          completions.push(done);
        }
      } catch (err) {
        const done = performance.now();
        if (done >= measureFrom && done <= end) {
          errors++;
          const k = errorKind(err);
          errorKinds[k] = (errorKinds[k] ?? 0) + 1;
        }
      }
      if (first) {
        first = false;
        firstWave++;
      }
      open(performance.now());
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  clearTimeout(warmTimer);
  const stop = Math.min(end, performance.now());
  const elapsedMs = Math.max(1, stop - Math.min(measureFrom, stop));
  return { latencies, completions, ok: latencies.length, errors, errorKinds, elapsedMs, startedAt: measureFrom, throughput: (latencies.length * 1000) / elapsedMs };
}

export interface OpenLoopOptions {
  ratePerSec: number;
  durationMs: number;
  maxInFlight: number;
  op: Op;
  /** Called with each successful call's start and answer times. */
  onDone?: (i: number, start: number, done: number, result: unknown) => void;
}

export interface OpenLoopResult extends RunResult {
  /** Calls the schedule wanted but the in-flight cap refused. */
  shed: number;
  offered: number;
}

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const latencies: number[] = [];
  const completions: number[] = [];
  const errorKinds: Record<string, number> = {};
  let errors = 0, shed = 0, inFlight = 0, sent = 0;
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  const end = t0 + o.durationMs;
  const intervalMs = 1000 / o.ratePerSec;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(Math.floor((Math.min(now, end) - t0) / intervalMs) + 1, Math.ceil(o.durationMs / intervalMs));
      while (sent < due) {
        const i = sent++;
        if (inFlight >= o.maxInFlight) {
          shed++;
          continue;
        }
        inFlight++;
        const start = performance.now();
        const p = o.op(i).then(
          (res) => {
            const done = performance.now();
            latencies.push(done - start);
            completions.push(done);
            o.onDone?.(i, start, done, res);
          },
          (err) => {
            errors++;
            const k = errorKind(err);
            errorKinds[k] = (errorKinds[k] ?? 0) + 1;
          },
        ).finally(() => {
          inFlight--;
          inflight.delete(p);
        });
        inflight.add(p);
      }
      if (now >= end) resolve();
      else setTimeout(tick, Math.max(1, Math.min(intervalMs, 5)));
    };
    tick();
  });
  await Promise.all([...inflight]);
  const elapsedMs = Math.max(1, performance.now() - t0);
  return { latencies, completions, ok: latencies.length, errors, errorKinds, elapsedMs, startedAt: t0, throughput: (latencies.length * 1000) / o.durationMs, shed, offered: sent };
}

