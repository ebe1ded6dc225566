// The client package's event subscriber on the machine's real RabbitMQ (a
// vhost of its own), fed with events encoded and published exactly as the
// mesh publishes them (lib/envelope.ts): typed delivery with the envelope,
// bindings, bounded attempts and dead-lettering like the mesh's consumers
// (lib/consumer.ts, whose queue declaration must accept the subscriber's),
// manual acks.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { encodeEnvelope, EXCHANGE, newEnvelope, publishOptions } from '../../lib/envelope';
import { AmqpConnection } from '../../lib/amqp';
import { EventConsumer } from '../../lib/consumer';
import { createLogger } from '../../lib/logger';
import { createVhost, type TestVhost } from '../../kit/rabbit';
import { eventually, within } from '../../kit/wait';
import type { DomainEvent } from '../../domain/events';
import { EventSubscriber, UnprocessableEvent, deadLetterQueue, listDeadLetters, replayDeadLetters, type ReceivedEvent } from '../../clients/ts/src';

let vhost: TestVhost;
let conn: ChannelModel;
let ch: Channel;
const subscribers: EventSubscriber[] = [];

beforeAll(async () => {
  vhost = createVhost('cqrs-client-sub');
  conn = await amqp.connect(vhost.url);
  ch = await conn.createChannel();
  await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
});

afterAll(async () => {
  try {
    await Promise.allSettled(subscribers.map((s) => within(s.stop(), 10_000, 'subscriber stop')));
    await conn?.close().catch(() => undefined);
  } finally {
    // Whatever the stops did, the vhost (and every queue in it) goes.
    vhost?.remove();
  }
}, 30_000);

function subscriber(o: Partial<ConstructorParameters<typeof EventSubscriber>[0]> = {}): EventSubscriber {
  const s = new EventSubscriber({ url: vhost.url, queue: `it.${randomUUID().slice(0, 8)}`, maxAttempts: 3, ...o });
  subscribers.push(s);
  return s;
}

const orderId = () => randomUUID();
function publish(payload: DomainEvent, version = 1, id = orderId()): string {
  const e = newEnvelope(`order-${id}`, version, payload, { correlationId: `corr-${id}`, causationId: 'cmd-1' }, new Date('2026-12-02T10:00:00Z'));
  ch.publish(EXCHANGE, publishOptions(e).type!, encodeEnvelope(e), publishOptions(e));
  return e.eventId;
}
const paid = (id: string, cents = 1_234): DomainEvent => ({ $case: 'orderPaid', value: { orderId: id, paymentId: 'p-1', amountCents: cents } });
const shipped = (id: string): DomainEvent => ({ $case: 'orderShipped', value: { orderId: id, trackingNumber: 't' } });

async function parked(queue: string, count: number) {
  return eventually(async () => {
    const { messageCount } = await ch.checkQueue(deadLetterQueue(queue));
    return messageCount >= count ? true : undefined;
  }, 15_000, `${count} message(s) on ${deadLetterQueue(queue)}`);
}
async function getParked(queue: string) {
  const msg = await ch.get(deadLetterQueue(queue), { noAck: true });
  if (!msg) throw new Error('nothing parked');
  return msg;
}

test('a handler gets typed events with their envelope; only the bound events reach the queue', async () => {
  const got: ReceivedEvent<'orderPaid'>[] = [];
  const s = subscriber().on('orderPaid', (e) => void got.push(e));
  await s.start();
  const id = orderId();
  publish(shipped(id), 1, id);
  const eventId = publish(paid(id), 2, id);
  await eventually(async () => (got.length ? true : undefined), 10_000, 'the OrderPaid delivery');
  const [e] = got;
  expect(e.name).toBe('orderPaid');
  expect(e.type).toBe('cqrs.v1.OrderPaid');
  expect(e.event).toEqual({ orderId: id, paymentId: 'p-1', amountCents: 1_234 });
  expect(e.envelope).toMatchObject({ eventId, streamId: `order-${id}`, version: 2, correlationId: `corr-${id}`, causationId: 'cmd-1' });
  expect(e.envelope.occurredAt).toEqual(new Date('2026-12-02T10:00:00Z'));
  expect(e.attempt).toBe(1);
  const { messageCount } = await ch.checkQueue(s['opts'].queue);
  expect(messageCount).toBe(0); // OrderShipped was never routed here, OrderPaid was acked
  expect(got).toHaveLength(1);
});

test("a handler that keeps failing has its event parked after maxAttempts, with the reason, while other events flow", async () => {
  const calls = new Map<string, number>();
  const ok: string[] = [];
  const bad = orderId();
  const s = subscriber().on('orderPaid', async (e) => {
    calls.set(e.event.orderId, (calls.get(e.event.orderId) ?? 0) + 1);
    if (e.event.orderId === bad) throw new Error('downstream said no');
    ok.push(e.event.orderId);
  });
  await s.start();
  const eventId = publish(paid(bad));
  const good = [orderId(), orderId()];
  for (const id of good) publish(paid(id));
  await parked(s['opts'].queue, 1);
  expect(ok.sort()).toEqual([...good].sort());
  expect(calls.get(bad)).toBe(3);
  const msg = await getParked(s['opts'].queue);
  expect(msg.properties.messageId).toBe(eventId);
  expect(msg.properties.type).toBe('cqrs.v1.OrderPaid');
  expect(msg.properties.headers).toMatchObject({ 'x-failure-reason': 'downstream said no', 'x-failed-queue': s['opts'].queue });
});

test('UnprocessableEvent and undecodable bytes are parked at once', async () => {
  let calls = 0;
  const s = subscriber().on('orderPaid', async () => {
    calls++;
    throw new UnprocessableEvent('not ours');
  });
  await s.start();
  publish(paid(orderId()));
  ch.publish(EXCHANGE, 'cqrs.v1.OrderPaid', Buffer.from('not protobuf at all'), { messageId: 'junk-1', persistent: true });
  await parked(s['opts'].queue, 2);
  const reasons = [await getParked(s['opts'].queue), await getParked(s['opts'].queue)].map((m) => String(m.properties.headers?.['x-failure-reason']));
  expect(reasons.sort()).toEqual([expect.stringMatching(/^not ours$/), expect.stringMatching(/^undecodable event: /)].sort());
  expect(calls).toBe(1);
});

test('manual acks: an event the handler did not ack goes back to the queue when the subscriber stops', async () => {
  const queue = `it.manual.${randomUUID().slice(0, 8)}`;
  const held: ReceivedEvent<'orderPaid'>[] = [];
  const first = subscriber({ queue, manualAck: true }).on('orderPaid', (e) => void held.push(e));
  await first.start();
  publish(paid(orderId()));
  publish(paid(orderId()));
  await eventually(async () => (held.length === 2 ? true : undefined), 10_000, 'two deliveries');
  held[0].ack();
  await within(first.stop(), 10_000, 'stop');
  // The acked one is gone; the other is back, and a new subscriber sees it redelivered.
  const again: ReceivedEvent<'orderPaid'>[] = [];
  const second = subscriber({ queue, manualAck: true }).on('orderPaid', (e) => {
    again.push(e);
    e.ack();
  });
  await second.start();
  await eventually(async () => (again.length ? true : undefined), 10_000, 'the redelivery');
  expect(again.map((e) => e.event.orderId)).toEqual([held[1].event.orderId]);
  expect(again[0].redelivered).toBe(true);
});

test("the mesh's own consumer declares the subscriber's queue without complaint: the same arguments", async () => {
  const queue = `it.same.${randomUUID().slice(0, 8)}`;
  await subscriber({ queue, maxAttempts: 5 }).on('orderPaid', () => undefined).start();
  const log = createLogger('test', 'silent');
  const meshConn = new AmqpConnection(vhost.url, log);
  await meshConn.connect();
  const consumer = new EventConsumer(meshConn, { queue, bindings: ['cqrs.v1.OrderPaid'], prefetch: 1, maxAttempts: 5, handle: async () => undefined }, log);
  try {
    await expect(consumer.start()).resolves.toBeUndefined();
  } finally {
    await consumer.stop();
    await meshConn.close();
  }
});

test('the subscriber reconnects by itself when the broker closes its connection', async () => {
  const queue = `it.reconnect.${randomUUID().slice(0, 8)}`;
  const got: string[] = [];
  const s = subscriber({ queue }).on('orderPaid', (e) => void got.push(e.event.orderId));
  await s.start();
  const conns = execFileSync('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], { encoding: 'utf8', timeout: 30_000 });
  const pid = conns.split('\n').find((l) => l.includes(`subscriber ${queue}`))?.split('\t')[0];
  expect(pid).toBeDefined();
  execFileSync('rabbitmqctl', ['-q', 'close_connection', pid!, 'test closes it'], { timeout: 30_000 });
  await eventually(async () => (s.isUp ? undefined : true), 10_000, 'the subscriber to notice');
  const id = orderId();
  publish(paid(id));
  await eventually(async () => (got.includes(id) ? true : undefined), 20_000, 'a delivery after reconnecting');
  expect(s.isUp).toBe(true);
});

test('parked events can be listed and replayed to the queue, with fresh attempts', async () => {
  const queue = `it.replay.${randomUUID().slice(0, 8)}`;
  let failing = true;
  const handled: string[] = [];
  const s = subscriber({ queue, maxAttempts: 2 }).on('orderPaid', async (e) => {
    if (failing) throw new Error('not yet');
    handled.push(e.event.orderId);
  });
  await s.start();
  const id = orderId();
  const eventId = publish(paid(id));
  await parked(queue, 1);
  const listed = await listDeadLetters(vhost.url, queue);
  expect(listed).toHaveLength(1);
  expect(listed[0]).toMatchObject({ messageId: eventId, type: 'cqrs.v1.OrderPaid', reason: 'not yet' });
  expect(listed[0].envelope?.payload).toEqual({ $case: 'orderPaid', value: { orderId: id, paymentId: 'p-1', amountCents: 1_234 } });
  // Listing leaves it parked: back in the ready count once the quorum queue has taken the unacked get back.
  await parked(queue, 1);
  failing = false;
  expect(await replayDeadLetters(vhost.url, queue)).toBe(1);
  await eventually(async () => (handled.includes(id) ? true : undefined), 10_000, 'the replayed event');
  expect((await ch.checkQueue(deadLetterQueue(queue))).messageCount).toBe(0);
});

test('a subscriber whose queue is deleted under it declares it again and goes on consuming', async () => {
  const queue = `it.deleted.${randomUUID().slice(0, 8)}`;
  const got: string[] = [];
  const s = subscriber({ queue }).on('orderPaid', (e) => void got.push(e.event.orderId));
  await s.start();
  await ch.deleteQueue(queue);
  const id = orderId();
  // Published until the re-declared queue (and its binding) takes one.
  await eventually(async () => {
    if (got.includes(id)) return true;
    // A check of a missing queue closes its channel: a throwaway one, bounded.
    const probe = await conn.createChannel();
    probe.on('error', () => undefined);
    const exists = await within(probe.checkQueue(queue), 2_000, 'checkQueue').then(() => true, () => false);
    await probe.close().catch(() => undefined);
    if (!exists) return undefined;
    publish(paid(id));
    return undefined;
  }, 15_000, 'a delivery on the re-declared queue', 300);
  expect(s.isUp).toBe(true);
});
