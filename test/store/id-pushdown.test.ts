// FerretDB v1.24.2 pushed a filter down to SQLite only when `_id` was all of
// it, so a write guarded by another field ({_id, rev}: the projector's
// guarded replaces) scanned the whole table. The store pushes `_id` down
// whatever else the filter holds (store/patches/0003) and still applies the
// rest of the filter: these check both, on the real built store.
import type { Collection, Document } from 'mongodb';
import { COMMAND_MS, lookupIndexOf, startStore, within, type RunningStore } from './store-process';

jest.setTimeout(45_000);

interface Doc {
  _id: string;
  rev: number;
  n: number;
}

let store: RunningStore;
let docs: Collection<Doc>;

beforeAll(async () => {
  store = await startStore();
  docs = store.client.db('pushdown').collection<Doc>('docs');
  await within(COMMAND_MS, docs.insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: `d${i}`, rev: 1, n: i }))), 'insertMany');
  await lookupIndexOf(store.dir, 'pushdown', 'docs');
});

afterAll(async () => {
  await store?.stop();
});

/** The SQLite plan of a find with this filter, as FerretDB's explain reports it. */
async function planOf(filter: Document): Promise<string> {
  const out = await within(COMMAND_MS, store.client.db('pushdown').command({ explain: { find: 'docs', filter }, verbosity: 'queryPlanner' }), 'explain');
  return JSON.stringify(out.queryPlanner);
}

/** The plan once the pooled connections have seen the lookup index (it is created on another connection). */
async function settledPlan(filter: Document): Promise<string> {
  let plan = '';
  for (let i = 0; i < 20; i++) {
    await docs.findOne({ _id: 'd1' });
    plan = await planOf(filter);
    if (!plan.includes('SCAN')) return plan;
  }
  return plan;
}

test('a filter on _id and another field is looked up by _id, not by scanning the table', async () => {
  expect(await settledPlan({ _id: 'd7' })).toMatch(/SEARCH .*_id_lookup/);
  const guarded = await settledPlan({ _id: 'd7', rev: 1 });
  expect(guarded).toMatch(/SEARCH .*_id_lookup/);
  expect(guarded).not.toContain('SCAN');
});

test('the rest of the filter still decides: a guarded replace matches only at the revision it names', async () => {
  const stale = await within(COMMAND_MS, docs.replaceOne({ _id: 'd9', rev: 0 }, { rev: 1, n: -1 }), 'stale replace');
  expect(stale.matchedCount).toBe(0);
  const fresh = await within(COMMAND_MS, docs.replaceOne({ _id: 'd9', rev: 1 }, { rev: 2, n: 99 }), 'replace');
  expect(fresh.matchedCount).toBe(1);
  expect(await docs.findOne({ _id: 'd9' })).toEqual({ _id: 'd9', rev: 2, n: 99 });
  expect(await docs.findOne({ _id: 'd9', rev: 1 })).toBeNull();
  expect(await docs.findOne({ _id: 'd9', n: { $gt: 50 } })).toEqual({ _id: 'd9', rev: 2, n: 99 });
  expect(await docs.countDocuments({ _id: 'd9', rev: 2 })).toBe(1);
  const removed = await within(COMMAND_MS, docs.deleteOne({ _id: 'd10', rev: 5 }), 'guarded delete');
  expect(removed.deletedCount).toBe(0);
  expect(await docs.findOne({ _id: 'd10' })).toEqual({ _id: 'd10', rev: 1, n: 10 });
});
