// The store keeps an index on FerretDB's exact _id lookup expression on every
// collection table (store/id_index.go). FerretDB gives a collection dropped
// and created again the same table name, so the store must see that the new
// table lacks the index, not remember that the old one had it. Read from the
// SQLite file itself.
import { COMMAND_MS, sqliteTable, startStore, within, type RunningStore } from './store-process';

jest.setTimeout(45_000);

let store: RunningStore;

beforeEach(async () => {
  store = await startStore();
});

afterEach(async () => {
  await store?.stop();
});

/** Polls the file until the collection's table has the lookup index; the store checks every second. */
async function lookupIndexOf(db: string, collection: string, ms = 8_000): Promise<{ table: string; index: string }> {
  const deadline = Date.now() + ms;
  let last = sqliteTable(store.dir, db, collection);
  for (;;) {
    const index = last.indexes.find((i) => i === `${last.table}__id_lookup`);
    if (last.table && index) return { table: last.table, index };
    if (Date.now() > deadline) throw new Error(`no _id lookup index on ${db}.${collection} within ${ms} ms: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
    last = sqliteTable(store.dir, db, collection);
  }
}

test('a collection gets its _id lookup index, and gets it again when dropped and created while the store runs', async () => {
  const orders = store.client.db('idx').collection<{ _id: string; n: number }>('orders');
  await within(COMMAND_MS, orders.insertOne({ _id: 'a', n: 1 }), 'insertOne');
  const first = await lookupIndexOf('idx', 'orders');

  expect(await within(COMMAND_MS, orders.drop(), 'drop')).toBe(true);
  expect(sqliteTable(store.dir, 'idx', 'orders').table).toBeNull();
  await within(COMMAND_MS, orders.insertOne({ _id: 'b', n: 2 }), 'insertOne after the drop');

  const second = await lookupIndexOf('idx', 'orders');
  expect(second.table).toBe(first.table); // the case the store must not be fooled by
  expect(await within(COMMAND_MS, orders.findOne({ _id: 'b' }), 'findOne by _id')).toEqual({ _id: 'b', n: 2 });
});

test('every collection of every database gets the index, including ones created after the store started', async () => {
  const a = store.client.db('idx_one').collection<{ _id: string }>('first');
  const b = store.client.db('idx_two').collection<{ _id: string }>('second');
  await within(COMMAND_MS, a.insertOne({ _id: 'x' }), 'insertOne');
  await lookupIndexOf('idx_one', 'first');
  await within(COMMAND_MS, b.insertOne({ _id: 'y' }), 'insertOne');
  await lookupIndexOf('idx_two', 'second');
});
