// `npm run dlq -- list` shows the dead-lettered events of every consumer;
// `npm run dlq -- replay [message-id]` sends them (or one) back to the queue
// they failed on. Messages not replayed stay parked.
import amqp, { type Channel, type GetMessage } from 'amqplib';
import { common, readConfig } from '../lib/config';
import { deadLetterQueue, ORDER_PROCESS_QUEUE, PROJECTOR_QUEUE } from '../lib/consumer';

export const CONSUMER_QUEUES = [PROJECTOR_QUEUE, ORDER_PROCESS_QUEUE];

interface Parked {
  queue: string;
  msg: GetMessage;
}

async function drain(ch: Channel): Promise<Parked[]> {
  const parked: Parked[] = [];
  for (const queue of CONSUMER_QUEUES) {
    await ch.checkQueue(deadLetterQueue(queue)).catch(() => undefined);
    for (;;) {
      const msg = await ch.get(deadLetterQueue(queue), { noAck: false });
      if (!msg) break;
      parked.push({ queue, msg });
    }
  }
  return parked;
}

function describe({ queue, msg }: Parked): string {
  const h = msg.properties.headers ?? {};
  return [
    msg.properties.messageId ?? '(no message id)',
    msg.properties.type ?? '(no type)',
    `queue=${queue}`,
    `stream=${h['x-stream-id'] ?? '?'}@${h['x-stream-version'] ?? '?'}`,
    `failed_at=${h['x-failed-at'] ?? '?'}`,
    `reason=${JSON.stringify(h['x-failure-reason'] ?? 'delivery limit reached')}`,
  ].join('  ');
}

async function main(): Promise<void> {
  const [verb, id] = process.argv.slice(2);
  if (verb !== 'list' && verb !== 'replay') throw new Error('usage: npm run dlq -- list | replay [message-id]');
  const { AMQP_URL } = readConfig({ AMQP_URL: common.AMQP_URL });
  const conn = await amqp.connect(AMQP_URL, { timeout: 5_000 });
  try {
    // A dedicated confirm channel: a message leaves the dead-letter queue only
    // after its replay is confirmed; closing the channel returns the rest.
    const ch = await conn.createConfirmChannel();
    const parked = await drain(ch);
    if (verb === 'list') {
      console.log(parked.length ? parked.map(describe).join('\n') : 'no dead-lettered messages');
    } else {
      const chosen = parked.filter((p) => !id || p.msg.properties.messageId === id);
      if (id && !chosen.length) throw new Error(`no dead-lettered message with id ${id}`);
      for (const p of chosen) {
        // A fresh start: the consumer counts attempts from x-delivery-count.
        const { 'x-delivery-count': _count, 'x-death': _death, ...kept } = p.msg.properties.headers ?? {};
        const headers = { ...kept, 'x-replayed-at': new Date().toISOString() };
        ch.sendToQueue(p.queue, p.msg.content, { ...p.msg.properties, headers, persistent: true });
        await ch.waitForConfirms();
        ch.ack(p.msg);
        console.log(`replayed ${describe(p)}`);
      }
    }
    await ch.close();
  } finally {
    await conn.close();
  }
}

main().catch((err: Error) => {
  console.error(`dlq: ${err.message}`);
  process.exit(1);
});
