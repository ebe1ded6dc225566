// Queue depths as RabbitMQ counts them, read when Prometheus scrapes: the
// backlog in front of each consumer and what sits on its dead-letter queue.
// Any process with a broker connection can report every mesh queue, so the
// depth stays visible while the queue's own consumer is down.
import type { Channel, ChannelModel } from 'amqplib';
import type { AmqpConnection } from './amqp';
import { deadLetterQueue } from './consumer';
import { gaugeOf } from './metrics';

export async function queueDepthGauges(amqp: AmqpConnection, queues: string[]): Promise<void> {
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
  const depths = async (names: string[]) => {
    const ch = await (channel ??= open());
    const out: Array<[{ queue: string }, number]> = [];
    for (const queue of names) out.push([{ queue }, (await ch.checkQueue(queue)).messageCount]);
    return out;
  };
  gaugeOf('cqrs_queue_depth', 'Events ready on a consumer queue, not yet delivered (RabbitMQ messageCount).', ['queue'], () => depths(queues));
  gaugeOf('cqrs_dead_letter_depth', 'Events parked on a consumer’s dead-letter queue, waiting to be inspected and replayed.', ['queue'], () =>
    depths(queues.map(deadLetterQueue)).then((d) => d.map(([, n], i) => [{ queue: queues[i] }, n] as [{ queue: string }, number])),
  );
}
