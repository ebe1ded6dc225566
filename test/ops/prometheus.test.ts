// The Prometheus of the docker-compose recipe, checked with Debian's promtool
// (package prometheus; `npm run test:tools` installs it): the config and the
// rule files it names pass `promtool check config`, the alert rules pass
// their unit tests (`promtool test rules ops/prometheus/alerts.test.yml`),
// and those tests would catch an alert that is gone, has lost its threshold
// or its `for:`. The scrape jobs are held to docker-compose.yml and
// envoy/envoy.yaml, so every process is scraped where it serves.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { repoRoot } from '../../lib/paths';

type J = any;

const OPS = join(repoRoot, 'ops', 'prometheus');
const INSTALL_HINT = 'promtool is not on PATH: `npm run test:tools` installs it, or by hand `apt-get install -y prometheus` (Debian package prometheus)';

interface Run {
  status: number | null;
  out: string;
}

/** promtool with a bounded wait; a missing binary is a failure that says how to install it. */
function promtool(args: string[], cwd: string): Run {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(INSTALL_HINT);
    throw new Error(`promtool ${args.join(' ')} did not finish: ${r.error.message}`);
  }
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const readYaml = (path: string): J => parseYaml(readFileSync(path, 'utf8'), { merge: true });
const alerts: J = readYaml(join(OPS, 'alerts.yml'));
const alertRules = (): J[] => alerts.groups.flatMap((g: J) => g.rules.filter((r: J) => r.alert));

/** A scratch copy of ops/prometheus with alerts.yml replaced by `rules`; removed after `use`. */
function withRules<T>(rules: J, use: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'prom-rules-'));
  try {
    copyFileSync(join(OPS, 'prometheus.yml'), join(dir, 'prometheus.yml'));
    copyFileSync(join(OPS, 'alerts.test.yml'), join(dir, 'alerts.test.yml'));
    writeFileSync(join(dir, 'alerts.yml'), stringify(rules));
    return use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** alerts.yml with the rule of alert `name` changed by `edit` (null drops it). */
function editedAlert(name: string, edit: (r: J) => J | null): J {
  const copy = structuredClone(alerts);
  for (const g of copy.groups) g.rules = g.rules.flatMap((r: J) => (r.alert === name ? [edit(r)].filter(Boolean) : [r]));
  return copy;
}

describe('promtool check config', () => {
  test('accepts ops/prometheus/prometheus.yml and every rule in the rule files it names', () => {
    const run = promtool(['check', 'config', 'prometheus.yml'], OPS);
    expect(run).toMatchObject({ status: 0 });
    expect(run.out).toMatch(/SUCCESS: 1 rule files found/);
    const rules = alerts.groups.flatMap((g: J) => g.rules).length;
    expect(run.out).toMatch(new RegExp(`alerts\\.yml[\\s\\S]*SUCCESS: ${rules} rules found`));
  });

  test('rejects a rule file with a broken expression, and a config with an unknown key, so a pass means something', () => {
    const broken = editedAlert('DeadLetters', (r) => ({ ...r, expr: 'max by (queue (cqrs_dead_letter_depth) > 0' }));
    withRules(broken, (dir) => {
      const run = promtool(['check', 'config', 'prometheus.yml'], dir);
      expect(run.status).not.toBe(0);
      expect(run.out).toMatch(/DeadLetters|parse error/);

      writeFileSync(join(dir, 'prometheus.yml'), `${readFileSync(join(OPS, 'prometheus.yml'), 'utf8')}\nscrape_intervall: 15s\n`);
      const unknown = promtool(['check', 'config', 'prometheus.yml'], dir);
      expect(unknown.status).not.toBe(0);
      expect(unknown.out).toMatch(/scrape_intervall/);
    });
  });
});

describe('promtool test rules ops/prometheus/alerts.test.yml', () => {
  test('every alert fires on its input and stays silent otherwise', () => {
    const run = promtool(['test', 'rules', 'alerts.test.yml'], OPS);
    expect(run).toEqual({ status: 0, out: expect.stringMatching(/SUCCESS/) });
  });

  test('the alerts the README names are there', () => {
    expect(alertRules().map((r: J) => r.alert).sort()).toEqual(['DeadLetters', 'GrpcErrorRate', 'HttpErrorRate', 'OutboxPending', 'ProjectionLagging', 'TargetDown']);
    const byName = Object.fromEntries(alertRules().map((r: J) => [r.alert, r]));
    expect(byName.ProjectionLagging).toMatchObject({ for: '2m', expr: expect.stringMatching(/cqrs_oldest_unapplied_event_age_seconds\) > 30$/) });
    expect(byName.DeadLetters.expr).toMatch(/cqrs_dead_letter_depth\) > 0$/);
    expect(byName.OutboxPending).toMatchObject({ for: '5m', expr: expect.stringMatching(/cqrs_outbox_pending\) > 0$/) });
  });

  // The rule tests prove something only if they fail when an alert breaks.
  const TRAILING_COMPARISON = /(==|!=|>=|<=|>|<)\s*-?[\d.]+\s*$/;
  const names = alertRules().map((r: J) => r.alert as string);

  test.each(names)('%s: the tests fail when it is gone', (name) => {
    withRules(editedAlert(name, () => null), (dir) => {
      const run = promtool(['test', 'rules', 'alerts.test.yml'], dir);
      expect(run.status).not.toBe(0);
      expect(run.out).toContain(name);
    });
  });

  test.each(names)('%s: the tests fail when it fires on everything (no threshold)', (name) => {
    const rule = alertRules().find((r: J) => r.alert === name);
    expect(rule.expr.trim()).toMatch(TRAILING_COMPARISON);
    withRules(editedAlert(name, (r) => ({ ...r, expr: r.expr.trim().replace(TRAILING_COMPARISON, '>= -Inf') })), (dir) => {
      const run = promtool(['test', 'rules', 'alerts.test.yml'], dir);
      expect(run.status).not.toBe(0);
      expect(run.out).toContain(name);
    });
  });

  test.each(names.filter((n) => alertRules().find((r: J) => r.alert === n).for))('%s: the tests fail when it fires at once (no for:)', (name) => {
    withRules(
      editedAlert(name, ({ for: _for, ...r }) => r),
      (dir) => {
        const run = promtool(['test', 'rules', 'alerts.test.yml'], dir);
        expect(run.status).not.toBe(0);
        expect(run.out).toContain(name);
      },
    );
  });
});

describe('the scrape jobs reach every process where docker-compose.yml and envoy.yaml serve metrics', () => {
  const config: J = readYaml(join(OPS, 'prometheus.yml'));
  const compose: J = readYaml(join(repoRoot, 'docker-compose.yml'));
  const envoy: J = readYaml(join(repoRoot, 'envoy', 'envoy.yaml'));
  const job = (name: string): J => {
    const j = config.scrape_configs.find((s: J) => s.job_name === name);
    if (!j) throw new Error(`prometheus.yml has no job ${name}`);
    return j;
  };
  const targets = (j: J): string[] => j.static_configs.flatMap((s: J) => s.targets);

  test('compose mounts this folder where --config.file points', () => {
    const p = compose.services.prometheus;
    const file = (p.command as string[]).find((a) => a.startsWith('--config.file='))!.split('=')[1];
    expect(p.volumes).toContain(`./ops/prometheus:${posix.dirname(file)}:ro`);
    expect(posix.basename(file)).toBe('prometheus.yml');
  });

  test('each node service is scraped on its METRICS_PORT, at /metrics', () => {
    const withMetrics = Object.entries(compose.services as Record<string, J>).filter(([, s]) => s.environment?.METRICS_PORT);
    expect(withMetrics.map(([n]) => n).sort()).toEqual(['command-svc', 'projector-svc', 'query-svc']);
    for (const [name, s] of withMetrics) {
      const j = job(name);
      expect(j.metrics_path ?? '/metrics').toBe('/metrics');
      expect(targets(j)).toEqual([`${name}:${s.environment.METRICS_PORT}`]);
    }
  });

  test("Envoy is scraped on the listener that passes its admin's /stats/prometheus on", () => {
    const j = job('envoy');
    const [host, port] = targets(j)[0].split(':');
    expect(compose.services[host]).toBeDefined();
    const listener = envoy.static_resources.listeners.find((l: J) => l.address.socket_address.port_value === Number(port));
    expect(listener).toBeDefined();
    const routes: J[] = listener.filter_chains[0].filters[0].typed_config.route_config.virtual_hosts.flatMap((v: J) => v.routes);
    const route = routes.find((r: J) => r.match.path === j.metrics_path);
    expect(route).toBeDefined();
    const cluster = envoy.static_resources.clusters.find((c: J) => c.name === route.route.cluster);
    expect(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual(envoy.admin.address.socket_address);
  });

  test('no job targets a host compose does not run', () => {
    const hosts = config.scrape_configs.flatMap((j: J) => targets(j).map((t: string) => t.split(':')[0]));
    expect(hosts.filter((h: string) => h !== 'localhost' && !compose.services[h])).toEqual([]);
  });
});
