// The read-side gate against the real broker. A consumer's lag reaches the
// gate the way the projector's does (lib/read-lag.ts over RabbitMQ): client
// commands wait while the reported lag is over the bound, go on once it falls
// or once the reports stop (a silent projector holds no one), and are refused
// as UNAVAILABLE when it does not fall in time. What holds is the wait a new
// event would see, where the reporter tells it. The consumer side: the lag a
// batch consumer reports is the age of the oldest event in hand, its wait the
// live events ahead of a new one at what its recent batches cost.
import amqp from 'amqplib';
import pino from 'pino';
import { AmqpConnection } from '../../lib/amqp';
import { CATCH_UP_PREFIX, EventConsumer, PROJECTOR_QUEUE } from '../../lib/consumer';
import { encodeEnvelope, EXCHANGE, newEnvelope, publishOptions, routingKey } from '../../lib/envelope';
import { UnavailableError } from '../../lib/grpc-errors';
import { reportLag } from '../../lib/read-lag';
import { ReadSideGate } from '../../command-svc/read-side-gate';
import { createVhost, type TestVhost } from '../../kit/rabbit';
import { eventually, sleep } from '../../kit/wait';

const silent = pino({ level: 'silent' });
const REPORT_MS = 20;
let vhost: TestVhost;
let link: AmqpConnection;
let gate: ReadSideGate;
let lag = 0;
let wait: number | undefined;
let eventMs: number | undefined;
let stopReports: (() => void) | undefined;

beforeAll(async () => {
  vhost = createVhost('cqrs-gate');
  link = new AmqpConnection(vhost.url, silent);
  await link.connect();
  gate = new ReadSideGate(link, { queue: PROJECTOR_QUEUE, maxLagMs: 500, maxWaitMs: 1_500, staleMs: 300 }, silent);
  await gate.start();
}, 20_000);

afterEach(() => {
  wait = undefined;
  eventMs = undefined;
  stopReports?.();
  stopReports = undefined;
});

afterAll(async () => {
  gate?.stop();
  await link?.close();
  vhost?.remove();
});

const settle = (p: Promise<unknown>) => p.then(() => 'admitted', (e) => (e instanceof UnavailableError ? 'unavailable' : `error: ${e}`));
const report = async (queue = PROJECTOR_QUEUE) => {
  stopReports = await reportLag(link, queue, () => ({ lagMs: lag, waitMs: wait, eventMs }), REPORT_MS);
  await sleep(REPORT_MS * 5);
};

test('with no projector reporting, commands are admitted at once', async () => {
  await expect(settle(gate.admit())).resolves.toBe('admitted');
});

test('a lag under the bound admits at once', async () => {
  lag = 400;
  await report();
  await expect(settle(gate.admit())).resolves.toBe('admitted');
});

test('a lag over the bound holds commands until it falls', async () => {
  lag = 2_000;
  await report();
  let state = 'waiting';
  const held = settle(gate.admit()).then((s) => (state = s));
  await sleep(300);
  expect(state).toBe('waiting');
  lag = 100;
  await expect(held).resolves.toBe('admitted');
});

test('a lag that stays over the bound gets UNAVAILABLE after the wait bound', async () => {
  lag = 2_000;
  await report();
  const t0 = Date.now();
  await expect(settle(gate.admit())).resolves.toBe('unavailable');
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400);
});

test('a projector that falls silent releases the commands it held', async () => {
  lag = 2_000;
  await report();
  let state = 'waiting';
  const held = settle(gate.admit()).then((s) => (state = s));
  await sleep(100);
  expect(state).toBe('waiting');
  stopReports!();
  await expect(held).resolves.toBe('admitted');
});

test('a young head with a long wait behind it holds commands', async () => {
  lag = 100;
  wait = 2_000;
  await report();
  let state = 'waiting';
  const held = settle(gate.admit()).then((s) => (state = s));
  await sleep(300);
  expect(state).toBe('waiting');
  wait = 200;
  await expect(held).resolves.toBe('admitted');
});

test('an old head with a short wait behind it admits at once', async () => {
  lag = 2_000;
  wait = 100;
  await report();
  await expect(settle(gate.admit())).resolves.toBe('admitted');
});

test("another queue's consumer does not hold the command side", async () => {
  lag = 2_000;
  await report('someone-else.queue');
  await expect(settle(gate.admit())).resolves.toBe('admitted');
});

test('held commands go on in turn, as many as the room under the bound takes at the projector\'s pace', async () => {
  lag = 100;
  wait = 2_000;
  eventMs = 10; // a command brings three events: 30 ms of wait each
  await report();
  const order: string[] = [];
  const held = Array.from({ length: 10 }, (_, i) => settle(gate.admit()).then((s) => order.push(`${i}:${s}`)));
  await sleep(200);
  expect(order).toEqual([]);
  wait = 410; // room for 3 under the bound of 500
  await sleep(150);
  expect(order).toEqual(['0:admitted', '1:admitted', '2:admitted']);
  // A newcomer queues behind those already waiting.
  const late = settle(gate.admit()).then((s) => order.push(`late:${s}`));
  wait = 0; // room for 16, less the 3 the reports cannot show yet
  await Promise.all([...held, late]);
  expect(order).toEqual([...Array.from({ length: 10 }, (_, i) => `${i}:admitted`), 'late:admitted']);
});

test('a pace slower than the bound allows still lets commands through, one at a time', async () => {
  lag = 0;
  wait = 0;
  eventMs = 1_000; // 3 s a command, against a bound of 0.5 s: no room by the formula
  await report();
  await expect(settle(gate.admit())).resolves.toBe('admitted');
  await expect(settle(gate.admit())).resolves.toBe('admitted');
});

test("a batch consumer's lag is the age of the oldest event in hand, a rebuild's catch-up aside, and 0 once applied", async () => {
  const queue = 'cqrs-gate.lag-probe';
  const handed: string[] = [];
  let release = () => {};
  const handleBatch = (es: Array<{ streamId: string }>) => {
    handed.push(...es.map((e) => e.streamId));
    return new Promise<void>((r) => (release = r));
  };
  const consumer = new EventConsumer(link, { queue, bindings: ['#'], prefetch: 8, maxAttempts: 2, handleBatch }, silent);
  await consumer.start();
  const conn = await amqp.connect(vhost.url);
  try {
    const ch = await conn.createChannel();
    const send = (streamId: string, ageMs: number, prefix = '') => {
      const payload = { $case: 'orderInitiated' as const, value: { orderId: streamId, userId: 1, userEmail: '', lines: [{ productId: 1, quantity: 1 }] } };
      const e = newEnvelope(streamId, 1, payload, { correlationId: 'c', causationId: 'c' }, new Date(Date.now() - ageMs));
      ch.publish(EXCHANGE, `${prefix}${routingKey(e)}`, encodeEnvelope(e), publishOptions(e));
    };
    // Sent again by a rebuild, an hour old: in hand, not counted.
    send('order-replayed', 3_600_000, CATCH_UP_PREFIX);
    await eventually(async () => (handed.includes('order-replayed') ? true : undefined), 5_000, 'the catch-up event in hand');
    expect(consumer.lagMs()).toBe(0);
    release();
    send('order-late', 3_000);
    await eventually(async () => (handed.includes('order-late') ? true : undefined), 5_000, 'the late event in hand');
    expect(consumer.lagMs()).toBeGreaterThanOrEqual(3_000);
    expect(consumer.lagMs()).toBeLessThan(3_000 + 5_000);
    release();
    await eventually(async () => (consumer.lagMs() === 0 ? true : undefined), 5_000, 'lag back to 0 once applied');
  } finally {
    release();
    await consumer.stop();
    await conn.close();
  }
});

test("a batch consumer's wait is what is left of the batch in hand and the live events behind it at what its batches cost", async () => {
  const queue = 'cqrs-gate.wait-probe';
  const handed: string[] = [];
  let handedAt = 0;
  let release = () => {};
  let finished = false;
  const handleBatch = (es: Array<{ streamId: string }>) => {
    handedAt = Date.now();
    handed.push(...es.map((e) => e.streamId));
    // Once the test is over (or failed), batches go through, so the consumer can stop.
    return finished ? Promise.resolve() : new Promise<void>((r) => (release = r));
  };
  const consumer = new EventConsumer(link, { queue, bindings: ['#'], prefetch: 16, maxAttempts: 2, handleBatch }, silent);
  await consumer.start();
  const conn = await amqp.connect(vhost.url);
  try {
    const ch = await conn.createChannel();
    const send = (streamId: string, prefix = '') => {
      const payload = { $case: 'orderInitiated' as const, value: { orderId: streamId, userId: 1, userEmail: '', lines: [{ productId: 1, quantity: 1 }] } };
      const e = newEnvelope(streamId, 1, payload, { correlationId: 'c', causationId: 'c' }, new Date(Date.now() - 1_000));
      ch.publish(EXCHANGE, `${prefix}${routingKey(e)}`, encodeEnvelope(e), publishOptions(e));
    };
    const handedOver = (id: string) => eventually(async () => (handed.includes(id) ? true : undefined), 5_000, `${id} in hand`);
    expect(consumer.waitMs()).toBe(0);
    send('w-first');
    await handedOver('w-first');
    // No batch done yet, so no rate: the head's age stands in.
    const now = Date.now();
    expect(consumer.waitMs(now)).toBe(consumer.lagMs(now));
    for (const id of ['w-1', 'w-2', 'w-3']) send(id);
    await sleep(300);
    const firstBatchMs = Date.now() - handedAt;
    release(); // the first batch took ~300 ms for one event
    await handedOver('w-3');
    send('w-rebuilt', CATCH_UP_PREFIX); // buffered behind, but a rebuild's: not counted
    await sleep(100);
    // One batch timed, of one size: its cost counts per event, but held 300 ms it is a stall, not a pace, and counts
    // only up to a few times the guess (lib/batch-cost.ts).
    const perEvent = consumer.msPerEvent()!;
    expect(perEvent).toBeGreaterThan(0);
    expect(perEvent).toBeLessThan(firstBatchMs / 2);
    // The wait: what is left of the three in hand (their cost less the time they have had), then the new event's own.
    const t = Date.now();
    expect(consumer.waitMs(t)).toBeGreaterThanOrEqual(perEvent);
    expect(consumer.waitMs(t)).toBeLessThanOrEqual(4 * perEvent);
    // Events still on the broker, beyond the prefetch, wait as long each.
    expect((consumer.waitMs(t, 6) - consumer.waitMs(t)) / perEvent).toBeCloseTo(6, 5);
    release();
    await handedOver('w-rebuilt');
    release();
    await eventually(async () => (consumer.waitMs() === 0 ? true : undefined), 5_000, 'wait back to 0 once applied');
  } finally {
    finished = true;
    release();
    await consumer.stop();
    await conn.close();
  }
});
