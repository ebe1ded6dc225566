// A durable, self-healing consumer of cqrs.events. Quorum queue with a single
// active consumer (a second instance stands by, so one stream is never applied
// by two processes at once), manual acks, and a bounded number of attempts:
// a message that keeps failing is parked on the dead-letter queue with the
// reason, and the others flow on.
import type { Channel, ConsumeMessage } from 'amqplib';
import { decodeEnvelope, EXCHANGE } from './envelope';
import type { AmqpConnection } from './amqp';
import { isTransient } from './mongo';
import type { Logger } from './logger';
import type { EventEnvelope } from '../gen/ts/cqrs/v1/events';
import type { DomainEvent } from '../domain/events';
import { ConcurrencyError } from '../domain/errors';

export const DEAD_LETTER_EXCHANGE = 'cqrs.dead-letter';
export const deadLetterQueue = (queue: string) => `${queue}.dead-letter`;

/** An event no retry can help (a stream kind nobody projects): parked at once. */
export class UnprocessableEvent extends Error {
  override name = 'UnprocessableEvent';
}

export type Envelope = EventEnvelope & { payload: DomainEvent };

export interface ConsumerOptions {
  queue: string;
  /** Routing keys (event full names) to bind; '#' for all. */
  bindings: string[];
  prefetch: number;
  maxAttempts: number;
  handle: (e: Envelope) => Promise<void>;
}

export class EventConsumer {
  private channel?: Channel;
  private inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly opts: ConsumerOptions,
    private readonly log: Logger,
  ) {}

  get isUp(): boolean {
    return this.channel !== undefined;
  }

  async start(): Promise<void> {
    await this.amqp.onConnect(async (conn) => {
      if (this.stopped) return;
      const ch = await conn.createChannel();
      ch.on('close', () => this.channel === ch && (this.channel = undefined));
      ch.on('error', () => undefined);
      await declareQueue(ch, this.opts.queue, this.opts.bindings, this.opts.maxAttempts);
      await ch.prefetch(this.opts.prefetch);
      await ch.consume(this.opts.queue, (msg) => msg && this.track(this.deliver(ch, msg)), { noAck: false });
      this.channel = ch;
    });
  }

  /** Stops taking deliveries, waits for those in hand; unacked ones return to the queue. */
  async stop(): Promise<void> {
    this.stopped = true;
    const ch = this.channel;
    this.channel = undefined;
    await Promise.allSettled([...this.inFlight]);
    await ch?.close().catch(() => undefined);
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: Error) => this.log.error({ err: err.message }, 'delivery failed; the broker will redeliver it'));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  /**
   * Acks, nacks and parks on a channel that has closed (broker restart) throw;
   * the broker already returned those deliveries to the queue, so there is
   * nothing left to settle and the event will come again on the new channel.
   */
  private settle(ch: Channel, msg: ConsumeMessage, how: 'ack' | 'requeue'): void {
    try {
      if (how === 'ack') ch.ack(msg);
      else ch.nack(msg, false, true);
    } catch (err) {
      this.log.warn({ deliveryTag: msg.fields.deliveryTag, err: (err as Error).message }, 'channel closed before settling; the broker redelivers');
    }
  }

  private async deliver(ch: Channel, msg: ConsumeMessage): Promise<void> {
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(msg.content);
    } catch (err) {
      return this.park(ch, msg, `undecodable event: ${(err as Error).message}`);
    }
    let failure: Error | undefined;
    try {
      await this.handleUntilStoreAnswers(envelope);
    } catch (err) {
      failure = err as Error;
    }
    if (!failure) return this.settle(ch, msg, 'ack');
    const attempts = Number(msg.properties.headers?.['x-delivery-count'] ?? 0) + 1;
    if (attempts >= this.opts.maxAttempts || failure instanceof UnprocessableEvent) return this.park(ch, msg, failure.message, envelope);
    this.log.warn({ eventId: envelope.eventId, streamId: envelope.streamId, attempts, err: failure.message }, 'event failed; will retry');
    await sleep(Math.min(100 * 2 ** attempts, 2_000));
    this.settle(ch, msg, 'requeue');
  }

  /**
   * A store outage (or a lost write race) is not the message's fault: keep it (unacked, so a crash
   * still returns it to the queue) and retry with back-off until the store
   * answers, instead of spending its attempts and dead-lettering good events.
   */
  private async handleUntilStoreAnswers(e: Envelope): Promise<void> {
    for (let wait = 100; ; wait = Math.min(wait * 2, 5_000)) {
      try {
        return await this.opts.handle(e);
      } catch (err) {
        if (!(isTransient(err) || err instanceof ConcurrencyError) || this.stopped) throw err;
        this.log.warn({ eventId: e.eventId, streamId: e.streamId, err: (err as Error).message }, 'transient failure; holding the event and retrying');
        await sleep(wait);
      }
    }
  }

  private park(ch: Channel, msg: ConsumeMessage, reason: string, e?: Envelope): void {
    const headers = { ...msg.properties.headers, 'x-failure-reason': reason, 'x-failed-queue': this.opts.queue, 'x-failed-at': new Date().toISOString() };
    try {
      ch.publish(DEAD_LETTER_EXCHANGE, this.opts.queue, msg.content, { ...msg.properties, headers, persistent: true });
    } catch (err) {
      // Not parked, not acked: it comes back and fails again, or the broker's delivery limit parks it.
      return this.log.warn({ eventId: e?.eventId, err: (err as Error).message }, 'could not park the event; the broker redelivers');
    }
    this.settle(ch, msg, 'ack');
    this.log.error({ eventId: e?.eventId ?? msg.properties.messageId, streamId: e?.streamId, reason }, 'event dead-lettered');
  }
}

async function declareQueue(ch: Channel, queue: string, bindings: string[], maxAttempts: number): Promise<void> {
  await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
  await ch.assertExchange(DEAD_LETTER_EXCHANGE, 'direct', { durable: true });
  await ch.assertQueue(deadLetterQueue(queue), { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await ch.bindQueue(deadLetterQueue(queue), DEAD_LETTER_EXCHANGE, queue);
  await ch.assertQueue(queue, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-single-active-consumer': true,
      // Backstop if a process dies mid-message repeatedly: the broker parks it.
      'x-delivery-limit': maxAttempts * 2,
      'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE,
      'x-dead-letter-routing-key': queue,
    },
  });
  for (const key of bindings) await ch.bindQueue(queue, EXCHANGE, key);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

