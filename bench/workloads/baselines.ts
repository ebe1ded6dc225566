// (6) Raw baselines, in the same run on the same machine: grpc-js no-op
// unary calls with CreateOrder's message sizes, amqplib publish/consume on
// the same broker, the same store's single and batched upserts, and the
// EventEnvelope codec against JSON.
import { CreateOrderRequest, CreateOrderResponse } from '../../gen/ts/cqrs/v1/command_service';
import { OrderStatus } from '../../gen/ts/cqrs/v1/common';
import { encodeEnvelope } from '../../lib/envelope';
import { AmqpBaseline } from '../baselines/amqp';
import { codecBaseline, sampleEnvelope } from '../baselines/codec';
import { NoopGrpc } from '../baselines/grpc';
import { ID_PROBE_DOCS, storeBaseline } from '../baselines/store';
import { orderRequest, type Ctx } from '../context';
import type { RunResult } from '../load';
import { summarize } from '../stats';

export const PROJECTOR_PREFETCH = 64;
export const BULK_BATCH = 64;

/** Request and response sizes of a CreateOrder call, as encoded on the wire. */
export function createOrderSizes(ctx: Ctx): { req: number; res: number } {
  const req = CreateOrderRequest.encode(orderRequest(ctx, 1).req).finish().length;
  const res = CreateOrderResponse.encode({ orderId: '2d8f6c1a-7e34-4b9a-8c55-0123456789ab', status: OrderStatus.PENDING, message: 'order accepted; stock check in progress', consistencyToken: 'A'.repeat(64) }).finish().length;
  return { req, res };
}

export function addRun(ctx: Ctx, prefix: string, r: RunResult, label: string, unit = 'calls/s'): void {
  const s = summarize(r.latencies);
  const g = 'baselines';
  ctx.figs.add(`${prefix}.throughput`, r.throughput, { unit, better: 'higher', label: `${label}: throughput`, group: g, samples: r.ok });
  ctx.figs.add(`${prefix}.p50`, s.p50, { unit: 'ms', better: 'lower', label: `${label}: latency p50`, group: g, samples: s.n });
  ctx.figs.add(`${prefix}.p99`, s.p99, { unit: 'ms', better: 'lower', label: `${label}: latency p99`, group: g });
}

export async function grpcNoopBaselines(ctx: Ctx, noop: NoopGrpc): Promise<void> {
  const { req, res } = createOrderSizes(ctx);
  for (const c of ctx.p.concurrencies) {
    ctx.progress.step(`baselines: grpc-js no-op unary (${req} B → ${res} B) c=${c}, ${ctx.p.repeats} windows`);
    const runs = await noop.run({ concurrency: c, durationMs: ctx.p.baselineStepMs, windows: ctx.p.repeats, warmupMs: ctx.p.warmupMs, reqBytes: req, resBytes: res });
    for (const run of runs) addRun(ctx, `baselines.grpc_noop.create_order_sizes.c${c}`, run, `grpc-js no-op unary, CreateOrder sizes, c=${c}`);
  }
}

export async function runBaselines(ctx: Ctx): Promise<void> {
  const p = ctx.p;
  const noop = await NoopGrpc.start();
  try {
    await grpcNoopBaselines(ctx, noop);
  } finally {
    ctx.helperCpu += await noop.stop();
  }

  const body = encodeEnvelope(sampleEnvelope());
  const broker = await AmqpBaseline.open(ctx.bm.mesh.urls.amqp);
  try {
    for (const w of [PROJECTOR_PREFETCH, 1]) {
      ctx.progress.step(`baselines: amqplib publish with confirms, window ${w}, ${p.repeats} windows`);
      const runs = await broker.publish({ window: w, durationMs: p.baselineStepMs, windows: p.repeats, warmupMs: p.warmupMs, body });
      for (const run of runs) addRun(ctx, `baselines.amqp.publish_confirm.w${w}`, run, `amqplib publish + confirm, ${w} in flight`, 'msg/s');
    }
    for (let r = 0; r < p.repeats; r++) {
      for (const prefetch of [PROJECTOR_PREFETCH, 1]) {
        ctx.progress.step(`baselines: amqplib consume with acks, prefetch ${prefetch}, repeat ${r + 1}/${p.repeats}`);
        const count = prefetch === 1 ? Math.max(50, Math.round(p.consumeCount / 4)) : p.consumeCount;
        const c = await broker.consume({ prefetch, count, body });
        ctx.figs.add(`baselines.amqp.consume_ack.p${prefetch}.throughput`, c.throughput, { unit: 'msg/s', better: 'higher', label: `amqplib consume + ack, prefetch ${prefetch}: throughput`, group: 'baselines', samples: c.messages });
      }
      ctx.progress.step(`baselines: broker publish→deliver latency at ${p.brokerLatencyRate} msg/s, repeat ${r + 1}/${p.repeats}`);
      const lat = summarize(await broker.latency({ ratePerSec: p.brokerLatencyRate, durationMs: p.baselineStepMs, prefetch: PROJECTOR_PREFETCH, body }));
      ctx.figs.add('baselines.amqp.broker_latency.p50', lat.p50, { unit: 'ms', better: 'lower', label: `broker publish→consume latency p50 (${p.brokerLatencyRate} msg/s, prefetch ${PROJECTOR_PREFETCH})`, group: 'baselines', samples: lat.n });
      ctx.figs.add('baselines.amqp.broker_latency.p99', lat.p99, { unit: 'ms', better: 'lower', label: `broker publish→consume latency p99 (${p.brokerLatencyRate} msg/s, prefetch ${PROJECTOR_PREFETCH})`, group: 'baselines' });
    }
  } finally {
    await broker.close();
  }

  const db = ctx.bm.mongo.db('bench_baselines');
  ctx.progress.step(`baselines: store upserts (single, 16 concurrent, bulkWrite of ${BULK_BATCH}) and findOne by string and numeric _id, ${p.repeats} windows each`);
  const s = await storeBaseline(db, { windows: p.repeats, durationMs: p.baselineStepMs, warmupMs: p.warmupMs, concurrency: 16, batchSize: BULK_BATCH });
  for (let r = 0; r < p.repeats; r++) {
    addRun(ctx, 'baselines.store.upsert_single', s.single[r], 'store replaceOne upsert, one at a time', 'writes/s');
    addRun(ctx, 'baselines.store.upsert_c16', s.concurrent[r], 'store replaceOne upsert, 16 concurrent', 'writes/s');
    ctx.figs.add('baselines.store.bulk_upsert.docs_per_s', s.bulk[r].throughput * BULK_BATCH, { unit: 'docs/s', better: 'higher', label: `store bulkWrite of ${BULK_BATCH} upserts: documents/s`, group: 'baselines', samples: s.bulk[r].ok * BULK_BATCH });
    ctx.figs.add('baselines.store.bulk_upsert.batch_p50', summarize(s.bulk[r].latencies).p50, { unit: 'ms', better: 'lower', label: `store bulkWrite of ${BULK_BATCH} upserts: latency p50`, group: 'baselines' });
    addRun(ctx, 'baselines.store.find_by_id', s.findById[r], 'store findOne by _id, one at a time', 'reads/s');
    addRun(ctx, 'baselines.store.find_by_numeric_id', s.findByNumericId[r], `store findOne by numeric _id, ${ID_PROBE_DOCS} documents`, 'reads/s');
    addRun(ctx, 'baselines.store.find_by_string_id', s.findByStringId[r], `store findOne by string _id, ${ID_PROBE_DOCS} documents`, 'reads/s');
  }
  ctx.figs.relate('baselines.store.bulk_upsert.docs_per_s', 'baselines.store.upsert_single.throughput', 'batched ÷ one-at-a-time documents/s');
  ctx.figs.relate('baselines.store.find_by_numeric_id.p50', 'baselines.store.find_by_string_id.p50', 'numeric ÷ string _id lookup latency');

  for (let r = 0; r < p.repeats; r++) {
    ctx.progress.step(`baselines: EventEnvelope protobuf vs JSON, repeat ${r + 1}/${p.repeats}`);
    const c = codecBaseline(p.codecMs);
    const add = (name: string, v: number, label: string) => ctx.figs.add(`baselines.codec.${name}`, v, { unit: 'ops/s', better: 'higher', label, group: 'baselines' });
    add('proto_encode', c.protoEncodePerSec, `EventEnvelope protobuf encode (${c.protoBytes} B)`);
    add('proto_decode', c.protoDecodePerSec, `EventEnvelope protobuf decode (${c.protoBytes} B)`);
    add('json_stringify', c.jsonEncodePerSec, `EventEnvelope JSON.stringify (${c.jsonBytes} B)`);
    add('json_parse', c.jsonDecodePerSec, `EventEnvelope JSON.parse (${c.jsonBytes} B)`);
  }
  ctx.figs.relate('baselines.codec.proto_encode', 'baselines.codec.json_stringify', 'protobuf ÷ JSON ops/s');
  ctx.figs.relate('baselines.codec.proto_decode', 'baselines.codec.json_parse', 'protobuf ÷ JSON ops/s');
}
