// A subscriber's parked events, inspected and replayed, as the mesh's
// `npm run dlq` does for its own queues: messages are taken from
// "<queue>.dead-letter" unacked on a confirm channel; one leaves it only after
// its copy back on the queue is confirmed, and closing the channel returns
// the rest untouched.
import amqp, { type ConfirmChannel, type GetMessage } from 'amqplib';
import { decodeEnvelope, type EnvelopeOf, type EventCase } from './events';
import { deadLetterQueue } from './topology';

export interface DeadLetter {
  messageId?: string;
  /** "cqrs.v1.OrderPaid" */
  type?: string;
  /** Why it was parked (x-failure-reason), or the broker's delivery limit. */
  reason: string;
  failedAt?: string;
  /** The decoded event, when the bytes are one. */
  envelope?: EnvelopeOf<EventCase>;
}

function describe(msg: GetMessage): DeadLetter {
  const h = msg.properties.headers ?? {};
  let envelope: EnvelopeOf<EventCase> | undefined;
  try {
    envelope = decodeEnvelope(msg.content);
  } catch {
    /* undecodable: that may be why it is here */
  }
  return { messageId: msg.properties.messageId, type: msg.properties.type, reason: String(h['x-failure-reason'] ?? 'delivery limit reached'), failedAt: h['x-failed-at'], envelope };
}

async function withParked<T>(url: string, queue: string, limit: number, fn: (ch: ConfirmChannel, parked: GetMessage[]) => Promise<T>): Promise<T> {
  const conn = await amqp.connect(url, { timeout: 5_000 });
  try {
    const ch = await conn.createConfirmChannel();
    const parked: GetMessage[] = [];
    while (parked.length < limit) {
      const msg = await ch.get(deadLetterQueue(queue), { noAck: false });
      if (!msg) break;
      parked.push(msg);
    }
    const result = await fn(ch, parked);
    await ch.close();
    return result;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** The events parked for `queue` (up to `limit`), left where they are. */
export function listDeadLetters(url: string, queue: string, limit = 1_000): Promise<DeadLetter[]> {
  return withParked(url, queue, limit, async (_ch, parked) => parked.map(describe));
}

/** Sends the parked events `which` picks (all by default) back to `queue` with fresh attempts; returns how many. */
export function replayDeadLetters(url: string, queue: string, which: (d: DeadLetter) => boolean = () => true, limit = 1_000): Promise<number> {
  return withParked(url, queue, limit, async (ch, parked) => {
    let replayed = 0;
    for (const msg of parked) {
      if (!which(describe(msg))) continue;
      // A fresh start: attempts are counted from x-delivery-count.
      const { 'x-delivery-count': _count, 'x-death': _death, ...kept } = msg.properties.headers ?? {};
      ch.sendToQueue(queue, msg.content, { ...msg.properties, headers: { ...kept, 'x-replayed-at': new Date().toISOString() }, persistent: true });
      await ch.waitForConfirms();
      ch.ack(msg);
      replayed++;
    }
    return replayed;
  });
}
