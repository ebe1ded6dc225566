// Publishes envelopes to cqrs.events on a confirm channel: a publish counts
// only once the broker has confirmed it (persisted, for durable queues).
import type { ConfirmChannel } from 'amqplib';
import type { EventEnvelope } from '../gen/ts/cqrs/v1/events';
import { AmqpConnection, declareExchange } from '../lib/amqp';
import { EXCHANGE, encodeEnvelope, publishOptions, routingKey } from '../lib/envelope';
import { UnavailableError } from '../lib/grpc-errors';
import { eventsConfirmed, eventsPublished } from '../lib/metrics';
import { publishSpan } from '../lib/spans';

export class EventPublisher {
  private channel?: ConfirmChannel;
  private readonly confirmListeners: Array<() => void> = [];

  constructor(private readonly amqp: AmqpConnection) {}

  async start(): Promise<void> {
    await this.amqp.onConnect(async (conn) => {
      await declareExchange(conn);
      const ch = await conn.createConfirmChannel();
      ch.on('close', () => {
        if (this.channel === ch) this.channel = undefined;
      });
      ch.on('error', () => undefined); // the connection's handler logs and reconnects
      this.channel = ch;
    });
  }

  /** Called once per event the broker confirmed. */
  onConfirm(listener: () => void): void {
    this.confirmListeners.push(listener);
  }

  get isUp(): boolean {
    return this.channel !== undefined;
  }

  /**
   * Resolves when every envelope is confirmed; rejects if any is not.
   * `relayed`: published later than the command that decided them (the
   * outbox relay), so their spans link to its trace rather than join it.
   */
  async publish(envelopes: EventEnvelope[], relayed = false): Promise<void> {
    const ch = this.channel;
    if (!ch) throw new UnavailableError('event broker unavailable');
    await Promise.all(
      envelopes.map(
        (e) =>
          new Promise<void>((resolve, reject) => {
            const options = publishOptions(e);
            const confirmed = publishSpan(e, options.headers!, EXCHANGE, routingKey(e), relayed);
            try {
              ch.publish(EXCHANGE, routingKey(e), encodeEnvelope(e), options, (err) => {
                confirmed(err);
                if (err) return reject(new UnavailableError(`broker did not confirm event ${e.eventId}`));
                eventsConfirmed.inc();
                for (const l of this.confirmListeners) l();
                resolve();
              });
              eventsPublished.inc();
            } catch (err) {
              confirmed(err);
              reject(err);
            }
          }),
      ),
    );
  }
}
