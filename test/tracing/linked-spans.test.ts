// The hand-made AMQP spans (lib/spans.ts) against the real broker, with the
// SDK in this process and an in-memory exporter: a projection's delivery is a
// child of the publish, a reaction's a root linked to it, and an event that
// comes again later (the outbox relay, a rebuild's replay without headers)
// starts a trace of its own that links back to the one it was decided in.
import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import amqp from 'amqplib';
import pino from 'pino';
import { EventPublisher } from '../../command-svc/event-publisher';
import { AmqpConnection } from '../../lib/amqp';
import { EventConsumer, type Envelope } from '../../lib/consumer';
import { encodeEnvelope, EXCHANGE, newEnvelope, publishOptions, routingKey } from '../../lib/envelope';
import { activeTraceContext, enableSpans } from '../../lib/spans';
import { createVhost, type TestVhost } from '../../kit/rabbit';
import { eventually } from '../../kit/wait';

const silent = pino({ level: 'silent' });
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let vhost: TestVhost;
let link: AmqpConnection;
let publisher: EventPublisher;
const consumers: EventConsumer[] = [];
const seen = new Map<string, Envelope[]>();

/** A consumer of every event on a queue of its own, recording what it handled. */
async function consumer(queue: string, linkTraces: boolean): Promise<void> {
  const c = new EventConsumer(link, { queue, bindings: ['#'], prefetch: 8, maxAttempts: 3, linkTraces, handle: async (e) => void seen.set(queue, [...(seen.get(queue) ?? []), e]) }, silent);
  await c.start();
  consumers.push(c);
}

beforeAll(async () => {
  provider.register({ propagator: new W3CTraceContextPropagator() });
  enableSpans();
  vhost = createVhost('cqrs-spans');
  link = new AmqpConnection(vhost.url, silent);
  await link.connect();
  publisher = new EventPublisher(link);
  await publisher.start();
  await consumer('spans.projection', false);
  await consumer('spans.reaction', true);
}, 30_000);

afterAll(async () => {
  for (const c of consumers) await c.stop();
  await link?.close();
  vhost?.remove();
  await provider.shutdown();
});

const payload = (id: string) => ({ $case: 'orderInitiated' as const, value: { orderId: id, userId: 1, userEmail: 'a@example.com', lines: [] } });

/** An envelope decided inside a span of its own (as a command's gRPC span), and that span. */
function decidedEnvelope(id: string) {
  const command = provider.getTracer('test').startSpan('command', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
  const traceContext = context.with(trace.setSpan(ROOT_CONTEXT, command), () => activeTraceContext());
  command.end();
  return { e: newEnvelope(`order-${id}`, 1, payload(id), { correlationId: id, causationId: id, traceContext }, new Date()), command: command.spanContext() };
}

const spans = () => exporter.getFinishedSpans();
const deliveryOf = (queue: string, eventId: string) =>
  eventually(async () => spans().find((s) => s.name === `process ${queue}` && s.attributes['messaging.message.id'] === eventId), 10_000, `the ${queue} span of ${eventId}`);
const publishOf = (eventId: string) =>
  eventually(async () => spans().find((s) => s.name === `publish ${EXCHANGE}` && s.attributes['messaging.message.id'] === eventId), 10_000, `the publish span of ${eventId}`);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const linksOf = (s: ReadableSpan) => s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId }));

test('published inline: the projection continues the trace under the publish span, the reaction links to it', async () => {
  const { e, command } = decidedEnvelope('inline-1');
  await publisher.publish([e]);
  const publish = await publishOf(e.eventId);
  expect({ trace: publish.spanContext().traceId, parent: parentOf(publish), kind: publish.kind }).toEqual({ trace: command.traceId, parent: command.spanId, kind: SpanKind.PRODUCER });

  const projected = await deliveryOf('spans.projection', e.eventId);
  expect({ trace: projected.spanContext().traceId, parent: parentOf(projected), kind: projected.kind }).toEqual({ trace: command.traceId, parent: publish.spanContext().spanId, kind: SpanKind.CONSUMER });

  const reaction = await deliveryOf('spans.reaction', e.eventId);
  expect(reaction.spanContext().traceId).not.toBe(command.traceId);
  expect(parentOf(reaction)).toBeUndefined();
  expect(linksOf(reaction)).toEqual([{ traceId: command.traceId, spanId: publish.spanContext().spanId }]);
});

test('relayed by the outbox: the publish is a root span linked to the command, and the projection follows the relay', async () => {
  const { e, command } = decidedEnvelope('relayed-1');
  await publisher.publish([e], true);
  const publish = await publishOf(e.eventId);
  expect(parentOf(publish)).toBeUndefined();
  expect(publish.spanContext().traceId).not.toBe(command.traceId);
  expect(linksOf(publish)).toEqual([{ traceId: command.traceId, spanId: command.spanId }]);

  const projected = await deliveryOf('spans.projection', e.eventId);
  expect({ trace: projected.spanContext().traceId, parent: parentOf(projected) }).toEqual({ trace: publish.spanContext().traceId, parent: publish.spanContext().spanId });
  // The envelope's own trace is not the one it came by: linked as well.
  expect(linksOf(projected)).toEqual([{ traceId: command.traceId, spanId: command.spanId }]);
});

test('replayed without trace headers (a rebuild): the delivery is a root span linked to the command', async () => {
  const { e, command } = decidedEnvelope('replayed-1');
  const conn = await amqp.connect(vhost.url);
  try {
    const ch = await conn.createConfirmChannel();
    ch.publish(EXCHANGE, routingKey(e), encodeEnvelope(e), publishOptions(e));
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
  const projected = await deliveryOf('spans.projection', e.eventId);
  expect(parentOf(projected)).toBeUndefined();
  expect(linksOf(projected)).toEqual([{ traceId: command.traceId, spanId: command.spanId }]);
  expect(seen.get('spans.projection')?.map((x) => x.eventId)).toContain(e.eventId);
});
