// Starts a whole mesh for one test suite on ports the OS picks, with its own
// store data folder and RabbitMQ vhost, and tears everything down after.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMesh, type Mesh, type MeshOptions } from '../../lib/mesh';
import { createVhost, type TestVhost } from './rabbit';

export interface TestMesh extends Mesh {
  vhost: TestVhost;
  dataDir: string;
  /** Recent output lines of every process, for failure messages. */
  logs: string[];
  teardown(): Promise<void>;
}

export async function startTestMesh(opts: Partial<MeshOptions> = {}): Promise<TestMesh> {
  const vhost = createVhost();
  const dataDir = mkdtempSync(join(tmpdir(), 'cqrs-store-'));
  const logs: string[] = [];
  try {
    const mesh = await startMesh({
      amqpUrl: vhost.url,
      dataDir,
      ports: { edge: 0, command: 0, query: 0, store: 0 },
      logLevel: 'info',
      onLine: (name, line) => {
        logs.push(`${name}: ${line}`);
        if (logs.length > 2000) logs.splice(0, 500);
      },
      ...opts,
    });
    return {
      ...mesh,
      vhost,
      dataDir,
      logs,
      async teardown() {
        await mesh.stop();
        vhost.remove();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    vhost.remove();
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n--- recent output ---\n${logs.slice(-40).join('\n')}`);
  }
}

/** Polls until `probe` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
