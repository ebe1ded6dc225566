// One store process per test, on 127.0.0.1 and a port it picks, with a data
// directory of its own: a store that hangs fails its own test and no other.
// STORE_BIN points the tests at another build (an unpatched one, to see them fail: kit/store.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { stopChild } from '../../kit/processes';
import { storeProcess } from '../../kit/store';
import { eventually, within as withinMs } from '../../kit/wait';

/** How long a single command may take before the test calls the store hung. */
export const COMMAND_MS = 10_000;

export interface RunningStore {
  dir: string;
  client: MongoClient;
  stop(): Promise<void>;
}

export async function startStore(): Promise<RunningStore> {
  const dir = mkdtempSync(join(tmpdir(), 'cqrs-store-'));
  const { child, url: ready } = storeProcess({ dataDir: dir, timeoutMs: 20_000 });
  let client: MongoClient | undefined;
  const stop = async () => {
    // A hung store may never answer endSessions: do not wait for it.
    await within(5_000, client?.close(true) ?? Promise.resolve(), 'closing the client').catch(() => undefined);
    await stopChild(child, 5_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const url = await ready;
    client = await new MongoClient(url, { serverSelectionTimeoutMS: 5_000, connectTimeoutMS: 5_000, socketTimeoutMS: COMMAND_MS + 5_000 }).connect();
    return { dir, client, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** `p`, or a rejection naming `what` once `ms` have passed: the store hangs. */
export const within = <T>(ms: number, p: Promise<T>, what: string): Promise<T> => withinMs(p, ms, `${what} (the store hangs)`);

/**
 * Reads a database file of the running store with SQLite itself (Python's
 * sqlite3 module, which reads the WAL too): the table FerretDB keeps a
 * collection in, and the indexes on that table.
 */
export function sqliteTable(dir: string, db: string, collection: string): { table: string | null; indexes: string[] } {
  const script = [
    'import json, sqlite3, sys',
    'c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=5)',
    'row = c.execute("SELECT table_name FROM _ferretdb_collections WHERE name = ?", (sys.argv[2],)).fetchone()',
    'table = row[0] if row else None',
    'indexes = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = \'index\' AND tbl_name = ? ORDER BY name", (table,))]',
    'print(json.dumps({"table": table, "indexes": indexes}))',
  ].join('\n');
  const out = execFileSync('python3', ['-c', script, join(dir, `${db}.sqlite`), collection], { timeout: 10_000, encoding: 'utf8' });
  return JSON.parse(out) as { table: string | null; indexes: string[] };
}

/** Polls the file until the collection's table has the _id lookup index; the store checks every second. */
export async function lookupIndexOf(dir: string, db: string, collection: string, ms = 8_000): Promise<{ table: string; index: string }> {
  let last: ReturnType<typeof sqliteTable> = { table: null, indexes: [] };
  const indexed = async () => {
    last = sqliteTable(dir, db, collection);
    const index = last.indexes.find((i) => i === `${last.table}__id_lookup`);
    return last.table && index ? { table: last.table, index } : undefined;
  };
  return eventually(indexed, ms, `the _id lookup index on ${db}.${collection}`, 200).catch((err: Error) => {
    throw new Error(`${err.message}; the table: ${JSON.stringify(last)}`);
  });
}
