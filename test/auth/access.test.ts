// Authentication and authorization on a real mesh with AUTH=on: every bad
// token and every reach into another user's data gets the right status
// through gRPC and through the edge, and stores and publishes nothing; each
// role can do what it may. Tokens come from a local key published as a JWKS
// file, as a provider's would be.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import * as cmd from '../../gen/ts/cqrs/v1/command_service';
import * as qry from '../../gen/ts/cqrs/v1/query_service';
import { localAuth, type LocalAuth } from '../../kit/auth-keys';
import { call, clients } from '../../kit/clients';
import { eventually } from '../../kit/wait';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { EventTap, writeStoreCounts } from '../e2e/helpers';
import { getJson, postJson } from '../support/http';
import { healthCheck } from '../support/metrics';
import { findTool, GRPCURL } from '../support/tools';

const PRODUCT = 880;
const dir = mkdtempSync(join(tmpdir(), 'cqrs-auth-'));
let auth: LocalAuth;
let stranger: LocalAuth;
let mesh: TestMesh;
let grpc: ReturnType<typeof clients>;
let mongo: MongoClient;
const tokens: Record<'staff' | 'service' | 'alice' | 'bob', string> = { staff: '', service: '', alice: '', bob: '' };
const ALICE = 101;
const BOB = 202;

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const edge = (path: string) => `${mesh.urls.edge}${path}`;
const c = () => grpc.command;
const q = () => grpc.query;

async function failure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('the call succeeded');
}

const createOrder = (userId: number, md: Record<string, string>) =>
  call<cmd.CreateOrderRequest, cmd.CreateOrderResponse>(c(), c().createOrder, cmd.CreateOrderRequest.fromPartial({ userId, productId: PRODUCT, quantity: 1 }), md);
const getOrder = (orderId: string, md: Record<string, string>) => call<qry.GetOrderRequest, qry.GetOrderResponse>(q(), q().getOrder, qry.GetOrderRequest.fromPartial({ orderId }), md);

/** The write store's counts once nothing is in flight (an earlier test's reactions, such as the order process's after a payment, may still be). */
const quietCounts = () => eventually(async () => {
  const n = await writeStoreCounts(mongo);
  await new Promise((r) => setTimeout(r, 400));
  const again = await writeStoreCounts(mongo);
  return n.outbox === 0 && again.commits === n.commits && again.outbox === 0 ? n : undefined;
}, 15_000, 'the write store to go quiet');

/** An unsigned token (alg none) claiming to be staff. */
function unsigned(): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1_000);
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: 'mallory', roles: ['staff'], iss: auth.issuer, aud: auth.audience, exp: now + 600 })}.`;
}

beforeAll(async () => {
  auth = await localAuth(join(dir, 'keys'));
  stranger = await localAuth(join(dir, 'stranger'));
  tokens.staff = await auth.mint('staff-1', ['staff']);
  tokens.service = await auth.mint('order-tools', ['service']);
  tokens.alice = await auth.mint(String(ALICE), ['customer']);
  tokens.bob = await auth.mint(String(BOB), ['customer']);
  mesh = await startTestMesh({ vhostPrefix: 'cqrs-auth', env: { 'command-svc': auth.env, 'query-svc': auth.env } });
  grpc = clients(mesh.urls.command, mesh.urls.query);
  mongo = new MongoClient(mesh.urls.mongo, { serverSelectionTimeoutMS: 5_000, retryWrites: false });
  await mongo.connect();
  const stocked = await postJson(edge('/cqrs/commands/inventory'), { product_id: PRODUCT, product_name: 'Lock', unit_price: 5, quantity: 1_000 }, bearer(tokens.staff));
  expect(stocked.status).toBe(200);
}, 120_000);

afterAll(async () => {
  grpc?.close();
  await mongo?.close();
  await mesh?.teardown();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('no valid token: UNAUTHENTICATED / 401 with WWW-Authenticate, nothing stored or published', () => {
  const bad: Array<[string, () => Promise<Record<string, string>>, RegExp]> = [
    ['no token', async () => ({}), /bearer token is required/],
    ['not a bearer value', async () => ({ authorization: 'Basic YWxpY2U6c2VjcmV0' }), /not "Bearer <JWT>"/],
    ['expired', async () => bearer(await auth.mint(String(ALICE), ['customer'], { ttlSeconds: -120 })), /"exp" claim timestamp check failed/],
    ['not yet valid', async () => bearer(await auth.mint(String(ALICE), ['customer'], { notBeforeSeconds: 600 })), /"nbf" claim timestamp check failed/],
    ['wrong issuer', async () => bearer(await auth.mint(String(ALICE), ['customer'], { issuer: 'https://evil.example' })), /unexpected "iss" claim value/],
    ['wrong audience', async () => bearer(await auth.mint(String(ALICE), ['customer'], { audience: 'another-api' })), /unexpected "aud" claim value/],
    ['signed by another key', async () => bearer(await stranger.mint(String(ALICE), ['customer'])), /no applicable key found/],
    ['signature altered', async () => bearer(`${tokens.alice.slice(0, -6)}${tokens.alice.slice(-6).split('').reverse().join('')}`), /signature verification failed|invalid token/],
    ['alg none', async () => bearer(unsigned()), /invalid token/],
    ['no known role', async () => bearer(await auth.mint(String(ALICE), ['admin' as never])), /names none of the roles/],
  ];

  test.each(bad)('%s', async (_name, md, reason) => {
    const headers = await md();
    const before = await quietCounts();
    const tap = await EventTap.open(mesh.urls.amqp);
    try {
      const err = await failure(createOrder(ALICE, headers));
      expect([err.code, err.details]).toEqual([status.UNAUTHENTICATED, expect.stringMatching(reason)]);
      const r = await postJson(edge('/cqrs/commands/orders'), { user_id: ALICE, product_id: PRODUCT, quantity: 1 }, headers);
      expect(r.status).toBe(401);
      expect(r.body.message).toMatch(reason);
      const challenge = r.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(new RegExp(`^Bearer realm="${mesh.urls.edge}/cqrs/commands/orders"`));
      expect(challenge.includes('error="invalid_token"')).toBe(Object.keys(headers).length > 0);
      const read = await getJson(edge(`/cqrs/queries/users/${ALICE}/summary`), headers);
      expect(read.status).toBe(401);
      await new Promise((r) => setTimeout(r, 200));
      expect(await writeStoreCounts(mongo)).toEqual(before);
      expect(tap.messages).toHaveLength(0);
    } finally {
      await tap.close();
    }
  });

  test('reflection stays open: grpcurl lists the services without a token', async () => {
    const out = execFileSync(findTool(GRPCURL), ['-plaintext', mesh.urls.command, 'list'], { encoding: 'utf8', timeout: 20_000 });
    expect(out.split('\n')).toEqual(expect.arrayContaining(['cqrs.v1.CommandService', 'grpc.health.v1.Health']));
  });

  test('health stays open', async () => {
    expect(await healthCheck(mesh.urls.command)).toBe('SERVING');
    expect(await healthCheck(mesh.urls.query)).toBe('SERVING');
    expect((await getJson(edge('/cqrs/queries/health'))).status).toBe(200);
    expect((await getJson(edge('/cqrs/commands/health'))).status).toBe(200);
  });
});

describe('a customer, within their own data only', () => {
  let aliceOrder = '';

  beforeAll(async () => {
    const r = await postJson(edge('/cqrs/commands/orders'), { user_id: ALICE, product_id: PRODUCT, quantity: 2 }, bearer(tokens.alice));
    expect(r.status).toBe(200);
    aliceOrder = r.body.order_id;
    await eventually(async () => ((await getJson(edge(`/cqrs/queries/orders/${aliceOrder}`), bearer(tokens.alice))).body.status === 'VALIDATED' ? true : undefined), 20_000, 'alice order VALIDATED');
  }, 60_000);

  test('reads, pays and sees their own order and summary', async () => {
    expect((await getJson(edge(`/cqrs/queries/users/${ALICE}/summary`), bearer(tokens.alice))).status).toBe(200);
    expect((await getJson(edge(`/cqrs/queries/users/${ALICE}/orders`), bearer(tokens.alice))).status).toBe(200);
    expect((await getJson(edge('/cqrs/queries/inventory'), bearer(tokens.alice))).status).toBe(200);
    const paid = await postJson(edge('/cqrs/commands/payments'), { order_id: aliceOrder, method: 'CREDIT_CARD', amount: 10 }, bearer(tokens.alice));
    expect([paid.status, paid.body.status]).toEqual([200, 'PAID']);
  });

  test("another user's order is indistinguishable from a missing one, and nothing changes", async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const theirs = await getJson(edge(`/cqrs/queries/orders/${aliceOrder}`), bearer(tokens.bob));
    const none = await getJson(edge(`/cqrs/queries/orders/${missing}`), bearer(tokens.bob));
    expect([theirs.status, theirs.body.message]).toEqual([404, none.body.message.replace(missing, aliceOrder)]);
    const grpcTheirs = await failure(getOrder(aliceOrder, bearer(tokens.bob)));
    expect(grpcTheirs.code).toBe(status.NOT_FOUND);

    const before = await quietCounts();
    const tap = await EventTap.open(mesh.urls.amqp);
    try {
      const cancel = await postJson(edge(`/cqrs/commands/orders/${aliceOrder}/cancel`), { reason: 'mine now' }, bearer(tokens.bob));
      const cancelMissing = await postJson(edge(`/cqrs/commands/orders/${missing}/cancel`), { reason: 'x' }, bearer(tokens.bob));
      expect([cancel.status, cancel.body.message]).toEqual([404, cancelMissing.body.message]);
      const pay = await postJson(edge('/cqrs/commands/payments'), { order_id: aliceOrder, method: 'CREDIT_CARD', amount: 10 }, bearer(tokens.bob));
      expect(pay.status).toBe(404);
      await new Promise((r) => setTimeout(r, 200));
      expect(await writeStoreCounts(mongo)).toEqual(before);
      expect(tap.messages).toHaveLength(0);
    } finally {
      await tap.close();
    }
  });

  test("another user's id, staff work and statistics: PERMISSION_DENIED / 403, and nothing changes", async () => {
    const before = await quietCounts();
    const tap = await EventTap.open(mesh.urls.amqp);
    try {
      const denied: Array<Promise<{ status: number }>> = [
        getJson(edge(`/cqrs/queries/users/${ALICE}/summary`), bearer(tokens.bob)),
        getJson(edge(`/cqrs/queries/users/${ALICE}/orders`), bearer(tokens.bob)),
        postJson(edge('/cqrs/commands/orders'), { user_id: ALICE, product_id: PRODUCT, quantity: 1 }, bearer(tokens.bob)),
        postJson(edge('/cqrs/commands/inventory'), { product_id: PRODUCT, quantity: 5 }, bearer(tokens.bob)),
        postJson(edge(`/cqrs/commands/orders/${aliceOrder}/ship`), { tracking_number: 'T1' }, bearer(tokens.alice)),
        getJson(edge('/cqrs/queries/statistics/orders'), bearer(tokens.alice)),
        getJson(edge('/cqrs/queries/orders'), bearer(tokens.alice)),
      ];
      expect((await Promise.all(denied)).map((r) => r.status)).toEqual([403, 403, 403, 403, 403, 403, 403]);
      const err = await failure(createOrder(ALICE, bearer(tokens.bob)));
      expect([err.code, err.details]).toEqual([status.PERMISSION_DENIED, `user_id ${ALICE} is not the caller's own (${BOB})`]);
      const stock = await failure(call(c(), c().updateInventory, cmd.UpdateInventoryRequest.fromPartial({ productId: PRODUCT, quantity: 1 }), bearer(tokens.bob)));
      expect(stock.code).toBe(status.PERMISSION_DENIED);
      await new Promise((r) => setTimeout(r, 200));
      expect(await writeStoreCounts(mongo)).toEqual(before);
      expect(tap.messages).toHaveLength(0);
    } finally {
      await tap.close();
    }
  });
});

describe('staff and services', () => {
  test('staff read every user and the statistics, stock, ship and complete', async () => {
    const r = await postJson(edge('/cqrs/commands/orders'), { user_id: BOB, product_id: PRODUCT, quantity: 1 }, bearer(tokens.bob));
    expect(r.status).toBe(200);
    const id = r.body.order_id;
    await eventually(async () => ((await getJson(edge(`/cqrs/queries/orders/${id}`), bearer(tokens.staff))).body.status === 'VALIDATED' ? true : undefined), 20_000, 'bob order VALIDATED');
    expect((await postJson(edge('/cqrs/commands/payments'), { order_id: id, method: 'CREDIT_CARD', amount: 5 }, bearer(tokens.bob))).status).toBe(200);
    expect((await postJson(edge(`/cqrs/commands/orders/${id}/ship`), { tracking_number: 'T-9' }, bearer(tokens.staff))).status).toBe(200);
    expect((await postJson(edge(`/cqrs/commands/orders/${id}/complete`), {}, bearer(tokens.staff))).status).toBe(200);
    await eventually(async () => ((await getJson(edge(`/cqrs/queries/users/${BOB}/summary`), bearer(tokens.staff))).status === 200 ? true : undefined), 20_000, 'bob summary');
    expect((await getJson(edge('/cqrs/queries/statistics/orders'), bearer(tokens.staff))).status).toBe(200);
    expect((await getJson(edge('/cqrs/queries/orders'), bearer(tokens.staff))).status).toBe(200);
  }, 60_000);

  test('a service credential may act for any user', async () => {
    const res = await createOrder(ALICE, bearer(tokens.service));
    expect(res.orderId).toBeTruthy();
    const inv = await call<qry.GetProductInventoryRequest, qry.GetProductInventoryResponse>(q(), q().getProductInventory, qry.GetProductInventoryRequest.fromPartial({ productId: PRODUCT }), bearer(tokens.service));
    expect(inv.item?.productId).toBe(PRODUCT);
  });
});

describe('reflection can be turned off', () => {
  test('GRPC_REFLECTION=off: grpcurl cannot list, health still answers', async () => {
    const alone = await mesh.instance('query-svc', { ...auth.env, GRPC_REFLECTION: 'off' });
    const r = spawnSync(findTool(GRPCURL), ['-plaintext', alone.addr!, 'list'], { encoding: 'utf8', timeout: 20_000 });
    expect([r.status === 0, `${r.stdout}${r.stderr}`]).toEqual([false, expect.stringMatching(/does not support the reflection API|unknown service grpc.reflection/i)]);
    expect(await healthCheck(alone.addr!)).toBe('SERVING');
  }, 60_000);
});
