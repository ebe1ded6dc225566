// Each product's exact units over one user's orders (user_product_counts) or
// over all orders (product_counts), one small document per product, so the
// summary and the statistics need keep only their top products
// (top-products.ts).
//
// Idempotence is the order's, as for the documents they feed
// (contribution.ts): the projector writes a batch's counters beside the
// summaries and statistics, then the orders, each order with what the
// derived documents took in of it. So a counter needs to remember only what
// it took in beyond what the order's document says: `pending`, the version
// and units, until the order is stored with that version. A crash after the
// counters and before the order leaves them pending there, and the
// redelivery moves nothing twice; a crash before the counters were written,
// the summary's write landing or not, leaves the order's document as the
// counters knew it, and the redelivery moves the units in. The summary
// ranks its products at what the counters hold once moved, so the two agree
// whichever of their writes a crash left out.
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

/** The units of the order a counter holds: what it keeps pending if newer than what the order's document says was taken in (`stored`), else that. */
export function heldUnits(k: ProductCounterDoc, orderId: string, stored: Contribution | undefined): number {
  const pending = k.pending[orderId];
  if (pending && contributionVersion(pending) > (stored?.v ?? 0)) return Number(pending.slice(pending.indexOf(' ') + 1));
  return unitsIn(stored, k.product_id);
}

/**
 * The order's units moved, product by product, from what each counter holds
 * of it to `to`, and each of its products ranked in `top` at its counter's
 * units now. `stored`: what the order's document says the derived documents
 * took in of it; `keyOf` names a counter not in `counters` (it has none
 * yet). The same list and counters if nothing changes.
 */
export function moveProducts(
  top: ProductCount[], counters: ProductCounters, keyOf: (productId: number) => string, orderId: string, stored: Contribution | undefined, to: Contribution, n: number,
): { top: ProductCount[]; counters: ProductCounters } {
  let next: Map<number, ProductCounterDoc> | undefined;
  let list = top;
  const products = new Set([...to.lines.map((l) => l.product_id), ...(stored?.lines ?? []).map((l) => l.product_id)]);
  for (const productId of products) {
    const before = counters.get(productId) ?? emptyCounter(keyOf(productId), productId);
    const line = to.lines.find((l) => l.product_id === productId);
    const units = line?.quantity ?? 0;
    const held = heldUnits(before, orderId, stored);
    let k = before;
    if (units !== held) k = { ...k, count: k.count + units - held, pending: { ...k.pending, [orderId]: `${to.v} ${units}` } };
    if (line?.product_name && !k.product_name) k = { ...k, product_name: line.product_name };
    if (k !== before) (next ??= new Map(counters)).set(productId, k);
    // Ranked even when the counter did not move: it may have moved in a batch whose summary write was lost.
    list = withRanked(list, { product_id: productId, product_name: k.product_name, count: k.count }, n);
  }
  return { top: list, counters: next ?? counters };
}

/**
 * The counter without what it keeps pending of orders stored with that
 * version or newer taken in: `holds` answers the version an order's
 * document says, undefined when unknown. The same object if nothing is dropped.
 */
export function withoutHeld(k: ProductCounterDoc, holds: (orderId: string) => number | undefined): ProductCounterDoc {
  const pending = pruneInflight(k.pending, holds);
  return Object.keys(pending).length === Object.keys(k.pending).length ? k : { ...k, pending };
}
