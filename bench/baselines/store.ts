// Raw store baselines on the same store the services use (its own database):
// one replaceOne-upsert at a time, the same at the projector's concurrency,
// batched upserts through bulkWrite, and a findOne by _id (what GetOrder does).
import type { Db } from 'mongodb';
import { closedLoopWindows, type RunResult } from '../load';

export interface StoreBaselineOptions {
  /** Consecutive measured windows of each loop (the repeats). */
  windows: number;
  durationMs: number;
  warmupMs: number;
  concurrency: number;
  batchSize: number;
}

export interface StoreBaseline {
  single: RunResult[]; // one at a time
  concurrent: RunResult[]; // `concurrency` single upserts in flight
  bulk: RunResult[]; // one call = one bulkWrite of batchSize upserts
  findById: RunResult[];
  /** findOne by _id on `idProbeDocs` documents whose _id is a number, and the same with string _ids. */
  findByNumericId: RunResult[];
  findByStringId: RunResult[];
}

/** Documents in the _id-type probe collections. */
export const ID_PROBE_DOCS = 2_000;

/** A document shaped and sized like a projected order (about 1 kB of BSON). */
export function orderLikeDoc(i: number): Record<string, unknown> {
  const at = new Date(1_700_000_000_000 + i * 1000);
  return {
    version: 3, order_id: `bench-${i}`, user_id: 1 + (i % 1000), user_email: `user${i % 1000}@example.com`, status: 'VALIDATED', status_reason: '',
    total_cents: 1998, items: [{ product_id: 10001 + (i % 200), product_name: `Product ${i % 200}`, quantity: 2, unit_price_cents: 999 }],
    payment_info: null,
    timeline: [{ event: 'OrderInitiated', timestamp: at }, { event: 'OrderValidated', timestamp: at }],
    created_at: at, updated_at: at,
  };
}

export async function storeBaseline(db: Db, o: StoreBaselineOptions): Promise<StoreBaseline> {
  const col = db.collection<{ _id: string }>('baseline_upserts');
  await col.deleteMany({});
  const keyspace = 5_000;
  const upsert = (i: number) => col.replaceOne({ _id: `k${i % keyspace}` }, orderLikeDoc(i), { upsert: true });
  const single = await closedLoopWindows({ concurrency: 1, durationMs: o.durationMs, windows: o.windows, warmupMs: o.warmupMs, op: upsert });
  const concurrent = await closedLoopWindows({ concurrency: o.concurrency, durationMs: o.durationMs, windows: o.windows, warmupMs: o.warmupMs, op: upsert });
  let base = 0;
  const bulk = await closedLoopWindows({
    concurrency: 1,
    // One bulkWrite can take most of a second here: a window must hold a few.
    durationMs: Math.max(o.durationMs, 2_000),
    windows: o.windows,
    warmupMs: o.warmupMs,
    op: () => {
      const from = base;
      base += o.batchSize;
      return col.bulkWrite(
        Array.from({ length: o.batchSize }, (_, j) => ({ replaceOne: { filter: { _id: `k${(from + j) % keyspace}` }, replacement: orderLikeDoc(from + j), upsert: true } })),
        { ordered: false },
      );
    },
  });
  const findById = await closedLoopWindows({ concurrency: 1, durationMs: o.durationMs, windows: o.windows, warmupMs: o.warmupMs, op: (i) => col.findOne({ _id: `k${i % 500}` }) });
  await col.drop().catch(() => undefined);

  // The read models key user summaries and inventory by number; orders by string.
  const numeric = db.collection<{ _id: number }>('baseline_numeric_ids');
  const strings = db.collection<{ _id: string }>('baseline_string_ids');
  await numeric.drop().catch(() => undefined);
  await strings.drop().catch(() => undefined);
  await numeric.insertMany(Array.from({ length: ID_PROBE_DOCS }, (_, i) => ({ _id: i + 1, ...orderLikeDoc(i) })));
  await strings.insertMany(Array.from({ length: ID_PROBE_DOCS }, (_, i) => ({ _id: `k${i + 1}`, ...orderLikeDoc(i) })));
  const findByNumericId = await closedLoopWindows({ concurrency: 1, durationMs: o.durationMs, windows: o.windows, warmupMs: o.warmupMs, op: (i) => numeric.findOne({ _id: 1 + ((i * 7919) % ID_PROBE_DOCS) }) });
  const findByStringId = await closedLoopWindows({ concurrency: 1, durationMs: o.durationMs, windows: o.windows, warmupMs: o.warmupMs, op: (i) => strings.findOne({ _id: `k${1 + ((i * 7919) % ID_PROBE_DOCS)}` }) });
  await numeric.drop().catch(() => undefined);
  await strings.drop().catch(() => undefined);
  return { single, concurrent, bulk, findById, findByNumericId, findByStringId };
}
