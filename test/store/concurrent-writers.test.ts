// Write transactions queue in Go before they reach SQLite
// (store/patches/0004): many writers at once, bulk and single, on the same
// documents and on others, must all commit, none lost, none refused as
// "database is locked", and a reader is never held behind the queue.
import type { Collection } from 'mongodb';
import { COMMAND_MS, startStore, within, type RunningStore } from './store-process';

jest.setTimeout(60_000);

interface Counter {
  _id: string;
  n: number;
}

let store: RunningStore;
let counters: Collection<Counter>;

beforeAll(async () => {
  store = await startStore();
  counters = store.client.db('writers').collection<Counter>('counters');
  await within(COMMAND_MS, counters.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: `c${i}`, n: 0 }))), 'insertMany');
});

afterAll(async () => {
  await store?.stop();
});

test('16 bulk writers and 16 single writers at once: every increment lands', async () => {
  const rounds = 10;
  const bulk = async () => {
    for (let r = 0; r < rounds; r++) {
      await counters.bulkWrite(Array.from({ length: 50 }, (_, i) => ({ updateOne: { filter: { _id: `c${i}` }, update: { $inc: { n: 1 } } } })), { ordered: false });
    }
  };
  const single = async (k: number) => {
    for (let r = 0; r < rounds; r++) await counters.updateOne({ _id: `s${k}` }, { $inc: { n: 1 } }, { upsert: true });
  };
  await within(45_000, Promise.all([...Array.from({ length: 16 }, bulk), ...Array.from({ length: 16 }, (_, k) => single(k))]), 'concurrent writers');

  const all = await within(COMMAND_MS, counters.find({}).toArray(), 'find');
  const shared = all.filter((c) => c._id.startsWith('c'));
  const own = all.filter((c) => c._id.startsWith('s'));
  expect(shared).toHaveLength(50);
  expect(shared.every((c) => c.n === 16 * rounds)).toBe(true);
  expect(own).toHaveLength(16);
  expect(own.every((c) => c.n === rounds)).toBe(true);
});

test('a read is answered while writers queue', async () => {
  const writing = Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let r = 0; r < 5; r++) await counters.bulkWrite(Array.from({ length: 50 }, (_, i) => ({ updateOne: { filter: { _id: `c${i}` }, update: { $inc: { n: 1 } } } })));
    }),
  );
  // Reads take no place in the queue: one returns while the writes are still going.
  let done = false;
  void writing.then(() => (done = true));
  const found = await within(COMMAND_MS, counters.findOne({ _id: 'c0' }), 'findOne during the writes');
  expect(found?._id).toBe('c0');
  expect(done).toBe(false);
  await within(45_000, writing, 'the writes');
});
