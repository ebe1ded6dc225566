// A whole mesh for one test suite, one fault suite or one bench run: on
// ports the OS picks (unless fixed), with its own store data folder and its
// own RabbitMQ vhost (unless a broker is given), its recent output kept for
// failure messages, and one teardown that stops every process, bounded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMesh, type Mesh, type MeshOptions } from './mesh';
import { stopChild } from './processes';
import { createVhost, type TestVhost } from './rabbit';

export interface TestMeshOptions {
  /** Default: a fresh vhost (named `${vhostPrefix}-…`) on the machine's RabbitMQ. */
  amqpUrl?: string;
  vhostPrefix?: string;
  /** Default: the embedded store, started by the mesh. */
  mongoUrl?: string;
  /** Default: a fresh temporary folder, removed at teardown. */
  dataDir?: string;
  /** Fixed ports (0: the OS picks). */
  ports?: Partial<MeshOptions['ports']>;
  metricsPorts?: MeshOptions['metricsPorts'];
  logLevel?: string;
  env?: MeshOptions['env'];
  /** Every output line of every process, as it comes. */
  onLine?: (name: string, line: string) => void;
  /** Which lines `logs` keeps (default: all). */
  keepLine?: (name: string, line: string) => boolean;
  /** How long a process may take to stop at teardown before SIGKILL. */
  stopMs?: number;
}

export interface TestMesh extends Mesh {
  vhost?: TestVhost;
  dataDir: string;
  /** Recent output lines of every process, for failure messages. */
  logs: string[];
  teardown(): Promise<void>;
}

export async function startTestMesh(o: TestMeshOptions = {}): Promise<TestMesh> {
  const vhost = o.amqpUrl ? undefined : createVhost(o.vhostPrefix ?? 'cqrs-test');
  const ownDir = !o.dataDir;
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'cqrs-store-'));
  const logs: string[] = [];
  const cleanup = () => {
    try {
      vhost?.remove();
    } catch {
      /* the broker may be gone already */
    }
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const mesh = await startMesh({
      amqpUrl: o.amqpUrl ?? vhost!.url,
      mongoUrl: o.mongoUrl,
      dataDir,
      ports: { edge: 0, command: 0, query: 0, store: 0, ...o.ports },
      metricsPorts: o.metricsPorts,
      logLevel: o.logLevel ?? 'info',
      env: o.env,
      onLine: (name, line) => {
        o.onLine?.(name, line);
        if (o.keepLine && !o.keepLine(name, line)) return;
        logs.push(`${name}: ${line.slice(0, 600)}`);
        if (logs.length > 3000) logs.splice(0, 1000);
      },
    });
    let down = false;
    return {
      ...mesh,
      vhost,
      dataDir,
      logs,
      async teardown() {
        if (down) return;
        down = true;
        try {
          // The services all at once, then the store; SIGKILL after stopMs, so a
          // service stuck on a dead dependency does not hold the next test up.
          const stopMs = o.stopMs ?? 15_000;
          const services = [...[...mesh.children].filter(([n]) => n !== 'store').map(([, c]) => c), ...mesh.instances.map((i) => i.child)];
          await Promise.all(services.map((c) => stopChild(c, stopMs)));
          const store = mesh.children.get('store');
          if (store) await stopChild(store, stopMs);
          await mesh.stop();
        } finally {
          cleanup();
        }
      },
    };
  } catch (err) {
    cleanup();
    throw new Error(`${(err as Error).message}\n--- recent output ---\n${logs.slice(-40).join('\n')}`);
  }
}
