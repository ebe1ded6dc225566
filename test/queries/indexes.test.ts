// Every query the read side serves, and what the store does with it.
// GetOrder, GetUserSummary, GetProductInventory, GetOrderStatistics and
// ListUserOrders (the summary, the user's order buckets, then each order) are lookups by _id, which FerretDB's
// SQLite backend pushes down to its primary key. The secondary indexes are
// created at start-up for a real MongoDB (ListOrders by status, low-stock
// inventory); FerretDB v1 on SQLite pushes down no other filter, which the
// last test records so a change of store is noticed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Document } from 'mongodb';
import { READ_DB } from '../../lib/mongo';
import { stopChild, type Child } from '../../kit/processes';
import { spawnStore } from '../../kit/store';
import { ReadStore } from '../../lib/read-store';
import { numericKey } from '../../read-models';

let store: Child;
let client: MongoClient;
let read: ReadStore;
const dir = mkdtempSync(join(tmpdir(), 'cqrs-indexes-'));

beforeAll(async () => {
  const started = await spawnStore({ dataDir: dir, timeoutMs: 20_000 });
  store = started.child;
  const url = started.url;
  client = await new MongoClient(url, { serverSelectionTimeoutMS: 5_000 }).connect();
  read = await ReadStore.open(client.db(READ_DB));
  await read.ensureIndexes();
  // explain reports pushdown only for collections that exist.
  await read.userSummaries.insertOne({ _id: numericKey(1) } as never);
  await read.stats.insertOne({ _id: 'all' } as never);
  await read.userOrders.insertOne({ _id: `${numericKey(1)}:000000` } as never);
}, 30_000);

afterAll(async () => {
  await client?.close();
  if (store) await stopChild(store);
  rmSync(dir, { recursive: true, force: true });
});

const pushedDown = (plan: Document) => plan.filterPushdown === true;

test('start-up creates every index the list queries need, and again without complaint', async () => {
  await read.ensureIndexes();
  const names = async (c: { listIndexes(): { toArray(): Promise<Document[]> } }) => (await c.listIndexes().toArray()).map((i) => i.name).sort();
  expect(await names(read.orders)).toEqual(['_id_', 'by_created', 'by_status', 'by_user']);
  expect(await names(read.inventory)).toEqual(['_id_', 'by_low_stock']);
});

test.each([
  ['GetOrder', () => read.orders.find({ _id: 'f5c5d6b0-2a0a-4d4e-9a7e-0d4c1c1b2a3f' }).explain()],
  ['GetUserSummary and ListUserOrders', () => read.userSummaries.find({ _id: numericKey(123) }).explain()],
  ['GetProductInventory', () => read.inventory.find({ _id: numericKey(456) }).explain()],
  ['ListUserOrders buckets', () => read.userOrders.find({ _id: `${numericKey(123)}:000000` }).explain()],
  ['GetOrderStatistics', () => read.stats.find({ _id: 'all' }).explain()],
])('%s is a primary-key lookup the store pushes down', async (_name, explain) => {
  expect(pushedDown(await explain())).toBe(true);
});

test('FerretDB v1 on SQLite pushes down no secondary filter: ListOrders by status and low-stock inventory scan', async () => {
  expect(pushedDown(await read.orders.find({ status: 'PAID' }).sort({ created_at: -1, _id: 1 }).explain())).toBe(false);
  expect(pushedDown(await read.inventory.find({ low_stock_alert: true }).sort({ _id: 1 }).explain())).toBe(false);
});
