// A durable, self-healing consumer of cqrs.events. Quorum queue with a single
// active consumer (a second instance stands by, so one stream is never applied
// by two processes at once), manual acks, and a bounded number of attempts:
// a message that keeps failing is parked on the dead-letter queue with the
// reason, and the others flow on.
import type { Channel, ConsumeMessage } from 'amqplib';
import { decodeEnvelope, EXCHANGE } from './envelope';
import type { AmqpConnection } from './amqp';
import { isTransient } from './mongo';
import { inDeliveries, settleDelivery, startDelivery } from './spans';
import type { Logger } from './logger';
import { eventsApplied, eventsConsumed, eventsDeadLettered, eventsRetried, projectionLag, secondsSince } from './metrics';
import type { EventEnvelope } from '../gen/ts/cqrs/v1/events';
import type { DomainEvent } from '../domain/events';
import { ConcurrencyError } from '../domain/errors';
import { BatchCost } from './batch-cost';

export const DEAD_LETTER_EXCHANGE = 'cqrs.dead-letter';
/** The mesh's consumer queues: the read models' and the order process's. */
export const PROJECTOR_QUEUE = 'projector-svc.read-models';
export const ORDER_PROCESS_QUEUE = 'command-svc.order-process';
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
  /** One event at a time, many in flight (up to the prefetch)... */
  handle?: (e: Envelope) => Promise<void>;
  /** ...or each burst of deliveries together, one burst at a time; a failed burst is retried event by event. */
  handleBatch?: (es: Envelope[]) => Promise<void>;
  /** Called on every new channel, before deliveries start: another instance may have had them meanwhile. */
  onChannel?: () => void;
  /**
   * With handleBatch: how long a small burst waits for more deliveries. Under
   * a steady stream deliveries arrive one socket read at a time; a few
   * milliseconds turn them into batches that cost a few writes each.
   */
  lingerMs?: number;
  /**
   * Tracing: each delivery starts a trace of its own, linked to the
   * publisher's (a reaction, such as the order process), instead of
   * continuing it (a projection).
   */
  linkTraces?: boolean;
}

interface Delivery {
  ch: Channel;
  msg: ConsumeMessage;
}

export class EventConsumer {
  private channel?: Channel;
  private inFlight = new Set<Promise<void>>();
  private stopped = false;
  private burst: Delivery[] = [];
  private draining = false;
  /** When the oldest event of the burst in hand happened; undefined with none in hand. */
  private oldestInHand?: number;
  /** Live (not catch-up) events of the batch in hand. */
  private liveInHand = 0;
  /** What recent batches cost; unknown until a batch is done. */
  private readonly cost = new BatchCost();
  /** When the batch in hand was handed over. */
  private batchStartedAt = 0;
  /** With handle: when each event in flight happened. */
  private readonly inFlightSince = new Map<ConsumeMessage, number>();
  /** Events of the batch in hand, and when an event was last acknowledged. */
  private inHand = 0;
  private lastAckAt = Date.now();
  private readonly labels: { consumer: string };

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly opts: ConsumerOptions,
    private readonly log: Logger,
  ) {
    this.labels = { consumer: opts.queue };
  }

  get isUp(): boolean {
    return this.channel !== undefined;
  }

  /**
   * With handleBatch: the age of the oldest event in hand, 0 with none.
   * Deliveries come in queue order, so this is how far behind the queue's
   * head is; the events still queued behind it are younger.
   */
  lagMs(now = Date.now()): number {
    const oldest = this.opts.handleBatch ? this.oldestInHand : minOf(this.inFlightSince.values());
    return oldest === undefined ? 0 : Math.max(0, now - oldest);
  }

  /**
   * How long deliveries have been in hand without one being acknowledged:
   * 0 when nothing is in hand. A consumer stuck on its store shows here
   * while its queue fills.
   */
  stalledMs(now = Date.now()): number {
    return this.held() === 0 ? 0 : Math.max(0, now - this.lastAckAt);
  }

  /** Deliveries received and not yet handled. */
  private held(): number {
    return this.burst.length + this.inHand + this.inFlightSince.size;
  }

  /**
   * With handleBatch: how long an event arriving now would wait to be
   * applied: what is left of the batch in hand, then the live events
   * buffered behind it and `queued` behind them on the broker (the queue's
   * ready count: without it a backlog deeper than the prefetch would look
   * like a full buffer), and the new event itself, in batches of up to the
   * prefetch at what recent batches cost (lib/batch-cost.ts). Until a batch
   * is done, the head's age; with nothing ahead, 0.
   */
  waitMs(now = Date.now(), queued = 0): number {
    const behind = this.burst.filter((d) => !isCatchUp(d.msg)).length + queued;
    if (this.liveInHand + behind === 0) return 0;
    const inHand = this.cost.drainMs(this.inHand, this.opts.prefetch);
    if (inHand === undefined) return this.lagMs(now);
    const left = this.liveInHand === 0 ? 0 : Math.max(0, inHand - (now - this.batchStartedAt));
    return left + this.cost.drainMs(behind + 1, this.opts.prefetch)!;
  }

  /** With handleBatch: milliseconds per event at full batches, the pace more load would be taken in at; undefined until a batch is done. */
  msPerEvent(): number | undefined {
    return this.cost.msPerEvent(this.opts.prefetch);
  }

  async start(): Promise<void> {
    await this.amqp.onConnect(async (conn) => {
      if (this.stopped) return;
      const ch = await conn.createChannel();
      ch.on('close', () => this.channel === ch && (this.channel = undefined));
      ch.on('error', () => undefined);
      await declareQueue(ch, this.opts.queue, this.opts.bindings, this.opts.maxAttempts);
      await ch.prefetch(this.opts.prefetch);
      this.opts.onChannel?.();
      await ch.consume(this.opts.queue, (msg) => msg && this.receive({ ch, msg }), { noAck: false });
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

  private receive(d: Delivery): void {
    eventsConsumed.inc(this.labels);
    if (this.held() === 0) this.lastAckAt = Date.now();
    if (!this.opts.handleBatch) return this.track(this.deliver(d, (e) => this.apply([e])));
    this.burst.push(d);
    if (this.draining) return;
    this.draining = true;
    this.track(this.drain());
  }

  private async drain(): Promise<void> {
    try {
      // Deliveries arrive a socket read at a time: let the rest of this one land.
      await new Promise((r) => setImmediate(r));
      while (this.burst.length > 0) {
        if (this.opts.lingerMs && this.burst.length < this.opts.prefetch / 2) await sleep(this.opts.lingerMs);
        await this.deliverBurst(this.burst.splice(0));
        this.forgetInHand();
      }
    } finally {
      this.draining = false;
      this.forgetInHand();
    }
  }

  private async deliverBurst(burst: Delivery[]): Promise<void> {
    const one = (e: Envelope) => this.apply([e]);
    const decoded: Array<Delivery & { e: Envelope }> = [];
    for (const d of burst) {
      const e = this.decodeOrPark(d);
      if (e) decoded.push({ ...d, e });
    }
    if (decoded.length === 0) return;
    const live = decoded.filter((d) => !isCatchUp(d.msg));
    this.oldestInHand = live.length ? Math.min(...live.map((d) => d.e.occurredAt?.getTime() ?? Date.now())) : undefined;
    this.liveInHand = live.length;
    this.inHand = decoded.length;
    const t0 = (this.batchStartedAt = Date.now());
    if (decoded.length === 1) await this.deliverDecoded(decoded[0], decoded[0].e, one);
    else await this.applyBatch(decoded, one);
    this.cost.note(decoded.length, Date.now() - t0);
  }

  private async applyBatch(decoded: Array<Delivery & { e: Envelope }>, one: (e: Envelope) => Promise<void>): Promise<void> {
    try {
      await this.handleUntilStoreAnswers(decoded[0].e, () => this.apply(decoded.map((d) => d.e)));
      for (const d of decoded) this.applied(d, d.e);
    } catch (err) {
      this.log.warn({ events: decoded.length, err: (err as Error).message }, 'batch failed; applying its events one at a time');
      for (const d of decoded) await this.deliverDecoded(d, d.e, one);
    }
  }

  /** The handler on these events, inside their traces. */
  private apply(es: Envelope[]): Promise<void> {
    return inDeliveries(es, `apply ${this.opts.queue}`, () => (this.opts.handleBatch ? this.opts.handleBatch(es) : this.opts.handle!(es[0])));
  }

  private forgetInHand(): void {
    this.oldestInHand = undefined;
    this.liveInHand = 0;
    this.inHand = 0;
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
    settleDelivery(msg, how === 'requeue' ? 'requeued for another attempt' : undefined);
    if (how === 'ack') this.lastAckAt = Date.now();
    try {
      if (how === 'ack') ch.ack(msg);
      else ch.nack(msg, false, true);
    } catch (err) {
      this.log.warn({ deliveryTag: msg.fields.deliveryTag, err: (err as Error).message }, 'channel closed before settling; the broker redelivers');
    }
  }

  private decodeOrPark({ ch, msg }: Delivery): Envelope | undefined {
    let e: Envelope;
    try {
      e = decodeEnvelope(msg.content);
    } catch (err) {
      this.park(ch, msg, `undecodable event: ${(err as Error).message}`);
      return undefined;
    }
    startDelivery(this.opts.queue, msg, e, this.opts.linkTraces ?? false);
    return e;
  }

  private async deliver(d: Delivery, handle: (e: Envelope) => Promise<void>): Promise<void> {
    const envelope = this.decodeOrPark(d);
    if (!envelope) return;
    this.inFlightSince.set(d.msg, envelope.occurredAt?.getTime() ?? Date.now());
    try {
      await this.deliverDecoded(d, envelope, handle);
    } finally {
      this.inFlightSince.delete(d.msg);
    }
  }

  private applied({ ch, msg }: Delivery, e: Envelope): void {
    this.settle(ch, msg, 'ack');
    eventsApplied.inc(this.labels);
    if (!isCatchUp(msg) && e.occurredAt) projectionLag.observe(this.labels, secondsSince(e.occurredAt.getTime()));
  }

  private async deliverDecoded(d: Delivery, envelope: Envelope, handle: (e: Envelope) => Promise<void>): Promise<void> {
    const { ch, msg } = d;
    let failure: Error | undefined;
    try {
      await this.handleUntilStoreAnswers(envelope, () => handle(envelope));
    } catch (err) {
      failure = err as Error;
    }
    if (!failure) return this.applied(d, envelope);
    const attempts = Number(msg.properties.headers?.['x-delivery-count'] ?? 0) + 1;
    if (attempts >= this.opts.maxAttempts || failure instanceof UnprocessableEvent) return this.park(ch, msg, failure.message, envelope);
    this.log.warn({ eventId: envelope.eventId, streamId: envelope.streamId, attempts, err: failure.message }, 'event failed; will retry');
    await sleep(Math.min(100 * 2 ** attempts, 2_000));
    eventsRetried.inc(this.labels);
    this.settle(ch, msg, 'requeue');
  }

  /**
   * A store outage (or a lost write race) is not the message's fault: keep it (unacked, so a crash
   * still returns it to the queue) and retry with back-off until the store
   * answers, instead of spending its attempts and dead-lettering good events.
   */
  private async handleUntilStoreAnswers(e: Envelope, apply: () => Promise<void>): Promise<void> {
    for (let wait = 100; ; wait = Math.min(wait * 2, 5_000)) {
      try {
        return await apply();
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
    settleDelivery(msg, `dead-lettered: ${reason}`);
    this.settle(ch, msg, 'ack');
    eventsDeadLettered.inc(this.labels);
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

/** A rebuild's catch-up sends every stream's latest event again, however old: that is not lag. */
export const CATCH_UP_PREFIX = 'catch-up.';

const isCatchUp = (msg: ConsumeMessage) => msg.fields.routingKey.startsWith(CATCH_UP_PREFIX);

function minOf(values: Iterable<number>): number | undefined {
  let min: number | undefined;
  for (const v of values) if (min === undefined || v < min) min = v;
  return min;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

