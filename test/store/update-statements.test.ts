// FerretDB v1.24.2's update command kept every update's query open until the
// whole command returned, and its _id lookups open across the write, so one
// command matching as many documents as the SQLite pool has connections (100)
// waited for a connection forever. The store is built with patches for that
// (store/patches/); these run against the real built store with the official
// driver, and every wait is bounded: a hang fails the test, it does not block.
import type { Collection } from 'mongodb';
import { COMMAND_MS, startStore, within, type RunningStore } from './store-process';

jest.setTimeout(45_000);

interface Doc {
  _id: string;
  n: number;
  group: string;
  v: number;
}

let store: RunningStore;
let docs: Collection<Doc>;

beforeEach(async () => {
  store = await startStore();
  docs = store.client.db('leak').collection<Doc>('docs');
});

afterEach(async () => {
  await store?.stop();
});

const seed = async (count: number, group = 'g', from = 0) => {
  const all = Array.from({ length: count }, (_, i) => ({ _id: `doc-${String(from + i).padStart(4, '0')}`, n: from + i, group, v: 0 }));
  await within(COMMAND_MS, docs.insertMany(all), 'insertMany');
  return all;
};

test('a bulkWrite of 200 replaceOne upserts over existing documents returns', async () => {
  const existing = await seed(200);
  const res = await within(
    COMMAND_MS,
    docs.bulkWrite(existing.map((d) => ({ replaceOne: { filter: { _id: d._id }, replacement: { n: d.n, group: d.group, v: 1 }, upsert: true } }))),
    'bulkWrite of 200 replaceOne upserts',
  );
  expect(res.matchedCount).toBe(200);
  expect(res.modifiedCount).toBe(200);
  expect(res.upsertedCount).toBe(0);
  expect(await within(COMMAND_MS, docs.countDocuments({ v: 1 }), 'count')).toBe(200);
});

test('two concurrent bulkWrites of 100 replaceOne upserts over existing documents both return', async () => {
  const existing = await seed(200);
  const half = (from: number) =>
    docs.bulkWrite(
      existing.slice(from, from + 100).map((d) => ({ replaceOne: { filter: { _id: d._id }, replacement: { n: d.n, group: d.group, v: 2 }, upsert: true } })),
    );
  const [a, b] = await within(COMMAND_MS, Promise.all([half(0), half(100)]), 'two concurrent bulkWrites of 100');
  expect([a.matchedCount, b.matchedCount]).toEqual([100, 100]);
  expect(await within(COMMAND_MS, docs.countDocuments({ v: 2 }), 'count')).toBe(200);
});

test('a bulkWrite of 150 updateOne on a field other than _id over existing documents returns', async () => {
  // Not an _id lookup, so nothing reads it to the end: only closing each
  // update's query before the next one keeps the pool from running out.
  await seed(150);
  const res = await within(
    COMMAND_MS,
    docs.bulkWrite(Array.from({ length: 150 }, (_, n) => ({ updateOne: { filter: { n }, update: { $set: { v: 3 } } } }))),
    'bulkWrite of 150 updateOne by n',
  );
  expect(res.matchedCount).toBe(150);
  expect(res.modifiedCount).toBe(150);
});

test('an updateMany matching 150 existing documents returns', async () => {
  await seed(150, 'many');
  await seed(50, 'other', 150);
  const res = await within(COMMAND_MS, docs.updateMany({ group: 'many' }, { $set: { v: 4 } }), 'updateMany over 150');
  expect(res.matchedCount).toBe(150);
  expect(res.modifiedCount).toBe(150);
  expect(await within(COMMAND_MS, docs.countDocuments({ v: 4 }), 'count')).toBe(150);
});

test('after a large update the store still serves other clients, and single upserts and lookups by _id work', async () => {
  const existing = await seed(120);
  await within(
    COMMAND_MS,
    docs.bulkWrite(existing.map((d) => ({ replaceOne: { filter: { _id: d._id }, replacement: { n: d.n, group: d.group, v: 5 }, upsert: true } }))),
    'bulkWrite of 120',
  );
  const fresh = await within(COMMAND_MS, docs.replaceOne({ _id: 'new' }, { n: -1, group: 'g', v: 6 }, { upsert: true }), 'upsert of a new document');
  expect(fresh.upsertedId).toBe('new');
  const again = await within(COMMAND_MS, docs.replaceOne({ _id: 'new' }, { n: -1, group: 'g', v: 7 }, { upsert: true }), 'upsert of an existing document');
  expect(again.matchedCount).toBe(1);
  expect(await within(COMMAND_MS, docs.findOne({ _id: 'new' }), 'findOne by _id')).toEqual({ _id: 'new', n: -1, group: 'g', v: 7 });
  expect(await within(COMMAND_MS, docs.findOne({ _id: 'absent' }), 'findOne of a missing _id')).toBeNull();
  expect(await within(COMMAND_MS, docs.findOneAndUpdate({ _id: 'doc-0007' }, { $inc: { v: 10 } }, { returnDocument: 'after' }), 'findOneAndUpdate by _id')).toMatchObject({ v: 15 });
});
