// Where queries waiting on a consistency token sleep until something may
// have changed: a projection notice for one of their streams at or past the
// version they need, a fresh subscription (notices may have been missed),
// or the coarse re-check tick that makes up for a notice lost any other way.
// Nothing here reads the store: a woken waiter re-reads it once.
import type { StreamPosition } from '../lib/consistency-token';
import { UnavailableError } from '../lib/grpc-errors';
import type { NoticeListener } from '../lib/projection-notices';

interface Waiter {
  positions: StreamPosition[];
  wake: () => void;
}

export class ProjectionWaits implements NoticeListener {
  private readonly byStream = new Map<string, Set<Waiter>>();
  private readonly all = new Set<Waiter>();
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(recheckMs: number) {
    this.timer = setInterval(() => this.wakeAll(), recheckMs);
    this.timer.unref();
  }

  /** How many requests are waiting now. */
  get waiting(): number {
    return this.all.size;
  }

  applied(positions: StreamPosition[]): void {
    for (const p of positions) {
      for (const w of this.byStream.get(p.streamId) ?? []) {
        if (w.positions.some((q) => q.streamId === p.streamId && q.version <= p.version)) w.wake();
      }
    }
  }

  resubscribed(): void {
    this.wakeAll();
  }

  /**
   * Resolves at the first wake for any of `positions`, at `until` (epoch ms),
   * or when `signal` aborts; UnavailableError once the process is stopping.
   */
  next(positions: StreamPosition[], until: number, signal?: AbortSignal): Promise<void> {
    if (this.stopped) return Promise.reject(new UnavailableError('query-svc is shutting down; retry'));
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.remove(w);
        resolve();
      };
      const w: Waiter = { positions, wake: done };
      const timer = setTimeout(done, Math.max(0, until - Date.now()));
      signal?.addEventListener('abort', done);
      this.all.add(w);
      for (const p of positions) {
        let set = this.byStream.get(p.streamId);
        if (!set) this.byStream.set(p.streamId, (set = new Set()));
        set.add(w);
      }
      if (signal?.aborted) done();
    });
  }

  /** Sends every waiting query back with UNAVAILABLE, so that shutdown need not wait for their bounds. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const w of [...this.all]) w.wake();
  }

  private remove(w: Waiter): void {
    this.all.delete(w);
    for (const p of w.positions) {
      const set = this.byStream.get(p.streamId);
      set?.delete(w);
      if (set?.size === 0) this.byStream.delete(p.streamId);
    }
  }
}
