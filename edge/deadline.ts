// A client's deadline, as Envoy takes it: the `grpc-timeout` request header
// (gRPC's own format, e.g. `500m`, `2S`), bounded by the route's timeout, as
// `max_stream_duration.grpc_timeout_header_max` does on envoy.yaml's routes.
// (x-envoy-upstream-rq-timeout-ms is not honoured: Envoy at the edge strips
// x-envoy-* headers from external requests.) The upstream call carries the
// deadline on as grpc-timeout, so the services see what is left of it.
import type { IncomingHttpHeaders } from 'node:http';

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/** The timeout a `grpc-timeout` value asks for, in ms; undefined when it is absent or malformed (ignored, as Envoy ignores it). */
export function grpcTimeoutMs(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  const m = v === undefined ? null : /^(\d{1,8})([HMSmun])$/.exec(v.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** The deadline of the upstream call: the client's timeout when it is shorter than the edge's own. */
export function upstreamDeadline(headers: IncomingHttpHeaders, maxMs: number, now = Date.now()): Date {
  const asked = grpcTimeoutMs(headers['grpc-timeout']);
  return new Date(now + (asked === undefined ? maxMs : Math.min(asked, maxMs)));
}
