// Admission by read-side lag. The command side can store and publish orders
// several times faster than the read models can take them in on the same
// store, and a projection that falls further behind every second helps no
// one. So a client's command waits while the projector's queue holds more
// than a bound of events, and is refused as UNAVAILABLE (retry later) if
// that lasts; the order process's own reactions are never held.
import type { Channel } from 'amqplib';
import type { AmqpConnection } from '../lib/amqp';
import { UnavailableError } from '../lib/grpc-errors';
import type { Logger } from '../lib/logger';

export interface GateOptions {
  /** The projector's queue. */
  queue: string;
  /** Ready events beyond which client commands wait; 0 turns the gate off. */
  maxBacklog: number;
  /** How long a command waits for the backlog to fall before it is refused. */
  maxWaitMs: number;
  pollMs: number;
}

export class ReadSideGate {
  private backlog = 0;
  private channel?: Channel;
  private timer?: NodeJS.Timeout;
  private waiting: Array<() => void> = [];
  private holding = false;

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly opts: GateOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.opts.maxBacklog <= 0) return;
    await this.amqp.onConnect(async (conn) => {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      ch.on('close', () => this.channel === ch && (this.channel = undefined));
      this.channel = ch;
    });
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.release();
  }

  /** Resolves once the read side is near enough; throws UnavailableError after maxWaitMs. */
  async admit(): Promise<void> {
    if (this.opts.maxBacklog <= 0 || this.backlog <= this.opts.maxBacklog) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w !== go);
        reject(new UnavailableError(`the read models are ${this.backlog} events behind; retry shortly`));
      }, this.opts.maxWaitMs);
      const go = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiting.push(go);
    });
  }

  private async poll(): Promise<void> {
    const ch = this.channel;
    if (!ch) return (this.backlog = 0), this.release();
    try {
      this.backlog = (await ch.checkQueue(this.opts.queue)).messageCount;
    } catch {
      this.backlog = 0; // no projector queue yet: nothing to wait for
    }
    const over = this.backlog > this.opts.maxBacklog;
    if (over !== this.holding) {
      this.holding = over;
      this.log.info({ backlog: this.backlog, maxBacklog: this.opts.maxBacklog }, over ? 'holding client commands: the read side is behind' : 'read side caught up; commands flow');
    }
    if (!over) this.release();
  }

  private release(): void {
    const ws = this.waiting;
    this.waiting = [];
    for (const w of ws) w();
  }
}
