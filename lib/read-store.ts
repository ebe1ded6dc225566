// The read store's collections and the indexes every query is served from.
// Shared by projector-svc (writes), query-svc (reads) and the rebuild tool,
// which points the same code at fresh collections with a suffix.
import type { Collection, Db } from 'mongodb';
import type { InventoryDoc } from '../projector-svc/inventory-projection';
import type { OrderDoc } from '../projector-svc/order-projection';
import type { UserSummaryDoc } from '../projector-svc/user-summary-projection';

export const PROJECTIONS = ['orders', 'inventory', 'user_summaries'] as const;
export type Projection = (typeof PROJECTIONS)[number];

export class ReadStore {
  readonly orders: Collection<OrderDoc>;
  readonly inventory: Collection<InventoryDoc>;
  readonly userSummaries: Collection<UserSummaryDoc>;

  constructor(
    readonly db: Db,
    names: Record<Projection, string> = { orders: 'orders', inventory: 'inventory', user_summaries: 'user_summaries' },
  ) {
    this.orders = db.collection<OrderDoc>(names.orders);
    this.inventory = db.collection<InventoryDoc>(names.inventory);
    this.userSummaries = db.collection<UserSummaryDoc>(names.user_summaries);
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
