// The embedded store (.bin/store, built by `npm run build:store`), started as
// a child process: the one way the mesh, the tests, the fault suites and the
// bench spawn it. STORE_BIN points at another build (an unpatched one, to
// see the store tests fail); STORE_PPROF=127.0.0.1:<port> has it serve Go's
// profiles there (store/README.md).
import { join } from 'node:path';
import { repoRoot } from '../lib/paths';
import { spawnChild, stopChild, type Child } from './processes';

export const storeBin = process.env.STORE_BIN ?? join(repoRoot, '.bin', 'store');

export interface StoreOptions {
  /** SQLite folder. */
  dataDir: string;
  /** 0 lets the OS pick. */
  port?: number;
  host?: string;
  onLine?: (name: string, line: string) => void;
  timeoutMs?: number;
}

export interface StartedStore {
  child: Child;
  /** The store's mongodb:// URL, as its ready line gives it. */
  url: string;
}

/** The store's process, at once, and its URL once it is ready. */
export function storeProcess(o: StoreOptions): { child: Child; url: Promise<string> } {
  const child = spawnChild({
    name: 'store',
    command: storeBin,
    args: ['-listen', `${o.host ?? '127.0.0.1'}:${o.port ?? 0}`, '-data', o.dataDir, ...(process.env.STORE_PPROF ? ['-pprof', process.env.STORE_PPROF] : [])],
    ready: /^ready mongodb:\/\//,
    onLine: o.onLine,
    timeoutMs: o.timeoutMs ?? 30_000,
  });
  return { child, url: child.ready.then((line) => line.slice('ready '.length).trim()) };
}

/** Starts the store and resolves once it is ready (a store that does not get ready is stopped); the caller stops `child`. */
export async function spawnStore(o: StoreOptions): Promise<StartedStore> {
  const { child, url } = storeProcess(o);
  try {
    return { child, url: await url };
  } catch (err) {
    await stopChild(child, 5_000);
    throw err;
  }
}
