// Prometheus metrics of one process: the counters and histograms the code
// updates as work happens, gauges read when Prometheus scrapes, and the
// /metrics endpoint. One registry per process; every name is `cqrs_…` apart
// from prom-client's process and Node.js metrics.
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HealthReport } from './health';
import type { Logger } from './logger';

export const registry = new Registry();

const latency = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const lagBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
  new Counter<L>({ name, help, labelNames, registers: [registry] });
const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
  new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });

export const grpcRequests = counter('cqrs_grpc_requests_total', 'gRPC calls answered, by method and status code.', ['service', 'method', 'code']);
export const grpcDuration = histogram('cqrs_grpc_request_duration_seconds', 'gRPC call latency, received to answered.', ['service', 'method'], latency);
export const httpRequests = counter('cqrs_http_requests_total', 'REST requests answered by the edge, by route and HTTP status.', ['route', 'method', 'status']);
export const httpDuration = histogram('cqrs_http_request_duration_seconds', 'REST request latency at the edge.', ['route', 'method'], latency);

export const commands = counter('cqrs_commands_total', 'Commands by type and outcome (accepted, rejected, invalid, duplicate, error).', ['type', 'outcome']);
export const eventsPublished = counter('cqrs_events_published_total', 'Events sent to the broker (inline and by the outbox relay).');
export const eventsConfirmed = counter('cqrs_events_confirmed_total', 'Events the broker confirmed.');
export const eventsDeferred = counter('cqrs_events_deferred_total', 'Events of acknowledged commands left to the outbox relay (broker down or unconfirmed).');
export const outboxRelayed = counter('cqrs_outbox_relayed_total', 'Commits the outbox relay published.');

export const eventsConsumed = counter('cqrs_events_consumed_total', 'Deliveries received, by consumer (queue).', ['consumer']);
export const eventsApplied = counter('cqrs_events_applied_total', 'Events handled and acknowledged, by consumer.', ['consumer']);
export const eventsDuplicates = counter('cqrs_events_duplicates_total', 'Events skipped because the read model already had them (redelivery, replay).', ['consumer']);
export const eventsGapsFilled = counter('cqrs_events_gaps_filled_total', 'Events read from the write store to fill a gap in a stream (one came out of order).', ['consumer']);
export const eventsRetried = counter('cqrs_events_retried_total', 'Failed events returned to the queue for another attempt, by consumer.', ['consumer']);
export const eventsDeadLettered = counter('cqrs_events_dead_lettered_total', 'Events parked on the dead-letter queue, by consumer.', ['consumer']);
export const projectionLag = histogram('cqrs_projection_lag_seconds', 'Event committed → applied by the consumer (live events; a rebuild’s catch-up is left out).', ['consumer'], lagBuckets);

export const storeDuration = histogram('cqrs_store_command_duration_seconds', 'Store (MongoDB) round trips by command and outcome.', ['command', 'outcome'], latency);

/** Seconds since a time in milliseconds. */
export const secondsSince = (t0: number, now = Date.now()) => Math.max(0, now - t0) / 1_000;

/**
 * A gauge whose value is read at scrape time. `read` returns one value per
 * label set; a read that fails or takes longer than `timeoutMs` leaves the
 * series out of this scrape rather than stalling it or reporting a stale 0.
 */
export function gaugeOf<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Promise<Array<[Partial<Record<L, string>>, number]>> | Array<[Partial<Record<L, string>>, number]>, timeoutMs = 2_000): Gauge<L> {
  return new Gauge<L>({
    name, help, labelNames, registers: [registry],
    async collect() {
      this.reset();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)));
      try {
        const values = await Promise.race([Promise.resolve(read()), late]);
        for (const [labels, v] of values ?? []) this.set(labels, v);
      } catch {
        // Left out of this scrape: the dependency it reads is down, which other metrics show.
      } finally {
        clearTimeout(timer);
      }
    },
  });
}

export interface MetricsServer {
  port: number;
  stop(): Promise<void>;
}

/** The age of the oldest unapplied event of each consumer (queue → ms), read at scrape time. */
export const unappliedAgeGauge = (read: () => Array<[string, number]>) =>
  gaugeOf('cqrs_oldest_unapplied_event_age_seconds', 'Age of the oldest event a consumer has not applied yet (0: it holds none).', ['consumer'], () =>
    read().map(([consumer, ms]): [{ consumer: string }, number] => [{ consumer }, ms / 1_000]),
  );

/**
 * Serves GET /metrics for Prometheus, and GET /health with a health report
 * (the reasons a check fails; 503 while NOT_SERVING) when one is given.
 * With port `off` there is nothing to serve.
 */
export async function serveMetrics(processName: string, host: string, port: number | 'off', log: Logger, health?: () => HealthReport): Promise<MetricsServer | undefined> {
  if (port === 'off') return undefined;
  collectDefaultMetrics({ register: registry });
  registry.setDefaultLabels({ process: processName });
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/health' && health) {
      const report = health();
      res.writeHead(report.status === 'SERVING' ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(report)}\n`);
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  const bound = await listen(server, host, port);
  log.info({ metricsPort: bound, url: `http://${host}:${bound}/metrics` }, 'metrics served');
  return {
    port: bound,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}
