// RabbitMQ baselines with amqplib on the same broker (the bench's own vhost),
// shaped like the services' use of it: persistent protobuf-sized messages to
// a topic exchange, a durable quorum queue with a single active consumer,
// publisher confirms with a window of calls in flight (command-svc awaits a
// confirm per event, so its window is its number of concurrent commands),
// and manual acks under a prefetch (projector-svc: 64). The naive variants
// do one message at a time: window 1, prefetch 1.
import { performance } from 'node:perf_hooks';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { closedLoopWindows, type RunResult } from '../load';
import { sleep } from '../../kit/wait';

const EXCHANGE = 'bench.baseline';

async function declare(conn: ChannelModel, queue: string): Promise<void> {
  const ch = await conn.createChannel();
  await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
  await ch.deleteQueue(queue).catch(() => undefined);
  await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-single-active-consumer': true, 'x-delivery-limit': 10 } });
  await ch.bindQueue(queue, EXCHANGE, queue);
  await ch.close();
}

const publishOpts = (id: number) => ({
  contentType: 'application/x-protobuf',
  type: 'cqrs.v1.OrderInitiated',
  messageId: `m-${id}`,
  persistent: true,
  headers: { 'x-stream-id': `order-${id}`, 'x-stream-version': 1 },
});

function publishConfirmed(ch: ConfirmChannel, queue: string, body: Buffer, id: number): Promise<void> {
  return new Promise((resolve, reject) => ch.publish(EXCHANGE, queue, body, publishOpts(id), (err) => (err ? reject(err) : resolve())));
}

export interface ConsumeResult {
  messages: number;
  elapsedMs: number;
  throughput: number;
}

export class AmqpBaseline {
  private constructor(private readonly conn: ChannelModel) {}

  static async open(url: string): Promise<AmqpBaseline> {
    return new AmqpBaseline(await amqp.connect(url, { timeout: 5_000 }));
  }

  /** Publish with confirms, `window` publishes awaiting their confirm at any time. */
  async publish(o: { window: number; durationMs: number; windows: number; warmupMs: number; body: Buffer }): Promise<RunResult[]> {
    const queue = `bench.baseline.publish.w${o.window}`;
    await declare(this.conn, queue);
    const ch = await this.conn.createConfirmChannel();
    try {
      return await closedLoopWindows({ concurrency: o.window, durationMs: o.durationMs, windows: o.windows, warmupMs: o.warmupMs, op: (i) => publishConfirmed(ch, queue, o.body, i) });
    } finally {
      await ch.close().catch(() => undefined);
      await this.dropQueue(queue);
    }
  }

  /** Drains `count` queued messages with manual acks under `prefetch`. */
  async consume(o: { prefetch: number; count: number; body: Buffer }): Promise<ConsumeResult> {
    const queue = `bench.baseline.consume.p${o.prefetch}`;
    await declare(this.conn, queue);
    const pub = await this.conn.createConfirmChannel();
    for (let i = 0; i < o.count; i += 256) {
      await Promise.all(Array.from({ length: Math.min(256, o.count - i) }, (_, j) => publishConfirmed(pub, queue, o.body, i + j)));
    }
    await pub.close();
    const ch = await this.conn.createChannel();
    await ch.prefetch(o.prefetch);
    let seen = 0;
    const start = performance.now();
    let end = start;
    await new Promise<void>((resolve) => {
      void ch.consume(queue, (msg) => {
        if (!msg) return;
        ch.ack(msg);
        if (++seen === o.count) {
          end = performance.now();
          resolve();
        }
      });
    });
    await ch.close().catch(() => undefined);
    await this.dropQueue(queue);
    const elapsedMs = Math.max(1, end - start);
    return { messages: seen, elapsedMs, throughput: (seen * 1000) / elapsedMs };
  }

  /**
   * Publish→deliver latency through the broker at a steady rate: a confirm
   * channel publishing, a consumer acking under `prefetch`.
   */
  async latency(o: { ratePerSec: number; durationMs: number; prefetch: number; body: Buffer }): Promise<number[]> {
    const queue = `bench.baseline.latency`;
    await declare(this.conn, queue);
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    const cons = await this.conn.createChannel();
    await cons.prefetch(o.prefetch);
    await cons.consume(queue, (msg) => {
      if (!msg) return;
      const t = sentAt.get(msg.properties.messageId as string);
      if (t !== undefined) latencies.push(performance.now() - t);
      cons.ack(msg);
    });
    const pub = await this.conn.createConfirmChannel();
    const pending: Promise<void>[] = [];
    const t0 = performance.now();
    let i = 0;
    while (performance.now() - t0 < o.durationMs) {
      const due = Math.floor(((performance.now() - t0) * o.ratePerSec) / 1000);
      for (; i < due; i++) {
        sentAt.set(`m-${i}`, performance.now());
        pending.push(publishConfirmed(pub, queue, o.body, i));
      }
      await sleep(2);
    }
    await Promise.all(pending);
    const deadline = performance.now() + 5_000;
    while (latencies.length < i && performance.now() < deadline) await sleep(10);
    await pub.close().catch(() => undefined);
    await cons.close().catch(() => undefined);
    await this.dropQueue(queue);
    return latencies;
  }

  private async dropQueue(queue: string): Promise<void> {
    const ch = await this.conn.createChannel();
    await ch.deleteQueue(queue).catch(() => undefined);
    await ch.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}
