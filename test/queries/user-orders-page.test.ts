// ListUserOrders reads a user's order buckets newest first and stops once no
// older bucket can hold an order for the page. Against the real store, with
// buckets written by the real projector: every page equals the same slice of
// all the user's orders sorted, late orders (created long before they were
// projected) included, with and without a status filter; and the first page
// of a long history reads a few buckets, not all of them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type CommandStartedEvent } from 'mongodb';
import pino from 'pino';
import { newEnvelope } from '../../lib/envelope';
import { EventStore } from '../../lib/event-store';
import { ReadStore } from '../../lib/read-store';
import type { Envelope } from '../../lib/consumer';
import { spawnStore } from '../../kit/store';
import { stopChild, type Child } from '../../kit/processes';
import { Projector } from '../../projector-svc/projector';
import { pageUserOrders } from '../../query-svc/user-orders-page';
import { USER_BUCKET_SIZE } from '../../read-models';

const USER = 77;
const ORDERS = 10 * USER_BUCKET_SIZE + 7;
let store: Child | undefined;
let client: MongoClient | undefined;
let dataDir: string | undefined;
let read: ReadStore;
const bucketReads: string[] = [];

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'user-orders-page-'));
  const started = await spawnStore({ dataDir, timeoutMs: 20_000 });
  store = started.child;
  client = await MongoClient.connect(started.url, { monitorCommands: true });
  client.on('commandStarted', (e: CommandStartedEvent) => e.commandName === 'find' && e.command.find === 'user_orders' && bucketReads.push(String(e.command.filter?._id)));
  read = new ReadStore(client.db('page_read'));
  const projector = new Projector(read, new EventStore(client.db('page_write')), pino({ level: 'silent' }));
  const t0 = Date.parse('2026-12-01T00:00:00Z');
  // One order a second; every 9th arrives late, created two hours before it is projected.
  const events: Envelope[] = Array.from({ length: ORDERS }, (_, i) => {
    const createdAt = new Date(t0 + i * 1_000 - (i % 9 === 8 ? 7_200_000 : 0));
    const payload = { $case: 'orderInitiated' as const, value: { orderId: uuid(i), userId: USER, userEmail: '', lines: [{ productId: 1, quantity: 1 }] } };
    return newEnvelope(`order-${uuid(i)}`, 1, payload, { correlationId: `c${i}`, causationId: `c${i}` }, createdAt) as Envelope;
  });
  for (let i = 0; i < events.length; i += 50) await projector.handleBatch(events.slice(i, i + 50));
}, 60_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  if (store) await stopChild(store, 10_000);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 30_000);

async function allPages(size: number, status?: string): Promise<string[]> {
  const ids: string[] = [];
  for (let token = '', n = 0; n < 1_000; n++) {
    const page = await pageUserOrders(read, USER, status, size, token);
    expect(page.orders.length).toBeLessThanOrEqual(size);
    ids.push(...page.orders.map((o) => o.orderId));
    if (!page.nextPageToken) return ids;
    token = page.nextPageToken;
  }
  throw new Error('no last page after 1,000 pages');
}

test('paged, the user orders come newest first and each exactly once, late ones in their place', async () => {
  const orders = await read.orders.find({ user_id: USER }).toArray();
  expect(orders).toHaveLength(ORDERS);
  const expected = orders.sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || (a._id < b._id ? -1 : 1)).map((o) => o._id);
  for (const size of [1, 7, USER_BUCKET_SIZE, 50]) expect(await allPages(size)).toEqual(expected);
  expect(await allPages(10, 'PENDING')).toEqual(expected);
  expect(await allPages(10, 'PAID')).toEqual([]);
});

test('the first page of a long history reads a few buckets, not all', async () => {
  const summary = await read.userSummaries.findOne({ user_id: USER });
  expect(summary!.order_buckets).toBe(Math.ceil(ORDERS / USER_BUCKET_SIZE));
  bucketReads.length = 0;
  const page = await pageUserOrders(read, USER, undefined, 10, '');
  expect(page.orders).toHaveLength(10);
  expect(bucketReads.length).toBeGreaterThan(0);
  expect(bucketReads.length).toBeLessThanOrEqual(4);
});
