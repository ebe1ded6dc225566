// Baseline: our EventEnvelope through the generated protobuf codec (what goes
// on the broker and into the write store) against JSON.stringify/parse of
// the same object. In-process microbenchmark, ops per second.
import { performance } from 'node:perf_hooks';
import { EventEnvelope } from '../../gen/ts/cqrs/v1/events';

/** A realistic envelope: an OrderValidated with two priced lines. */
export function sampleEnvelope(i = 0): EventEnvelope {
  return {
    eventId: `6f1c2a3e-0b5d-4e7f-9a10-${String(100000000000 + i).slice(-12)}`,
    streamId: 'order-2d8f6c1a-7e34-4b9a-8c55-0123456789ab',
    version: 2,
    occurredAt: new Date(1_764_000_000_000 + i),
    correlationId: '9b2e4d6f-1a3c-4e5b-8d7f-abcdefabcdef',
    causationId: '4c6e8a0b-2d4f-4a6b-9c8d-fedcbafedcba',
    traceContext: {},
    payload: {
      $case: 'orderValidated',
      value: {
        orderId: '2d8f6c1a-7e34-4b9a-8c55-0123456789ab',
        lines: [
          { productId: 456, productName: 'Mechanical keyboard', quantity: 2, unitPriceCents: 4999 },
          { productId: 457, productName: 'Wireless mouse', quantity: 1, unitPriceCents: 1990 },
        ],
        totalCents: 11988,
      },
    },
  };
}

export interface CodecResult {
  protoEncodePerSec: number;
  protoDecodePerSec: number;
  jsonEncodePerSec: number;
  jsonDecodePerSec: number;
  protoBytes: number;
  jsonBytes: number;
}

function opsPerSec(fn: (i: number) => unknown, durationMs: number): number {
  let n = 0;
  let sink = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < durationMs) {
    for (let k = 0; k < 200; k++) sink += (fn(n++) as { length?: number })?.length ?? 1;
    t = performance.now();
  }
  if (sink < 0) console.log(sink);
  return (n * 1000) / (t - t0);
}

export function codecBaseline(durationMs: number): CodecResult {
  const env = sampleEnvelope();
  const bytes = EventEnvelope.encode(env).finish();
  const json = JSON.stringify(env);
  // Warm up the JIT on every path before measuring.
  opsPerSec(() => EventEnvelope.encode(env).finish(), 100);
  opsPerSec(() => EventEnvelope.decode(bytes), 100);
  opsPerSec(() => JSON.stringify(env), 100);
  opsPerSec(() => JSON.parse(json), 100);
  return {
    protoEncodePerSec: opsPerSec(() => EventEnvelope.encode(env).finish(), durationMs),
    protoDecodePerSec: opsPerSec(() => EventEnvelope.decode(bytes), durationMs),
    jsonEncodePerSec: opsPerSec(() => JSON.stringify(env), durationMs),
    jsonDecodePerSec: opsPerSec(() => JSON.parse(json), durationMs),
    protoBytes: bytes.length,
    jsonBytes: Buffer.byteLength(json),
  };
}
