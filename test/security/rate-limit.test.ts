// Per-client rate limiting of client commands (lib/rate-limit.ts) on a whole
// mesh with RATE_LIMIT_PER_SECOND=1 and RATE_LIMIT_BURST=3: the fourth
// command in a burst is refused as RESOURCE_EXHAUSTED with retry-after over
// gRPC and as 429 with Retry-After through the edge; nothing of it is
// stored; other clients are not held back; queries are not limited; and the
// client is served again once its bucket refilled. The token bucket itself
// is checked on a clock the test moves.
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { productStream } from '../../domain/events';
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
  });
});

describe('on a mesh limited to 1 command per second, burst 3', () => {
  let mesh: TestMesh;
  let grpc: ReturnType<typeof clients>;
  let mongo: MongoClient;

  beforeAll(async () => {
    mesh = await startTestMesh({ vhostPrefix: 'cqrs-limit', env: { 'command-svc': { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '3' } } });
    grpc = clients(mesh.urls.command, mesh.urls.query);
    mongo = new MongoClient(mesh.urls.mongo, { serverSelectionTimeoutMS: 5_000, retryWrites: false });
    await mongo.connect();
  }, 120_000);

  afterAll(async () => {
    grpc?.close();
    await mongo?.close();
    await mesh?.teardown();
  }, 60_000);

  const item = (productId: number) => ({ productId, productName: 'Limited', unitPrice: 1, quantity: 5, lowStockThreshold: 1 });

  /** UpdateInventory as `subject`: the error, or undefined when it was accepted. */
  function stockAs(subject: string, productId: number): Promise<ServiceError | undefined> {
    const md = new Metadata();
    md.set('x-cqrs-subject', subject);
    return new Promise((resolve) => grpc.command.updateInventory(item(productId), md, { deadline: Date.now() + 10_000 }, (err) => resolve(err ?? undefined)));
  }

  const commitsOf = (productId: number) => mongo.db('cqrs_write').collection('commits').countDocuments({ stream_id: productStream(productId) });

  test('over gRPC: the fourth command is RESOURCE_EXHAUSTED with retry-after, stored nowhere; another client goes on; it recovers', async () => {
    for (const p of [7001, 7002, 7003]) expect(await stockAs('alice', p)).toBeUndefined();
    const refused = await stockAs('alice', 7004);
    expect(refused?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused?.metadata.get('retry-after')).toEqual(['1']);
    expect(refused?.details).toMatch(/rate limit/);
    expect(await commitsOf(7004)).toBe(0);
    expect(await commitsOf(7003)).toBe(1);

    // Bob has his own bucket.
    expect(await stockAs('bob', 7005)).toBeUndefined();

    // After the wait it asked for, Alice is served again.
    await sleep(Number(refused!.metadata.get('retry-after')[0]) * 1_000);
    expect(await stockAs('alice', 7004)).toBeUndefined();
    expect(await commitsOf(7004)).toBe(1);
  });

  test('through the edge: 429 with Retry-After, keyed by the client address whatever X-Forwarded-For it sends; queries are not limited; it recovers', async () => {
    const post = (productId: number, headers?: Record<string, string>) =>
      postJson(`${mesh.urls.edge}/cqrs/commands/inventory`, { product_id: productId, product_name: 'Limited', unit_price: 1, quantity: 5, low_stock_threshold: 1 }, headers);
    for (const p of [7101, 7102, 7103]) expect((await post(p)).status).toBe(200);
    const refused = await post(7104);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toMatchObject({ code: status.RESOURCE_EXHAUSTED, message: expect.stringMatching(/rate limit/) });
    // A made-up X-Forwarded-For does not buy a fresh bucket: the edge appends the real peer, and that is the key.
    expect((await post(7105, { 'x-forwarded-for': '203.0.113.9' })).status).toBe(429);
    expect(await commitsOf(7104)).toBe(0);
    expect(await commitsOf(7105)).toBe(0);

    for (let i = 0; i < 10; i++) expect((await getJson(`${mesh.urls.edge}/cqrs/queries/inventory`)).status).toBe(200);

    await sleep(1_000);
    expect((await post(7104)).status).toBe(200);
    expect(await commitsOf(7104)).toBe(1);
  });
});
