// `npm start` itself (node dist/scripts/start.js), on free ports, a temp data
// folder and a private RabbitMQ vhost: every child is killed with SIGKILL in
// turn; the others keep answering, the supervisor restarts the killed one and
// it answers again. Then a child that cannot start again (its port taken)
// makes npm start give up and exit non-zero, leaving nothing behind; Ctrl-C
// stops everything with exit 0.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grpcHealth, safePort } from '../support/faults-infra';
import { getJson, postJson } from '../support/http';
import { eventually } from '../../kit/wait';
import { createVhost, type TestVhost } from '../../kit/rabbit';
import { alive, commandLine, ScriptRun } from '../support/script-run';

jest.setTimeout(420_000);

type Name = 'command-svc' | 'query-svc' | 'projector-svc' | 'edge' | 'store';
const NAMES: Name[] = ['command-svc', 'query-svc', 'projector-svc', 'edge', 'store'];
/** How each child's line in the "mesh is up" block starts. */
const LABEL: Record<Name, string> = { 'command-svc': 'command-svc', 'query-svc': 'query-svc', 'projector-svc': 'projector-svc', edge: 'REST \\(edge\\)', store: 'store' };
const BINARY: Record<Name, string> = {
  'command-svc': 'dist/command-svc/main.js',
  'query-svc': 'dist/query-svc/main.js',
  'projector-svc': 'dist/projector-svc/main.js',
  edge: 'dist/edge/main.js',
  store: '.bin/store',
};

interface Started {
  run: ScriptRun;
  vhost: TestVhost;
  dataDir: string;
  ports: { edge: number; command: number; query: number; store: number };
  /** The metrics URLs npm start printed, by process. */
  metrics: Record<string, string>;
  edge: string;
  pids: Record<Name, number>;
}

const started: Started[] = [];

async function distinctPorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await safePort());
  return [...out];
}

async function startNpmStart(): Promise<Started> {
  const vhost = createVhost('cqrs-start');
  const dataDir = mkdtempSync(join(tmpdir(), 'cqrs-start-store-'));
  const [edge, command, query, store, projector, ...metricsPorts] = await distinctPorts(9);
  const run = new ScriptRun('start', {
    AMQP_URL: vhost.url,
    MONGO_URL: '',
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    EDGE_PORT: String(edge),
    COMMAND_GRPC_PORT: String(command),
    QUERY_GRPC_PORT: String(query),
    STORE_PORT: String(store),
    PROJECTOR_GRPC_PORT: String(projector),
    EDGE_METRICS_PORT: String(metricsPorts[0]),
    COMMAND_METRICS_PORT: String(metricsPorts[1]),
    QUERY_METRICS_PORT: String(metricsPorts[2]),
    PROJECTOR_METRICS_PORT: String(metricsPorts[3]),
    SEED_CATALOG: 'true',
    LOG_LEVEL: 'info',
  });
  const s: Started = { run, vhost, dataDir, ports: { edge, command, query, store }, metrics: {}, edge: `http://127.0.0.1:${edge}`, pids: {} as Record<Name, number> };
  started.push(s);
  const up = (await run.waitForLine(/^CQRS mesh is up:/, 180_000)).input!;
  const from = run.lines.indexOf(up);
  for (const name of NAMES) {
    const m = await run.waitForLine(new RegExp(`^  ${LABEL[name]}\\s.*\\(pid (\\d+)\\)`), 5_000, from);
    s.pids[name] = Number(m[1]);
    run.remember(s.pids[name]);
  }
  await run.waitForLine(/^Prometheus metrics/, 5_000, from);
  for (const name of ['edge', 'command-svc', 'query-svc', 'projector-svc']) {
    s.metrics[name] = (await run.waitForLine(new RegExp(`^  ${name}\\s+(http://\\S+/metrics)$`), 5_000, from))[1];
  }
  return s;
}

afterAll(async () => {
  for (const s of started) {
    await s.run.stop('SIGTERM', 40_000);
    s.vhost.remove();
    rmSync(s.dataDir, { recursive: true, force: true });
  }
});

const order = (s: Started, user: number) => postJson(`${s.edge}/cqrs/commands/orders`, { user_id: user, product_id: 456, quantity: 1 });
const getOrder = (s: Started, id: string) => getJson(`${s.edge}/cqrs/queries/orders/${id}`);

async function placed(s: Started, user: number, timeoutMs = 30_000): Promise<string> {
  return eventually(
    async () => {
      const r = await order(s, user);
      return r.status === 200 ? (r.body.order_id as string) : undefined;
    },
    timeoutMs,
    `an order placed through the edge (user ${user})`,
  );
}

async function visible(s: Started, id: string, timeoutMs = 30_000): Promise<void> {
  await eventually(async () => ((await getOrder(s, id)).status === 200 ? true : undefined), timeoutMs, `order ${id} readable through the edge`);
}

/** Each child's pid is still the one recorded, and alive: nobody else was restarted. */
function expectOthersUntouched(s: Started, victim: Name): void {
  for (const name of NAMES) {
    if (name === victim) continue;
    expect({ name, pid: s.pids[name], alive: alive(s.pids[name]) }).toEqual({ name, pid: s.pids[name], alive: true });
  }
}

/** Kills `name` with SIGKILL; returns the line index to look for its restart from. */
function kill9(s: Started, name: Name): number {
  const pid = s.pids[name];
  expect(commandLine(pid)).toContain(BINARY[name]);
  const from = s.run.lines.length;
  process.kill(pid, 'SIGKILL');
  return from;
}

async function awaitRestart(s: Started, name: Name, from: number): Promise<number> {
  const died = await s.run.waitForLine(new RegExp(`^npm start\\s+${name} \\(pid ${s.pids[name]}\\) died: killed by SIGKILL`), 10_000, from);
  expect(died).toBeTruthy();
  await s.run.waitForLine(new RegExp(`^npm start\\s+restarting ${name} in \\d+ ms`), 10_000, from);
  const back = await s.run.waitForLine(new RegExp(`^npm start\\s+${name} is back \\(pid (\\d+)\\)`), 90_000, from);
  const pid = Number(back[1]);
  expect(pid).not.toBe(s.pids[name]);
  expect(alive(pid)).toBe(true);
  expect(commandLine(pid)).toContain(BINARY[name]);
  expect(alive(s.pids[name])).toBe(false);
  s.pids[name] = pid;
  s.run.remember(pid);
  return pid;
}

test('npm start restarts each killed process while the others keep answering, and gives up on one that cannot start', async () => {
  const s = await startNpmStart();
  expect(s.run.lines[0]).toMatch(/^npm start\s+starting the CQRS mesh: embedded store/);
  expect(s.run.children().sort()).toEqual(NAMES.map((n) => s.pids[n]).sort());
  // Every metrics URL it printed answers with Prometheus text.
  for (const [name, url] of Object.entries(s.metrics)) {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    expect([name, res.status, /^# HELP /m.test(await res.text())]).toEqual([name, 200, true]);
  }
  let user = 500;
  const first = await placed(s, user++);
  await visible(s, first);

  // ---- command-svc down: queries through the edge still answer
  let from = kill9(s, 'command-svc');
  expect((await getOrder(s, first)).status).toBe(200);
  expect((await getJson(`${s.edge}/cqrs/queries/health`)).status).toBe(200);
  expect((await order(s, user)).status).toBe(503); // nobody at command-svc's port yet
  await awaitRestart(s, 'command-svc', from);
  expectOthersUntouched(s, 'command-svc');
  const afterCommand = await placed(s, user++);
  await visible(s, afterCommand);

  // ---- query-svc down: commands through the edge still answer
  from = kill9(s, 'query-svc');
  const whileQueryDown = await order(s, user++);
  expect(whileQueryDown.status).toBe(200);
  expect((await getOrder(s, first)).status).toBe(503);
  expect(await grpcHealth(`127.0.0.1:${s.ports.command}`)).toBe('SERVING');
  await awaitRestart(s, 'query-svc', from);
  expectOthersUntouched(s, 'query-svc');
  await visible(s, whileQueryDown.body.order_id);

  // ---- projector-svc down: commands and queries answer; it catches up when back
  from = kill9(s, 'projector-svc');
  const whileProjectorDown = await order(s, user++);
  expect(whileProjectorDown.status).toBe(200);
  expect((await getOrder(s, first)).status).toBe(200);
  await awaitRestart(s, 'projector-svc', from);
  expectOthersUntouched(s, 'projector-svc');
  await visible(s, whileProjectorDown.body.order_id, 60_000);

  // ---- edge down: the gRPC services answer directly
  from = kill9(s, 'edge');
  await expect(fetch(`${s.edge}/cqrs/queries/health`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  expect(await grpcHealth(`127.0.0.1:${s.ports.command}`)).toBe('SERVING');
  expect(await grpcHealth(`127.0.0.1:${s.ports.query}`)).toBe('SERVING');
  await awaitRestart(s, 'edge', from);
  expectOthersUntouched(s, 'edge');
  expect((await getJson(`${s.edge}/cqrs/queries/health`)).status).toBe(200);
  expect((await getOrder(s, first)).status).toBe(200);

  // ---- the store down: every service stays up and answers (health says what is missing)
  from = kill9(s, 'store');
  const health = await getJson(`${s.edge}/cqrs/queries/health`);
  expect(health.status).toBeGreaterThanOrEqual(200);
  expect(typeof health.body).toBe('object');
  expect(['SERVING', 'NOT_SERVING']).toContain(await grpcHealth(`127.0.0.1:${s.ports.command}`));
  await awaitRestart(s, 'store', from);
  expectOthersUntouched(s, 'store');
  const afterStore = await placed(s, user++, 90_000);
  await visible(s, afterStore, 90_000);
  expect((await getOrder(s, first)).status).toBe(200);

  // ---- a child that keeps crashing at start-up: the edge's port is taken
  const squatter: Server = createServer();
  const edgePid = s.pids.edge;
  from = s.run.lines.length;
  process.kill(edgePid, 'SIGKILL');
  // Take the port the moment the dead edge lets go of it (the restart comes 500+ ms later).
  await eventually(
    () =>
      new Promise<true | undefined>((resolve) => {
        squatter.once('error', () => resolve(undefined));
        squatter.listen(s.ports.edge, '127.0.0.1', () => resolve(true));
      }),
    5_000,
    `the edge's port ${s.ports.edge} to be free\n${s.run.tail(20)}`,
  );
  expect(alive(edgePid)).toBe(false);
  try {
    await s.run.waitForLine(/^npm start\s+edge failed to start again: /, 60_000, from);
    const gaveUp = await s.run.waitForLine(/^npm start\s+edge crashed \d+ times in a row at start-up \(last: .*\); giving up: stopping the mesh/, 120_000, from);
    expect(gaveUp).toBeTruthy();
    const exit = await s.run.waitForExit(60_000);
    expect(exit).toEqual({ code: 1, signal: null });
    for (const name of NAMES) expect({ name, alive: alive(s.pids[name]) }).toEqual({ name, alive: false });
  } finally {
    await new Promise((r) => squatter.close(r));
  }
});

test('npm start says what it starts, and Ctrl-C stops every process with exit 0', async () => {
  const s = await startNpmStart();
  const text = s.run.lines.join('\n');
  expect(text).toMatch(/stocked a sample catalog: products 456/);
  expect(text).toMatch(/A process that dies is restarted \(with back-off\); the others keep serving\./);
  expect(text).toMatch(/Ctrl-C stops everything\./);
  expect((await getJson(`${s.edge}/cqrs/queries/health`)).status).toBe(200);
  s.run.proc.kill('SIGINT');
  await s.run.waitForLine(/^npm start\s+Ctrl-C: stopping the mesh\.\.\./, 10_000);
  expect(await s.run.waitForExit(60_000)).toEqual({ code: 0, signal: null });
  for (const name of NAMES) expect({ name, alive: alive(s.pids[name]) }).toEqual({ name, alive: false });
});
