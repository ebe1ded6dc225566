// Per-client rate limiting of client commands (lib/rate-limit.ts) on whole
// meshes with RATE_LIMIT_PER_SECOND=1 and RATE_LIMIT_BURST=3: the fourth
// command in a burst is refused as RESOURCE_EXHAUSTED with retry-after over
// gRPC and as 429 with Retry-After through the edge; nothing of it is
// stored; other clients are not held back; queries are not limited; and the
// client is served again once its bucket refilled. With auth on a client is
// its token's subject; with auth off its address, and neither a made-up
// X-Forwarded-For nor a made-up x-cqrs-subject buys a fresh bucket. The
// token bucket itself is checked on a clock the test moves.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { productStream } from '../../domain/events';
import { localAuth, type LocalAuth } from '../../kit/auth-keys';
import { clients } from '../../kit/clients';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { sleep } from '../../kit/wait';
import { clientKey, TokenBuckets } from '../../lib/rate-limit';
import { getJson, postJson } from '../support/http';

describe('the token bucket', () => {
  test('a burst, then one per 1/rate seconds, with the wait until the next token', () => {
    const b = new TokenBuckets(2, 3);
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) expect(b.take('k', t0)).toEqual({ ok: true });
    expect(b.take('k', t0)).toEqual({ ok: false, retryAfterS: 1 });
    expect(b.take('k', t0 + 400)).toEqual({ ok: false, retryAfterS: 1 });
    expect(b.take('k', t0 + 500)).toEqual({ ok: true });
    expect(b.take('k', t0 + 500)).toEqual({ ok: false, retryAfterS: 1 });
    // Refills up to the burst, never beyond.
    for (let i = 0; i < 3; i++) expect(b.take('k', t0 + 60_000)).toEqual({ ok: true });
    expect(b.take('k', t0 + 60_000).ok).toBe(false);
  });

  test('a slow rate says how many seconds to wait', () => {
    const b = new TokenBuckets(0.25, 1);
    expect(b.take('k', 0).ok).toBe(true);
    expect(b.take('k', 0)).toEqual({ ok: false, retryAfterS: 4 });
    expect(b.take('k', 3_000)).toEqual({ ok: false, retryAfterS: 1 });
  });

  test('clients have their own buckets, and refilled ones are forgotten', () => {
    const b = new TokenBuckets(1, 1, 4);
    expect(b.take('a', 0).ok).toBe(true);
    expect(b.take('a', 0).ok).toBe(false);
    expect(b.take('b', 0).ok).toBe(true);
    expect(b.take('c', 10_000).ok).toBe(true); // the 4th take sweeps: a and b have refilled
    expect(b.size).toBe(1);
  });

  test('the key: the authenticated subject, else the address the nearest proxy saw, else the peer', () => {
    expect(clientKey({ 'x-cqrs-subject': 'u-1', 'x-forwarded-for': '10.0.0.1' }, '127.0.0.1:5000')).toBe('subject:u-1');
    expect(clientKey({ 'x-forwarded-for': '6.6.6.6, 10.0.0.1' }, '127.0.0.1:5000')).toBe('addr:10.0.0.1');
    expect(clientKey({}, '127.0.0.1:5000')).toBe('addr:127.0.0.1');
    expect(clientKey({}, '[::1]:5000')).toBe('addr:[::1]');
    // Authentication off: nothing vouches for a subject.
    expect(clientKey({ 'x-cqrs-subject': 'u-1' }, '127.0.0.1:5000', false)).toBe('addr:127.0.0.1');
  });
});

const LIMIT = { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '3' };
const item = (productId: number) => ({ productId, productName: 'Limited', unitPrice: 1, quantity: 5, lowStockThreshold: 1 });

/** One mesh for a describe block, with a store client to count commits. */
function limitedMesh(env: () => Promise<NodeJS.ProcessEnv>) {
  const m = {} as { mesh: TestMesh; grpc: ReturnType<typeof clients>; mongo: MongoClient };
  beforeAll(async () => {
    const extra = await env();
    m.mesh = await startTestMesh({ vhostPrefix: 'cqrs-limit', env: { 'command-svc': { ...LIMIT, ...extra }, 'query-svc': extra } });
    m.grpc = clients(m.mesh.urls.command, m.mesh.urls.query);
    m.mongo = new MongoClient(m.mesh.urls.mongo, { serverSelectionTimeoutMS: 5_000, retryWrites: false });
    await m.mongo.connect();
  }, 120_000);
  afterAll(async () => {
    m.grpc?.close();
    await m.mongo?.close();
    await m.mesh?.teardown();
  }, 60_000);
  return m;
}

/** UpdateInventory with this metadata: the error, or undefined when it was accepted. */
function stock(grpc: ReturnType<typeof clients>, productId: number, metadata: Record<string, string> = {}): Promise<ServiceError | undefined> {
  const md = new Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => grpc.command.updateInventory(item(productId), md, { deadline: Date.now() + 10_000 }, (err) => resolve(err ?? undefined)));
}

const commitsOf = (mongo: MongoClient, productId: number) => mongo.db('cqrs_write').collection('commits').countDocuments({ stream_id: productStream(productId) });

const postStock = (edge: string, productId: number, headers?: Record<string, string>) =>
  postJson(`${edge}/cqrs/commands/inventory`, { product_id: productId, product_name: 'Limited', unit_price: 1, quantity: 5, low_stock_threshold: 1 }, headers);

describe('auth on, 1 command per second and burst 3: a bucket per token subject', () => {
  let dir: string;
  let auth: LocalAuth;
  const m = limitedMesh(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cqrs-limit-auth-'));
    auth = await localAuth(dir);
    return auth.env;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const as = async (subject: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${await auth.mint(subject, ['staff'])}`, ...extra });

  test('over gRPC: the fourth command is RESOURCE_EXHAUSTED with retry-after, stored nowhere; a made-up x-cqrs-subject is no way out; another user goes on; it recovers', async () => {
    const alice = await as('alice');
    for (const p of [7001, 7002, 7003]) expect(await stock(m.grpc, p, alice)).toBeUndefined();
    const refused = await stock(m.grpc, 7004, alice);
    expect(refused?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused?.metadata.get('retry-after')).toEqual(['1']);
    expect(refused?.details).toMatch(/rate limit/);
    // The interceptor drops a subject the client sends: the token's counts.
    expect((await stock(m.grpc, 7006, await as('alice', { 'x-cqrs-subject': 'someone-else' })))?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(await commitsOf(m.mongo, 7004)).toBe(0);
    expect(await commitsOf(m.mongo, 7006)).toBe(0);
    expect(await commitsOf(m.mongo, 7003)).toBe(1);

    // Bob has his own bucket.
    expect(await stock(m.grpc, 7005, await as('bob'))).toBeUndefined();

    // After the wait it asked for, Alice is served again.
    await sleep(Number(refused!.metadata.get('retry-after')[0]) * 1_000);
    expect(await stock(m.grpc, 7004, alice)).toBeUndefined();
    expect(await commitsOf(m.mongo, 7004)).toBe(1);
  });

  test('through the edge: 429 with Retry-After for the same user, whatever connection it comes on', async () => {
    const carol = await as('carol');
    for (const p of [7201, 7202, 7203]) expect((await postStock(m.mesh.urls.edge, p, carol)).status).toBe(200);
    const refused = await postStock(m.mesh.urls.edge, 7204, carol);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await commitsOf(m.mongo, 7204)).toBe(0);
    // Dave, through the same edge from the same address, is not held back by Carol.
    expect((await postStock(m.mesh.urls.edge, 7205, await as('dave'))).status).toBe(200);
  });
});

describe('auth off, 1 command per second and burst 3: a bucket per client address', () => {
  const m = limitedMesh(async () => ({}));

  test('through the edge: 429 with Retry-After, keyed by the client address whatever X-Forwarded-For or x-cqrs-subject it sends; queries are not limited; it recovers', async () => {
    const edge = m.mesh.urls.edge;
    for (const p of [7101, 7102, 7103]) expect((await postStock(edge, p)).status).toBe(200);
    const refused = await postStock(edge, 7104);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toMatchObject({ code: status.RESOURCE_EXHAUSTED, message: expect.stringMatching(/rate limit/) });
    // A made-up X-Forwarded-For does not buy a fresh bucket: the edge appends the real peer, and that is the key.
    expect((await postStock(edge, 7105, { 'x-forwarded-for': '203.0.113.9' })).status).toBe(429);
    // Nor does a subject nobody vouched for, through the edge or over gRPC.
    expect((await postStock(edge, 7106, { 'x-cqrs-subject': 'fresh' })).status).toBe(429);
    expect((await stock(m.grpc, 7107, { 'x-cqrs-subject': 'fresh' }))?.code).toBe(status.RESOURCE_EXHAUSTED);
    for (const p of [7104, 7105, 7106, 7107]) expect(await commitsOf(m.mongo, p)).toBe(0);

    for (let i = 0; i < 10; i++) expect((await getJson(`${edge}/cqrs/queries/inventory`)).status).toBe(200);

    await sleep(1_000);
    expect((await postStock(edge, 7104)).status).toBe(200);
    expect(await commitsOf(m.mongo, 7104)).toBe(1);
  });
});
