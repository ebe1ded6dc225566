// What one order adds to the documents derived from many orders (a user's
// summary, the statistics): counters only, so those documents stay the same
// size however many orders there are (units per product go to counter
// documents of their own: product-counts.ts). A derived document is changed by the
// difference between what an order contributes now and what it contributed
// when the document last saw it, and remembers for a while which
// contributions it took in (`inflight`), so a crash between writing it and
// writing the order cannot make a redelivery add the same difference twice.
import { contributionVersion, minuteOf, PAID_STATUSES, type Counters, type Derived, type OrderDoc } from '../read-models';

export interface Contribution {
  /** The order's version this contribution is of. */
  v: number;
  status: string;
  total_cents: number;
  created_minute: number;
  lines: Array<{ product_id: number; product_name: string; quantity: number }>;
  /** Which of the user's order buckets lists the order. */
  bucket: number;
}

/**
 * Stored as one short string ("v status total minute bucket pid:qty,..."):
 * the store's cost per document grows with its nested fields, and these are
 * bookkeeping no query reads. Product names are not kept: taking a
 * contribution out needs only the units.
 */
export function encodeContribution(c: Contribution): string {
  return [c.v, c.status, c.total_cents, c.created_minute, c.bucket, c.lines.map((l) => `${l.product_id}:${l.quantity}`).join(',')].join(' ');
}

export function decodeContribution(s: string): Contribution {
  const [v, status, total, minute, bucket, lines = ''] = s.split(' ');
  return {
    v: Number(v), status, total_cents: Number(total), created_minute: Number(minute), bucket: Number(bucket),
    lines: lines ? lines.split(',').map((l) => ({ product_id: Number(l.split(':')[0]), product_name: '', quantity: Number(l.split(':')[1]) })) : [],
  };
}

// Read by query-svc too (a consistency token's wait), so it lives with the document.
export { contributionVersion } from '../read-models';

export function contributionOf(o: OrderDoc, bucket: number): Contribution {
  return {
    v: o.version,
    status: o.status,
    total_cents: o.total_cents,
    created_minute: minuteOf(o.created_at),
    lines: o.items.map((i) => ({ product_id: i.product_id, product_name: i.product_name, quantity: i.quantity })),
    bucket,
  };
}

/** The contribution a derived document already holds of this order: the newer of what it remembers and what the order says. */
export function takenIn(doc: Derived, order: OrderDoc): Contribution | undefined {
  const remembered = doc.inflight[order.order_id];
  const stored = order.contrib;
  const newer = contributionVersion(remembered) > contributionVersion(stored) ? remembered : stored;
  return newer ? decodeContribution(newer) : undefined;
}

/** The counters with `from` taken out and `to` put in. */
export function moveCounters<T extends Counters>(t: T, from: Contribution | undefined, to: Contribution): T {
  const next = { ...t, by_status: { ...t.by_status } };
  if (from) add(next, from, -1);
  add(next, to, 1);
  return next;
}

function add(t: Counters, c: Contribution, sign: 1 | -1): void {
  t.total_orders += sign;
  bump(t.by_status, c.status, sign);
  if (PAID_STATUSES.includes(c.status)) {
    t.revenue_cents += sign * c.total_cents;
    t.paid_orders += sign;
  }
}

function bump(map: Record<string, number>, key: string, by: number): void {
  const n = (map[key] ?? 0) + by;
  if (n === 0) delete map[key];
  else map[key] = n;
}

/**
 * Forgets remembered contributions the orders are known to be stored with:
 * `storedVersion` answers from what this process last wrote, undefined when unknown.
 */
export function pruneInflight(inflight: Record<string, string>, storedVersion: (orderId: string) => number | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(inflight).filter(([id, c]) => (storedVersion(id) ?? -1) < contributionVersion(c)));
}
