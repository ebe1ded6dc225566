// Keeps the bench from rotting: the whole machinery (mesh, every workload,
// baselines, targets, charts, report) at a tiny size, in well under a
// minute. It checks that a results JSON was written with the expected
// figures, all positive; it never judges performance (targets are reported,
// not asserted). The smoke profile goes through the same restarts as the
// full run: projector-svc stopped, a backlog queued, and started again with
// prefetch 1 and then as configured; a restart whose readiness line does not
// come within the launcher's 30 s fails the run, and so this test.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench, type BenchOutput } from '../../bench/bench';

const EXPECTED = [
  'commands.create_order.c1.throughput',
  'commands.create_order.c4.p99',
  'commands.process_payment.c4.p50',
  'projection.r80.lag_p99',
  'projection.r50.lag_p50',
  'projection.e2e_sustained_throughput',
  'projection.saturation.keep_up',
  'projection.drain.prefetch64.events_per_s',
  'projection.drain.prefetch1.events_per_s',
  'projection.drain.prefetch1.ready_ms',
  'projection.drain.prefetch64.ready_ms',
  'projection.r80.probe_get_order_per_s',
  'projection.r80.probe_calls_per_probe',
  'projection.r80.hold_s',
  'roundtrips.command-svc.create.per_order',
  'roundtrips.projector-svc.create.per_order',
  'roundtrips.command-svc.pay.per_order',
  'roundtrips.projector-svc.pay.per_order',
  'roundtrips.total.create.per_order',
  'roundtrips.total.pay.per_order',
  'roundtrips.total.per_paid_order',
  'roundtrips.create.orders_per_s',
  'bursts.spread.acked_per_s',
  'bursts.spread.order_process_orders_per_s',
  'bursts.spread.projector_events_per_s',
  'bursts.spread.after_order.validated_ms',
  'bursts.spread.after_order.visible_ms',
  'bursts.flash.acked_per_s',
  'bursts.flash.order_process_orders_per_s',
  'bursts.flash.after_order.validated_ms',
  'docsize.cqrs_read.orders.n100.max_bytes',
  'docsize.cqrs_read.orders.n300.max_bytes',
  'docsize.cqrs_write.commits.n300.max_bytes',
  'queries.grpc.get_order.p50',
  'queries.edge.get_order.throughput',
  'queries.grpc.get_order_statistics.p99',
  'queries.edge.list_user_orders.p99',
  'growth.get_user_summary.n300.p99',
  'growth.get_inventory.n100.p99',
  'memory.projector-svc.peak_rss_mb',
  'memory.store.peak_rss_mb',
  'baselines.grpc_noop.create_order_sizes.c4.throughput',
  'baselines.amqp.publish_confirm.w64.throughput',
  'baselines.amqp.publish_confirm.w1.throughput',
  'baselines.amqp.consume_ack.p64.throughput',
  'baselines.amqp.broker_latency.p99',
  'baselines.store.upsert_single.p99',
  'baselines.store.bulk_upsert.docs_per_s',
  'baselines.codec.proto_encode',
  'baselines.codec.json_parse',
  'overhead.off.throughput',
  'overhead.metrics.cpu_ms_per_order',
  'overhead.tracing.throughput',
  'overhead.tracing.cpu_ms_per_order',
];

describe('bench smoke', () => {
  let dir: string;
  let out: BenchOutput;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    out = await runBench({ smoke: true, outDir: dir, progress: false });
  }, 240_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('writes a results JSON with every expected figure, all positive', () => {
    expect(existsSync(out.jsonPath)).toBe(true);
    const json = JSON.parse(readFileSync(out.jsonPath, 'utf8'));
    const byName = new Map<string, { median: number; values: number[] }>(json.figures.map((f: { name: string }) => [f.name, f]));
    const missing = EXPECTED.filter((n) => !byName.has(n));
    expect(missing).toEqual([]);
    for (const n of EXPECTED) {
      const f = byName.get(n)!;
      expect(f.values.length).toBeGreaterThan(0);
      expect(Number.isFinite(f.median) && f.median > 0 ? n : `${n} = ${f.median}`).toBe(n);
    }
  });

  test('judges every target and writes the report and charts', () => {
    const json = JSON.parse(readFileSync(out.jsonPath, 'utf8'));
    expect(json.targets.map((t: { id: string }) => t.id)).toEqual([
      'e2e-throughput', 'lag-p99', 'projector-batching', 'projector-keep-up', 'edge-overhead', 'growth', 'doc-size', 'roundtrips',
    ]);
    // Every target was measured (pass or fail, never "not measured").
    expect(json.targets.filter((t: { pass: boolean | null }) => t.pass === null).map((t: { id: string }) => t.id)).toEqual([]);
    expect(json.machine.cpus).toBeGreaterThan(0);
    const md = readFileSync(out.resultsMdPath, 'utf8');
    for (const section of ['## Targets', '## Store round trips per order', '## How the lag is probed', '## Bursts and the flash sale', '## Largest document per collection']) expect(md).toContain(section);
    expect(json.charts.filter((c: string) => c.endsWith('.png')).length).toBeGreaterThanOrEqual(4);
    for (const c of json.charts) expect(readFileSync(join(dir, c)).length).toBeGreaterThan(100);
  });

  test('counts store round trips for every service that talks to the store, in both phases', () => {
    const json = JSON.parse(readFileSync(out.jsonPath, 'utf8'));
    const rt = json.roundtrips;
    expect(rt.orders.create).toBe(json.profile.roundtripOrders);
    expect(rt.orders.pay).toBeGreaterThan(0);
    expect(rt.complete).toEqual({ create: true, pay: true });
    // Creating and paying an order costs command-svc and projector-svc store work; ping is never in the rows.
    for (const svc of ['command-svc', 'projector-svc']) {
      for (const phase of ['create', 'pay']) {
        expect(rt.perOrder[svc][phase].all).toBeGreaterThan(0);
        expect(rt.perOrder[svc][phase].ping).toBeUndefined();
      }
    }
  });
});
