// Keeps the bench from rotting: the whole machinery (mesh, every workload,
// baselines, targets, charts, report) at a tiny size, in seconds. It checks
// that a results JSON was written with the expected figures, all positive;
// it never judges performance (targets are reported, not asserted).
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
];

describe('bench smoke', () => {
  let dir: string;
  let out: BenchOutput;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    out = await runBench({ smoke: true, outDir: dir, progress: false });
  }, 120_000);

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
    expect(json.targets.map((t: { id: string }) => t.id)).toEqual(['e2e-throughput', 'lag-p99', 'projector-batching', 'projector-keep-up', 'edge-overhead', 'growth']);
    expect(json.machine.cpus).toBeGreaterThan(0);
    const md = readFileSync(out.resultsMdPath, 'utf8');
    expect(md).toContain('## Targets');
    expect(json.charts.filter((c: string) => c.endsWith('.png')).length).toBeGreaterThanOrEqual(4);
    for (const c of json.charts) expect(readFileSync(join(dir, c)).length).toBeGreaterThan(100);
  });
});
