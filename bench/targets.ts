// The targets, judged from the figures (reported pass/fail, never asserted).
import type { Profile } from './config';
import type { Figures, Target } from './figures';

/** Mann–Kendall's z above which a rise is significant at the 5% level, one-sided. */
const MK_Z_5PCT = 1.645;
const f1 = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const QUERY_KEYS: Array<[string, string]> = [
  ['get_order', 'GetOrder'],
  ['list_user_orders', 'ListUserOrders'],
  ['get_user_summary', 'GetUserSummary'],
  ['get_inventory', 'GetInventory'],
  ['get_order_statistics', 'GetOrderStatistics'],
];

export function judgeTargets(figs: Figures, p: Profile): Target[] {
  const m = (n: string) => figs.median(n);
  const out: Target[] = [];

  // 1. End-to-end sustained throughput vs the slowest raw component on the path.
  {
    const cmax = Math.max(...p.concurrencies);
    const parts: Array<[string, number]> = [
      [`grpc-js no-op unary c=${cmax}`, m(`baselines.grpc_noop.create_order_sizes.c${cmax}.throughput`)],
      ['amqplib publish+confirm (window 64)', m('baselines.amqp.publish_confirm.w64.throughput')],
      ['amqplib consume+ack (prefetch 64)', m('baselines.amqp.consume_ack.p64.throughput')],
      ['store single-document upsert (best of 1 and 16 concurrent)', Math.max(m('baselines.store.upsert_single.throughput'), m('baselines.store.upsert_c16.throughput') || 0)],
    ];
    const known = parts.filter(([, v]) => Number.isFinite(v) && v > 0);
    const e2e = m('projection.e2e_sustained_throughput');
    const slowest = known.length ? known.reduce((a, b) => (b[1] < a[1] ? b : a)) : undefined;
    out.push({
      id: 'e2e-throughput',
      title: 'End-to-end sustained command→projection throughput ≥ 50% of the slowest raw component on the path',
      pass: slowest && Number.isFinite(e2e) ? e2e >= 0.5 * slowest[1] : null,
      measured: `${f1(e2e)} orders/s = ${slowest ? f1((100 * e2e) / slowest[1]) : 'n/a'}% of ${slowest ? `${slowest[0]} (${f1(slowest[1])}/s)` : 'n/a'}`,
      threshold: '≥ 50%',
      detail: `components: ${known.map(([n, v]) => `${n} ${f1(v)}/s`).join('; ')}`,
    });
  }

  // 2. Lag at 80% of max: p99 ≤ 1 s and no upward trend, over a hold of at least 60 s in the full run.
  {
    const lag99 = m('projection.r80.lag_p99');
    const lag50 = m('projection.r80.lag_p50');
    const holdSec = m('projection.r80.hold_s');
    const slope = m('projection.r80.lag_trend'); // ms per minute
    const lsRise = (slope * holdSec) / 60;
    const z = m('projection.r80.lag_mk_z');
    const senRise = m('projection.r80.lag_sen_rise');
    const allowed = Math.max(0.25 * lag50, 10);
    // Rising = a monotonic rise the test is sure of (Mann–Kendall over ten windows' medians), and one larger
    // than the allowance (Sen's slope). A least-squares rise alone has no error model: on this machine's wander
    // its standard error over a 60 s hold is 40–65 ms, as large as the allowance (bench/analysis.md).
    const rising = Number.isFinite(z) && Number.isFinite(senRise) ? z > MK_Z_5PCT && senRise > allowed : undefined;
    const within = Number.isFinite(lag99) ? lag99 <= 1_000 : undefined;
    // The issue asks for a hold of at least 60 s; shorter holds (quick, smoke) are judged but say so.
    const longEnough = p.mode !== 'full' || holdSec >= 59.5;
    const sz = m('projection.r80_sustained.lag_mk_z');
    const sRise = m('projection.r80_sustained.lag_sen_rise');
    out.push({
      id: 'lag-p99',
      title: 'p99 lag (command acknowledged → visible through query-svc) at 80% of max throughput ≤ 1 s, with no upward trend over the hold (≥ 60 s in the full run)',
      pass: within === undefined || rising === undefined ? null : within && !rising && longEnough,
      measured: `p99 ${f1(lag99)} ms (p50 ${f1(lag50)} ms); Mann–Kendall z ${f1(z, 2)}, Sen's rise ${f1(senRise)} ms over the ${f1(holdSec, 0)} s hold (least squares: ${f1(lsRise)} ms)`,
      threshold: `p99 ≤ 1000 ms, and not rising: not both z > ${MK_Z_5PCT} and a rise > max(25% of p50, 10 ms) = ${f1(allowed)} ms${p.mode === 'full' ? '; hold ≥ 60 s' : ` (hold ${f1(holdSec, 0)} s in ${p.mode}: the full run holds 60 s)`}`,
      detail:
        `p99 within 1 s: ${within}; rising: ${rising}${longEnough ? '' : '; hold shorter than 60 s'}; ` +
        `the least-squares rule used until 2026-12-07 (rise ≤ the allowance) would say ${Number.isFinite(lsRise) ? (lsRise <= allowed ? 'flat' : 'rising') : 'n/a'}; ` +
        `the hold at 80% of the end-to-end rate: z ${f1(sz, 2)}, Sen's rise ${f1(sRise)} ms`,
    });
  }

  // 3. Projector batching and keep-up.
  {
    const batched = m('projection.drain.prefetch64.events_per_s');
    const one = m('projection.drain.prefetch1.events_per_s');
    const keep = m('projection.saturation.keep_up');
    const ratio = batched / one;
    const okBatch = Number.isFinite(ratio) ? ratio >= 10 : undefined;
    const okKeep = Number.isFinite(keep) ? keep >= 0.9 : undefined;
    out.push({
      id: 'projector-batching',
      title: 'Projector batched writes ≥ 10× its one-at-a-time rate',
      pass: okBatch ?? null,
      measured: `${f1(batched)} events/s on a backlog (default prefetch) vs ${f1(one)} events/s one at a time = ${f1(ratio, 2)}×`,
      threshold: '≥ 10×',
    });
    out.push({
      id: 'projector-keep-up',
      title: 'Projector keeps up with ≥ 90% of the publish rate at saturation',
      pass: okKeep ?? null,
      measured: `${f1(100 * keep)}% (${f1(m('projection.saturation.applied_events_per_s'))} applied vs ${f1(m('projection.saturation.published_events_per_s'))} published events/s)`,
      threshold: '≥ 90%',
    });
  }

  // 4. Edge overhead.
  {
    const rows = QUERY_KEYS.map(([k, n]) => {
      const ratio = m(`queries.edge.${k}.throughput`) / m(`queries.grpc.${k}.throughput`);
      const over = m(`queries.edge_overhead.${k}.p50`);
      return { n, ratio, over, ok: Number.isFinite(ratio) && Number.isFinite(over) ? ratio >= 0.6 && over <= 3 : undefined };
    });
    const measured = rows.filter((r) => r.ok !== undefined);
    out.push({
      id: 'edge-overhead',
      title: 'Edge (REST) throughput ≥ 60% of direct gRPC, p50 overhead ≤ 3 ms',
      pass: measured.length ? measured.every((r) => r.ok) : null,
      measured: measured.map((r) => `${r.n} ${f1(100 * r.ratio)}% / +${f1(r.over, 2)} ms`).join('; '),
      threshold: 'every query: ≥ 60% and ≤ 3 ms',
    });
  }

  // 5. Growth.
  {
    const [small, large] = p.growthSizes;
    const rows = QUERY_KEYS.map(([k, n]) => ({ n, ratio: m(`growth.${k}.n${large}.p99`) / m(`growth.${k}.n${small}.p99`) }));
    const measured = rows.filter((r) => Number.isFinite(r.ratio));
    out.push({
      id: 'growth',
      title: `Query p99 at ${large} orders ≤ 1.2× the p99 at ${small}`,
      pass: measured.length ? measured.every((r) => r.ratio <= 1.2) : null,
      measured: measured.map((r) => `${r.n} ${f1(r.ratio, 2)}×`).join('; '),
      threshold: 'every query ≤ 1.2×',
    });
  }
  // 6. No read-model (or write-store) document grows with the number of orders.
  {
    const [small, large] = p.growthSizes;
    const sizes = new Map<string, { a?: number; b?: number }>();
    for (const f of figs.all()) {
      const x = /^docsize\.(.+)\.n(\d+)\.max_bytes$/.exec(f.name);
      if (!x) continue;
      const e = sizes.get(x[1]) ?? sizes.set(x[1], {}).get(x[1])!;
      if (Number(x[2]) === small) e.a = f.median;
      if (Number(x[2]) === large) e.b = f.median;
    }
    const rows = [...sizes].filter(([, e]) => e.a !== undefined && e.b !== undefined).map(([k, e]) => ({ k, a: e.a!, b: e.b!, ok: e.b! <= 1.2 * e.a! + DOC_SLACK_BYTES }));
    const failing = rows.filter((r) => !r.ok);
    const worst = [...rows].sort((x, y) => y.b / y.a - x.b / x.a).slice(0, 4);
    out.push({
      id: 'doc-size',
      title: `No document grows with the number of orders: the largest document of every collection at ${large} orders ≤ 1.2× (+ 1 kB) its size at ${small}`,
      pass: rows.length ? failing.length === 0 : null,
      measured: rows.length
        ? `${rows.length} collections; ${failing.length ? `growing: ${failing.map((r) => `${r.k} ${r.a} → ${r.b} B`).join('; ')}` : `largest ratios: ${worst.map((r) => `${r.k} ${f1(r.b / r.a, 2)}×`).join('; ')}`}`
        : 'n/a',
      threshold: 'every collection: largest @ large ≤ 1.2 × largest @ small + 1024 B',
    });
  }

  // 7. Store round trips per paid order, every service, create + pay.
  {
    const rt = m('roundtrips.total.per_paid_order');
    const part = (svc: string) => `${svc} ${f1(m(`roundtrips.${svc}.create.per_order`))} + ${f1(m(`roundtrips.${svc}.pay.per_order`))}`;
    out.push({
      id: 'roundtrips',
      title: 'Store round trips per paid order (every service, create + pay) ≤ 6',
      pass: Number.isFinite(rt) ? rt <= 6 : null,
      measured: `${f1(rt)} per paid order (create + pay: ${['command-svc', 'projector-svc', 'query-svc'].map(part).join('; ')})`,
      threshold: '≤ 6',
    });
  }
  return out;
}

/** Fixed-size documents vary by a few hundred bytes with their contents (ids, names): that is not growth. */
const DOC_SLACK_BYTES = 1_024;
