// The read store's collections and the indexes every query is served from.
// Collection names come from a pointer document, so `npm run rebuild` can
// build fresh collections beside the live ones and switch every running
// query-svc and projector-svc over by changing one document.
import type { Collection, Db } from 'mongodb';
import {
  DEFAULT_NAMES, PROJECTIONS, type CollectionNames, type InventoryDoc, type OrderDoc, type PendingBucket, type ProductCounterDoc, type StatsDoc, type UserOrdersBucket,
  type UserSummaryDoc,
} from '../read-models';

const POINTER = { collection: 'read_model_collections', id: 'current' };
export const POINTER_REFRESH_MS = 1_000;

export class ReadStore {
  private timer?: NodeJS.Timeout;

  constructor(
    readonly db: Db,
    public names: CollectionNames = DEFAULT_NAMES,
  ) {}

  /** The live read store; with `follow`, keeps up with switches made by a rebuild. */
  static async open(db: Db, follow = false): Promise<ReadStore> {
    const store = new ReadStore(db, await readPointer(db));
    if (follow) {
      store.timer = setInterval(() => {
        readPointer(db).then((n) => (store.names = n), () => undefined);
      }, POINTER_REFRESH_MS);
      store.timer.unref();
    }
    return store;
  }

  /** This store with the collections as named now, unmoved by a later switch (it shares everything else). */
  pinned(): ReadStore {
    return Object.create(this, { names: { value: this.names } }) as ReadStore;
  }

  close(): void {
    clearInterval(this.timer);
  }

  get orders(): Collection<OrderDoc> {
    return this.db.collection<OrderDoc>(this.names.orders);
  }
  get inventory(): Collection<InventoryDoc> {
    return this.db.collection<InventoryDoc>(this.names.inventory);
  }
  get inventoryPending(): Collection<PendingBucket> {
    return this.db.collection<PendingBucket>(this.names.inventory_pending);
  }
  get userSummaries(): Collection<UserSummaryDoc> {
    return this.db.collection<UserSummaryDoc>(this.names.user_summaries);
  }
  get userOrders(): Collection<UserOrdersBucket> {
    return this.db.collection<UserOrdersBucket>(this.names.user_orders);
  }
  get stats(): Collection<StatsDoc> {
    return this.db.collection<StatsDoc>(this.names.order_stats);
  }
  get userProductCounts(): Collection<ProductCounterDoc> {
    return this.db.collection<ProductCounterDoc>(this.names.user_product_counts);
  }
  get productCounts(): Collection<ProductCounterDoc> {
    return this.db.collection<ProductCounterDoc>(this.names.product_counts);
  }

  /** Points every follower at `names`. */
  async switchTo(names: CollectionNames): Promise<void> {
    await this.db.collection(POINTER.collection).replaceOne({ _id: POINTER.id as never }, names, { upsert: true });
    this.names = names;
  }

  /**
   * Idempotent; run at start-up by every service that touches the read store.
   * One index per call: FerretDB v1 drops the connection when a multi-index
   * createIndexes names indexes that already exist.
   */
  async ensureIndexes(): Promise<void> {
    const specs: Array<[Pick<Collection, 'createIndex'>, Record<string, 1 | -1>, string]> = [
      [this.orders, { user_id: 1, created_at: -1, _id: 1 }, 'by_user'],
      [this.orders, { status: 1, created_at: -1, _id: 1 }, 'by_status'],
      [this.orders, { created_at: -1, _id: 1 }, 'by_created'],
      [this.inventory, { low_stock_alert: 1, _id: 1 }, 'by_low_stock'],
    ];
    for (const [collection, key, name] of specs) await collection.createIndex(key, { name });
  }
}

async function readPointer(db: Db): Promise<CollectionNames> {
  const doc = await db.collection(POINTER.collection).findOne({ _id: POINTER.id as never });
  // A pointer written before a projection existed names only the older ones.
  return doc ? ({ ...DEFAULT_NAMES, ...Object.fromEntries(PROJECTIONS.filter((p) => doc[p]).map((p) => [p, doc[p]])) } as CollectionNames) : DEFAULT_NAMES;
}
