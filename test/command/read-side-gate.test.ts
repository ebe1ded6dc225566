// The read-side gate against the real broker: client commands wait while the
// projector's queue is deeper than the bound, go on once it drains, and are
// refused as UNAVAILABLE when it does not drain in time.
import amqp from 'amqplib';
import pino from 'pino';
import { AmqpConnection } from '../../lib/amqp';
import { PROJECTOR_QUEUE } from '../../lib/consumer';
import { UnavailableError } from '../../lib/grpc-errors';
import { ReadSideGate } from '../../command-svc/read-side-gate';
import { createVhost, type TestVhost } from '../../kit/rabbit';
import { sleep } from '../../kit/wait';

const QUEUE = PROJECTOR_QUEUE;
let vhost: TestVhost;
let conn: amqp.ChannelModel;
let ch: amqp.Channel;
let link: AmqpConnection;
let gate: ReadSideGate;

beforeAll(async () => {
  vhost = createVhost('cqrs-gate');
  conn = await amqp.connect(vhost.url);
  ch = await conn.createChannel();
  await ch.assertQueue(QUEUE, { durable: false });
  link = new AmqpConnection(vhost.url, pino({ level: 'silent' }));
  await link.connect();
  gate = new ReadSideGate(link, { queue: QUEUE, maxBacklog: 5, maxWaitMs: 1_500, pollMs: 20 }, pino({ level: 'silent' }));
  await gate.start();
}, 20_000);

afterAll(async () => {
  gate?.stop();
  await link?.close();
  await conn?.close();
  vhost?.remove();
});

const fill = async (n: number) => {
  for (let i = 0; i < n; i++) ch.sendToQueue(QUEUE, Buffer.from('x'));
  // Until the broker counts them (bounded).
  for (let t = Date.now(); (await ch.checkQueue(QUEUE)).messageCount < n && Date.now() - t < 5_000; ) await sleep(20);
};
const settle = (p: Promise<unknown>) => p.then(() => 'admitted', (e) => (e instanceof UnavailableError ? 'unavailable' : `error: ${e}`));

test('a shallow queue admits at once', async () => {
  await ch.purgeQueue(QUEUE);
  await sleep(100);
  await expect(settle(gate.admit())).resolves.toBe('admitted');
});

test('a deep queue holds commands until it drains below the bound', async () => {
  await fill(20);
  await sleep(100);
  let state = 'waiting';
  const held = settle(gate.admit()).then((s) => (state = s));
  await sleep(300);
  expect(state).toBe('waiting');
  await ch.purgeQueue(QUEUE);
  await expect(held).resolves.toBe('admitted');
});

test('a queue that stays deep gets UNAVAILABLE after the wait bound', async () => {
  await fill(20);
  await sleep(100);
  const t0 = Date.now();
  await expect(settle(gate.admit())).resolves.toBe('unavailable');
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400);
  await ch.purgeQueue(QUEUE);
});
