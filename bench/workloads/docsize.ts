// No document may grow with the number of orders (MongoDB caps one at
// 16 MB). FerretDB v1 has no $bsonSize, so the largest document of every
// collection of the read store (cqrs_read) and the write store (cqrs_write) is
// found by reading the documents with the driver and taking
// BSON.calculateObjectSize of each. A collection too big to read within
// `docScanBudgetMs` is a sample: the documents read by then (natural order).
//
// The seeded dataset gives every user the same number of orders, so a
// document that grows with one user's or one product's orders would not show
// between the two sizes. So before each measurement one customer buying one
// product gets orders through the real command path, as many more at the
// large size as the read store has (10 × between 10k and 100k): their user
// summary, the product's inventory and its write-side stream grow with them
// if they grow at all.
import { performance } from 'node:perf_hooks';
import { BSON } from 'mongodb';
import { PaymentMethod } from '../../gen/ts/cqrs/v1/common';
import { READ_DB, WRITE_DB } from '../../lib/mongo';
import { waitDecided, waitQuiet, type Ctx } from '../context';
import { sleep } from '../../kit/wait';

/** The one customer and the one product that get orders in proportion to the dataset. */
export const HEAVY_USER_ID = 990_001;
export const HEAVY_PRODUCT_ID = 990_001;
const HEAVY_PER_SMALL = 20;

export interface DocSizeRow {
  db: string;
  collection: string;
  /** Documents in the collection (estimated) and documents read. */
  docs: number;
  scanned: number;
  maxBytes: number;
  maxId: string;
  avgBytes: number;
}

/** Rows per dataset size (orders in the read store). */
export type DocSizeTable = Record<number, DocSizeRow[]>;

export const docSizeFigure = (db: string, collection: string, size: number) => `docsize.${db}.${collection}.n${size}.max_bytes`;

/** Orders the heavy customer has, per run. */
const heavyOrdersOf = new WeakMap<Ctx, number>();

/** Tops the heavy customer up to `want` orders on the heavy product (every other one paid), through CreateOrder and ProcessPayment. */
async function growHeavyCustomer(ctx: Ctx, want: number): Promise<void> {
  const heavyOrders = heavyOrdersOf.get(ctx) ?? 0;
  if (want <= heavyOrders) return;
  ctx.progress.step(`growth: one customer buying one product, ${heavyOrders} → ${want} orders through the command side`);
  if (heavyOrders === 0) {
    await ctx.grpc.updateInventory({ productId: HEAVY_PRODUCT_ID, productName: 'Bench product bought by one customer', unitPrice: 4.99, quantity: 10_000_000, lowStockThreshold: 10 });
  }
  const ids: string[] = [];
  let next = heavyOrders;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < want) {
        next++;
        const res = await ctx.grpc.createOrder({ userId: HEAVY_USER_ID, productId: HEAVY_PRODUCT_ID, quantity: 1, userEmail: `heavy${HEAVY_USER_ID}@example.com`, items: [] });
        ctx.created++;
        ids.push(res.orderId);
      }
    }),
  );
  heavyOrdersOf.set(ctx, want);
  await waitDecided(ctx, 60_000);
  // Paid half: a paid order and an open reservation both stay in the documents that might keep them.
  const pay = ids.filter((_, i) => i % 2 === 0);
  let failed = 0, firstError = '';
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let id = pay.pop(); id; id = pay.pop()) {
        await ctx.grpc.processPayment({ orderId: id, amount: 4.99, method: PaymentMethod.CREDIT_CARD }).catch((err: Error) => {
          failed++;
          firstError ||= err.message;
        });
      }
    }),
  );
  if (failed) ctx.notes.push(`growth: ${failed} payments of the one-customer orders failed (${firstError.slice(0, 200)})`);
  await sleep(100);
  await waitQuiet(ctx, ctx.p.holdDrainCapMs);
}

export async function measureDocSizes(ctx: Ctx, size: number): Promise<DocSizeRow[]> {
  await growHeavyCustomer(ctx, Math.max(10, Math.round((HEAVY_PER_SMALL * size) / ctx.p.growthSizes[0])));
  const rows: DocSizeRow[] = [];
  for (const dbName of [READ_DB, WRITE_DB]) {
    const db = ctx.bm.mongo.db(dbName);
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).filter((n) => !n.startsWith('system.')).sort();
    for (const name of names) {
      ctx.progress.step(`growth: largest document of ${dbName}.${name} at ${size} orders`);
      const col = db.collection(name);
      const docs = await col.estimatedDocumentCount();
      const t0 = performance.now();
      let scanned = 0, maxBytes = 0, sum = 0;
      let maxId = '';
      const cursor = col.find({}, { batchSize: 1_000 });
      try {
        for await (const doc of cursor) {
          const bytes = BSON.calculateObjectSize(doc);
          scanned++;
          sum += bytes;
          if (bytes > maxBytes) {
            maxBytes = bytes;
            maxId = String(doc._id).slice(0, 60);
          }
          if (performance.now() - t0 > ctx.p.docScanBudgetMs) break;
        }
      } finally {
        await cursor.close().catch(() => undefined);
      }
      if (!scanned) continue;
      rows.push({ db: dbName, collection: name, docs: Math.max(docs, scanned), scanned, maxBytes, maxId, avgBytes: sum / scanned });
      const sample = scanned < docs ? ` (a sample: the first ${scanned} of ${docs} documents, read within ${ctx.p.docScanBudgetMs / 1000} s)` : '';
      ctx.figs.add(docSizeFigure(dbName, name, size), maxBytes, { unit: 'bytes', better: 'lower', label: `largest document in ${dbName}.${name} with ${size} orders in the read store${sample}`, group: 'docsize', samples: scanned });
    }
  }
  (ctx.docSizes ??= {})[size] = rows;
  return rows;
}
