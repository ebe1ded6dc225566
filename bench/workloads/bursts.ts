// Bursts through the edge (REST): CreateOrder at `burstConcurrency` in
// flight for `burstMs`, (a) spread over `burstProducts` products, (b) every
// order on one product (a flash sale; the product is stocked with more units
// than the burst can take). Then one more order is placed, and the run
// measures how long until the order process has validated it and until
// query-svc shows it VALIDATED, while the order process and the projector
// work the burst off. Figures only; the targets do not judge them.
import { performance } from 'node:perf_hooks';
import { purgeBacklog, waitQuiet, type Ctx } from '../context';
import { sleep } from '../../kit/wait';
import { summarize } from '../stats';

const g = 'bursts';
export type BurstKind = 'spread' | 'flash';
/** The flash sale's product: outside the catalog, stocked for the sale. */
export const FLASH_PRODUCT_ID = 90_001;
const FLASH_UNITS = 50_000_000;

export interface BurstRow {
  kind: BurstKind;
  products: number;
  concurrency: number;
  burstSec: number;
  acked: number;
  errors: number;
  ackedPerSec: number;
  ackP99Ms: number;
  decided: number;
  rejected: number;
  /** Orders decided ÷ time from the burst's start to the last decision. */
  orderProcessPerSec: number;
  /** Events projected ÷ time from the burst's start to the last one. */
  projectorEventsPerSec: number;
  undecidedAtEnd: number;
  unprojectedAtEnd: number;
  /** Burst end → every burst order decided and every event projected (capped: `complete` false). */
  workoffMs: number;
  complete: boolean;
  afterValidatedMs?: number;
  afterVisibleMs?: number;
}

interface Ack {
  orderId: string;
  at: number;
  ms: number;
}

async function postOrder(ctx: Ctx, i: number, productId: number): Promise<Ack> {
  const t = performance.now();
  const body = await ctx.http.post('/cqrs/commands/orders', { user_id: 1 + ((i * 7) % ctx.p.users), product_id: productId, quantity: 1 });
  const at = performance.now();
  const orderId = (JSON.parse(body) as { order_id?: string }).order_id;
  if (!orderId) throw new Error(`CreateOrder answered without an order_id: ${body.slice(0, 200)}`);
  ctx.acks.push(at);
  ctx.created++;
  return { orderId, at, ms: at - t };
}

/** Until query-svc (through the edge) shows the order VALIDATED: after projector-svc logs its validation, then 5 ms doubling to 100 ms. */
async function visibleValidated(ctx: Ctx, orderId: string, capMs: number): Promise<number | undefined> {
  const t0 = performance.now();
  await ctx.bm.tap.whenOrderProjected(orderId, capMs, 'orderValidated');
  for (let wait = 5; performance.now() - t0 < capMs; wait = Math.min(wait * 2, 100)) {
    try {
      const body = await ctx.http.get(`/cqrs/queries/orders/${orderId}`);
      // The REST answer is the Order itself (the rule's response_body is `order`).
      const o = JSON.parse(body) as { status?: string; order?: { status?: string } };
      if ((o.status ?? o.order?.status) === 'VALIDATED') return performance.now();
    } catch {
      /* not there yet (404) */
    }
    await sleep(wait);
  }
  return undefined;
}

async function burst(ctx: Ctx, kind: BurstKind): Promise<BurstRow> {
  const p = ctx.p;
  const tap = ctx.bm.tap;
  const products = kind === 'flash' ? [FLASH_PRODUCT_ID] : ctx.catalog.slice(0, p.burstProducts).map((x) => x.productId);
  if (!(await waitQuiet(ctx, p.holdDrainCapMs)).drained) await purgeBacklog(ctx, `before the ${kind} burst`);
  if (kind === 'flash') {
    await ctx.grpc.updateInventory({ productId: FLASH_PRODUCT_ID, productName: 'Flash sale product', unitPrice: 9.99, quantity: FLASH_UNITS, lowStockThreshold: 10 });
    await waitQuiet(ctx);
  }
  tap.decisions.clear();
  tap.trackDecisions = true;
  tap.orderProjectedAt.clear();
  tap.tracking = true;
  const stored0 = tap.stored.length, projected0 = tap.projected.length;
  const what = kind === 'flash' ? 'every order on one product (flash sale)' : `spread over ${products.length} products`;
  ctx.progress.step(`bursts: CreateOrder through the edge, ${p.burstConcurrency} in flight for ${p.burstMs / 1000} s, ${what}`);

  // The burst: every worker sends until the time is up; every acknowledged order counts.
  const acks: Ack[] = [];
  let errors = 0, firstError = '';
  let seq = 0;
  const t0 = performance.now();
  const end = t0 + p.burstMs;
  await Promise.all(
    Array.from({ length: p.burstConcurrency }, async () => {
      while (performance.now() < end) {
        const i = seq++;
        try {
          acks.push(await postOrder(ctx, i, products[i % products.length]));
        } catch (err) {
          errors++;
          firstError ||= (err as Error).message.slice(0, 200);
        }
      }
    }),
  );
  const burstEnd = performance.now();
  const undecidedAtEnd = acks.filter((a) => !tap.decisions.has(a.orderId)).length;
  const unprojectedAtEnd = tap.stored.length - stored0 - (tap.projected.length - projected0);

  // The order placed after the burst, and the work-off of the burst, both bounded by `burstCapMs`.
  ctx.progress.step(`bursts (${kind}): ${acks.length} orders acknowledged; timing a new order and the work-off`);
  let after: Ack | undefined;
  try {
    after = await postOrder(ctx, seq++, products[0]);
  } catch (err) {
    ctx.notes.push(`${kind} burst: the order placed after the burst failed: ${(err as Error).message.slice(0, 200)}`);
  }
  const visible = after ? visibleValidated(ctx, after.orderId, p.burstCapMs) : Promise.resolve(undefined);
  const orders = after ? [...acks, after] : acks;
  const allDecided = () => orders.every((a) => tap.decisions.has(a.orderId));
  // Worked off: every order decided, and every event stored projected (as waitQuiet counts them). Not
  // by type: events a gap fill applies are logged only as a count on the filling event's line.
  const workedOff = () => allDecided() && tap.projected.length >= tap.stored.length + ctx.synthetic;
  while (!workedOff() && performance.now() - burstEnd < p.burstCapMs) await sleep(20);
  const quiet = { drained: workedOff() };
  const doneAt = performance.now();
  const visibleAt = await visible;
  tap.trackDecisions = false;
  tap.tracking = false;

  const decisions = acks.map((a) => tap.decisions.get(a.orderId)).filter((d) => d !== undefined);
  const lastDecision = Math.max(burstEnd, ...decisions.map((d) => d.at));
  const projectedTimes = tap.projected.slice(projected0);
  const lastProjected = projectedTimes.length ? projectedTimes[projectedTimes.length - 1] : doneAt;
  const afterDecision = after ? tap.decisions.get(after.orderId) : undefined;
  const row: BurstRow = {
    kind,
    products: products.length,
    concurrency: p.burstConcurrency,
    burstSec: (burstEnd - t0) / 1000,
    acked: acks.length,
    errors,
    ackedPerSec: (acks.length * 1000) / Math.max(1, burstEnd - t0),
    ackP99Ms: summarize(acks.map((a) => a.ms)).p99,
    decided: decisions.length,
    rejected: decisions.filter((d) => !d.validated).length,
    orderProcessPerSec: (decisions.length * 1000) / Math.max(1, lastDecision - t0),
    projectorEventsPerSec: (projectedTimes.length * 1000) / Math.max(1, lastProjected - t0),
    undecidedAtEnd,
    unprojectedAtEnd,
    workoffMs: doneAt - burstEnd,
    complete: quiet.drained,
    afterValidatedMs: after && afterDecision ? afterDecision.at - after.at : undefined,
    afterVisibleMs: after && visibleAt !== undefined ? visibleAt - after.at : undefined,
  };
  const label = `${kind === 'flash' ? 'flash sale (1 product)' : `burst over ${products.length} products`}, ${p.burstConcurrency} in flight for ${Math.round(p.burstMs / 1000)} s via the edge`;
  const add = (name: string, v: number | undefined, unit: string, better: 'higher' | 'lower' | 'none', text: string, samples?: number) =>
    v !== undefined && ctx.figs.add(`bursts.${kind}.${name}`, v, { unit, better, label: `${label}: ${text}`, group: g, samples });
  add('acked_per_s', row.ackedPerSec, 'orders/s', 'higher', 'CreateOrder acknowledged per second during the burst', row.acked);
  add('ack_p99', row.ackP99Ms, 'ms', 'lower', 'CreateOrder latency p99 during the burst');
  add('order_process_orders_per_s', row.orderProcessPerSec, 'orders/s', 'higher', 'orders the order process validated or rejected per second (burst start → last decision)', row.decided);
  add('projector_events_per_s', row.projectorEventsPerSec, 'events/s', 'higher', 'events projector-svc applied per second (burst start → last applied)', projectedTimes.length);
  add('undecided_at_end', row.undecidedAtEnd, 'orders', 'lower', 'orders acknowledged but not yet validated when the burst ended');
  add('unprojected_at_end', row.unprojectedAtEnd, 'events', 'lower', 'events stored but not yet projected when the burst ended');
  add('workoff_ms', row.workoffMs, 'ms', 'lower', `burst end → every order decided and every event projected${row.complete ? '' : ' (capped: still behind)'}`);
  add('rejected', row.rejected, 'orders', 'lower', 'orders rejected (stock is ample: a rejection here is a failure to reserve)');
  add('after_order.validated_ms', row.afterValidatedMs ?? (after ? p.burstCapMs : undefined), 'ms', 'lower', `an order placed right after the burst: acknowledged → VALIDATED by the order process${row.afterValidatedMs === undefined ? ' (not within the cap: a lower bound)' : ''}`);
  add('after_order.visible_ms', row.afterVisibleMs, 'ms', 'lower', 'the same order: acknowledged → VALIDATED through query-svc (GET via the edge)');
  if (errors) ctx.notes.push(`${label}: ${errors} CreateOrder calls failed (${firstError})`);
  if (!row.complete) ctx.notes.push(`${label}: not worked off within ${Math.round(p.burstCapMs / 1000)} s (${row.decided} of ${row.acked} orders decided); the rates are over what was done`);
  if (after && row.afterVisibleMs === undefined) ctx.notes.push(`${label}: the order placed after the burst was not seen VALIDATED through query-svc within ${Math.round(p.burstCapMs / 1000)} s`);
  return row;
}

export async function runBursts(ctx: Ctx): Promise<void> {
  ctx.bursts = [];
  for (const kind of ['spread', 'flash'] as const) ctx.bursts.push(await burst(ctx, kind));
}
