// Child processes for the launcher and the tests: spawn with a bounded wait
// for a readiness line, and stop with SIGTERM then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Resolves with the first stdout line matching `ready`. */
  ready: Promise<string>;
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  ready: RegExp;
  timeoutMs?: number;
  /** Where the child's output lines go (default: dropped). */
  onLine?: (name: string, line: string) => void;
}

export function spawnChild(o: SpawnOptions): Child {
  const proc = spawn(o.command, o.args, { env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${o.name} not ready within ${o.timeoutMs ?? 30_000} ms`)), o.timeoutMs ?? 30_000);
    let tail: string[] = [];
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        o.onLine?.(o.name, line);
        tail = [...tail.slice(-19), line];
        if (o.ready.test(line)) {
          clearTimeout(timer);
          resolve(line);
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${o.name} exited (code ${code}) before it was ready:\n${tail.join('\n')}`));
    });
  });
  ready.catch(() => undefined);
  return { name: o.name, proc, ready, exited };
}

export async function stopChild(c: Child, timeoutMs = 15_000): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), timeoutMs);
  await c.exited;
  clearTimeout(timer);
}

/** A port free right now on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
