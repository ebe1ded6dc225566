// Queue depths as RabbitMQ counts them, read when Prometheus scrapes (and by
// projector-svc for its lag reports, lib/read-lag.ts): the
// backlog in front of each consumer and what sits on its dead-letter queue.
// Any process with a broker connection can report every mesh queue, so the
// depth stays visible while the queue's own consumer is down.
import type { Channel, ChannelModel } from 'amqplib';
import type { AmqpConnection } from './amqp';
import { deadLetterQueue } from './consumer';
import { gaugeOf } from './metrics';

/** Reads a queue's ready count on a channel of its own, reopened as needed; throws while the broker is down. */
export async function queueDepthReader(amqp: AmqpConnection): Promise<(queue: string) => Promise<number>> {
  let conn: ChannelModel | undefined;
  let channel: Promise<Channel> | undefined;
  await amqp.onConnect(async (c) => {
    conn = c;
    channel = undefined;
    c.on('close', () => conn === c && (conn = channel = undefined));
  });
  // A check of a queue not declared yet closes the channel (404): open another next time.
  const open = () => {
    if (!conn) throw new Error('broker down');
    const ch = conn.createChannel().then((c) => {
      c.on('error', () => undefined);
      c.on('close', () => channel === ch && (channel = undefined));
      return c;
    });
    return ch;
  };
  return async (queue) => (await (await (channel ??= open())).checkQueue(queue)).messageCount;
}

export async function queueDepthGauges(amqp: AmqpConnection, queues: string[]): Promise<void> {
  const depth = await queueDepthReader(amqp);
  const depths = async (names: string[]) => {
    const out: Array<[{ queue: string }, number]> = [];
    for (const queue of names) out.push([{ queue }, await depth(queue)]);
    return out;
  };
  gaugeOf('cqrs_queue_depth', 'Events ready on a consumer queue, not yet delivered (RabbitMQ messageCount).', ['queue'], () => depths(queues));
  gaugeOf('cqrs_dead_letter_depth', 'Events parked on a consumer’s dead-letter queue, waiting to be inspected and replayed.', ['queue'], () =>
    depths(queues.map(deadLetterQueue)).then((d) => d.map(([, n], i) => [{ queue: queues[i] }, n] as [{ queue: string }, number])),
  );
}

/** The queue's ready count, read every `everyMs` (the last one known; 0 until read or while the broker is down). */
export async function readyCount(amqp: AmqpConnection, queue: string, everyMs: number): Promise<{ current(): number; stop(): void }> {
  const depth = await queueDepthReader(amqp);
  let last = 0;
  let reading = false;
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    depth(queue).then((n) => (last = n), () => (last = 0)).finally(() => (reading = false));
  }, everyMs);
  timer.unref();
  return { current: () => last, stop: () => clearInterval(timer) };
}
