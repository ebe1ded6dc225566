// Starts the whole mesh on one machine: the store (embedded FerretDB unless a
// MongoDB URL is given), command-svc, query-svc, projector-svc and the edge.
// Used by `npm start`, `npm run demo`, the tests and the bench, so all run the
// same thing. A service whose environment names a FAULT_* setting is started
// with the kit's fault hooks preloaded (faults-preload.ts).
import { join } from 'node:path';
import amqp from 'amqplib';
import { brokerUnreachable } from '../lib/amqp';
import { repoRoot } from '../lib/paths';
import { freePort, spawnChild, stopChild, type Child } from './processes';
import { storeProcess } from './store';

export type ServiceName = 'command-svc' | 'query-svc' | 'projector-svc' | 'edge';
export const SERVICES: ServiceName[] = ['command-svc', 'query-svc', 'projector-svc', 'edge'];

export interface MeshOptions {
  amqpUrl: string;
  /** A MongoDB server to use; when absent the embedded store is started. */
  mongoUrl?: string;
  /** SQLite folder of the embedded store. */
  dataDir: string;
  /** 0 picks a free port. */
  ports: { edge: number; command: number; query: number; store: number; projector?: number };
  /** Each process's /metrics port (0 or absent: a free one; 'off': none). */
  metricsPorts?: Partial<Record<ServiceName, number | 'off'>>;
  host?: string;
  logLevel?: string;
  onLine?: (name: string, line: string) => void;
  /** Extra environment per service (settings, test fault hooks). */
  env?: Partial<Record<ServiceName, NodeJS.ProcessEnv>>;
}

export interface Mesh {
  urls: {
    edge: string; command: string; query: string; mongo: string; amqp: string;
    /** projector-svc's gRPC (grpc.health.v1 only), host:port. */
    projector: string;
    /** Each process's metrics base URL (GET /metrics, and /health where it has one); absent when off. */
    metrics: Partial<Record<ServiceName, string>>;
  };
  /** Starts (or restarts) one service and waits until it is ready. */
  start(name: ServiceName, env?: NodeJS.ProcessEnv): Promise<Child>;
  /**
   * Starts one more instance of a service beside the mesh's own (same store
   * and broker; gRPC on a port the OS picks) and waits until it is ready.
   * It is in `instances`, and stopped with the mesh.
   */
  instance(name: ServiceName, env?: NodeJS.ProcessEnv): Promise<Instance>;
  children: Map<ServiceName | 'store', Child>;
  instances: Instance[];
  stop(): Promise<void>;
}

export interface Instance {
  child: Child;
  /** host:port of its gRPC server (command-svc, query-svc). */
  addr?: string;
}

const READY: Record<ServiceName, RegExp> = {
  'command-svc': /command-svc listening/,
  'query-svc': /query-svc listening/,
  'projector-svc': /projector-svc consuming/,
  edge: /edge listening/,
};

export async function checkBroker(url: string): Promise<void> {
  try {
    const conn = await amqp.connect(url, { timeout: 5_000 });
    await conn.close();
  } catch (err) {
    throw brokerUnreachable(url, err);
  }
}

export async function startMesh(o: MeshOptions): Promise<Mesh> {
  await checkBroker(o.amqpUrl);
  const host = o.host ?? '127.0.0.1';
  const children = new Map<ServiceName | 'store', Child>();
  const instances: Instance[] = [];
  const stopAll = async () => {
    await Promise.all(instances.map((i) => stopChild(i.child)));
    for (const name of [...SERVICES].reverse()) {
      const c = children.get(name);
      if (c) await stopChild(c);
    }
    const store = children.get('store');
    if (store) await stopChild(store);
  };

  try {
    const mongoUrl = o.mongoUrl ?? (await startStore(o, host, children));
    // Ports picked before anything binds them: the OS can hand one out twice, so keep them apart.
    const taken = new Set<number>([o.ports.command, o.ports.query, o.ports.edge, o.ports.projector, o.ports.store].filter((p): p is number => Boolean(p)));
    for (const p of Object.values(o.metricsPorts ?? {})) if (typeof p === 'number' && p > 0) taken.add(p);
    const distinctPort = async () => {
      for (;;) {
        const p = await freePort();
        if (!taken.has(p)) return taken.add(p), p;
      }
    };
    const ports = {
      command: o.ports.command || (await distinctPort()),
      query: o.ports.query || (await distinctPort()),
      edge: o.ports.edge || (await distinctPort()),
      projector: o.ports.projector || (await distinctPort()),
    };
    const metricsPorts: Partial<Record<ServiceName, number>> = {};
    for (const name of SERVICES) {
      const p = o.metricsPorts?.[name];
      if (p !== 'off') metricsPorts[name] = p || (await distinctPort());
    }
    const metricsEnv = (name: ServiceName) => ({ METRICS_PORT: String(metricsPorts[name] ?? 'off') });
    const baseEnv: NodeJS.ProcessEnv = { MONGO_URL: mongoUrl, AMQP_URL: o.amqpUrl, HOST: host, LOG_LEVEL: o.logLevel ?? 'info' };
    const serviceEnv: Record<ServiceName, NodeJS.ProcessEnv> = {
      'command-svc': { COMMAND_GRPC_PORT: String(ports.command), ...metricsEnv('command-svc') },
      'query-svc': { QUERY_GRPC_PORT: String(ports.query), ...metricsEnv('query-svc') },
      'projector-svc': { PROJECTOR_GRPC_PORT: String(ports.projector), ...metricsEnv('projector-svc') },
      edge: { EDGE_PORT: String(ports.edge), COMMAND_SVC_ADDR: `${host}:${ports.command}`, QUERY_SVC_ADDR: `${host}:${ports.query}`, ...metricsEnv('edge') },
    };
    const spawnService = (name: ServiceName, label: string, env: NodeJS.ProcessEnv) =>
      spawnChild({
        name: label,
        command: process.execPath,
        args: [...preloads(env), join(repoRoot, 'dist', name, 'main.js')],
        env,
        ready: READY[name],
        onLine: o.onLine,
      });
    const start = async (name: ServiceName, env: NodeJS.ProcessEnv = {}) => {
      const old = children.get(name);
      if (old) await stopChild(old);
      const child = spawnService(name, name, { ...baseEnv, ...serviceEnv[name], ...o.env?.[name], ...env });
      children.set(name, child);
      await child.ready;
      return child;
    };
    const instance = async (name: ServiceName, env: NodeJS.ProcessEnv = {}): Promise<Instance> => {
      const any = { COMMAND_GRPC_PORT: '0', QUERY_GRPC_PORT: '0', EDGE_PORT: '0', PROJECTOR_GRPC_PORT: '0', METRICS_PORT: '0' };
      const child = spawnService(name, `${name}-${instances.length + 2}`, { ...baseEnv, ...serviceEnv[name], ...any, ...o.env?.[name], ...env });
      const i: Instance = { child };
      instances.push(i);
      const port = /"port":(\d+)/.exec(await child.ready)?.[1];
      if (port) i.addr = `${host}:${port}`;
      return i;
    };
    await Promise.all(['command-svc', 'query-svc', 'projector-svc'].map((n) => start(n as ServiceName)));
    await start('edge');
    return {
      urls: {
        edge: `http://${host}:${ports.edge}`,
        command: `${host}:${ports.command}`,
        query: `${host}:${ports.query}`,
        mongo: mongoUrl,
        amqp: o.amqpUrl,
        projector: `${host}:${ports.projector}`,
        metrics: Object.fromEntries(Object.entries(metricsPorts).map(([name, p]) => [name, `http://${host}:${p}`])),
      },
      start,
      instance,
      children,
      instances,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The fault hooks, for a service whose environment asks for one. */
export function preloads(env: NodeJS.ProcessEnv): string[] {
  const asked = Object.keys(env).some((k) => k.startsWith('FAULT_') && env[k]);
  return asked ? ['--require', join(repoRoot, 'dist', 'kit', 'faults-preload.js')] : [];
}

async function startStore(o: MeshOptions, host: string, children: Map<string, Child>): Promise<string> {
  const { child, url } = storeProcess({ host, port: o.ports.store, dataDir: o.dataDir, onLine: o.onLine });
  children.set('store', child); // before it is ready, so that a failed start stops it too
  return url;
}
