// `npm start`: the whole mesh on this machine, in the foreground. Every child
// is supervised: one that dies is restarted with back-off while the others
// keep serving. Ctrl-C (or SIGTERM) stops everything; so does a child that
// keeps crashing at start-up, and then npm start exits non-zero.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { localAuth, type LocalAuth } from '../kit/auth-keys';
import { bool, common, port, portOrOff, readConfig, str } from '../lib/config';
import { SERVICES, startMesh, type Mesh, type ServiceName } from '../kit/mesh';
import { repoRoot } from '../lib/paths';
import { stopChild, Supervisor, type Child } from '../kit/processes';
import { storeProcess } from '../kit/store';
import { SAMPLE_CATALOG, stockSampleCatalog } from './sample-catalog';

const say = (line: string) => process.stdout.write(`${'npm start'.padEnd(13)} ${line}\n`);
const complain = (line: string) => process.stderr.write(`${'npm start'.padEnd(13)} ${line}\n`);
const redact = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@');

async function main(): Promise<void> {
  const { MONGO_URL: _default, ...rest } = common;
  const config = readConfig({
    ...rest,
    MONGO_URL: str(''),
    EDGE_PORT: port(8000),
    COMMAND_GRPC_PORT: port(8010),
    QUERY_GRPC_PORT: port(8011),
    STORE_PORT: port(27017),
    PROJECTOR_GRPC_PORT: port(8012),
    // Each process's Prometheus /metrics ('off': none).
    EDGE_METRICS_PORT: portOrOff(9100),
    COMMAND_METRICS_PORT: portOrOff(9101),
    QUERY_METRICS_PORT: portOrOff(9102),
    PROJECTOR_METRICS_PORT: portOrOff(9103),
    DATA_DIR: str(join(repoRoot, '.data', 'store')),
    // Stock a sample catalog on a fresh embedded store (never on MONGO_URL).
    SEED_CATALOG: bool(true),
    // Bearer tokens required (lib/auth.ts); without a JWKS of your own, a local key signs them.
    AUTH: bool(false),
    // Read by every service (lib/tracing.ts); said here so a newcomer knows where spans go.
    TRACING: bool(false),
    OTEL_EXPORTER_OTLP_ENDPOINT: str('http://localhost:4318'),
    AUTH_JWKS_FILE: str(''),
    AUTH_JWKS_URL: str(''),
    AUTH_KEYS_DIR: str(join(repoRoot, '.data', 'auth')),
  });
  const onLine = (name: string, line: string) => process.stdout.write(`${name.padEnd(13)} ${line}\n`);
  say(`starting the CQRS mesh: ${config.MONGO_URL ? `store ${redact(config.MONGO_URL)}` : `embedded store (data in ${config.DATA_DIR})`}, ${SERVICES.join(', ')}; RabbitMQ at ${redact(config.AMQP_URL)}`);

  let mesh: Mesh | undefined;
  let stopping = false;
  let supervisor: Supervisor | undefined;
  let exitCode = 0;
  const shutdown = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    (code ? complain : say)(`${why}: stopping the mesh...`);
    if (!mesh) return; // still starting: stopped as soon as startMesh settles (below)
    // No more restarts; one under way is stopped with the rest (its child is
    // in mesh.children as soon as it is spawned), then swept once it settles.
    const restarts = supervisor?.stop();
    await mesh.stop();
    await restarts;
    for (const c of mesh.children.values()) await stopChild(c, 5_000);
    say(code ? 'stopped.' : 'stopped; bye.');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('Ctrl-C', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));

  const local = config.AUTH && !config.AUTH_JWKS_FILE && !config.AUTH_JWKS_URL ? await localAuth(config.AUTH_KEYS_DIR) : undefined;
  if (!config.AUTH) {
    complain('AUTH IS OFF: anyone who can reach these ports may run any command and read every order and user.');
    complain('            Set AUTH=on to require bearer tokens (README "Security").');
  }

  mesh = await startMesh({
    env: local ? { 'command-svc': local.env, 'query-svc': local.env } : undefined,
    amqpUrl: config.AMQP_URL,
    mongoUrl: config.MONGO_URL || undefined,
    dataDir: config.DATA_DIR,
    ports: { edge: config.EDGE_PORT, command: config.COMMAND_GRPC_PORT, query: config.QUERY_GRPC_PORT, store: config.STORE_PORT, projector: config.PROJECTOR_GRPC_PORT },
    metricsPorts: { edge: config.EDGE_METRICS_PORT, 'command-svc': config.COMMAND_METRICS_PORT, 'query-svc': config.QUERY_METRICS_PORT, 'projector-svc': config.PROJECTOR_METRICS_PORT },
    host: config.HOST,
    logLevel: config.LOG_LEVEL,
    onLine,
  });
  const m = mesh;
  if (stopping) {
    // Ctrl-C or SIGTERM while the mesh was starting.
    await m.stop();
    say('stopped; bye.');
    process.exit(exitCode);
  }
  const u = m.urls;
  const marker = join(config.DATA_DIR, '.catalog-stocked');
  if (!config.MONGO_URL && config.SEED_CATALOG && !existsSync(marker) && (!config.AUTH || local)) {
    // With auth on, as a service with its own credentials, not as a user.
    await stockSampleCatalog(u.command, local && (await local.mint('npm-start', ['service'], { ttlSeconds: 300 })));
    writeFileSync(marker, `${new Date().toISOString()}\n`);
    say(`stocked a sample catalog: products ${SAMPLE_CATALOG.map((p) => p.productId).join(', ')}`);
  }

  supervisor = new Supervisor({
    log: (line) => complain(line),
    onGiveUp: (_name, reason) => void shutdown(`${reason}; giving up`, 1),
  });
  // A service restarts on the same ports and settings (Mesh.start); a start
  // that fails leaves nothing running behind it.
  const restartService = (name: ServiceName) => async (): Promise<Child> => {
    try {
      return await m.start(name);
    } catch (err) {
      const half = m.children.get(name);
      if (half) await stopChild(half, 5_000);
      throw err;
    }
  };
  for (const name of SERVICES) supervisor.watch(name, m.children.get(name)!, restartService(name));
  const store = m.children.get('store');
  if (store) supervisor.watch('store', store, () => restartStore(m, config.DATA_DIR, onLine));

  const pid = (name: ServiceName | 'store') => `(pid ${m.children.get(name)?.proc.pid})`;
  const metrics = (name: ServiceName) => (u.metrics[name] ? `${u.metrics[name]}/metrics` : 'off');
  process.stdout.write(
    [
      '',
      'CQRS mesh is up:',
      `  REST (edge)     ${u.edge}  ${pid('edge')}`,
      `                  e.g. curl -X POST ${u.edge}/cqrs/commands/orders -H 'Content-Type: application/json' -d '{"user_id":123,"product_id":456,"quantity":2}'`,
      `  command-svc     grpc://${u.command}  ${pid('command-svc')}`,
      `  query-svc       grpc://${u.query}  ${pid('query-svc')}`,
      `  projector-svc   consuming from RabbitMQ; grpc://${u.projector} (health only)  ${pid('projector-svc')}`,
      `  store           ${redact(u.mongo)}${config.MONGO_URL ? '' : `  ${pid('store')} (embedded FerretDB, data in ${config.DATA_DIR})`}`,
      `  rabbitmq        ${redact(u.amqp)}`,
      'Prometheus metrics (README "Operating it"):',
      ...SERVICES.map((name) => `  ${name.padEnd(15)} ${metrics(name)}`),
      config.TRACING ? `Tracing is on: OTLP/HTTP to ${config.OTEL_EXPORTER_OTLP_ENDPOINT}.` : 'Tracing is off (TRACING=on sends OpenTelemetry spans over OTLP, README "Tracing").',
      ...(local ? await tokenLines(local, u.edge) : config.AUTH ? ['Auth is on: tokens from your provider (AUTH_JWKS_FILE / AUTH_JWKS_URL).'] : []),
      'A process that dies is restarted (with back-off); the others keep serving.',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

/** Tokens to try the mesh with, signed by the local key (valid 12 h). */
async function tokenLines(local: LocalAuth, edge: string): Promise<string[]> {
  const customer = await local.mint('123', ['customer']);
  const staff = await local.mint('staff', ['staff']);
  return [
    `Auth is on (tokens signed by the local key in ${dirname(local.jwksFile)}, valid 12 h):`,
    `  customer 123    ${customer}`,
    `  staff           ${staff}`,
    `                  e.g. curl -X POST ${edge}/cqrs/commands/orders -H "Authorization: Bearer <customer token>" -H 'Content-Type: application/json' -d '{"user_id":123,"product_id":456,"quantity":2}'`,
  ];
}

/** The embedded store again, on the port and data folder the services already use. */
async function restartStore(m: Mesh, dataDir: string, onLine: (name: string, line: string) => void): Promise<Child> {
  const { hostname, port: p } = new URL(m.urls.mongo);
  const { child, url } = storeProcess({ host: hostname, port: Number(p), dataDir, onLine });
  m.children.set('store', child);
  try {
    await url;
  } catch (err) {
    await stopChild(child, 5_000);
    throw err;
  }
  return child;
}

main().catch((err: Error) => {
  complain(err.message);
  complain('the mesh did not start; nothing is left running.');
  process.exit(1);
});
