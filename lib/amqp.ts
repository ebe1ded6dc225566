// One self-healing AMQP connection per process: connects with back-off,
// re-runs every registered setup (topology, consumers, channels) after each
// reconnect, and says whether the broker is up for health checks.
import amqp, { type ChannelModel } from 'amqplib';
import type { Logger } from './logger';
import { EXCHANGE } from './envelope';
import { redactUrl } from './redact';

export type Setup = (conn: ChannelModel) => Promise<void>;

export class AmqpConnection {
  private conn?: ChannelModel;
  private closing = false;
  private readonly setups: Setup[] = [];
  private attempt = 0;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  get isUp(): boolean {
    return this.conn !== undefined;
  }

  /** Runs now if connected, and again after every reconnect. */
  async onConnect(setup: Setup): Promise<void> {
    this.setups.push(setup);
    if (this.conn) await setup(this.conn);
  }

  /** First connection: fails fast so start-up can say the broker is missing. */
  async connect(): Promise<void> {
    await this.open();
  }

  /**
   * For a process that can serve without the broker: connects now if it
   * can, else keeps trying in the background, as after a lost connection.
   */
  async connectOrKeepTrying(): Promise<void> {
    try {
      await this.open();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'amqp unreachable; serving without it, reconnecting');
      void this.reconnect();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close().catch(() => undefined);
  }

  private async open(): Promise<void> {
    const conn = await amqp.connect(this.url, { timeout: 5_000 });
    conn.on('error', (err) => this.log.warn({ err: err.message }, 'amqp connection error'));
    conn.on('close', () => this.lost());
    this.conn = conn;
    this.attempt = 0;
    for (const setup of this.setups) await setup(conn);
    this.log.info('amqp connected');
  }

  private lost(): void {
    if (this.closing || !this.conn) return;
    this.conn = undefined;
    this.log.warn('amqp connection lost; reconnecting');
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    while (!this.closing && !this.conn) {
      const delay = Math.min(200 * 2 ** this.attempt++, 5_000);
      await new Promise((r) => setTimeout(r, delay));
      if (this.closing) return;
      try {
        await this.open();
      } catch (err) {
        this.conn = undefined;
        this.log.warn({ err: (err as Error).message, attempt: this.attempt }, 'amqp reconnect failed');
      }
    }
  }
}

export async function declareExchange(conn: ChannelModel): Promise<void> {
  const ch = await conn.createChannel();
  await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
  await ch.close();
}

/** Start-up message when the broker is missing, with how to start it here. */
export function brokerUnreachable(url: string, err: unknown): Error {
  const safe = redactUrl(url);
  return new Error(
    `cannot reach RabbitMQ at ${safe} (${(err as Error).message}). ` +
      'Start it with `rabbitmq-server -detached` (or set AMQP_URL to a running broker).',
  );
}
