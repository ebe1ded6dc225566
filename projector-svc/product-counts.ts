// Each product's exact units over one user's orders (user_product_counts) or
// over all orders (product_counts), one small document per product, so the
// summary and the statistics need keep only their top products
// (top-products.ts).
//
// Idempotence mirrors how a derived document and an order share the work
// (contribution.ts): the projector writes a batch's counters first, then
// the summaries and statistics they feed, then the orders. So whatever a
// summary holds of an order (its inflight, else the order's contrib), its
// counters hold too, and a counter needs to remember only what it holds
// beyond that: `pending`, the version and units it took in, until the
// summary is known to hold that version. A crash between the writes leaves
// counters ahead of their summary; the redelivery finds them pending there
// and moves nothing twice, while the summary, taking the order in, ranks
// those products again at their counters' units. A crash before the
// counters are written leaves nothing to undo.
import type { ProductCount, ProductCounterDoc } from '../read-models';
import { contributionVersion, pruneInflight, type Contribution } from './contribution';
import { withRanked } from './top-products';

/** A batch's counters of one summary (or of the statistics), by product id. */
export type ProductCounters = ReadonlyMap<number, ProductCounterDoc>;

/** A derived document and the counters it was moved with. */
export interface Tallied<D> {
  doc: D;
  counters: ProductCounters;
}

export const emptyCounter = (id: string, productId: number): ProductCounterDoc => ({ _id: id, product_id: productId, product_name: '', count: 0, pending: {} });

const unitsIn = (c: Contribution | undefined, productId: number) => c?.lines.find((l) => l.product_id === productId)?.quantity ?? 0;

/** The units of the order a counter holds: what it keeps pending if newer than what the fed document holds (`from`), else that. */
export function heldUnits(k: ProductCounterDoc, orderId: string, from: Contribution | undefined): number {
  const pending = k.pending[orderId];
  if (pending && contributionVersion(pending) > (from?.v ?? 0)) return Number(pending.slice(pending.indexOf(' ') + 1));
  return unitsIn(from, k.product_id);
}

/**
 * The order's units moved, product by product, from what each counter holds
 * of it to `to`, and each of its products ranked in `top` at its counter's
 * units now. `from`: what the fed document holds of the order; `keyOf`
 * names a counter not in `counters` (it has none yet). The same list and
 * counters if nothing changes.
 */
export function moveProducts(
  top: ProductCount[], counters: ProductCounters, keyOf: (productId: number) => string, orderId: string, from: Contribution | undefined, to: Contribution, n: number,
): { top: ProductCount[]; counters: ProductCounters } {
  let next: Map<number, ProductCounterDoc> | undefined;
  let list = top;
  const products = new Set([...to.lines.map((l) => l.product_id), ...(from?.lines ?? []).map((l) => l.product_id)]);
  for (const productId of products) {
    const before = counters.get(productId) ?? emptyCounter(keyOf(productId), productId);
    const line = to.lines.find((l) => l.product_id === productId);
    const units = line?.quantity ?? 0;
    const held = heldUnits(before, orderId, from);
    let k = before;
    if (units !== held) k = { ...k, count: k.count + units - held, pending: { ...k.pending, [orderId]: `${to.v} ${units}` } };
    if (line?.product_name && !k.product_name) k = { ...k, product_name: line.product_name };
    if (k !== before) (next ??= new Map(counters)).set(productId, k);
    // Ranked even when the counter did not move: it may have moved in a batch whose summary write never happened.
    list = withRanked(list, { product_id: productId, product_name: k.product_name, count: k.count }, n);
  }
  return { top: list, counters: next ?? counters };
}

/**
 * The counter without what it keeps pending of orders the fed document is
 * known to hold at that version or newer: `holds` answers the version it
 * holds, undefined when unknown. The same object if nothing is dropped.
 */
export function withoutHeld(k: ProductCounterDoc, holds: (orderId: string) => number | undefined): ProductCounterDoc {
  const pending = pruneInflight(k.pending, holds);
  return Object.keys(pending).length === Object.keys(k.pending).length ? k : { ...k, pending };
}
