// Live queries (WatchOrder, WatchInventory, WatchOrderStatistics): the
// current state first, then every new state, driven by the projection
// notices that wake read-your-writes waits. A watcher keeps, per key it
// watches (an order, a product, the statistics), only whether it changed
// and the version last sent: a slow client makes the server read and send
// the latest state when the client can take it, never queue the states in
// between, so its memory is bounded by the keys, not by the changes.
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { StreamPosition } from '../lib/consistency-token';
import type { Logger } from '../lib/logger';
import type { NoticeListener } from '../lib/projection-notices';

/** What one kind of live query watches. */
export interface Watched<K, S, Res> {
  /** The keys of this watch a notice concerns. */
  keysOf(position: StreamPosition): K[];
  /** The current states, in the order to send them first; read again by the re-check. */
  initial(): Promise<Array<[K, S]>>;
  load(key: K): Promise<S | undefined>;
  /** Changes whenever the state does. */
  version(state: S): number;
  message(state: S): Res;
}

interface Watcher {
  touch(positions: StreamPosition[]): void;
  touchAll(): void;
  end(): void;
}

export class LiveQueries implements NoticeListener {
  private readonly watchers = new Set<Watcher>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    recheckMs: number,
    private readonly log: Logger,
  ) {
    // A lost notice delays a change by at most this much.
    this.timer = setInterval(() => this.resubscribed(), recheckMs);
    this.timer.unref();
  }

  /** Live queries open now. */
  get count(): number {
    return this.watchers.size;
  }

  applied(positions: StreamPosition[]): void {
    for (const w of this.watchers) w.touch(positions);
  }

  resubscribed(): void {
    for (const w of this.watchers) w.touchAll();
  }

  /** Ends every live query (at shutdown, so the server need not wait for clients that never hang up). */
  stop(): void {
    clearInterval(this.timer);
    for (const w of [...this.watchers]) w.end();
  }

  /** Serves one live query until the client cancels, its deadline passes or the server stops. */
  async serve<K, S, Res>(call: ServerWritableStream<unknown, Res>, method: string, watched: Watched<K, S, Res>): Promise<void> {
    const sent = new Map<K, number>();
    const dirty = new Set<K>();
    let ended = false;
    let pumping = false;
    let recheck = false;
    const send = async (key: K, state: S): Promise<void> => {
      const v = watched.version(state);
      if (sent.get(key) === v) return;
      sent.set(key, v);
      if (!call.write(watched.message(state))) await new Promise<void>((r) => { call.once('drain', r); call.once('cancelled', r); });
    };
    const pump = async (): Promise<void> => {
      if (pumping || ended) return;
      pumping = true;
      try {
        while ((recheck || dirty.size > 0) && !ended) {
          if (recheck) {
            // Everything watched, read again: a lost notice (or a product created unannounced) shows here.
            recheck = false;
            for (const [key, state] of await watched.initial()) {
              dirty.delete(key);
              if (!ended) await send(key, state);
            }
            continue;
          }
          const key: K = dirty.values().next().value as K;
          dirty.delete(key);
          const state = await watched.load(key);
          if (state !== undefined && !ended) await send(key, state);
        }
      } catch (err) {
        this.log.warn({ method, err: (err as Error).message }, 'live query cannot read the store; reading again at the next change or re-check');
      } finally {
        pumping = false;
      }
    };
    const watcher: Watcher = {
      touch: (positions) => {
        for (const p of positions) for (const k of watched.keysOf(p)) dirty.add(k);
        if (dirty.size > 0) void pump();
      },
      touchAll: () => {
        recheck = true;
        void pump();
      },
      end: () => {
        if (ended) return;
        gone();
        call.end();
      },
    };
    const gone = () => {
      ended = true;
      if (this.watchers.delete(watcher)) this.log.info({ method, watchers: this.watchers.size }, 'live query ended');
    };
    call.once('cancelled', gone);
    call.once('close', gone);
    call.once('finish', gone);
    // Registered before the first read, so a change made meanwhile is not missed.
    this.watchers.add(watcher);
    this.log.info({ method, watchers: this.watchers.size }, 'live query opened');
    try {
      for (const [key, state] of await watched.initial()) {
        if (ended) return;
        await send(key, state);
      }
    } catch (err) {
      gone();
      throw err;
    }
    void pump();
  }
}
