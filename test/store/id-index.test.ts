// The store keeps an index on FerretDB's exact _id lookup expression on every
// collection table (store/id_index.go). FerretDB gives a collection dropped
// and created again the same table name, so the store must see that the new
// table lacks the index, not remember that the old one had it. Read from the
// SQLite file itself.
import { COMMAND_MS, lookupIndexOf, sqliteTable, startStore, within, type RunningStore } from './store-process';

jest.setTimeout(45_000);

let store: RunningStore;

beforeEach(async () => {
  store = await startStore();
});

afterEach(async () => {
  await store?.stop();
});

test('a collection gets its _id lookup index, and gets it again when dropped and created while the store runs', async () => {
  const orders = store.client.db('idx').collection<{ _id: string; n: number }>('orders');
  await within(COMMAND_MS, orders.insertOne({ _id: 'a', n: 1 }), 'insertOne');
  const first = await lookupIndexOf(store.dir, 'idx', 'orders');

  expect(await within(COMMAND_MS, orders.drop(), 'drop')).toBe(true);
  expect(sqliteTable(store.dir, 'idx', 'orders').table).toBeNull();
  await within(COMMAND_MS, orders.insertOne({ _id: 'b', n: 2 }), 'insertOne after the drop');

  const second = await lookupIndexOf(store.dir, 'idx', 'orders');
  expect(second.table).toBe(first.table); // the case the store must not be fooled by
  expect(await within(COMMAND_MS, orders.findOne({ _id: 'b' }), 'findOne by _id')).toEqual({ _id: 'b', n: 2 });
});

test('every collection of every database gets the index, including ones created after the store started', async () => {
  const a = store.client.db('idx_one').collection<{ _id: string }>('first');
  const b = store.client.db('idx_two').collection<{ _id: string }>('second');
  await within(COMMAND_MS, a.insertOne({ _id: 'x' }), 'insertOne');
  await lookupIndexOf(store.dir, 'idx_one', 'first');
  await within(COMMAND_MS, b.insertOne({ _id: 'y' }), 'insertOne');
  await lookupIndexOf(store.dir, 'idx_two', 'second');
});
