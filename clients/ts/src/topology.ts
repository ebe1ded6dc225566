// A subscriber's queue, declared exactly as the mesh declares its own
// consumers' queues (lib/consumer.ts in the mesh's repo), so they behave
// alike: a durable quorum queue bound to cqrs.events, a broker-side delivery
// limit as a backstop, and a dead-letter queue "<queue>.dead-letter" bound to
// the direct exchange cqrs.dead-letter with the queue's name as routing key.
// RabbitMQ refuses to re-declare a queue with other arguments, so these must
// not drift from the mesh's.
import type { Channel } from 'amqplib';
import { EXCHANGE } from './events';

export const DEAD_LETTER_EXCHANGE = 'cqrs.dead-letter';
export const deadLetterQueue = (queue: string) => `${queue}.dead-letter`;

export interface QueueSpec {
  queue: string;
  bindings: string[];
  maxAttempts: number;
  /** One consumer at a time takes deliveries (others stand by): per-stream order holds. */
  singleActiveConsumer: boolean;
}

export async function declareQueue(ch: Channel, s: QueueSpec): Promise<void> {
  await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
  await ch.assertExchange(DEAD_LETTER_EXCHANGE, 'direct', { durable: true });
  await ch.assertQueue(deadLetterQueue(s.queue), { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await ch.bindQueue(deadLetterQueue(s.queue), DEAD_LETTER_EXCHANGE, s.queue);
  await ch.assertQueue(s.queue, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-single-active-consumer': s.singleActiveConsumer,
      // Backstop if a process dies mid-message repeatedly: the broker parks it.
      'x-delivery-limit': s.maxAttempts * 2,
      'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE,
      'x-dead-letter-routing-key': s.queue,
    },
  });
  for (const key of s.bindings) await ch.bindQueue(s.queue, EXCHANGE, key);
}
