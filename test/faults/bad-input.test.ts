// Fault injection: a bounded fuzz pass of bad input, after a real workload.
//
// REST through the edge (malformed JSON, wrong types, huge bodies, unknown
// enum values, `{"$gt": ""}` where a string belongs, random JSON and random
// text) and gRPC (random protobuf bytes straight onto
// /cqrs.v1.CommandService/CreateOrder with identity serializers, truncated
// real requests, and typed requests with bad values). Every case must get a
// clear refusal (HTTP 4xx; gRPC INVALID_ARGUMENT), the services must stay up
// and SERVING, nothing may be stored (write-store counts) or published (a tap
// on cqrs.events), and the read models must be exactly as before.
import { randomUUID } from 'node:crypto';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { MongoClient } from 'mongodb';
import { CreateOrderRequest } from '../../gen/ts/cqrs/v1/command_service';
import type { PaymentMethod } from '../../gen/ts/cqrs/v1/common';
import { Status } from '../../gen/ts/google/rpc/status';
import { BadRequest } from '../../gen/ts/google/rpc/error_details';
import { toCreateOrder } from '../../command-svc/requests';
import { Cleanup, grpcHealth, keepLogsOnFailure, Tap } from '../support/faults-infra';
import { expectClean, report, settle, takeSnapshot, Workload } from '../support/faults-workload';
import { startWatchedMesh } from '../support/faults-mesh';

const cleanup = new Cleanup();
afterAll(() => cleanup.run(), 120_000);

const SEED = 20_251_125;

async function writeCounts(mongoUrl: string): Promise<Record<string, number>> {
  const mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5_000, retryWrites: false });
  await mongo.connect();
  try {
    const db = mongo.db('cqrs_write');
    const names = ['commits', 'stream_heads', 'outbox', 'idempotency_keys'];
    const counts = await Promise.all(names.map((n) => db.collection(n).countDocuments({})));
    return Object.fromEntries(names.map((n, i) => [n, counts[i]]));
  } finally {
    await mongo.close();
  }
}

/** Raw bytes to a unary method, identity serializers: whatever the server answers. */
function rawUnary(client: Client, path: string, body: Buffer): Promise<{ code: number; details: string; fields: string[] }> {
  return new Promise((resolve) =>
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, new Metadata(), { deadline: Date.now() + 10_000 }, (err: ServiceError | null) => {
      if (!err) return resolve({ code: status.OK, details: '', fields: [] });
      resolve({ code: err.code, details: err.details, fields: violatedFields(err) });
    }),
  );
}

function violatedFields(err: ServiceError): string[] {
  const raw = err.metadata?.get('grpc-status-details-bin')[0];
  if (raw === undefined) return [];
  const st = Status.decode(typeof raw === 'string' ? Buffer.from(raw, 'base64') : raw);
  return st.details.filter((d) => d.typeUrl.endsWith('google.rpc.BadRequest')).flatMap((d) => BadRequest.decode(d.value).fieldViolations.map((v) => v.field));
}

/** What the command service would do with these bytes, judged locally: undecodable, invalid, or a real order. */
function judge(bytes: Uint8Array): 'undecodable' | 'invalid' | 'valid' {
  let req: CreateOrderRequest;
  try {
    req = CreateOrderRequest.decode(bytes);
  } catch {
    return 'undecodable';
  }
  try {
    toCreateOrder(req, randomUUID());
    return 'valid';
  } catch {
    return 'invalid';
  }
}

interface HttpCase {
  what: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  /** Acceptable statuses (default 400). */
  expect?: number[];
  /** Fields the error must name (google.rpc.BadRequest). */
  fields?: string[];
}

test('bad input on REST and gRPC: clear 4xx / INVALID_ARGUMENT, services stay up, nothing stored or published', async () => {
  const { mesh, api, watch } = await startWatchedMesh(cleanup);
  const raw = new Client(mesh.urls.command, credentials.createInsecure());
  cleanup.add('raw client', () => raw.close());

  await keepLogsOnFailure(mesh, async () => {
    // A real workload first, so there is state to (not) disturb.
    const w = new Workload({ orders: 120, concurrency: 10 });
    await w.stock(api);
    await watch.guard(w.run(api));
    const before = await watch.guard(settle(api, w, mesh.urls.mongo, 60_000));
    expectClean(before, mesh.logs);
    const countsBefore = await writeCounts(mesh.urls.mongo);
    const tap = await Tap.open(mesh.urls.amqp);
    cleanup.add('tap', () => tap.close());
    const someOrder = w.orders.find((o) => o.orderId)!.orderId!;

    // ---- REST through the edge
    const uuid = randomUUID();
    const gt = '{"$gt": ""}';
    const cases: HttpCase[] = [
      ...['{', '{"user_id":', 'nope', '[]', '"text"', '123', 'null', '{"user_id":1,}', '\u0000\u0001', "{'user_id':1}"].map((body) => ({ what: `malformed JSON ${JSON.stringify(body)}`, method: 'POST' as const, path: '/cqrs/commands/orders', body })),
      { what: 'empty object', method: 'POST', path: '/cqrs/commands/orders', body: '{}', fields: ['user_id'] },
      { what: 'user_id as text', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":"abc","product_id":456,"quantity":1}' },
      { what: 'user_id as float', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":1.5,"product_id":456,"quantity":1}' },
      { what: 'user_id as bool', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":true,"product_id":456,"quantity":1}' },
      { what: 'user_id overflowing int32', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":1e20,"product_id":456,"quantity":1}' },
      { what: 'user_id as $gt', method: 'POST', path: '/cqrs/commands/orders', body: `{"user_id":${gt},"product_id":456,"quantity":1}` },
      { what: 'negative user_id', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":-5,"product_id":456,"quantity":1}', fields: ['user_id'] },
      { what: 'quantity zero', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":5,"product_id":456,"quantity":0}', fields: ['quantity'] },
      { what: 'quantity too large', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":5,"product_id":456,"quantity":10001}', fields: ['quantity'] },
      { what: 'user_email as $gt', method: 'POST', path: '/cqrs/commands/orders', body: `{"user_id":5,"product_id":456,"quantity":1,"user_email":${gt}}` },
      { what: 'user_email "$gt"', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":5,"product_id":456,"quantity":1,"user_email":"$gt"}', fields: ['user_email'] },
      { what: 'items as text', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":5,"items":"x"}' },
      { what: 'items with bad lines', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":5,"items":[{"product_id":"x","quantity":1}]}' },
      { what: 'items and product_id both', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":5,"product_id":1,"quantity":1,"items":[{"product_id":2,"quantity":1}]}', fields: ['items'] },
      // Envoy ignores body fields the message does not define: the request reaches command-svc, which names user_id.
      { what: 'unknown field', method: 'POST', path: '/cqrs/commands/orders', body: '{"user_id":0,"product_id":456,"quantity":1,"bogus":{"$where":"1"}}', fields: ['user_id'] },
      { what: 'huge body (2 MiB)', method: 'POST', path: '/cqrs/commands/orders', body: JSON.stringify({ user_id: 0, user_email: 'x'.repeat(2 * 1024 * 1024) }), expect: [400, 413] },
      { what: 'huge email (300 KiB)', method: 'POST', path: '/cqrs/commands/orders', body: JSON.stringify({ user_id: 5, product_id: 456, quantity: 1, user_email: `${'x'.repeat(300 * 1024)}@example.com` }), fields: ['user_email'] },
      { what: 'payment with unknown enum', method: 'POST', path: '/cqrs/commands/payments', body: `{"order_id":"${someOrder}","amount":1,"method":"BITCOIN"}` },
      { what: 'payment with numeric unknown enum', method: 'POST', path: '/cqrs/commands/payments', body: `{"order_id":"${someOrder}","amount":1,"method":99}`, fields: ['method'] },
      { what: 'payment order_id as $gt', method: 'POST', path: '/cqrs/commands/payments', body: `{"order_id":${gt},"amount":1,"method":"CREDIT_CARD"}` },
      { what: 'payment order_id "$gt"', method: 'POST', path: '/cqrs/commands/payments', body: '{"order_id":"$gt","amount":1,"method":"CREDIT_CARD"}', fields: ['order_id'] },
      { what: 'payment amount as text', method: 'POST', path: '/cqrs/commands/payments', body: `{"order_id":"${uuid}","amount":"abc","method":"CREDIT_CARD"}` },
      { what: 'payment amount with 3 decimals', method: 'POST', path: '/cqrs/commands/payments', body: `{"order_id":"${uuid}","amount":1.001,"method":"CREDIT_CARD"}`, fields: ['amount'] },
      { what: 'payment amount negative', method: 'POST', path: '/cqrs/commands/payments', body: `{"order_id":"${uuid}","amount":-1,"method":"CREDIT_CARD"}`, fields: ['amount'] },
      { what: 'payment amount NaN', method: 'POST', path: '/cqrs/commands/payments', body: `{"order_id":"${uuid}","amount":"NaN","method":"CREDIT_CARD"}`, fields: ['amount'] },
      { what: 'inventory product_id negative', method: 'POST', path: '/cqrs/commands/inventory', body: '{"product_id":-1,"quantity":5}', fields: ['product_id'] },
      { what: 'inventory product_name as $gt', method: 'POST', path: '/cqrs/commands/inventory', body: `{"product_id":77,"product_name":${gt},"unit_price":1,"quantity":1}` },
      { what: 'inventory negative quantity', method: 'POST', path: '/cqrs/commands/inventory', body: '{"product_id":77,"product_name":"x","unit_price":1,"quantity":-5}', fields: ['quantity'] },
      { what: 'inventory quantity and delta', method: 'POST', path: '/cqrs/commands/inventory', body: '{"product_id":77,"product_name":"x","unit_price":1,"quantity":1,"quantity_delta":1}', fields: ['quantity_delta'] },
      { what: 'cancel order_id "$gt"', method: 'POST', path: `/cqrs/commands/orders/${encodeURIComponent('{"$gt":""}')}/cancel`, body: '{}', fields: ['order_id'] },
      { what: 'ship order_id not a UUID', method: 'POST', path: '/cqrs/commands/orders/..%2F..%2Fetc/ship', body: '{}' },
      { what: 'get order $gt', method: 'GET', path: `/cqrs/queries/orders/${encodeURIComponent('{"$gt":""}')}`, fields: ['order_id'] },
      { what: 'user summary of a non-number', method: 'GET', path: '/cqrs/queries/users/abc/summary' },
      { what: 'user summary of a negative user', method: 'GET', path: '/cqrs/queries/users/-1/summary', fields: ['user_id'] },
      { what: 'user orders, unknown status', method: 'GET', path: '/cqrs/queries/users/5/orders?status=SHIPPED_TO_MARS' },
      { what: 'inventory, negative page size', method: 'GET', path: '/cqrs/queries/inventory?page_size=-1', fields: ['page_size'] },
      { what: 'inventory, forged page token', method: 'GET', path: `/cqrs/queries/inventory?page_token=${encodeURIComponent(Buffer.from('{"$gt":""}').toString('base64url'))}`, fields: ['page_token'] },
      { what: 'inventory, low_stock_only not a bool', method: 'GET', path: '/cqrs/queries/inventory?low_stock_only=maybe' },
    ];
    // Random JSON objects whose user_id is always bad, with random extra keys.
    const badUser = fc.constantFrom<unknown>(0, -1, 'x', 1.25, true, [], {}, { $gt: '' }, null, 2 ** 40);
    const randomObjects = fc.sample(fc.record({ user_id: badUser, extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) }), { numRuns: 80, seed: SEED });
    for (const [i, r] of randomObjects.entries()) {
      cases.push({ what: `random object #${i}`, method: 'POST', path: '/cqrs/commands/orders', body: JSON.stringify({ ...r.extra, user_id: r.user_id }) });
    }
    // Random text bodies.
    for (const [i, body] of fc.sample(fc.string({ maxLength: 64, unit: 'binary' }), { numRuns: 60, seed: SEED + 1 }).entries()) {
      cases.push({ what: `random text #${i}`, method: 'POST', path: '/cqrs/commands/orders', body });
    }

    const rest: Array<{ what: string; status: number; json: boolean; message: boolean; fields: string[] }> = [];
    for (const c of cases) {
      let statusCode = 0;
      let text = '';
      try {
        const res = await fetch(`${mesh.urls.edge}${c.path}`, {
          method: c.method,
          headers: c.body !== undefined ? { 'content-type': 'application/json' } : {},
          body: c.body,
          signal: AbortSignal.timeout(15_000),
        });
        statusCode = res.status;
        text = await res.text();
      } catch (err) {
        text = String(err);
      }
      let body: { message?: string; details?: Array<{ fieldViolations?: Array<{ field: string }>; field_violations?: Array<{ field: string }> }> } | undefined;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const fields = (body?.details ?? []).flatMap((d) => (d.field_violations ?? d.fieldViolations ?? []).map((v) => v.field));
      rest.push({ what: c.what, status: statusCode, json: !!body && typeof body === 'object', message: !!body?.message, fields });
    }
    const restBad = rest.filter((r, i) => {
      const c = cases[i];
      const okStatus = (c.expect ?? [400]).includes(r.status);
      const okBody = r.status === 413 || (r.json && r.message);
      const okFields = (c.fields ?? []).every((f) => r.fields.includes(f));
      return !(okStatus && okBody && okFields);
    });

    // ---- gRPC: random bytes, truncated real requests, oversized
    const path = '/cqrs.v1.CommandService/CreateOrder';
    const valid = Buffer.from(CreateOrderRequest.encode(CreateOrderRequest.fromPartial({ userId: 5, productId: w.products[2].productId, quantity: 1 })).finish());
    const bodies: Buffer[] = [
      ...fc.sample(fc.uint8Array({ minLength: 1, maxLength: 200 }), { numRuns: 150, seed: SEED + 2 }).map((b) => Buffer.from(b)),
      ...Array.from({ length: valid.length - 1 }, (_, i) => valid.subarray(0, i + 1)),
      Buffer.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // an 11-byte varint
      Buffer.from([0x2a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // items: a length far past the end
    ];
    const grpcResults: Array<{ judged: string; code: number; details: string }> = [];
    let skippedValid = 0;
    for (const b of bodies) {
      const judged = judge(b);
      // Bytes that happen to be a valid order would (rightly) create one: not bad input.
      if (judged === 'valid') {
        skippedValid++;
        continue;
      }
      const r = await rawUnary(raw, path, b);
      grpcResults.push({ judged, code: r.code, details: r.details });
    }
    const oversized = await rawUnary(raw, path, Buffer.concat([Buffer.from([0x22]), encodeVarint(2 * 1024 * 1024), Buffer.alloc(2 * 1024 * 1024, 0x61)]));

    // Typed requests with bad values: INVALID_ARGUMENT naming the field.
    const typed: Array<[string, () => Promise<unknown>, string]> = [
      ['CreateOrder user_id -5', () => api.createOrder({ userId: -5, productId: 1, quantity: 1 }), 'user_id'],
      ['CreateOrder quantity 0', () => api.createOrder({ userId: 5, productId: 1, quantity: 0 }), 'quantity'],
      ['CreateOrder email "$gt"', () => api.createOrder({ userId: 5, productId: 1, quantity: 1, userEmail: '{"$gt": ""}' }), 'user_email'],
      ['ProcessPayment order_id "$gt"', () => api.processPayment({ orderId: '{"$gt": ""}', amount: 1, method: 1 }), 'order_id'],
      ['ProcessPayment amount NaN', () => api.processPayment({ orderId: someOrder, amount: Number.NaN, method: 1 }), 'amount'],
      ['ProcessPayment amount Infinity', () => api.processPayment({ orderId: someOrder, amount: Number.POSITIVE_INFINITY, method: 1 }), 'amount'],
      ['ProcessPayment unknown method 99', () => api.processPayment({ orderId: someOrder, amount: 1, method: 99 as PaymentMethod }), 'method'],
      ['CancelOrder order_id "$gt"', () => api.cancelOrder({ orderId: '$gt' }), 'order_id'],
      ['UpdateInventory product_id 0', () => api.updateInventory({ productId: 0, quantity: 1 }), 'product_id'],
      ['GetOrder order_id "$gt"', () => api.getOrder('{"$gt": ""}'), 'order_id'],
      ['ListOrders page_size -1', () => api.listOrders({ pageSize: -1 }), 'page_size'],
      ['GetInventory forged token', () => api.getInventory({ pageToken: 'eyIkZ3QiOiIifQ' }), 'page_token'],
    ];
    const typedBad: string[] = [];
    for (const [what, fn, field] of typed) {
      try {
        await fn();
        typedBad.push(`${what}: accepted`);
      } catch (err) {
        const e = err as ServiceError;
        if (e.code !== status.INVALID_ARGUMENT || !violatedFields(e).includes(field)) typedBad.push(`${what}: ${status[e.code]} ${e.details} ${JSON.stringify(violatedFields(e))}`);
      }
    }

    // ---- afterwards: up, SERVING, nothing stored, nothing published, read models as before
    const alive = [...mesh.children].filter(([, c]) => c.proc.exitCode !== null || c.proc.signalCode !== null).map(([n]) => n);
    const health = {
      command: await grpcHealth(mesh.urls.command),
      query: await grpcHealth(mesh.urls.query),
      commandRest: (await fetch(`${mesh.urls.edge}/cqrs/commands/health`, { signal: AbortSignal.timeout(5_000) })).status,
      queryRest: (await fetch(`${mesh.urls.edge}/cqrs/queries/health`, { signal: AbortSignal.timeout(5_000) })).status,
    };
    const countsAfter = await writeCounts(mesh.urls.mongo);
    const published = tap.messages.length;
    const after = await takeSnapshot(api, w);
    const strip = (s: typeof after) => ({ ...s, statistics: { ...s.statistics, generatedAt: undefined, ordersLastHour: 0, ordersLastDay: 0 }, summaries: [...s.summaries.entries()].sort((a, b) => a[0] - b[0]) });
    const verdict = await settle(api, w, mesh.urls.mongo, 30_000);

    const grpcByJudgement: Record<string, Record<string, number>> = {};
    for (const r of grpcResults) {
      grpcByJudgement[r.judged] ??= {};
      grpcByJudgement[r.judged][status[r.code]] = (grpcByJudgement[r.judged][status[r.code]] ?? 0) + 1;
    }
    report('bad input', w, verdict, {
      faults: { restCases: cases.length, grpcRawCases: grpcResults.length + 1, grpcTypedCases: typed.length },
      restStatuses: rest.reduce<Record<number, number>>((m, r) => ((m[r.status] = (m[r.status] ?? 0) + 1), m), {}),
      grpcByJudgement, skippedValid, oversized: status[oversized.code], published, countsBefore, countsAfter,
    });

    expect({
      restBad: restBad.map((r) => `${r.what}: HTTP ${r.status}${r.json ? '' : ' (no JSON body)'} fields ${JSON.stringify(r.fields)}`),
      grpcNotInvalidArgument: tally(grpcResults.filter((r) => r.code !== status.INVALID_ARGUMENT).map((r) => `${r.judged} bytes → ${status[r.code]} "${r.details}"`)),
      oversized: status[oversized.code],
      typedBad,
      crashed: alive,
      health,
      storedChanged: JSON.stringify(countsAfter) === JSON.stringify(countsBefore) ? 'no' : `${JSON.stringify(countsBefore)} -> ${JSON.stringify(countsAfter)}`,
      published,
    }).toEqual({
      restBad: [],
      grpcNotInvalidArgument: {},
      oversized: 'RESOURCE_EXHAUSTED',
      typedBad: [],
      crashed: [],
      health: { command: 'SERVING', query: 'SERVING', commandRest: 200, queryRest: 200 },
      storedChanged: 'no',
      published: 0,
    });
    expect(strip(after)).toEqual(strip(before.snapshot!));
    expectClean(verdict, mesh.logs);
  });
}, 300_000);

function tally(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

function encodeVarint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
