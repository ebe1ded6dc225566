// An OTLP/HTTP trace receiver for tests and the bench: what the services'
// exporter (lib/tracing.ts, with OTLP JSON) sends to POST /v1/traces, flattened
// into one span record per span with its service's name. With `keep: false`
// it only counts, so a benchmark pays for the export and not for the keeping.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** OTLP span kinds (the API's plus one: 0 is unspecified). */
export const SpanKinds = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

export interface ReceivedSpan {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  links: Array<{ traceId: string; spanId: string }>;
  attributes: Record<string, unknown>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: number;
}

export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  /** Spans received, kept or not. */
  count(): number;
  close(): Promise<void>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  links?: Array<{ traceId: string; spanId: string }>;
  attributes?: OtlpAttribute[];
  status?: { code?: number };
}
interface OtlpRequest {
  resourceSpans?: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
}

const valueOf = (v: OtlpValue) => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue;
const attributesOf = (attrs: OtlpAttribute[] = []) => Object.fromEntries(attrs.map((a) => [a.key, valueOf(a.value)]));

/** One export request, flattened. Throws on a body that is not OTLP JSON. */
export function flattenOtlp(req: OtlpRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const service = String(attributesOf(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service,
          name: s.name,
          kind: s.kind,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
          attributes: attributesOf(s.attributes),
          status: s.status?.code ?? 0,
        });
      }
    }
  }
  return out;
}

export async function startOtlpReceiver(o: { keep?: boolean } = {}): Promise<OtlpReceiver> {
  const keep = o.keep ?? true;
  const spans: ReceivedSpan[] = [];
  let count = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      try {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        if (!/json/.test(req.headers['content-type'] ?? '')) throw new Error(`expected OTLP JSON, got ${req.headers['content-type']}`);
        const got = flattenOtlp(JSON.parse(body.toString()) as OtlpRequest);
        count += got.length;
        if (keep) spans.push(...got);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end((err as Error).message);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    count: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The settings that make a service export its spans to `url`, quickly (tests) or as by default. */
export function tracingEnv(url: string, o: { scheduleDelayMs?: number } = {}): NodeJS.ProcessEnv {
  return {
    TRACING: 'on',
    OTEL_EXPORTER_OTLP_ENDPOINT: url,
    // The receiver reads JSON; the services' default is protobuf.
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    ...(o.scheduleDelayMs !== undefined ? { OTEL_BSP_SCHEDULE_DELAY: String(o.scheduleDelayMs) } : {}),
  };
}
