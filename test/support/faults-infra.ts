// What the fault-injection suites break things with: a mesh with fixed
// ports or custom broker/store URLs, a PRIVATE RabbitMQ node (the machine's
// node is shared and must never be stopped), Toxiproxy, the embedded store
// spawned by hand, grpc.health.v1 checks, and taps/publishers on the event
// exchange. Every wait here is bounded.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { credentials, loadPackageDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { Mesh, MeshOptions } from '../../kit/mesh';
import { freePort, spawnChild, stopChild, type Child } from '../../kit/processes';
import { storeProcess } from '../../kit/store';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { sleep, within } from '../../kit/wait';
import { repoRoot } from '../../lib/paths';
import { findTool, TOXIPROXY } from './tools';
import { Workload } from './faults-workload';

const run = promisify(execFile);

// ---------------------------------------------------------------- the mesh

export interface FaultMesh extends TestMesh {
  /** Every output line of every process; kept after teardown only if `keepLogs()` was called. */
  logFile: string;
  keepLogs(): void;
  /** Writes a line (the test's own notes) into the log file. */
  note(line: string): void;
  /** Where output of processes the test spawns itself goes. */
  line(name: string, line: string): void;
  /** Counts of log lines matching the watched phrases, per phrase. */
  seen: Record<string, number>;
}

/** Phrases worth counting in every service's output. */
export const WATCHED = [
  'relayed unpublished commit',
  'publish deferred to the outbox relay',
  'event dead-lettered',
  'event failed; will retry',
  'holding the event',
  'amqp connection lost; reconnecting',
  'amqp connected',
  'health changed',
  'call failed',
];

export interface FaultMeshOptions {
  /** Default: a fresh vhost on the machine's RabbitMQ. */
  amqpUrl?: string;
  /** Default: the embedded store, started by the mesh. */
  mongoUrl?: string;
  /** Fixed store port (for a store restarted on the same port). */
  storePort?: number;
  dataDir?: string;
  env?: MeshOptions['env'];
}

/** The kit's test mesh, with every line in a log file, watched phrases counted, and every process tracked. */
export async function startFaultMesh(o: FaultMeshOptions = {}): Promise<FaultMesh> {
  const seen: Record<string, number> = {};
  mkdirSync(join(tmpdir(), 'cqrs-faults'), { recursive: true });
  const logFile = join(tmpdir(), 'cqrs-faults', `mesh-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}.log`);
  const out = createWriteStream(logFile);
  let keep = false;
  const note = (line: string) => out.write(`${new Date().toISOString()} test: ${line}\n`);
  const onLine = (name: string, line: string) => {
    out.write(`${name}: ${line}\n`);
    for (const w of WATCHED) if (line.includes(w)) seen[w] = (seen[w] ?? 0) + 1;
  };
  const closeLog = () =>
    out.end(() => {
      if (!keep) rmSync(logFile, { force: true });
    });
  let mesh: TestMesh;
  try {
    mesh = await startTestMesh({
      amqpUrl: o.amqpUrl,
      vhostPrefix: 'cqrs-fault',
      mongoUrl: o.mongoUrl,
      dataDir: o.dataDir,
      ports: { store: o.storePort ?? 0 },
      env: o.env,
      onLine,
      // FerretDB's wire-protocol chatter drowns everything else.
      keepLine: (name, line) => !(name === 'store' && /Response (header|message)|Connection stopped/.test(line)),
      stopMs: 5_000,
    });
  } catch (err) {
    keep = true;
    closeLog();
    throw new Error(`${(err as Error).message}\n(all of it in ${logFile})`);
  }
  for (const c of mesh.children.values()) track(c.proc);
  const start: Mesh['start'] = async (name, env) => {
    const c = await mesh.start(name, env);
    track(c.proc);
    return c;
  };
  const line = (name: string, l: string) => {
    onLine(name, l);
    mesh.logs.push(`${name}: ${l.slice(0, 600)}`);
  };
  return {
    ...mesh,
    start,
    seen,
    logFile,
    keepLogs: () => void (keep = true),
    note,
    line,
    async teardown() {
      try {
        await mesh.teardown();
      } finally {
        closeLog();
      }
    },
  };
}

/** Runs the test's body; on failure keeps the mesh's log file and names it. */
export async function keepLogsOnFailure<T>(mesh: FaultMesh, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    Workload.abortAll();
    mesh.keepLogs();
    (err as Error).message += `\n(every process's output: ${mesh.logFile})`;
    throw err;
  }
}

/** Every process the fault suites start, so none outlives the run (see Cleanup.run). */
const spawned = new Set<{ pid?: number; exitCode: number | null; signalCode: NodeJS.Signals | null; kill(sig?: NodeJS.Signals): boolean }>();
export function track(proc: { pid?: number; exitCode: number | null; signalCode: NodeJS.Signals | null; kill(sig?: NodeJS.Signals): boolean }): void {
  spawned.add(proc);
}
function killLeftovers(): string[] {
  const left: string[] = [];
  for (const p of spawned) {
    if (p.exitCode === null && p.signalCode === null) {
      left.push(String(p.pid));
      p.kill('SIGKILL');
    }
  }
  spawned.clear();
  return left;
}

/** Spawns the embedded store on a given port and data folder (for restarts, or a store the mesh does not own). */
export async function spawnStore(port: number, dataDir: string, onLine?: (name: string, line: string) => void): Promise<{ child: Child; url: string }> {
  const { child, url } = storeProcess({ port, dataDir, onLine });
  track(child.proc);
  return { child, url: await url };
}

/** A free port outside the ranges RabbitMQ's own tools use (25672, 35672-35682, 4369, 5672). */
export async function safePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p >= 35_600 && p <= 35_700) continue;
    if ([4369, 5672, 15672, 25672].includes(p)) continue;
    return p;
  }
  throw new Error('no free port outside the RabbitMQ ranges');
}

/** Stops a child for sure: SIGTERM, then SIGKILL after `ms`. */
export async function stopHard(c: Child | undefined, ms = 10_000): Promise<void> {
  if (c) await stopChild(c, ms);
}

// ---------------------------------------------------------------- a private RabbitMQ node

export interface PrivateRabbit {
  node: string;
  port: number;
  url: string;
  /** Stops the rabbit application (connections drop, node stays). */
  stopApp(): Promise<void>;
  startApp(): Promise<void>;
  /** Stops and removes the node and its files. */
  destroy(): Promise<void>;
}

async function rabbitmqctl(args: string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: timeoutMs, env: process.env });
  return stdout;
}

/**
 * Starts a private RabbitMQ node (own node name, ports, data and log
 * folders) that a test may stop and start at will. The machine's node
 * (rabbit@localhost, 127.0.0.1:5672) is never touched.
 */
export async function startPrivateRabbit(): Promise<PrivateRabbit> {
  const id = randomBytes(4).toString('hex');
  const node = `cqrsfault${id}@localhost`;
  const dir = mkdtempSync(join(tmpdir(), 'cqrs-fault-rabbit-'));
  const port = await safePort();
  let dist = await safePort();
  while (dist === port) dist = await safePort();
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.1 = 127.0.0.1:${port}\nloopback_users = none\n`);
  // The server runs as the rabbitmq user (the system wrapper switches to it).
  chmodSync(dir, 0o777);
  for (const f of ['enabled_plugins', 'rabbitmq.conf']) chmodSync(join(dir, f), 0o666);
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_DIST_PORT: String(dist),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
  };
  const pid = () => {
    try {
      return Number(readFileSync(join(dir, 'pid'), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  };
  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    const p = pid();
    try {
      await rabbitmqctl(['-n', node, 'stop'], 30_000);
    } catch {
      /* killed below */
    }
    // Only the node this test started, by its own pid.
    if (p) {
      for (let i = 0; i < 20 && alive(p); i++) await sleep(250);
      if (alive(p)) process.kill(p, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run('rabbitmq-server', ['-detached'], { env, timeout: 30_000 });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await rabbitmqctl(['-n', node, 'await_startup', '--timeout', '60'], 65_000);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`private RabbitMQ node ${node} did not start: ${(err as Error).message}\n${logTail(dir)}`);
        await sleep(500);
      }
    }
    return {
      node,
      port,
      url: `amqp://guest:guest@127.0.0.1:${port}`,
      stopApp: async () => void (await rabbitmqctl(['-n', node, 'stop_app'])),
      startApp: async () => {
        // The listener may still be closing: retry (bounded).
        for (let i = 0; ; i++) {
          try {
            await rabbitmqctl(['-n', node, 'start_app']);
            await rabbitmqctl(['-n', node, 'await_startup', '--timeout', '60'], 65_000);
            return;
          } catch (err) {
            if (i >= 5) throw err;
            await sleep(1_000);
          }
        }
      },
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function logTail(dir: string): string {
  try {
    const log = execFileSync('sh', ['-c', `tail -n 30 ${join(dir, 'log')}/*.log`], { timeout: 5_000 }).toString();
    return log;
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------- Toxiproxy

/** Toxiproxy's server: $TOXIPROXY_SERVER, else .bin/go/toxiproxy-server (npm run test:tools), else PATH / $(go env GOPATH)/bin/server. */
export function toxiproxyBinary(): string {
  if (process.env.TOXIPROXY_SERVER) return process.env.TOXIPROXY_SERVER;
  return findTool(TOXIPROXY);
}

export interface Toxic {
  type: 'latency' | 'reset_peer' | 'timeout' | 'bandwidth' | 'slow_close' | 'limit_data' | 'slicer';
  stream?: 'upstream' | 'downstream';
  toxicity?: number;
  attributes: Record<string, number>;
}

export class Toxiproxy {
  private constructor(
    readonly api: string,
    private readonly child: Child,
  ) {}

  static async start(): Promise<Toxiproxy> {
    const bin = toxiproxyBinary();
    if (!existsSync(bin)) throw new Error(`Toxiproxy server not found at ${bin} (TOXIPROXY_SERVER)`);
    const port = await safePort();
    const child = spawnChild({ name: 'toxiproxy', command: bin, args: ['-host', '127.0.0.1', '-port', String(port)], ready: /API HTTP server starting|Starting Toxiproxy HTTP server|"port"/, timeoutMs: 15_000 });
    track(child.proc);
    const t = new Toxiproxy(`http://127.0.0.1:${port}`, child);
    // The ready line differs between versions: the API answering is what counts.
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const res = await fetch(`${t.api}/version`, { signal: AbortSignal.timeout(1_000) });
        if (res.ok) return t;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline || child.proc.exitCode !== null) {
        await stopChild(child, 2_000);
        throw new Error('Toxiproxy did not start');
      }
      await sleep(100);
    }
  }

  private async req(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.api}${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(5_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`toxiproxy ${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** A proxy listening on a free port in front of `upstream` (host:port); returns its port. */
  async proxy(name: string, upstream: string): Promise<number> {
    const port = await safePort();
    await this.req('POST', '/proxies', { name, listen: `127.0.0.1:${port}`, upstream, enabled: true });
    return port;
  }

  addToxic(proxy: string, name: string, t: Toxic): Promise<unknown> {
    return this.req('POST', `/proxies/${proxy}/toxics`, { name, type: t.type, stream: t.stream ?? 'downstream', toxicity: t.toxicity ?? 1, attributes: t.attributes });
  }

  removeToxic(proxy: string, name: string): Promise<unknown> {
    return this.req('DELETE', `/proxies/${proxy}/toxics/${name}`);
  }

  /** Disabled, a proxy closes every connection and refuses new ones. */
  setEnabled(proxy: string, enabled: boolean): Promise<unknown> {
    return this.req('POST', `/proxies/${proxy}`, { enabled });
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 5_000);
  }
}

// ---------------------------------------------------------------- health

type HealthClient = {
  check(req: { service: string }, opts: { deadline: number }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
  close(): void;
};

/** grpc.health.v1.Health/Check against `addr`: SERVING, NOT_SERVING, or UNREACHABLE. */
export async function grpcHealth(addr: string, service = ''): Promise<string> {
  const def = loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
  const pkg = loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => HealthClient } } } };
  const client = new pkg.grpc.health.v1.Health(addr, credentials.createInsecure());
  try {
    return await new Promise<string>((resolve) =>
      client.check({ service }, { deadline: Date.now() + 3_000 }, (err, res) => resolve(err ? 'UNREACHABLE' : res.status)),
    );
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------- the event exchange

/** Captures every message published on cqrs.events (exclusive, auto-deleted queue bound with '#'). */
export class Tap {
  readonly messages: ConsumeMessage[] = [];
  private constructor(private readonly conn: ChannelModel) {}

  static async open(amqpUrl: string): Promise<Tap> {
    const conn = await amqp.connect(amqpUrl, { timeout: 5_000 });
    const tap = new Tap(conn);
    const ch = await conn.createChannel();
    await ch.assertExchange('cqrs.events', 'topic', { durable: true });
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await ch.bindQueue(queue, 'cqrs.events', '#');
    await ch.consume(queue, (m) => m && tap.messages.push(m), { noAck: true });
    return tap;
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

/** Publishes raw messages onto an exchange of a vhost, with publisher confirms. */
export async function publishRaw(amqpUrl: string, messages: Array<{ exchange?: string; routingKey: string; content: Buffer; properties?: amqp.Options.Publish }>): Promise<void> {
  const conn = await amqp.connect(amqpUrl, { timeout: 5_000 });
  try {
    const ch = await conn.createConfirmChannel();
    for (const m of messages) ch.publish(m.exchange ?? 'cqrs.events', m.routingKey, m.content, m.properties ?? {});
    await within(ch.waitForConfirms(), 15_000, 'publisher confirms');
    await ch.close();
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** The same message again: same body, same properties (message id, type, headers...). */
export function copyOf(m: ConsumeMessage): { routingKey: string; content: Buffer; properties: amqp.Options.Publish } {
  const p = m.properties;
  return {
    routingKey: m.fields.routingKey,
    content: m.content,
    properties: {
      contentType: p.contentType, type: p.type, messageId: p.messageId, correlationId: p.correlationId,
      timestamp: p.timestamp, headers: p.headers, persistent: true,
    },
  };
}

/** Message counts of queues in a vhost (passive declare). */
export async function queueDepths(amqpUrl: string, queues: string[]): Promise<Record<string, number>> {
  const conn = await amqp.connect(amqpUrl, { timeout: 5_000 });
  try {
    const out: Record<string, number> = {};
    for (const q of queues) {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      try {
        out[q] = (await ch.checkQueue(q)).messageCount;
        await ch.close();
      } catch {
        out[q] = -1;
      }
    }
    return out;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** The messages parked on a queue, read and returned to it (nothing is consumed). */
export async function peekQueue(amqpUrl: string, queue: string): Promise<ConsumeMessage[]> {
  const conn = await amqp.connect(amqpUrl, { timeout: 5_000 });
  try {
    const ch = await conn.createChannel();
    const out: ConsumeMessage[] = [];
    for (let i = 0; i < 10_000; i++) {
      const m = await ch.get(queue, { noAck: false });
      if (!m) break;
      out.push(m as unknown as ConsumeMessage);
    }
    await ch.close(); // unacked messages go back to the queue
    return out;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

export async function purgeQueue(amqpUrl: string, queue: string): Promise<number> {
  const conn = await amqp.connect(amqpUrl, { timeout: 5_000 });
  try {
    const ch = await conn.createChannel();
    const { messageCount } = await ch.purgeQueue(queue);
    await ch.close();
    return messageCount;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Runs `node dist/scripts/dlq.js ...args` against a vhost. */
export async function dlq(amqpUrl: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, 'dist', 'scripts', 'dlq.js'), ...args], {
      env: { ...process.env, AMQP_URL: amqpUrl, LOG_LEVEL: 'warn' },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

// ---------------------------------------------------------------- cleanup

/** A stack of things to undo in afterAll, each bounded, all attempted. */
export class Cleanup {
  private readonly steps: Array<[string, () => Promise<unknown> | unknown]> = [];
  add(what: string, fn: () => Promise<unknown> | unknown): void {
    this.steps.push([what, fn]);
  }
  async run(): Promise<void> {
    Workload.abortAll();
    const errors: string[] = [];
    for (const [what, fn] of this.steps.reverse()) {
      try {
        await within(Promise.resolve().then(fn), 45_000, what);
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message}`);
      }
    }
    this.steps.length = 0;
    const left = killLeftovers();
    if (left.length) errors.push(`killed processes still running after cleanup: ${left.join(', ')}`);
    if (errors.length) throw new Error(`cleanup failed:\n${errors.join('\n')}`);
  }
}

// ---------------------------------------------------------------- crash watch

/**
 * Fails fast when a mesh process exits that nobody meant to stop (a crash),
 * with its last output, instead of letting the workload time out.
 */
export class CrashWatch {
  private readonly intended = new Set<number>();
  private timer?: NodeJS.Timeout;
  readonly crashed: Promise<never>;

  constructor(mesh: { children: Map<string, { name: string; proc: { pid?: number; exitCode: number | null; signalCode: NodeJS.Signals | null } }>; logs: string[] }) {
    this.crashed = new Promise<never>((_, reject) => {
      this.timer = setInterval(() => {
        for (const [name, c] of mesh.children) {
          const pid = c.proc.pid ?? -1;
          if (this.intended.has(pid)) continue;
          if (c.proc.exitCode !== null || c.proc.signalCode !== null) {
            clearInterval(this.timer);
            const own = mesh.logs.filter((l) => l.startsWith(`${name}:`)).slice(-40);
            reject(new Error(`${name} (pid ${pid}) exited by itself (code ${c.proc.exitCode}, signal ${c.proc.signalCode}) during the test:\n${own.join('\n')}`));
            return;
          }
        }
      }, 250);
    });
    this.crashed.catch(() => undefined);
  }

  /** This process is about to be stopped on purpose. */
  expectExit(pid: number | undefined): void {
    if (pid !== undefined) this.intended.add(pid);
  }

  /** Runs `p`, failing as soon as a process crashes. */
  guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.crashed]);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
