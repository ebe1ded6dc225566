// What the projector applied, told over the broker: after the read store
// acknowledged a batch, projector-svc publishes the streams it touched and
// the version each reached on the fanout exchange cqrs.projections; query-svc
// listens to wake the queries waiting on a consistency token. Notices are
// transient (not durable, not persistent, expiring): the broker keeps
// nothing, and a listener that may have missed some (it just connected)
// is told so, to re-read the store.
import type { Channel } from 'amqplib';
import { ProjectionsApplied } from '../gen/ts/cqrs/v1/projections';
import type { AmqpConnection } from './amqp';
import type { StreamPosition } from './consistency-token';
import { CONTENT_TYPE } from './envelope';
import type { Logger } from './logger';

export const PROJECTIONS_EXCHANGE = 'cqrs.projections';
const NOTICE_TYPE = 'cqrs.v1.ProjectionsApplied';
const EXPIRES_MS = 10_000;

export class ProjectionAnnouncer {
  private channel?: Channel;

  constructor(private readonly amqp: AmqpConnection) {}

  async start(): Promise<void> {
    await this.amqp.onConnect(async (conn) => {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      ch.on('close', () => this.channel === ch && (this.channel = undefined));
      await ch.assertExchange(PROJECTIONS_EXCHANGE, 'fanout', { durable: false });
      this.channel = ch;
    });
  }

  /** Best effort: a notice lost here is made up for by the listeners' periodic re-read. */
  announce(positions: StreamPosition[]): void {
    if (positions.length === 0 || !this.channel) return;
    const bytes = ProjectionsApplied.encode({ positions: positions.map((p) => ({ streamId: p.streamId, version: p.version })) }).finish();
    try {
      this.channel.publish(PROJECTIONS_EXCHANGE, '', Buffer.from(bytes), { contentType: CONTENT_TYPE, type: NOTICE_TYPE, persistent: false, expiration: String(EXPIRES_MS) });
    } catch {
      // The channel closed under us; the next connection brings a new one.
    }
  }
}

export interface NoticeListener {
  applied(positions: StreamPosition[]): void;
  /** Notices may have been missed (the subscription is new): re-read what matters. */
  resubscribed(): void;
}

/** Subscribes (an exclusive, auto-deleted queue per process) after every (re)connect. */
export async function listenForProjections(amqp: AmqpConnection, listener: NoticeListener, log: Logger): Promise<void> {
  await amqp.onConnect(async (conn) => {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.assertExchange(PROJECTIONS_EXCHANGE, 'fanout', { durable: false });
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await ch.bindQueue(queue, PROJECTIONS_EXCHANGE, '');
    await ch.consume(queue, (msg) => {
      if (!msg) return;
      try {
        listener.applied(ProjectionsApplied.decode(msg.content).positions);
      } catch {
        log.warn('unreadable projection notice ignored');
      }
    }, { noAck: true });
    log.info({ exchange: PROJECTIONS_EXCHANGE }, 'listening for projection notices');
    listener.resubscribed();
  });
}
