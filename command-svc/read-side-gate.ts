// Admission by read-side lag. The command side can store and publish orders
// several times faster than the read models can take them in on the same
// store, and a projection that falls further behind every second helps no
// one: a client's command waits while the projector reports its oldest
// unapplied event older than a bound, and is refused as UNAVAILABLE (retry
// later) if that lasts. So under overload the write side runs at the pace of
// the read side and reads stay about that fresh. What counts is the wait a
// new command's events would see (the events the projector holds, at its
// recent rate), not the age of the oldest one: a command admitted when the
// head is young can still queue behind a full buffer. Held commands go on in
// turn, as many as the room under the bound takes at the projector's pace,
// not all at once: a herd let go together would queue behind itself and its
// last would wait the bound and the herd. The order process's own
// reactions are never held, and a projector that stopped reporting (down, or
// cut off from the broker) holds nothing: writes go on and queue for it.
import type { AmqpConnection } from '../lib/amqp';
import { status } from '@grpc/grpc-js';
import { UnavailableError } from '../lib/grpc-errors';
import { StatusError } from '../lib/status-error';
import type { Logger } from '../lib/logger';
import { LagWatch } from '../lib/read-lag';

/** The events one client command brings the projector: an order's creation, its reservation and its validation. */
export const EVENTS_PER_COMMAND = 3;
/**
 * How long an admitted command may go unseen in the projector's reports: it
 * is stored and published (tens of ms), the projector's queue count is read
 * (every 200 ms, unless the event is delivered at once), then reported
 * (every 200 ms). Commands admitted this recently are counted against the
 * room a report shows. Longer would cap admissions below what the projector
 * takes in: at most the bound's worth of room per window.
 */
const UNSEEN_MS = 300;

export interface GateOptions {
  /** The projector's queue, whose consumer reports its lag. */
  queue: string;
  /** Wait for a new event beyond which client commands wait; 0 turns the gate off. */
  maxLagMs: number;
  /** How long a command waits for the lag to fall before it is refused. */
  maxWaitMs: number;
  /** A report older than this no longer counts. */
  staleMs: number;
}

export class ReadSideGate {
  /** The projector's lag reports the gate admits by; the process's metrics read the same ones. */
  readonly watch: LagWatch;
  private waiting: Array<() => void> = [];
  private holding = false;
  /** Commands that may go before the next report. */
  private room = Infinity;
  /** When recent commands were admitted, oldest first. */
  private admittedAt: number[] = [];
  private timer?: NodeJS.Timeout;
  /** Commands held since the last log line, and when that was: under overload the gate flips many times a second. */
  private held = 0;
  private loggedAt = 0;

  constructor(
    amqp: AmqpConnection,
    private readonly opts: GateOptions,
    private readonly log: Logger,
  ) {
    this.watch = new LagWatch(amqp, opts.queue, opts.staleMs, log);
  }

  async start(): Promise<void> {
    await this.watch.start();
    if (this.opts.maxLagMs <= 0) return;
    this.watch.onReport(() => this.check());
    // Silence is news too: a projector that stopped reporting holds no one.
    this.timer = setInterval(() => this.check(), this.opts.staleMs / 2);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.release();
  }

  /**
   * Resolves once the read side is near enough; throws UnavailableError
   * after maxWaitMs, and CANCELLED as soon as `signal` aborts (the client
   * gave up: the command must not run when the gate opens).
   */
  async admit(signal?: AbortSignal): Promise<void> {
    // Those already waiting go first.
    if (this.waiting.length === 0 && this.take()) return;
    this.held++;
    await new Promise<void>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', gaveUp);
        this.waiting = this.waiting.filter((w) => w !== go);
      };
      const timer = setTimeout(() => {
        leave();
        reject(new UnavailableError(`the read models are ${this.watch.waitMs() ?? '?'} ms behind; retry shortly`));
      }, this.opts.maxWaitMs);
      const gaveUp = () => {
        leave();
        reject(new StatusError(status.CANCELLED, 'the client gave up while the command waited for the read side'));
      };
      const go = () => {
        leave();
        resolve();
      };
      if (signal?.aborted) return gaveUp();
      signal?.addEventListener('abort', gaveUp, { once: true });
      this.waiting.push(go);
    });
  }

  private over(): boolean {
    if (this.opts.maxLagMs <= 0) return false;
    const wait = this.watch.waitMs();
    return wait !== undefined && wait > this.opts.maxLagMs;
  }

  /** Admits one command if the room under the bound allows. */
  private take(): boolean {
    if (this.over() || this.room < 1) return false;
    this.room--;
    if (this.room !== Infinity) this.admittedAt.push(Date.now());
    return true;
  }

  /**
   * How many commands the latest reports leave room for: the wait's distance
   * to the bound at the projector's pace, less those admitted that the
   * reports cannot show yet. Unbounded while no pace is told (a projector
   * that has timed no batch, or no projector).
   */
  private roomNow(now = Date.now()): number {
    const wait = this.watch.waitMs(now);
    const eventMs = this.watch.eventMs(now);
    if (wait === undefined || !eventMs) return Infinity;
    while (this.admittedAt.length && now - this.admittedAt[0] > UNSEEN_MS) this.admittedAt.shift();
    const room = Math.floor((this.opts.maxLagMs - wait) / (eventMs * EVENTS_PER_COMMAND)) - this.admittedAt.length;
    // Under the bound one command always goes: a pace that reads slower than the bound allows must not hold everyone.
    return Math.max(this.admittedAt.length === 0 ? 1 : 0, room);
  }

  private check(): void {
    const over = this.over();
    if (over && !this.holding && Date.now() - this.loggedAt > 10_000) {
      this.log.info({ waitMs: this.watch.waitMs(), lagMs: this.watch.lagMs(), maxLagMs: this.opts.maxLagMs, heldSinceLastLine: this.held }, 'holding client commands: the read side is behind');
      this.loggedAt = Date.now();
      this.held = 0;
    }
    this.holding = over;
    this.room = this.roomNow();
    while (this.waiting.length && this.take()) this.waiting[0]();
  }

  private release(): void {
    const ws = this.waiting;
    this.waiting = [];
    for (const w of ws) w();
  }
}
