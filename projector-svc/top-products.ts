// An exact, bounded top-N of products by units, kept in a summary or the
// statistics while every product's units live in its own counter document.
//
// Exact because units only ever grow: an order's lines are fixed when it is
// created (OrderValidated prices the same lines: order-process.ts), and a
// cancelled or rejected order keeps its lines, so moving an order's
// contribution from one version to the next puts back what it took out. A
// product whose units grow either moves within the list or enters it,
// pushing the last one out; one pushed out keeps its exact units in its
// counter and enters again when they grow past the last listed. A product
// that is not listed cannot overtake one that is without growing, and every
// growth goes through here, so the list is always the top N of all counters.
// (A stream whose later version had fewer units, which no service writes,
// would keep the shrunk product listed, ranked among the listed ones only.)
import { byRank, type ProductCount } from '../read-models';

/**
 * The list with `entry`'s product at its units now: moved, entered, or left
 * out; at most n entries, ranked; the same array if nothing changes.
 */
export function withRanked(top: ProductCount[], entry: ProductCount, n: number): ProductCount[] {
  const i = top.findIndex((e) => e.product_id === entry.product_id);
  if (i >= 0 && top[i].count === entry.count && top[i].product_name === entry.product_name) return top;
  if (i < 0 && (entry.count <= 0 || (top.length >= n && byRank(entry, top[top.length - 1]) > 0))) return top;
  const others = top.filter((e) => e.product_id !== entry.product_id);
  return (entry.count > 0 ? [...others, { ...entry }] : others).sort(byRank).slice(0, n);
}

/** A list shorter than n lists every product with units: any other has no counter yet. */
export const listsAll = (top: ProductCount[], n: number) => top.length < n;
