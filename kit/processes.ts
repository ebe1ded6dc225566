// Child processes for the launcher and the tests: spawn with a bounded wait
// for a readiness line, and stop with SIGTERM then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Resolves with the first stdout line matching `ready`. */
  ready: Promise<string>;
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  ready: RegExp;
  timeoutMs?: number;
  /** Where the child's output lines go (default: dropped). */
  onLine?: (name: string, line: string) => void;
}

export function spawnChild(o: SpawnOptions): Child {
  const proc = spawn(o.command, o.args, { env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${o.name} not ready within ${o.timeoutMs ?? 30_000} ms`)), o.timeoutMs ?? 30_000);
    let tail: string[] = [];
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        o.onLine?.(o.name, line);
        tail = [...tail.slice(-19), line];
        if (o.ready.test(line)) {
          clearTimeout(timer);
          resolve(line);
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${o.name} exited (code ${code}) before it was ready:\n${tail.join('\n')}`));
    });
  });
  ready.catch(() => undefined);
  return { name: o.name, proc, ready, exited };
}

export async function stopChild(c: Child, timeoutMs = 15_000): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), timeoutMs);
  await c.exited;
  clearTimeout(timer);
}

/** A port free right now on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** How a child ended, in words: "exited with code 1", "killed by SIGKILL". */
export function describeExit(c: Child): string {
  const { exitCode, signalCode } = c.proc;
  if (signalCode) return `killed by ${signalCode}`;
  return `exited with code ${exitCode}`;
}

export interface SupervisorOptions {
  /** Where the supervisor's own lines go. */
  log: (line: string) => void;
  /** First restart delay; it doubles after each failed start, up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** A child that dies sooner than this after it was ready crashed "at start-up". */
  stableAfterMs?: number;
  /** Give up after this many crashes at start-up in a row. */
  maxStartupCrashes?: number;
  /** Called once when a child keeps crashing at start-up. */
  onGiveUp: (name: string, reason: string) => void;
}

interface Watched {
  name: string;
  start: () => Promise<Child>;
  child?: Child;
  readyAt: number;
  crashes: number;
  timer?: NodeJS.Timeout;
}

/**
 * Keeps children running: when one dies it is restarted after a back-off
 * (500 ms, doubling to 10 s), each step logged; the other children are left
 * alone. A child that keeps crashing at start-up (not ready, or dead within
 * `stableAfterMs` of being ready, `maxStartupCrashes` times in a row) makes
 * the supervisor give up (`onGiveUp`). `stop()` ends all supervision; stopping
 * the children themselves is the caller's business.
 */
export class Supervisor {
  private readonly watched = new Map<string, Watched>();
  private readonly inflight = new Set<Promise<unknown>>();
  private stopped = false;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly stableAfterMs: number;
  private readonly maxStartupCrashes: number;

  constructor(private readonly o: SupervisorOptions) {
    this.initialDelayMs = o.initialDelayMs ?? 500;
    this.maxDelayMs = o.maxDelayMs ?? 10_000;
    this.stableAfterMs = o.stableAfterMs ?? 10_000;
    this.maxStartupCrashes = o.maxStartupCrashes ?? 5;
  }

  /** Supervises `child` (already started and ready); `start` starts a replacement and resolves when it is ready. */
  watch(name: string, child: Child, start: () => Promise<Child>): void {
    const w: Watched = { name, start, child, readyAt: Date.now(), crashes: 0 };
    this.watched.set(name, w);
    this.follow(w, child);
  }

  /** The children being supervised, by name (the current process of each). */
  current(): Map<string, Child | undefined> {
    return new Map([...this.watched].map(([n, w]) => [n, w.child]));
  }

  /**
   * Ends supervision at once (no restart begins after this call returns) and
   * resolves when a restart under way has settled (bounded by its ready
   * timeout; stopping its child makes it settle sooner).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watched.values()) clearTimeout(w.timer);
    await Promise.allSettled([...this.inflight]);
  }

  private follow(w: Watched, child: Child): void {
    void child.exited.then(() => {
      if (this.stopped || w.child !== child) return;
      const ranMs = Date.now() - w.readyAt;
      w.crashes = ranMs < this.stableAfterMs ? w.crashes + 1 : 1;
      const how = describeExit(child);
      this.o.log(`${w.name} (pid ${child.proc.pid}) died: ${how}, after running ${formatMs(ranMs)}`);
      this.restartLater(w, how);
    });
  }

  private restartLater(w: Watched, lastFailure: string): void {
    if (this.stopped) return;
    if (w.crashes >= this.maxStartupCrashes) {
      this.stopped = true;
      this.o.onGiveUp(w.name, `${w.name} crashed ${w.crashes} times in a row at start-up (last: ${lastFailure})`);
      return;
    }
    const delay = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.max(0, w.crashes - 1));
    const streak = w.crashes > 1 ? ` (${w.crashes} crashes in a row at start-up; giving up at ${this.maxStartupCrashes})` : '';
    this.o.log(`restarting ${w.name} in ${delay} ms${streak}`);
    w.child = undefined;
    w.timer = setTimeout(() => {
      if (this.stopped) return;
      const t0 = Date.now();
      const attempt = w.start().then(
        (child) => {
          if (this.stopped) return;
          w.child = child;
          w.readyAt = Date.now();
          this.o.log(`${w.name} is back (pid ${child.proc.pid}), ready in ${formatMs(w.readyAt - t0)}`);
          this.follow(w, child);
        },
        (err: Error) => {
          if (this.stopped) return;
          w.crashes++;
          const reason = err.message.split('\n')[0];
          this.o.log(`${w.name} failed to start again: ${reason}`);
          this.restartLater(w, reason);
        },
      );
      this.inflight.add(attempt);
      void attempt.finally(() => this.inflight.delete(attempt));
    }, delay);
  }
}

function formatMs(ms: number): string {
  return ms < 1_000 ? `${ms} ms` : `${(ms / 1_000).toFixed(1)} s`;
}
