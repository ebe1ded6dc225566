// The Grafana dashboard of the docker-compose recipe
// (ops/grafana/dashboards/cqrs-mesh.json) and the alert rules
// (ops/prometheus/alerts.yml) use only metrics the services really export:
// every metric name in their PromQL, read with a tokenizer
// (test/support/promql-metrics.ts), is in the services' contract
// (metrics-contract.ts) and is served at /metrics by the processes of a
// running mesh. Grafana's provisioning is held to the compose file that
// mounts it.
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ServiceName } from '../../kit/mesh';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { repoRoot } from '../../lib/paths';
import { metricNames } from '../support/promql-metrics';
import { CONTRACT_SERIES, SCRAPE_SERIES, exposedSeries } from './metrics-contract';

type J = any;

const DASHBOARD = join(repoRoot, 'ops', 'grafana', 'dashboards', 'cqrs-mesh.json');
const ALERTS = join(repoRoot, 'ops', 'prometheus', 'alerts.yml');
const PROVISIONING = join(repoRoot, 'ops', 'grafana', 'provisioning');

const dashboard: J = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
const readYaml = (path: string): J => parseYaml(readFileSync(path, 'utf8'), { merge: true });

/** Every panel, rows' nested panels included. */
function panelsOf(d: J): J[] {
  return (d.panels ?? []).flatMap((p: J) => [p, ...panelsOf(p)]);
}

/** [where, PromQL] of every query the dashboard runs. */
function dashboardQueries(d: J): Array<[string, string]> {
  return panelsOf(d).flatMap((p: J) => (p.targets ?? []).map((t: J): [string, string] => [`panel "${p.title}" ${t.refId}`, t.expr]));
}

/** [where, PromQL] of every alerting and recording rule. */
function ruleQueries(rules: J): Array<[string, string]> {
  return rules.groups.flatMap((g: J) => g.rules.map((r: J): [string, string] => [`rule ${r.alert ?? r.record}`, r.expr]));
}

/** The metrics the queries use that `exported` lacks, with where each is used. */
function missingFrom(queries: Array<[string, string]>, exported: Set<string>): string[] {
  return queries.flatMap(([where, expr]) => metricNames(expr).filter((m) => !exported.has(m)).map((m) => `${m} (${where})`));
}

const queries = dashboardQueries(dashboard);
const alertQueries = ruleQueries(readYaml(ALERTS));

describe('the dashboard and the alert rules, read as PromQL', () => {
  test('every panel runs at least one query, and every query names a metric', () => {
    const panels = panelsOf(dashboard).filter((p: J) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(0);
    expect(panels.filter((p: J) => !(p.targets ?? []).length).map((p: J) => p.title)).toEqual([]);
    for (const [where, expr] of [...queries, ...alertQueries]) {
      expect({ where, names: metricNames(expr).length > 0 }).toEqual({ where, names: true });
    }
  });

  test('it shows what the issue asks: command rate and errors, lag, queue depth, dead letters, p99 latencies', () => {
    const used = new Set(queries.flatMap(([, e]) => metricNames(e)));
    for (const m of ['cqrs_commands_total', 'cqrs_grpc_requests_total', 'cqrs_oldest_unapplied_event_age_seconds', 'cqrs_projection_lag_seconds_bucket', 'cqrs_queue_depth', 'cqrs_dead_letter_depth']) {
      expect(used).toContain(m);
    }
    const p99Of = (bucket: string) => queries.some(([, e]) => /histogram_quantile\(\s*0\.99\s*,/.test(e) && metricNames(e).includes(bucket));
    expect(['cqrs_grpc_request_duration_seconds_bucket', 'cqrs_store_command_duration_seconds_bucket', 'cqrs_projection_lag_seconds_bucket'].filter((b) => !p99Of(b))).toEqual([]);
  });

  test('every metric the dashboard uses is one the services promise', () => {
    expect(missingFrom(queries, CONTRACT_SERIES)).toEqual([]);
  });

  test('every metric the alert rules use is one the services promise (or `up`, which Prometheus makes)', () => {
    expect(missingFrom(alertQueries, new Set([...CONTRACT_SERIES, ...SCRAPE_SERIES]))).toEqual([]);
  });

  test('the check sees a metric no service exports, and a histogram used by its bare name', () => {
    const made: Array<[string, string]> = [
      ['made-up', 'sum(rate(cqrs_made_up_total[5m]))'],
      ['bare histogram', 'rate(cqrs_projection_lag_seconds[5m])'],
    ];
    expect(missingFrom(made, CONTRACT_SERIES)).toEqual(['cqrs_made_up_total (made-up)', 'cqrs_projection_lag_seconds (bare histogram)']);
  });
});

describe('reading a /metrics answer', () => {
  // As prom-client writes it: a labelled counter declared before its first
  // increment has HELP and TYPE but no sample yet.
  const TEXT = [
    '# HELP cqrs_events_dead_lettered_total Events given up on.',
    '# TYPE cqrs_events_dead_lettered_total counter',
    '',
    '# HELP cqrs_projection_lag_seconds Event committed to applied.',
    '# TYPE cqrs_projection_lag_seconds histogram',
    'cqrs_projection_lag_seconds_bucket{le="0.1",consumer="projector-svc.read-models"} 3',
    'cqrs_projection_lag_seconds_bucket{le="+Inf",consumer="projector-svc.read-models"} 4',
    'cqrs_projection_lag_seconds_sum{consumer="projector-svc.read-models"} 0.31',
    'cqrs_projection_lag_seconds_count{consumer="projector-svc.read-models"} 4',
    'process_cpu_seconds_total 0.52 1700000000000',
    'nodejs_eventloop_lag_seconds 0.0012',
  ].join('\n');

  test('sample names and the series of every declared family count as exported; a bare histogram name does not', () => {
    expect([...exposedSeries(TEXT)].sort()).toEqual([
      'cqrs_events_dead_lettered_total',
      'cqrs_projection_lag_seconds_bucket',
      'cqrs_projection_lag_seconds_count',
      'cqrs_projection_lag_seconds_sum',
      'nodejs_eventloop_lag_seconds',
      'process_cpu_seconds_total',
    ]);
  });

  test('an answer that is not the text format is refused', () => {
    expect(() => exposedSeries('<html><body>Not Found</body></html>')).toThrow(/not a sample line/);
  });
});

describe('Grafana provisioning, as docker-compose.yml mounts it', () => {
  const compose = readYaml(join(repoRoot, 'docker-compose.yml'));
  const grafana: J = compose.services.grafana;
  /** The container path a host path of this repository is mounted at. */
  const mountOf = (hostPath: string): string => {
    const m = (grafana.volumes as string[]).map((v) => v.split(':')).find(([src]) => posix.normalize(src) === posix.normalize(hostPath));
    if (!m) throw new Error(`docker-compose.yml mounts no ${hostPath} into grafana`);
    return m[1];
  };
  const datasources: J = readYaml(join(PROVISIONING, 'datasources', 'prometheus.yml'));
  const providers: J = readYaml(join(PROVISIONING, 'dashboards', 'cqrs-mesh.yml'));

  test('provisioning is mounted where Grafana reads it', () => {
    expect(mountOf('./ops/grafana/provisioning')).toBe('/etc/grafana/provisioning');
  });

  test('the datasource is the compose Prometheus, and every panel and query uses it', () => {
    expect(datasources.datasources).toHaveLength(1);
    const ds = datasources.datasources[0];
    expect(ds).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true });
    expect(compose.services.prometheus.ports).toContain('9090:9090');
    const refs = panelsOf(dashboard)
      .filter((p: J) => p.type !== 'row')
      .flatMap((p: J) => [p.datasource, ...(p.targets ?? []).map((t: J) => t.datasource)]);
    expect(refs.filter((r: J) => r?.uid !== ds.uid || r?.type !== 'prometheus')).toEqual([]);
  });

  test('the dashboard provider loads the folder this dashboard is mounted in, and it is the home dashboard', () => {
    expect(providers.providers).toHaveLength(1);
    const folder = mountOf('./ops/grafana/dashboards');
    expect(providers.providers[0]).toMatchObject({ type: 'file', options: { path: folder } });
    expect(grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(posix.join(folder, 'cqrs-mesh.json'));
  });

  test('panel ids are unique and the dashboard has a fixed uid (links to it survive a reload)', () => {
    const ids = panelsOf(dashboard).map((p: J) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
  });
});

/** The base URLs (http://host:port) of each process's metrics server, as the kit reports them. */
function metricsUrls(m: TestMesh): Partial<Record<ServiceName, string>> {
  return m.urls.metrics;
}

async function scrape(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET ${base}/metrics answered ${res.status}: ${body.slice(0, 300)}`);
  return body;
}

describe('a running mesh exports every metric the dashboard and the alerts use', () => {
  let mesh: TestMesh | undefined;
  const exposed = new Map<string, Set<string>>();

  beforeAll(async () => {
    mesh = await startTestMesh({ vhostPrefix: 'ops-dashboard' });
    for (const [process, base] of Object.entries(metricsUrls(mesh))) exposed.set(process, exposedSeries(await scrape(base!)));
  }, 120_000);

  afterAll(async () => {
    await mesh?.teardown();
  }, 60_000);

  test('every process answers /metrics with its process metrics', () => {
    expect([...exposed.keys()].sort()).toEqual(['command-svc', 'edge', 'projector-svc', 'query-svc']);
    for (const [process, names] of exposed) {
      expect({ process, cpu: names.has('process_cpu_seconds_total'), rss: names.has('process_resident_memory_bytes') }).toEqual({ process, cpu: true, rss: true });
    }
  });

  test('the dashboard uses nothing the processes do not serve', () => {
    const all = new Set([...exposed.values()].flatMap((s) => [...s]));
    expect(missingFrom(queries, all)).toEqual([]);
  });

  test('the alert rules use nothing the processes do not serve (but `up`)', () => {
    const all = new Set([...[...exposed.values()].flatMap((s) => [...s]), ...SCRAPE_SERIES]);
    expect(missingFrom(alertQueries, all)).toEqual([]);
  });
});
