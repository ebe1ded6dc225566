// Client deadlines, from the edge to the services, and honoured there: a
// command held at the read-side gate whose client gave up (its grpc-timeout
// through the edge, its gRPC deadline, or a cancel) never runs when the gate
// opens. The gate is held deterministically: the projector is paused with
// the kit's FAULT_PAUSE_FILE hook from the start, so it holds the first event
// it gets and, having applied nothing yet, reports that event's growing age
// as its wait: past MAX_PROJECTION_LAG_MS, client commands wait.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { CreateOrderRequest } from '../../gen/ts/cqrs/v1/command_service';
import { GetOrderRequest } from '../../gen/ts/cqrs/v1/query_service';
import { upstreamDeadline, grpcTimeoutMs } from '../../edge/deadline';
import { clients } from '../../kit/clients';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { eventually, sleep } from '../../kit/wait';
import { postJson } from '../support/http';

describe('the client timeout the edge takes', () => {
  test('grpc-timeout in each unit; malformed values are ignored', () => {
    expect(grpcTimeoutMs('500m')).toBe(500);
    expect(grpcTimeoutMs('2S')).toBe(2_000);
    expect(grpcTimeoutMs('1M')).toBe(60_000);
    expect(grpcTimeoutMs('1H')).toBe(3_600_000);
    expect(grpcTimeoutMs('250000u')).toBe(250);
    expect(grpcTimeoutMs('10000000n')).toBe(10);
    for (const bad of [undefined, '', '5', '5s', '-1S', '123456789S', 'soon']) expect(grpcTimeoutMs(bad)).toBeUndefined();
  });

  test("the upstream deadline is the client's when shorter, the edge's own otherwise", () => {
    const now = 1_000_000;
    expect(upstreamDeadline({ 'grpc-timeout': '300m' }, 15_000, now).getTime()).toBe(now + 300);
    expect(upstreamDeadline({ 'grpc-timeout': '60S' }, 15_000, now).getTime()).toBe(now + 15_000);
    expect(upstreamDeadline({}, 15_000, now).getTime()).toBe(now + 15_000);
  });
});

describe('a command whose client gave up while it was held at the read-side gate', () => {
  let mesh: TestMesh;
  let grpc: ReturnType<typeof clients>;
  let mongo: MongoClient;
  let dir: string;
  let pause: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cqrs-deadline-'));
    pause = join(dir, 'pause');
    writeFileSync(pause, '');
    mesh = await startTestMesh({
      vhostPrefix: 'cqrs-deadline',
      env: { 'projector-svc': { FAULT_PAUSE_FILE: pause }, 'command-svc': { MAX_PROJECTION_LAG_MS: '300' } },
    });
    grpc = clients(mesh.urls.command, mesh.urls.query);
    mongo = new MongoClient(mesh.urls.mongo, { serverSelectionTimeoutMS: 5_000, retryWrites: false });
    await mongo.connect();
  }, 120_000);

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    grpc?.close();
    await mongo?.close();
    await mesh?.teardown();
  }, 60_000);

  const orderStreams = async () => {
    const docs = await mongo.db('cqrs_write').collection('commits').find({}, { projection: { stream_id: 1 } }).toArray();
    return new Set(docs.map((d) => String(d.stream_id)).filter((s) => s.startsWith('order-')));
  };

  function createOrder(userId: number, opts: { deadlineMs?: number; cancelAfterMs?: number } = {}): Promise<{ orderId?: string; err?: ServiceError }> {
    const req = CreateOrderRequest.fromPartial({ userId, productId: 8001, quantity: 1 });
    return new Promise((resolve) => {
      const call = grpc.command.createOrder(req, new Metadata(), opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {}, (err, res) => resolve(err ? { err } : { orderId: res.orderId }));
      if (opts.cancelAfterMs) setTimeout(() => call.cancel(), opts.cancelAfterMs);
    });
  }

  test('does not create an order when the gate opens: grpc-timeout through the edge, a gRPC deadline, a cancel', async () => {
    // The paused projector takes this event in hand and sits on it: its wait grows past the gate's bound.
    const stocked = await postJson(`${mesh.urls.edge}/cqrs/commands/inventory`, { product_id: 8001, product_name: 'Gate widget', unit_price: 2, quantity: 100, low_stock_threshold: 1 });
    expect(stocked.status).toBe(200);
    await eventually(async () => (mesh.logs.some((l) => l.startsWith('command-svc') && l.includes('holding client commands')) ? true : undefined), 20_000, 'the gate to hold client commands');
    const before = await orderStreams();

    // Held at the gate past the client's deadline: 504 at the edge (the gate alone would answer 503 after 5 s).
    const rest = await postJson(`${mesh.urls.edge}/cqrs/commands/orders`, { user_id: 5551, product_id: 8001, quantity: 1 }, { 'grpc-timeout': '400m' });
    expect(rest.status).toBe(504);
    expect(rest.body).toMatchObject({ code: status.DEADLINE_EXCEEDED });
    const late = await createOrder(5552, { deadlineMs: 400 });
    expect(late.err?.code).toBe(status.DEADLINE_EXCEEDED);
    const cancelled = await createOrder(5553, { cancelAfterMs: 300 });
    expect(cancelled.err?.code).toBe(status.CANCELLED);
    await eventually(async () => (mesh.logs.filter((l) => l.includes('call abandoned: the client gave up')).length >= 3 ? true : undefined), 10_000, 'command-svc to drop the three held calls');

    // The projector goes on, the gate opens; a command after that goes through and is read back.
    rmSync(pause);
    const after = await createOrder(5554);
    expect(after.orderId).toBeDefined();
    await eventually(async () => {
      const r = await new Promise<boolean>((resolve) => grpc.query.getOrder(GetOrderRequest.fromPartial({ orderId: after.orderId! }), (err, res) => resolve(!err && res.order?.orderId === after.orderId)));
      return r ? true : undefined;
    }, 20_000, 'the later order in the read model');
    await sleep(1_000); // anything released with the gate would have been written by now

    const created = [...(await orderStreams())].filter((s) => !before.has(s));
    expect(created).toEqual([`order-${after.orderId}`]);
  });
});
