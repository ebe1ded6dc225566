import { MongoClient, type Db } from 'mongodb';

export const WRITE_DB = 'cqrs_write';
export const READ_DB = 'cqrs_read';

/**
 * Connects with bounded waits so a missing store fails start-up quickly and
 * a store that goes away makes operations fail (and callers retry) rather
 * than hang.
 */
export async function connectMongo(url: string): Promise<MongoClient> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
    socketTimeoutMS: 30_000,
    maxPoolSize: 20,
    retryWrites: false, // FerretDB v1 has no retryable writes; our writes are idempotent by _id instead
  });
  await client.connect();
  return client;
}

/** Throws with the store's own words when it does not answer. */
export async function pingMongo(db: Db): Promise<boolean> {
  await db.command({ ping: 1 }, { timeoutMS: 2_000 });
  return true;
}

export const isDuplicateKey = (err: unknown) => (err as { code?: number })?.code === 11000;

/** Errors that say the store (or the network to it) is down, not that the request is bad. */
export function isTransient(err: unknown): boolean {
  const name = (err as Error)?.name ?? '';
  return /^Mongo(Network|ServerSelection|NotConnected|TopologyClosed|PoolCleared)|PoolClearedError|UnavailableError/.test(name);
}
