// The metrics the services promise (issue 12), by family and type, and the
// series names each family shows in the Prometheus text format. The
// dashboard and alert checks hold the names they use to this list, and to
// what a running mesh really serves at /metrics.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export const CONTRACT: Record<string, MetricType> = {
  // prom-client's default metrics, every process (the ones the recipe uses).
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  // gRPC servers: command-svc, query-svc.
  cqrs_grpc_requests_total: 'counter',
  cqrs_grpc_request_duration_seconds: 'histogram',
  // The REST edge.
  cqrs_http_requests_total: 'counter',
  cqrs_http_request_duration_seconds: 'histogram',
  // command-svc.
  cqrs_commands_total: 'counter',
  cqrs_events_published_total: 'counter',
  cqrs_events_confirmed_total: 'counter',
  cqrs_events_deferred_total: 'counter',
  cqrs_outbox_relayed_total: 'counter',
  cqrs_outbox_pending: 'gauge',
  // Consumers: projector-svc, and command-svc's order process.
  cqrs_events_consumed_total: 'counter',
  cqrs_events_applied_total: 'counter',
  cqrs_events_duplicates_total: 'counter',
  cqrs_events_gaps_filled_total: 'counter',
  cqrs_events_retried_total: 'counter',
  cqrs_events_dead_lettered_total: 'counter',
  cqrs_projection_lag_seconds: 'histogram',
  cqrs_oldest_unapplied_event_age_seconds: 'gauge',
  cqrs_queue_depth: 'gauge',
  cqrs_dead_letter_depth: 'gauge',
  // The store client.
  cqrs_store_command_duration_seconds: 'histogram',
};

/** Series Prometheus makes itself for every target; no process exports them. */
export const SCRAPE_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'];

/**
 * The series names a family of this type shows: a histogram only as
 * _bucket/_sum/_count (its own name selects nothing), a counter as itself
 * (prom-client names counters with their _total).
 */
export function seriesOf(family: string, type: MetricType): string[] {
  switch (type) {
    case 'histogram':
      return [`${family}_bucket`, `${family}_sum`, `${family}_count`];
    case 'summary':
      return [family, `${family}_sum`, `${family}_count`];
    case 'counter':
      return family.endsWith('_total') ? [family] : [family, `${family}_total`];
    default:
      return [family];
  }
}

export const CONTRACT_SERIES: Set<string> = new Set(Object.entries(CONTRACT).flatMap(([f, t]) => seriesOf(f, t)));

/**
 * The series names a /metrics answer (Prometheus text format 0.0.4) holds:
 * the name of every sample line, and the series of every family it declares
 * with `# TYPE` (prom-client declares a labelled family before its first
 * observation, with no sample yet).
 */
export function exposedSeries(text: string): Set<string> {
  const names = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const type = /^#\s*TYPE\s+(\S+)\s+(counter|gauge|histogram|summary|untyped)\s*$/.exec(line);
    if (type) {
      for (const s of seriesOf(type[1], type[2] as MetricType)) names.add(s);
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{|\s)/.exec(line);
    if (!sample) throw new Error(`not a sample line of the Prometheus text format: ${line.slice(0, 200)}`);
    names.add(sample[1]);
  }
  return names;
}
