// The mesh's own spans, where no instrumentation sees the work: a command's
// store write, an event's publish and its delivery to a consumer, a
// projector batch and its read-store writes. Trace context travels in AMQP
// message headers (traceparent, tracestate) and in the event envelope, so a
// relayed or replayed event links back to the command that decided it.
// Only @opentelemetry/api is loaded here: until lib/tracing.ts enables
// spans, every function returns at once and allocates nothing.
//
// Why by hand: @opentelemetry/instrumentation-amqplib and -mongodb support
// amqplib 2 and mongodb 7, but their spans would be wrong here. amqplib's
// consume span holds the context only inside the delivery callback, while
// the projector applies deliveries later, in batches; it writes its own
// traceparent on publish and knows nothing of the envelope's, so relays and
// replays could not link back. mongodb's spans take whatever context is
// active, and one group commit or one projector batch serves many commands.
import {
  context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace,
  type Attributes, type Context, type Link, type Span, type SpanContext, type TextMapGetter,
} from '@opentelemetry/api';

let on = false;

/** Called by lib/tracing.ts once a tracer provider is registered. */
export function enableSpans(): void {
  on = true;
}

/** W3C trace context headers: traceparent and tracestate. */
export type TraceContext = Record<string, string>;

const NONE: Readonly<TraceContext> = Object.freeze({});
const NO_FIELDS = Object.freeze({});
const done = () => undefined;

const tracer = () => trace.getTracer('cqrs-mesh');

/** AMQP header values arrive as strings or buffers. */
const getter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const v = carrier[key];
    return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString() : undefined;
  },
};

const contextOf = (carrier: Record<string, unknown> | undefined): Context => propagation.extract(ROOT_CONTEXT, carrier ?? {}, getter);
const spanContextOf = (carrier: Record<string, unknown> | undefined): SpanContext | undefined => trace.getSpanContext(contextOf(carrier));

function end(span: Span, err?: unknown): void {
  if (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
  }
  span.end();
}

/** The active trace as headers, to keep in an envelope; empty with none (or tracing off). */
export function activeTraceContext(): TraceContext {
  if (!on || !trace.getActiveSpan()) return NONE;
  const carrier: TraceContext = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

export const spansOn = () => on;

/** For pino's mixin (which merges into the object it returns): the active span's ids. */
export function activeTraceFields(): object {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** The log fields of a trace kept as headers (an envelope's, a queued command's). */
export function traceFieldsOf(carrier: TraceContext | undefined): object {
  if (!on || !carrier?.traceparent) return NO_FIELDS;
  const sc = spanContextOf(carrier);
  return sc ? { trace_id: sc.traceId, span_id: sc.spanId } : NO_FIELDS;
}

/**
 * Runs fn outside any trace: work done for many callers at once (a stream's
 * command queue) must not be told to the first caller's trace.
 */
export function detached<T>(fn: () => T): T {
  return on ? context.with(ROOT_CONTEXT, fn) : fn();
}

interface SpanOptions {
  parent?: Context;
  links?: Link[];
  kind?: SpanKind;
}

/** fn inside a new span, a child of the active one (or of `parent`). */
export function inSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>, opts: SpanOptions = {}): Promise<T> {
  return on ? traced(name, attributes, fn, opts) : fn();
}

async function traced<T>(name: string, attributes: Attributes, fn: () => Promise<T>, opts: SpanOptions): Promise<T> {
  const parent = opts.parent ?? context.active();
  const span = tracer().startSpan(name, { attributes, links: opts.links, kind: opts.kind }, parent);
  try {
    const result = await context.with(trace.setSpan(parent, span), fn);
    end(span);
    return result;
  } catch (err) {
    end(span, err);
    throw err;
  }
}

/**
 * One span per trace around a write several commands share (a group
 * commit): each command's trace shows the write it waited for. Returns the
 * function that ends them.
 */
export function sharedSpans(name: string, carriers: TraceContext[], attributes: Attributes): (err?: unknown) => void {
  if (!on) return done;
  const parents = new Map(carriers.filter((c) => c.traceparent).map((c) => [c.traceparent, c]));
  const spans = [...parents.values()].map((c) => tracer().startSpan(name, { attributes }, contextOf(c)));
  return (err) => spans.forEach((s) => end(s, err));
}

export interface Publishing {
  eventId: string;
  streamId: string;
  version: number;
  correlationId: string;
  traceContext: TraceContext;
}

/**
 * A producer span for one event's publish, its context written into the
 * message's headers. Inline, it is a child of the trace the event was
 * decided in; a relay (or any later) publish is a trace of its own that
 * links to it. Returns the function that ends the span (on the broker's confirm).
 */
export function publishSpan(e: Publishing, headers: Record<string, unknown>, exchange: string, routingKey: string, relayed = false): (err?: unknown) => void {
  if (!on) return done;
  const origin = contextOf(e.traceContext);
  const parent = relayed ? context.active() : origin;
  const linked = relayed ? trace.getSpanContext(origin) : undefined;
  const span = tracer().startSpan(
    `publish ${exchange}`,
    {
      kind: SpanKind.PRODUCER,
      links: linked ? [{ context: linked }] : [],
      attributes: { ...messaging(exchange, e), 'messaging.operation.type': 'send', 'messaging.rabbitmq.destination.routing_key': routingKey, 'cqrs.relayed': relayed },
    },
    parent,
  );
  propagation.inject(trace.setSpan(parent, span), headers);
  return (err) => end(span, err);
}

/** A delivery's span, by its message (to end it when settled) and by its envelope (to run the handling in it). */
const deliveries = new WeakMap<object, Span>();

/**
 * Starts the consumer span of one delivery. As a child of the publish span
 * in the headers, or (`linked`: a reaction such as the order process, which
 * starts a trace of its own) a root span linked to it. The trace the event
 * was decided in is linked too when the delivery came by another (a relay,
 * a replay without headers).
 */
export function startDelivery(queue: string, msg: { properties: { headers?: Record<string, unknown> } }, e: Publishing, linked: boolean): void {
  if (!on) return;
  const sent = contextOf(msg.properties.headers);
  const sentSpan = trace.getSpanContext(sent);
  const parent = linked || !sentSpan ? ROOT_CONTEXT : sent;
  const links: Link[] = linked && sentSpan ? [{ context: sentSpan }] : [];
  const origin = spanContextOf(e.traceContext);
  if (origin && origin.traceId !== sentSpan?.traceId) links.push({ context: origin });
  const span = tracer().startSpan(
    `process ${queue}`,
    { kind: SpanKind.CONSUMER, links, attributes: { ...messaging(queue, e), 'messaging.operation.type': 'process', 'messaging.consumer.group.name': queue } },
    parent,
  );
  deliveries.set(msg, span);
  deliveries.set(e, span);
}

/** Ends a delivery's span when it is acked (or requeued, or parked: an error). */
export function settleDelivery(msg: object, failure?: string): void {
  const span = on ? deliveries.get(msg) : undefined;
  if (!span) return;
  deliveries.delete(msg);
  end(span, failure ? new Error(failure) : undefined);
}

/** The log fields of the delivery an envelope came in. */
export function deliveryFieldsOf(e: object): object {
  const sc = on ? deliveries.get(e)?.spanContext() : undefined;
  return sc ? { trace_id: sc.traceId, span_id: sc.spanId } : NO_FIELDS;
}

/**
 * Runs the handling of deliveries inside their traces: one event's inside
 * its own span; a batch inside a span that is a child of the first event's
 * and links to the others'.
 */
export function inDeliveries<T>(es: object[], name: string, fn: () => Promise<T>): Promise<T> {
  if (!on) return fn();
  const spans = es.map((e) => deliveries.get(e)).filter((s): s is Span => s !== undefined);
  if (spans.length === 0) return detached(fn);
  const parent = trace.setSpan(ROOT_CONTEXT, spans[0]);
  if (es.length === 1) return context.with(parent, fn);
  return inSpan(name, { 'messaging.batch.message_count': es.length }, fn, { parent, links: spans.slice(1).map((s) => ({ context: s.spanContext() })) });
}

function messaging(destination: string, e: Publishing): Attributes {
  return {
    'messaging.system': 'rabbitmq',
    'messaging.destination.name': destination,
    'messaging.message.id': e.eventId,
    // The client's x-request-id when it gave one: what the log lines of the command share.
    'messaging.message.conversation_id': e.correlationId,
    'cqrs.stream_id': e.streamId,
    'cqrs.stream_version': e.version,
  };
}
