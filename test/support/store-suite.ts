// One embedded store for a whole test file, started before its tests and
// stopped after them, and fresh databases per run inside it: what the
// projector's store-backed suites share.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Db, MongoClient } from 'mongodb';
import { connectMongo } from '../../lib/mongo';
import { stopChild, type Child } from '../../kit/processes';
import { spawnStore, storeBin } from '../../kit/store';

export interface StoreSuite {
  /** The client, once beforeAll has run. */
  client(): MongoClient;
  /** Fresh write and read databases (named `${prefix}_write_…`, `${prefix}_read_…`) for one run, dropped afterwards. */
  withDatabases<T>(run: (write: Db, read: Db) => Promise<T>): Promise<T>;
}

/** Registers the file's beforeAll/afterAll; call it at the top level of a test file. */
export function storeSuite(prefix: string): StoreSuite {
  let store: Child | undefined;
  let client: MongoClient | undefined;
  let dataDir: string | undefined;

  beforeAll(async () => {
    if (!existsSync(storeBin)) throw new Error(`${storeBin} is missing: run \`npm run build:store\``);
    dataDir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    const started = await spawnStore({ dataDir, timeoutMs: 20_000 });
    store = started.child;
    client = await connectMongo(started.url);
  }, 40_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    if (store) await stopChild(store, 10_000);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 30_000);

  return {
    client: () => client!,
    async withDatabases(run) {
      const suffix = randomBytes(6).toString('hex');
      const write = client!.db(`${prefix}_write_${suffix}`);
      const read = client!.db(`${prefix}_read_${suffix}`);
      try {
        return await run(write, read);
      } finally {
        await write.dropDatabase().catch(() => undefined);
        await read.dropDatabase().catch(() => undefined);
      }
    },
  };
}
