// Patch 0006 stores the documents one update command writes together, after
// its statements ran. These hold it to what MongoDB does: every statement
// reads what the earlier ones of the same command wrote, whatever its filter,
// and the counts are those of the statements.
import type { Collection } from 'mongodb';
import { COMMAND_MS, startStore, within, type RunningStore } from './store-process';

jest.setTimeout(45_000);

interface Doc {
  _id: string | number;
  n: number;
  tag?: string;
}

let store: RunningStore;
let docs: Collection<Doc>;

beforeEach(async () => {
  store = await startStore();
  docs = store.client.db('batch').collection<Doc>('docs');
});

afterEach(async () => {
  await store?.stop();
});

const all = async () => within(COMMAND_MS, docs.find({}, { sort: { _id: 1 } }).toArray(), 'find');

test('statements on one _id within a command each see the one before: increments add up, a guard holds once', async () => {
  await docs.insertOne({ _id: 'a', n: 0 });
  const inc = { updateOne: { filter: { _id: 'a' }, update: { $inc: { n: 1 } } } };
  const res = await within(COMMAND_MS, docs.bulkWrite([inc, inc, inc]), 'three $inc');
  expect(res.modifiedCount).toBe(3);
  // Two guarded replaces naming the same revision: only the first may pass.
  const guarded = (tag: string) => ({ replaceOne: { filter: { _id: 'a', n: 3 }, replacement: { n: 4, tag } } });
  const second = await within(COMMAND_MS, docs.bulkWrite([guarded('first'), guarded('second')], { ordered: false }), 'guarded replaces');
  expect(second.matchedCount).toBe(1);
  expect(await all()).toEqual([{ _id: 'a', n: 4, tag: 'first' }]);
});

test('an upsert and then an update of the same new _id in one command: one document, both applied', async () => {
  const res = await within(
    COMMAND_MS,
    docs.bulkWrite([
      { updateOne: { filter: { _id: 'new' }, update: { $set: { n: 1 } }, upsert: true } },
      { updateOne: { filter: { _id: 'new' }, update: { $inc: { n: 10 } }, upsert: true } },
    ]),
    'upsert then update',
  );
  expect(res.upsertedCount).toBe(1);
  expect(res.modifiedCount).toBe(1);
  expect(await all()).toEqual([{ _id: 'new', n: 11 }]);
});

test('a filter that is not a plain _id sees what the earlier statements wrote', async () => {
  await docs.insertMany([{ _id: 'x', n: 1 }, { _id: 'y', n: 1 }, { _id: 5, n: 1 }]);
  const res = await within(
    COMMAND_MS,
    docs.bulkWrite([
      { updateOne: { filter: { _id: 'x' }, update: { $set: { n: 2 } } } },
      // By another field: must match x's new value.
      { updateOne: { filter: { n: 2 }, update: { $set: { tag: 'by-n' } } } },
      { updateOne: { filter: { _id: 5 }, update: { $set: { n: 7 } } } },
      // A double naming the int _id 5: the same document in MongoDB's comparison.
      { updateOne: { filter: { _id: 5.0 }, update: { $inc: { n: 1 } } } },
      { updateMany: { filter: { _id: { $in: ['x', 'y'] } }, update: { $inc: { n: 100 } } } },
    ]),
    'mixed filters',
  );
  expect(res.matchedCount).toBe(6);
  expect(await all()).toEqual([
    { _id: 5, n: 8 },
    { _id: 'x', n: 102, tag: 'by-n' },
    { _id: 'y', n: 101 },
  ]);
});

test('five concurrent commands of 300 increments each: every one is stored', async () => {
  await docs.insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: `d${i}`, n: 0 })));
  const writes = Array.from({ length: 5 }, () =>
    docs.bulkWrite(Array.from({ length: 300 }, (_, i) => ({ updateOne: { filter: { _id: `d${i}` }, update: { $inc: { n: 1 } } } })), { ordered: false }),
  );
  const results = await within(COMMAND_MS * 3, Promise.all(writes), 'five concurrent commands of 300');
  expect(results.map((r) => r.modifiedCount)).toEqual([300, 300, 300, 300, 300]);
  const stored = await all();
  expect(stored.every((d) => d.n === 5)).toBe(true);
});
