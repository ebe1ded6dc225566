// A typed subscriber to the mesh's events for services of their own: a queue
// of the caller's on cqrs.events, bound to the events it handles, decoded
// envelopes handed to typed handlers, manual acks, and the dead-letter rules
// of the mesh's own consumers: a handler that keeps failing has its event
// parked on "<queue>.dead-letter" (with the reason in x-failure-reason) after
// maxAttempts, without blocking the others; undecodable bytes and
// UnprocessableEvent are parked at once. The connection heals itself.
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { decodeEnvelope, routingKeyOf, type EnvelopeOf, type EventCase, type EventOf } from './events';
import { DEAD_LETTER_EXCHANGE, declareQueue } from './topology';

/** Throw it from a handler for an event no retry can help: parked at once. */
export class UnprocessableEvent extends Error {
  override name = 'UnprocessableEvent';
}

/** pino's call shape, so a pino logger fits; anything with these three works. */
export interface SubscriberLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SubscriberOptions {
  /** e.g. amqp://guest:guest@127.0.0.1:5672 */
  url: string;
  /** Your service's own queue, e.g. "billing.order-events"; never one of the mesh's. */
  queue: string;
  /**
   * Unacked deliveries in hand at once (default 16); handlers run concurrently
   * up to it, so two events of one stream may be handled side by side. 1 keeps
   * the queue's order strictly.
   */
  prefetch?: number;
  /** Attempts before an event is parked (default 5, as the mesh's MAX_ATTEMPTS). */
  maxAttempts?: number;
  /** Default true: one consumer at a time, so events of a stream arrive in order. */
  singleActiveConsumer?: boolean;
  /** When true, a handler that returns does not ack: call event.ack() (or nack/deadLetter) yourself. */
  manualAck?: boolean;
  /** More routing keys to bind ("#" for every event); events without a handler are acked and skipped. */
  bindings?: string[];
  logger?: SubscriberLogger;
}

export interface ReceivedEvent<C extends EventCase = EventCase> {
  /** "orderPaid" */
  name: C;
  /** "cqrs.v1.OrderPaid" */
  type: string;
  event: EventOf<C>;
  /** Event id, stream id, version, occurred at, correlation and causation ids, and the payload. */
  envelope: EnvelopeOf<C>;
  /** This delivery's attempt, from 1. */
  attempt: number;
  redelivered: boolean;
  ack(): void;
  /** A failed attempt: requeued after a back-off, or parked once attempts run out. */
  nack(reason?: string): Promise<void>;
  deadLetter(reason: string): void;
}

export type Handler<C extends EventCase> = (event: ReceivedEvent<C>) => Promise<void> | void;

const silent: SubscriberLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class EventSubscriber {
  private readonly handlers = new Map<EventCase, Handler<EventCase>>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly log: SubscriberLogger;
  private conn?: ChannelModel;
  private channel?: Channel;
  private consumerTag?: string;
  private stopped = false;
  private started = false;

  constructor(private readonly opts: SubscriberOptions) {
    if (!opts.queue) throw new Error('a subscriber needs a queue of its own');
    this.log = opts.logger ?? silent;
  }

  get maxAttempts(): number {
    return this.opts.maxAttempts ?? 5;
  }

  /** Whether a channel is consuming now (for health checks). */
  get isUp(): boolean {
    return this.channel !== undefined;
  }

  /** Handles one kind of event; binds its routing key. Register before start(). */
  on<C extends EventCase>(name: C, handler: Handler<C>): this {
    if (this.started) throw new Error('register handlers before start()');
    // Stored by case; receive() only ever hands a handler events of its own case.
    this.handlers.set(name, handler as unknown as Handler<EventCase>);
    return this;
  }

  /** Connects, declares the queue and its bindings, and starts consuming. Fails fast when the broker is unreachable. */
  async start(): Promise<void> {
    if (this.started) throw new Error('already started');
    this.started = true;
    await this.open();
  }

  /** Stops taking deliveries and waits for those in hand; unacked ones go back to the queue. */
  async stop(): Promise<void> {
    this.stopped = true;
    const { conn, channel: ch, consumerTag } = this;
    this.conn = undefined;
    this.channel = undefined;
    if (ch && consumerTag) await ch.cancel(consumerTag).catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    // The channel first: its CloseOk means the broker has every ack sent on it.
    await ch?.close().catch(() => undefined);
    await conn?.close().catch(() => undefined);
  }

  private bindings(): string[] {
    const keys = [...this.handlers.keys()].map(routingKeyOf);
    return [...new Set([...keys, ...(this.opts.bindings ?? [])])];
  }

  private async open(): Promise<void> {
    // Named after the queue, so the broker's connection list says whose it is.
    const conn = await amqp.connect(this.opts.url, { timeout: 5_000, clientProperties: { connection_name: `subscriber ${this.opts.queue}` } });
    conn.on('error', (err: Error) => this.log.warn({ err: err.message }, 'amqp connection error'));
    conn.on('close', () => this.lost(conn));
    if (this.stopped) {
      // stop() came while this (re)connect was under way.
      await conn.close().catch(() => undefined);
      return;
    }
    try {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      ch.on('close', () => {
        if (this.channel !== ch) return;
        this.channel = undefined;
        // The channel alone died (the broker closed it): drop the connection too,
        // so lost() reconnects and consuming resumes.
        if (!this.stopped) void conn.close().catch(() => undefined);
      });
      await declareQueue(ch, { queue: this.opts.queue, bindings: this.bindings(), maxAttempts: this.maxAttempts, singleActiveConsumer: this.opts.singleActiveConsumer ?? true });
      await ch.prefetch(this.opts.prefetch ?? 16);
      this.conn = conn;
      this.channel = ch;
      const onMessage = (msg: ConsumeMessage | null) => {
        if (msg) return this.track(this.receive(ch, msg));
        // The broker cancelled the consumer (its queue was deleted): start over, which declares it again.
        this.log.warn({ queue: this.opts.queue }, 'consumer cancelled by the broker; reconnecting');
        if (!this.stopped) void conn.close().catch(() => undefined);
      };
      ({ consumerTag: this.consumerTag } = await ch.consume(this.opts.queue, onMessage, { noAck: false }));
      this.log.info({ queue: this.opts.queue }, 'subscriber consuming');
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  /** The connection dropped (broker restart, network): reconnect with back-off until stopped. */
  private lost(conn: ChannelModel): void {
    if (this.stopped || this.conn !== conn) return;
    this.conn = undefined;
    this.channel = undefined;
    this.log.warn({ queue: this.opts.queue }, 'amqp connection lost; reconnecting');
    void (async () => {
      for (let attempt = 0; !this.stopped && !this.conn; attempt++) {
        await sleep(Math.min(200 * 2 ** attempt, 5_000));
        if (this.stopped) return;
        await this.open().catch((err: Error) => this.log.warn({ err: err.message, attempt }, 'amqp reconnect failed'));
      }
    })();
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: Error) => this.log.error({ err: err.message }, 'delivery failed; the broker will redeliver it'));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private async receive(ch: Channel, msg: ConsumeMessage): Promise<void> {
    let settled = false;
    // Settling on a channel that closed throws; the broker already requeued the delivery.
    const once = (what: string, fn: () => void) => {
      if (settled) return;
      settled = true;
      try {
        fn();
      } catch (err) {
        this.log.warn({ deliveryTag: msg.fields.deliveryTag, err: (err as Error).message }, `channel closed before ${what}; the broker redelivers`);
      }
    };
    const park = (reason: string) =>
      once('parking', () => {
        const headers = { ...msg.properties.headers, 'x-failure-reason': reason, 'x-failed-queue': this.opts.queue, 'x-failed-at': new Date().toISOString() };
        ch.publish(DEAD_LETTER_EXCHANGE, this.opts.queue, msg.content, { ...msg.properties, headers, persistent: true });
        ch.ack(msg);
        this.log.error({ queue: this.opts.queue, messageId: msg.properties.messageId, reason }, 'event dead-lettered');
      });

    let envelope: EnvelopeOf<EventCase>;
    try {
      envelope = decodeEnvelope(msg.content);
    } catch (err) {
      return park(`undecodable event: ${(err as Error).message}`);
    }
    const handler = this.handlers.get(envelope.payload.$case);
    if (!handler) return once('acking', () => ch.ack(msg));

    // Quorum queues count deliveries in x-delivery-count (absent on the first).
    const attempt = Number(msg.properties.headers?.['x-delivery-count'] ?? 0) + 1;
    const fail = async (reason: string, unprocessable = false) => {
      if (settled) return;
      if (unprocessable || attempt >= this.maxAttempts) return park(reason);
      this.log.warn({ eventId: envelope.eventId, streamId: envelope.streamId, attempt, reason }, 'event failed; will retry');
      settled = true; // no second settle while waiting out the back-off
      await sleep(Math.min(100 * 2 ** attempt, 2_000));
      settled = false;
      once('requeueing', () => ch.nack(msg, false, true));
    };
    const received: ReceivedEvent = {
      name: envelope.payload.$case,
      type: routingKeyOf(envelope.payload.$case),
      event: envelope.payload.value,
      envelope,
      attempt,
      redelivered: msg.fields.redelivered,
      ack: () => once('acking', () => ch.ack(msg)),
      nack: (reason = 'nacked by the handler') => fail(reason),
      deadLetter: (reason) => park(reason),
    };
    try {
      await handler(received);
    } catch (err) {
      return fail((err as Error)?.message ?? String(err), err instanceof UnprocessableEvent);
    }
    if (!this.opts.manualAck) received.ack();
  }
}
