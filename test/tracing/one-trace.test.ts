// One command, one trace: a mesh with tracing on exports to an OTLP/HTTP
// receiver of the test's own, a CreateOrder goes in through the REST edge
// with a traceparent, and the spans of the edge, command-svc and
// projector-svc must form one trace with the right parents, the order
// process's reaction a trace of its own linked to it, and the projector's
// "event projected" line carrying the trace id.
import { randomBytes } from 'node:crypto';
import { clients } from '../../kit/clients';
import { SpanKinds, startOtlpReceiver, tracingEnv, type OtlpReceiver, type ReceivedSpan } from '../../kit/otlp-receiver';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { eventually } from '../../kit/wait';
import { rpc } from '../e2e/helpers';
import { postJson } from '../support/http';

const PRODUCT = { productId: 7_301, productName: 'Traced lamp', unitPrice: 12.5, quantity: 50 };

let receiver: OtlpReceiver;
let mesh: TestMesh;
const lines: Array<{ name: string; line: string }> = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // A short export delay, so the test does not wait the default 5 s for each batch.
  const env = tracingEnv(receiver.url, { scheduleDelayMs: 100 });
  mesh = await startTestMesh({
    vhostPrefix: 'cqrs-tracing',
    env: { 'command-svc': env, 'query-svc': env, 'projector-svc': env, edge: env },
    onLine: (name, line) => lines.push({ name, line }),
  });
  const grpc = clients(mesh.urls.command, mesh.urls.query);
  try {
    await rpc(grpc).updateInventory(PRODUCT);
  } finally {
    grpc.close();
  }
  // Projected before the order comes: a batch's writes are in its first event's trace, and that must be the order's.
  await eventually(
    async () => lines.some((l) => l.name === 'projector-svc' && l.line.includes('"msg":"event projected"') && l.line.includes(`"streamId":"product-${PRODUCT.productId}"`)) || undefined,
    20_000,
    'the product to be projected',
  );
}, 120_000);

afterAll(async () => {
  await mesh?.teardown();
  await receiver?.close();
}, 60_000);

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** What a failed expectation needs to be understood: the spans seen, one per line. */
const describeSpans = (spans: ReceivedSpan[]) =>
  spans.map((s) => `${s.service} ${s.name} kind=${s.kind} trace=${s.traceId} span=${s.spanId} parent=${s.parentSpanId || '-'} links=${s.links.map((l) => `${l.traceId}/${l.spanId}`).join(',')}`).join('\n');

test('a CreateOrder through the edge is one trace from the REST span to the read-store writes; the order process links to it', async () => {
  const traceId = hex(16);
  const callerSpanId = hex(8);
  const created = await postJson(`${mesh.urls.edge}/cqrs/commands/orders`, { user_id: 31, product_id: PRODUCT.productId, quantity: 2 }, { traceparent: `00-${traceId}-${callerSpanId}-01` });
  expect(created.status).toBe(200);
  const stream = `order-${created.body.order_id}`;

  const inTrace = (s: ReceivedSpan) => s.traceId === traceId;
  const find = (p: (s: ReceivedSpan) => boolean) => receiver.spans.find(p);
  const spans = await eventually(
    async () => {
      const edgeServer = find((s) => inTrace(s) && s.service === 'edge' && s.kind === SpanKinds.SERVER);
      const edgeClient = find((s) => inTrace(s) && s.service === 'edge' && s.kind === SpanKinds.CLIENT);
      const commandServer = find((s) => inTrace(s) && s.service === 'command-svc' && s.kind === SpanKinds.SERVER);
      const commit = find((s) => inTrace(s) && s.service === 'command-svc' && s.name === 'store commit');
      const publish = find((s) => inTrace(s) && s.service === 'command-svc' && s.kind === SpanKinds.PRODUCER && s.attributes['cqrs.stream_id'] === stream);
      const projected = find((s) => inTrace(s) && s.service === 'projector-svc' && s.kind === SpanKinds.CONSUMER && s.attributes['cqrs.stream_id'] === stream);
      const reaction = find((s) => s.service === 'command-svc' && s.kind === SpanKinds.CONSUMER && s.links.some((l) => l.traceId === traceId));
      const all = { edgeServer, edgeClient, commandServer, commit, publish, projected, reaction };
      return Object.values(all).every(Boolean) ? (all as { [K in keyof typeof all]: ReceivedSpan }) : undefined;
    },
    30_000,
    `the spans of the trace ${traceId}`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- spans received ---\n${describeSpans(receiver.spans)}`);
  });
  const explain = `\n--- spans received ---\n${describeSpans(receiver.spans)}`;

  // REST → gRPC → store → broker → projector, each the child of the one before.
  expect({ edgeServerParent: spans.edgeServer.parentSpanId }).toEqual({ edgeServerParent: callerSpanId });
  expect({ edgeClient: spans.edgeClient.name, parent: spans.edgeClient.parentSpanId }).toEqual({ edgeClient: 'grpc.cqrs.v1.CommandService/CreateOrder', parent: spans.edgeServer.spanId });
  expect({ commandServer: spans.commandServer.name, parent: spans.commandServer.parentSpanId }).toEqual({ commandServer: 'grpc.cqrs.v1.CommandService/CreateOrder', parent: spans.edgeClient.spanId });
  expect({ commitParent: spans.commit.parentSpanId, publishParent: spans.publish.parentSpanId }).toEqual({ commitParent: spans.commandServer.spanId, publishParent: spans.commandServer.spanId });
  expect({ projectedParent: spans.projected.parentSpanId, version: spans.projected.attributes['cqrs.stream_version'] }).toEqual({ projectedParent: spans.publish.spanId, version: 1 });

  // The read-store writes of that delivery, in the same trace (directly under it, or under its batch).
  const write = await eventually(async () => {
    const underDelivery = new Set([spans.projected.spanId, ...receiver.spans.filter((s) => inTrace(s) && s.parentSpanId === spans.projected.spanId).map((s) => s.spanId)]);
    return find((s) => inTrace(s) && s.service === 'projector-svc' && s.name === 'read-store write' && underDelivery.has(s.parentSpanId));
  }, 15_000, 'a read-store write span under the projector delivery').catch((err: Error) => {
    throw new Error(err.message + explain);
  });
  expect(write.attributes['db.collection.name']).toEqual(expect.any(String));

  // The order process's reaction: a trace of its own, linked to the publish, and its commands inside it.
  expect({ reactionTrace: spans.reaction.traceId === traceId, parent: spans.reaction.parentSpanId }).toEqual({ reactionTrace: false, parent: '' });
  expect(spans.reaction.links).toContainEqual({ traceId, spanId: spans.publish.spanId });
  await eventually(async () => find((s) => s.traceId === spans.reaction.traceId && s.service === 'command-svc' && s.name === 'store commit' && s.parentSpanId === spans.reaction.spanId), 15_000, "the reaction's own store commit").catch((err: Error) => {
    throw new Error(err.message + explain);
  });

  // Log lines written for the trace carry its ids.
  const logOf = (name: string, msg: string, p: (o: Record<string, unknown>) => boolean) =>
    lines.filter((l) => l.name === name && l.line.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l.line) as Record<string, unknown>).find(p);
  const projectedLine = await eventually(async () => logOf('projector-svc', 'event projected', (o) => o.streamId === stream && o.version === 1), 15_000, 'the "event projected" line');
  expect({ trace_id: projectedLine.trace_id, span_id: projectedLine.span_id }).toEqual({ trace_id: traceId, span_id: spans.projected.spanId });
  const storedLine = logOf('command-svc', 'events stored', (o) => o.streamId === stream && o.version === 1);
  expect(storedLine?.trace_id).toBe(traceId);
}, 90_000);
