// Starts the whole mesh on one machine: the store (embedded FerretDB unless a
// MongoDB URL is given), command-svc, query-svc, projector-svc and the edge.
// Used by `npm start` and by the end-to-end tests, so both run the same thing.
import { join } from 'node:path';
import amqp from 'amqplib';
import { brokerUnreachable } from './amqp';
import { freePort, spawnChild, stopChild, type Child } from './processes';
import { repoRoot } from './paths';

export type ServiceName = 'command-svc' | 'query-svc' | 'projector-svc' | 'edge';
export const SERVICES: ServiceName[] = ['command-svc', 'query-svc', 'projector-svc', 'edge'];

export interface MeshOptions {
  amqpUrl: string;
  /** A MongoDB server to use; when absent the embedded store is started. */
  mongoUrl?: string;
  /** SQLite folder of the embedded store. */
  dataDir: string;
  /** 0 picks a free port. */
  ports: { edge: number; command: number; query: number; store: number };
  host?: string;
  logLevel?: string;
  onLine?: (name: string, line: string) => void;
  /** Extra environment per service (settings, test fault hooks). */
  env?: Partial<Record<ServiceName, NodeJS.ProcessEnv>>;
}

export interface Mesh {
  urls: { edge: string; command: string; query: string; mongo: string; amqp: string };
  /** Starts (or restarts) one service and waits until it is ready. */
  start(name: ServiceName, env?: NodeJS.ProcessEnv): Promise<Child>;
  children: Map<ServiceName | 'store', Child>;
  stop(): Promise<void>;
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
  const stopAll = async () => {
    for (const name of [...SERVICES].reverse()) {
      const c = children.get(name);
      if (c) await stopChild(c);
    }
    const store = children.get('store');
    if (store) await stopChild(store);
  };

  try {
    const mongoUrl = o.mongoUrl ?? (await startStore(o, host, children));
    const ports = {
      command: o.ports.command || (await freePort()),
      query: o.ports.query || (await freePort()),
      edge: o.ports.edge || (await freePort()),
    };
    const baseEnv: NodeJS.ProcessEnv = { MONGO_URL: mongoUrl, AMQP_URL: o.amqpUrl, HOST: host, LOG_LEVEL: o.logLevel ?? 'info' };
    const serviceEnv: Record<ServiceName, NodeJS.ProcessEnv> = {
      'command-svc': { COMMAND_GRPC_PORT: String(ports.command) },
      'query-svc': { QUERY_GRPC_PORT: String(ports.query) },
      'projector-svc': {},
      edge: { EDGE_PORT: String(ports.edge), COMMAND_SVC_ADDR: `${host}:${ports.command}`, QUERY_SVC_ADDR: `${host}:${ports.query}` },
    };
    const start = async (name: ServiceName, env: NodeJS.ProcessEnv = {}) => {
      const old = children.get(name);
      if (old) await stopChild(old);
      const child = spawnChild({
        name,
        command: process.execPath,
        args: [join(repoRoot, 'dist', name, 'main.js')],
        env: { ...baseEnv, ...serviceEnv[name], ...o.env?.[name], ...env },
        ready: READY[name],
        onLine: o.onLine,
      });
      children.set(name, child);
      await child.ready;
      return child;
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
      },
      start,
      children,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function startStore(o: MeshOptions, host: string, children: Map<string, Child>): Promise<string> {
  const store = spawnChild({
    name: 'store',
    command: join(repoRoot, '.bin', 'store'),
    args: ['-listen', `${host}:${o.ports.store}`, '-data', o.dataDir],
    ready: /^ready mongodb:\/\//,
    onLine: o.onLine,
  });
  children.set('store', store);
  const line = await store.ready;
  return line.slice('ready '.length).trim();
}
