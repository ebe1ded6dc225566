// ListUserOrders: a page of one user's orders, newest first, from the
// user's order buckets (read-models/users.ts).
import type { ReadStore } from '../lib/read-store';
import { bucketOrders, numericKey, USER_BUCKET_SIZE, userOrdersKey, type OrderDoc } from '../read-models';
import { decodeToken, encodeToken } from './page-token';
import { toOrder } from './read-model-mapping';

/**
 * A user's orders from the user's order buckets, newest bucket first, a few
 * at a time, until no older bucket can hold an order that belongs on the
 * page (each bucket knows how recent the orders before it are); then each
 * order of the page by id. The cost follows the page, not the user's history
 * nor the size of the orders collection.
 */
export async function pageUserOrders(read: ReadStore, userId: number, status: string | undefined, size: number, token: string) {
  const after = decodeToken(token, ['number', 'string']) as [number, string] | undefined;
  const summary = await read.userSummaries.findOne({ _id: numericKey(userId) });
  const rows: Array<{ id: string; t: number }> = [];
  const step = Math.ceil((size + 1) / USER_BUCKET_SIZE) + 1;
  for (let next = (summary?.order_buckets ?? 0) - 1; next >= 0; ) {
    const keys = Array.from({ length: Math.min(step, next + 1) }, (_, k) => userOrdersKey(userId, next - k));
    next -= keys.length;
    const buckets = await Promise.all(keys.map((_id) => read.userOrders.findOne({ _id })));
    for (const [id, d] of buckets.flatMap((b) => (b ? [...bucketOrders(b)] : []))) {
      const t = d.created_at.getTime();
      if ((!status || d.status === status) && (!after || t < after[0] || (t === after[0] && id > after[1]))) rows.push({ id, t });
    }
    rows.sort(newestFirst);
    // The oldest bucket read bounds everything older than it.
    const bound = buckets[buckets.length - 1]?.newest_before_ms;
    if (rows.length > size && bound !== undefined && rows[size].t > bound) break;
  }
  const page = rows.slice(0, size);
  const docs = await Promise.all(page.map((r) => read.orders.findOne({ _id: r.id })));
  const last = page[page.length - 1];
  return {
    orders: docs.filter((d): d is OrderDoc => d !== null).map(toOrder),
    nextPageToken: rows.length > size ? encodeToken([last.t, last.id]) : '',
  };
}

const newestFirst = (a: { id: string; t: number }, b: { id: string; t: number }) => b.t - a.t || (a.id < b.id ? -1 : 1);

