// docker-compose.yml and the Dockerfile it builds, checked without a Docker
// engine: Debian's `docker-compose config` (the v1 tool, package
// docker-compose) validates the file against the compose schema and prints it
// resolved; the test then holds that output to the contract (services, ports,
// wiring). The gRPC health check the services use is run for real against a
// local health server.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { parse as parseYaml } from 'yaml';
import { dockerfileStages, repoRoot } from '../support/envoy-schema';

type J = any;

const INSTALL_HINT = 'docker-compose (v1) is not on PATH: install it with `apt-get install -y docker-compose` (Debian package docker-compose).';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs docker-compose with a bounded wait; a missing binary is a test failure with a clear message. */
function dockerCompose(args: string[], cwd: string): Run {
  const r = spawnSync('docker-compose', args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, COMPOSE_INTERACTIVE_NO_CLI: '1' } });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(INSTALL_HINT);
    throw new Error(`docker-compose ${args.join(' ')} did not finish: ${r.error.message}`);
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** "8000:8000", "127.0.0.1:8000:8000/tcp" or {published, target} -> "published:target". */
function portMapping(p: unknown): string {
  if (typeof p === 'number') return `${p}`;
  if (typeof p === 'string') {
    const parts = p.replace(/\/(tcp|udp)$/, '').split(':');
    return parts.slice(-2).join(':');
  }
  const o = p as { published?: number | string; target: number | string };
  return o.published === undefined ? `${o.target}` : `${o.published}:${o.target}`;
}

let resolved: J; // `docker-compose config` output
let source: J; // docker-compose.yml as written (YAML merge keys resolved)

beforeAll(() => {
  const run = dockerCompose(['-f', 'docker-compose.yml', 'config'], repoRoot);
  if (run.status !== 0) throw new Error(`docker-compose config failed (exit ${run.status}):\n${run.stderr}`);
  resolved = parseYaml(run.stdout);
  source = parseYaml(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true });
}, 90_000);

describe('docker-compose config', () => {
  test('accepts docker-compose.yml (exit 0)', () => {
    const run = dockerCompose(['-f', 'docker-compose.yml', 'config', '--quiet'], repoRoot);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  });

  test('rejects an invalid file, so a pass above means something', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compose-check-'));
    try {
      writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  web:\n    image: nginx\n    portz: ["80:80"]\n');
      const unknownKey = dockerCompose(['-f', 'docker-compose.yml', 'config', '--quiet'], dir);
      expect(unknownKey.status).not.toBe(0);
      expect(unknownKey.stderr).toMatch(/portz/);

      writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  web:\n    image: nginx\n    depends_on:\n      db:\n        condition: service_healthy\n');
      const missingService = dockerCompose(['-f', 'docker-compose.yml', 'config', '--quiet'], dir);
      expect(missingService.status).not.toBe(0);
      expect(missingService.stderr).toMatch(/db/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the services the contract requires', () => {
  const svc = (name: string): J => resolved.services[name];
  const ports = (name: string): string[] => (svc(name).ports ?? []).map(portMapping);

  test('every service is there', () => {
    expect(Object.keys(resolved.services).sort()).toEqual(['command-svc', 'envoy', 'grafana', 'jaeger', 'mongodb', 'projector-svc', 'prometheus', 'query-svc', 'rabbitmq']);
  });

  test('published ports: REST 8000, AMQP 5672, management 15672, MongoDB 27018 -> 27017, gRPC 8010/8011/8012, metrics 9101-9103', () => {
    expect(ports('envoy')).toContain('8000:8000');
    expect(ports('rabbitmq')).toEqual(expect.arrayContaining(['5672:5672', '15672:15672']));
    expect(ports('mongodb')).toEqual(['27018:27017']);
    expect(ports('command-svc')).toEqual(['8010:8010', '9101:9464']);
    expect(ports('query-svc')).toEqual(['8011:8011', '9102:9464']);
    expect(ports('projector-svc')).toEqual(['8012:8012', '9103:9464']);
  });

  test('published ports of the recipe: Prometheus 9090, Grafana 3000, Jaeger UI 16686 and OTLP 4317/4318', () => {
    expect(ports('prometheus')).toEqual(['9090:9090']);
    expect(ports('grafana')).toEqual(['3000:3000']);
    expect(ports('jaeger')).toEqual(expect.arrayContaining(['16686:16686', '4317:4317', '4318:4318']));
  });

  test('no two services publish the same host port', () => {
    const published = Object.keys(resolved.services).flatMap((n) => ports(n).map((p) => p.split(':')[0]));
    expect(published.filter((p, i) => published.indexOf(p) !== i)).toEqual([]);
  });

  test('rabbitmq: management image, admin/admin, a ping health check, durable data', () => {
    const r = svc('rabbitmq');
    expect(r.image).toBe('rabbitmq:3-management');
    expect(r.environment).toMatchObject({ RABBITMQ_DEFAULT_USER: 'admin', RABBITMQ_DEFAULT_PASS: 'admin' });
    expect(r.healthcheck.test.join(' ')).toMatch(/rabbitmq-diagnostics .*ping/);
    expect(r.volumes.map(String).join(' ')).toMatch(/:\/var\/lib\/rabbitmq/);
  });

  test('mongodb: mongo:7, a mongosh ping health check, a data volume', () => {
    const m = svc('mongodb');
    expect(m.image).toBe('mongo:7');
    expect(m.healthcheck.test.join(' ')).toMatch(/mongosh .*ping/);
    expect(m.volumes.map(String).join(' ')).toMatch(/:\/data\/db/);
  });

  test.each([
    ['command-svc', 'dist/command-svc/main.js', ['rabbitmq', 'mongodb']],
    ['query-svc', 'dist/query-svc/main.js', ['mongodb']],
    ['projector-svc', 'dist/projector-svc/main.js', ['rabbitmq', 'mongodb']],
  ])('%s: the one image, its own program, the contract environment, healthy dependencies', (name, program, needs) => {
    const s = svc(name);
    expect(s.build.target).toBe('runtime');
    expect(s.command).toEqual(['node', program]);
    expect(s.environment).toMatchObject({
      AMQP_URL: 'amqp://admin:admin@rabbitmq:5672',
      MONGO_URL: 'mongodb://mongodb:27017',
      HOST: '0.0.0.0',
      COMMAND_GRPC_PORT: '8010',
      QUERY_GRPC_PORT: '8011',
      PROJECTOR_GRPC_PORT: '8012',
      METRICS_PORT: '9464',
      TRACING: 'on',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318',
    });
    for (const dep of needs) expect(s.depends_on[dep]).toEqual({ condition: 'service_healthy' });
    expect(Object.keys(s.depends_on).sort()).toEqual([...needs].sort());
    expect(s.init).toBe(true);
  });

  test('the gRPC services have a health check on their own port', () => {
    for (const [name, port] of [['command-svc', '8010'], ['query-svc', '8011'], ['projector-svc', '8012']]) {
      const test: string[] = svc(name).healthcheck.test;
      expect(test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
      // The one script run for real below.
      expect(test[3]).toBe(svc('command-svc').healthcheck.test[3]);
      expect(test[4]).toBe(port);
    }
  });

  test('prometheus: prom/prometheus, this repository\'s config folder, a data volume', () => {
    const p = svc('prometheus');
    expect(p.image).toMatch(/^prom\/prometheus:v\d+\.\d+/);
    expect(p.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(p.volumes).toContainEqual(`${join(repoRoot, 'ops', 'prometheus')}:/etc/prometheus:ro`);
    expect(p.volumes.map(String).join(' ')).toMatch(/:\/prometheus(:|\s|$)/);
  });

  test('grafana: grafana/grafana with the provisioning and dashboards of ops/grafana', () => {
    const g = svc('grafana');
    expect(g.image).toMatch(/^grafana\/grafana:\d+\.\d+/);
    expect(g.volumes).toEqual(
      expect.arrayContaining([
        `${join(repoRoot, 'ops', 'grafana', 'provisioning')}:/etc/grafana/provisioning:ro`,
        `${join(repoRoot, 'ops', 'grafana', 'dashboards')}:/etc/grafana/dashboards:ro`,
      ]),
    );
    expect(g.depends_on).toEqual({ prometheus: { condition: 'service_started' } });
  });

  test('jaeger: all-in-one with OTLP in', () => {
    const j = svc('jaeger');
    expect(j.image).toMatch(/^jaegertracing\/all-in-one:\d+\.\d+/);
    expect(j.environment).toMatchObject({ COLLECTOR_OTLP_ENABLED: 'true' });
  });

  test('envoy: built with the descriptor, config mounted, runs what it mounts', () => {
    const e = svc('envoy');
    expect(e.build.target).toBe('envoy');
    const command: string[] = e.command;
    expect(command[0]).toBe('envoy');
    const configPath = command[command.indexOf('-c') + 1];
    expect(e.volumes).toContainEqual(`${join(repoRoot, 'envoy', 'envoy.yaml')}:${configPath}:ro`);
  });

  test('auth is on: every service and Envoy check tokens against the same public JWKS, issuer and audience', () => {
    const envoy = parseYaml(readFileSync(join(repoRoot, 'envoy', 'envoy.yaml'), 'utf8')) as J;
    const jwt = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters.find((f: J) => f.name === 'envoy.filters.http.jwt_authn').typed_config;
    const provider = jwt.providers.cqrs_mesh;
    const publicKeys = join(repoRoot, '.data', 'auth', 'public');
    expect(svc('envoy').volumes).toContainEqual(`${publicKeys}:${provider.local_jwks.filename.replace(/\/[^/]+$/, '')}:ro`);
    for (const name of ['command-svc', 'query-svc']) {
      const s = svc(name);
      expect({ name, ...s.environment, volumes: s.volumes }).toMatchObject({
        name, AUTH: 'on', AUTH_JWKS_FILE: provider.local_jwks.filename, AUTH_ISSUER: provider.issuer, AUTH_AUDIENCE: provider.audiences[0], volumes: [`${publicKeys}:/etc/cqrs/auth:ro`],
      });
    }
  });
});

describe('the gRPC health check of docker-compose.yml, run for real', () => {
  const script = (): string => {
    const test: string[] = source.services['command-svc'].healthcheck.test;
    return test[3];
  };

  async function probe(status: ServingStatus | undefined): Promise<number | null> {
    const server = new grpc.Server();
    if (status) new HealthImplementation({ '': status }).addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    try {
      // Run from the repository root, as the image runs it from /app: it needs node_modules/@grpc/grpc-js.
      const child = await new Promise<number | null>((resolve) => {
        const p = spawn(process.execPath, ['-e', script(), String(port)], { cwd: repoRoot, stdio: 'ignore' });
        const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
        p.on('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
      return child;
    } finally {
      server.forceShutdown();
    }
  }

  test('passes against a SERVING server', async () => {
    expect(await probe('SERVING')).toBe(0);
  });

  test('fails against a NOT_SERVING server, and against one without the health service', async () => {
    expect(await probe('NOT_SERVING')).toBe(1);
    expect(await probe(undefined)).toBe(1);
  });
});

describe('the Dockerfile the services are built from', () => {
  const stages = dockerfileStages(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
  const stage = (name: string) => {
    const s = stages.find((x) => x.name === name);
    if (!s) throw new Error(`Dockerfile has no stage "${name}"`);
    return s;
  };
  const arg = (name: string): string | undefined => {
    const m = new RegExp(`^ARG\\s+${name}=(\\S+)`, 'm').exec(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
    return m?.[1];
  };
  const image = (from: string): string => from.replace(/^\$\{(\w+)\}$/, (_m, v: string) => arg(v) ?? from);

  test('every build target docker-compose names is a stage', () => {
    const targets = Object.values(resolved.services as Record<string, J>)
      .filter((s) => s.build)
      .map((s) => s.build.target);
    for (const t of targets) expect(stages.map((s) => s.name)).toContain(t);
  });

  test('deps installs with npm ci; build generates and compiles without the Go store', () => {
    expect(stage('deps').instructions.some((i) => /^RUN\s+npm ci\b/.test(i))).toBe(true);
    const build = stage('build').instructions.join('\n');
    expect(build).toMatch(/scripts\/gen\.mjs|npm run gen/);
    expect(build).toMatch(/tsc -p tsconfig\.json/);
    expect(build).not.toMatch(/build:store|build-store|npm run build\b/);
  });

  test('runtime: node:20-slim, production dependencies only, non-root, exec-form CMD', () => {
    const runtime = stages[stages.length - 1];
    expect(runtime.name).toBe('runtime');
    expect(image(runtime.from)).toBe('node:20-slim');
    const deps = runtime.instructions.find((i) => /^COPY\s+--from=(\S+)\s+\S*node_modules/.test(i));
    expect(deps).toBeDefined();
    const depsStage = stage(/--from=(\S+)/.exec(deps!)![1]);
    expect(depsStage.instructions.some((i) => /npm ci\b.*--omit=dev/.test(i))).toBe(true);
    expect(runtime.instructions).toContain('USER node');
    const cmd = runtime.instructions.filter((i) => /^CMD\s/.test(i)).pop();
    expect(JSON.parse(cmd!.replace(/^CMD\s+/, ''))).toEqual(['node', 'dist/command-svc/main.js']);
  });

  test('envoy: the envoyproxy/envoy image', () => {
    expect(image(stage('envoy').from)).toMatch(/^envoyproxy\/envoy:v\d+\.\d+/);
  });

  test('.dockerignore keeps host build output and dependencies out of the context', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim().replace(/^\/|\/$/g, ''))
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'gen', '.bin', '.data']));
  });
});
