// How far behind the read models are, told over the broker. A consumer of
// cqrs.events reports, a few times a second, the age of the oldest event it
// holds unapplied (0 when it holds none), how long an event arriving now
// would wait to be applied, and how long each more event would add; whoever needs the figures (the command side's
// admission gate) listens. Reports are small, transient and
// expire: the broker keeps nothing, and silence means "no projector to ask".
import { hostname } from 'node:os';
import type { Channel } from 'amqplib';
import type { AmqpConnection } from './amqp';
import type { Logger } from './logger';

export const READ_LAG_EXCHANGE = 'cqrs.read-lag';

export interface LagReport {
  /** The queue whose consumer reports. */
  queue: string;
  /** Which process: two instances of one consumer report apart. */
  instance: string;
  /** Age of the oldest unapplied event. */
  lagMs: number;
  /** How long an event arriving now would wait (absent from older reporters). */
  waitMs?: number;
  /** Milliseconds each further event adds to the wait, at full batches (absent until the consumer has timed a batch). */
  eventMs?: number;
}

export type LagFigures = Pick<LagReport, 'lagMs' | 'waitMs' | 'eventMs'>;

const rounded = (ms: number | undefined, places = 0) => (ms === undefined ? undefined : Number(ms.toFixed(places)));

/** Publishes `figures()` every `everyMs` while connected; returns the stop. */
export async function reportLag(amqp: AmqpConnection, queue: string, figures: () => LagFigures, everyMs: number): Promise<() => void> {
  let channel: Channel | undefined;
  await amqp.onConnect(async (conn) => {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    ch.on('close', () => channel === ch && (channel = undefined));
    await ch.assertExchange(READ_LAG_EXCHANGE, 'fanout', { durable: false });
    channel = ch;
  });
  const instance = `${hostname()}:${process.pid}`;
  const timer = setInterval(() => {
    const { lagMs, waitMs, eventMs } = figures();
    const report: LagReport = { queue, instance, lagMs: Math.round(lagMs), waitMs: rounded(waitMs), eventMs: rounded(eventMs, 3) };
    try {
      channel?.publish(READ_LAG_EXCHANGE, '', Buffer.from(JSON.stringify(report)), { contentType: 'application/json', expiration: String(everyMs * 4) });
    } catch {
      // The channel closed under us; the next connection brings a new one.
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * The latest reports of one queue's consumers. A report older than
 * `staleMs` no longer counts: a projector that stopped reporting is down or
 * cut off, and its last word says nothing about now.
 */
export class LagWatch {
  private readonly latest = new Map<string, LagFigures & { at: number }>();
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly queue: string,
    private readonly staleMs: number,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.amqp.onConnect(async (conn) => {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await ch.assertExchange(READ_LAG_EXCHANGE, 'fanout', { durable: false });
      const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      await ch.bindQueue(queue, READ_LAG_EXCHANGE, '');
      await ch.consume(queue, (msg) => msg && this.take(msg.content), { noAck: true });
    });
  }

  /** The highest fresh lag reported, or undefined when no consumer reported lately. */
  lagMs(now = Date.now()): number | undefined {
    return this.worst((r) => r.lagMs, now);
  }

  /** The longest wait a new event would see by the fresh reports (the lag, from reporters that do not tell). */
  waitMs(now = Date.now()): number | undefined {
    return this.worst((r) => r.waitMs ?? r.lagMs, now);
  }

  /** The slowest pace reported, or undefined when no fresh report tells it. */
  eventMs(now = Date.now()): number | undefined {
    return this.worst((r) => r.eventMs, now);
  }

  /** The highest fresh figure; reports that do not tell it are left out. */
  private worst(figure: (r: LagFigures) => number | undefined, now: number): number | undefined {
    let worst: number | undefined;
    for (const [instance, r] of this.latest) {
      if (now - r.at > this.staleMs) this.latest.delete(instance);
      else {
        const f = figure(r);
        if (f !== undefined) worst = Math.max(worst ?? 0, f);
      }
    }
    return worst;
  }

  /** Called after every report taken in. */
  onReport(listener: () => void): void {
    this.listeners.push(listener);
  }

  private take(content: Buffer): void {
    let r: LagReport;
    try {
      r = JSON.parse(content.toString('utf8')) as LagReport;
    } catch {
      return this.log.warn('unreadable read-lag report ignored');
    }
    if (r.queue !== this.queue || typeof r.lagMs !== 'number') return;
    const waitMs = typeof r.waitMs === 'number' ? r.waitMs : undefined;
    const eventMs = typeof r.eventMs === 'number' && r.eventMs >= 0 ? r.eventMs : undefined;
    this.latest.set(String(r.instance), { lagMs: r.lagMs, waitMs, eventMs, at: Date.now() });
    for (const l of this.listeners) l();
  }
}
