import { MongoBulkWriteError, MongoClient, type Db, type WriteError } from 'mongodb';
import { createConnection } from 'node:net';
import type { Logger } from './logger';
import { storeDuration } from './metrics';

export const WRITE_DB = 'cqrs_write';
export const READ_DB = 'cqrs_read';

/**
 * Connects with bounded waits so a missing store fails start-up quickly and
 * a store that goes away makes operations fail (and callers retry) rather
 * than hang. A watchdog brings the client back if it stays stuck after the
 * store returned.
 */
export async function connectMongo(url: string, log?: Logger, opts: { timeCommands?: boolean } = {}): Promise<MongoClient> {
  const statsMs = statsEveryMs();
  const monitor = statsMs > 0 || opts.timeCommands === true;
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
    socketTimeoutMS: 30_000,
    maxPoolSize: 20,
    retryWrites: false, // FerretDB v1 has no retryable writes; our writes are idempotent by _id instead
    monitorCommands: monitor, // off without metrics or stats: no command events at all
  });
  if (statsMs > 0 && log) countCommands(client, statsMs, log);
  if (opts.timeCommands) timeCommands(client);
  await client.connect();
  watchClient(client, log);
  return client;
}

/** STORE_STATS_MS: when a positive number, store commands are counted and logged that often (the bench reads them). */
function statsEveryMs(): number {
  const ms = Number(process.env.STORE_STATS_MS ?? '');
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** Commands that keep the connection alive rather than do the service's work. */
const HOUSEKEEPING = new Set(['ping', 'hello', 'isMaster', 'ismaster', 'endSessions', 'buildInfo', 'buildinfo']);

/**
 * Counts every command the client sends (bulkWrite shows as one insert,
 * update or delete per batch) and logs the cumulative counts as "store
 * commands" every `everyMs` when they changed, and when the client closes.
 * Housekeeping (ping from health checks and the watchdog, hello, endSessions)
 * is in `byCommand` too, and summed apart so it can be left out.
 */
function countCommands(client: MongoClient, everyMs: number, log: Logger): void {
  const byCommand: Record<string, number> = {};
  let total = 0;
  let housekeeping = 0;
  let logged = 0;
  client.on('commandStarted', (e) => {
    byCommand[e.commandName] = (byCommand[e.commandName] ?? 0) + 1;
    total++;
    if (HOUSEKEEPING.has(e.commandName)) housekeeping++;
  });
  const flush = () => {
    if (total === logged) return;
    logged = total;
    log.info({ total, housekeeping, work: total - housekeeping, byCommand: { ...byCommand } }, 'store commands');
  };
  setInterval(flush, everyMs).unref();
  client.on('topologyClosed', flush);
}

/** Every command's round trip into cqrs_store_command_duration_seconds, by command and outcome. */
function timeCommands(client: MongoClient): void {
  const started = new Map<number, { command: string; end: (labels: { outcome: string }) => number }>();
  client.on('commandStarted', (e) => started.set(e.requestId, { command: e.commandName, end: storeDuration.startTimer({ command: e.commandName }) }));
  const finish = (requestId: number, outcome: string) => {
    started.get(requestId)?.end({ outcome });
    started.delete(requestId);
  };
  client.on('commandSucceeded', (e) => finish(e.requestId, 'ok'));
  client.on('commandFailed', (e) => finish(e.requestId, 'failed'));
}

const STUCK_AFTER_MS = 12_000;

/**
 * The driver can stay failed after a graceful store restart: its monitor's
 * heartbeat never settles, so the server is never marked usable again and
 * every operation fails on a closed connection while the store itself
 * accepts connections. When that lasts, close the client hard and connect
 * again; Db and Collection handles stay valid across it.
 */
function watchClient(client: MongoClient, log?: Logger): void {
  const [host, port] = storeAddress(client);
  let heartbeatSince: number | undefined;
  let failingSince: number | undefined;
  let resetting = false;
  let closed = false;
  client.on('serverHeartbeatStarted', () => (heartbeatSince ??= Date.now()));
  const settled = () => (heartbeatSince = undefined);
  client.on('serverHeartbeatSucceeded', settled);
  client.on('serverHeartbeatFailed', settled);
  const timer = setInterval(async () => {
    if (resetting || closed) return;
    const healthy = await pingMongo(client.db('admin')).catch(() => false);
    failingSince = healthy ? undefined : (failingSince ?? Date.now());
    const now = Date.now();
    const heartbeatStuck = heartbeatSince !== undefined && now - heartbeatSince > STUCK_AFTER_MS;
    const failingLong = failingSince !== undefined && now - failingSince > STUCK_AFTER_MS;
    if (healthy || !(heartbeatStuck || failingLong) || !(await accepts(host, port))) return;
    resetting = true;
    log?.warn({ heartbeatStuck, failingMs: failingSince && now - failingSince }, 'store answers but the client does not recover; reconnecting it');
    try {
      await client.close(true);
      await client.connect();
      log?.info('store client reconnected');
    } catch (err) {
      log?.warn({ err: (err as Error).message }, 'store client reconnect failed; will try again');
    } finally {
      heartbeatSince = failingSince = undefined;
      resetting = false;
    }
  }, 2_000);
  timer.unref();
  client.on('topologyClosed', () => {
    if (resetting) return;
    closed = true;
    clearInterval(timer);
  });
}

function storeAddress(client: MongoClient): [string, number] {
  const [first] = client.options.hosts;
  return [first?.host ?? '127.0.0.1', first?.port ?? 27017];
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: 1_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true)).once('error', () => done(false)).once('timeout', () => done(false));
  });
}

/** Throws with the store's own words when it does not answer. */
export async function pingMongo(db: Db): Promise<boolean> {
  await db.command({ ping: 1 }, { timeoutMS: 2_000 });
  return true;
}

export const isDuplicateKey = (err: unknown) => (err as { code?: number })?.code === 11000;

/**
 * The per-document errors of a failed bulk write or insertMany; undefined
 * when the call as a whole failed (a network error, or a bulk error that
 * names no document, such as a write concern error at shutdown), in which
 * case no document's fate is known.
 */
export function writeErrorsOf(err: unknown): readonly WriteError[] | undefined {
  if (!(err instanceof MongoBulkWriteError) || !err.writeErrors || err.writeConcernError) return undefined;
  const we = err.writeErrors;
  const list = Array.isArray(we) ? (we as WriteError[]) : [we as WriteError];
  return list.length > 0 ? list : undefined;
}

/**
 * Errors that say the store (or the network to it) is down, not that the
 * request is bad. A bulk write that failed on the connection comes wrapped
 * in a MongoBulkWriteError naming no document, with the network error as its
 * errorResponse: that one is transient too.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof MongoBulkWriteError && !writeErrorsOf(err) && err.errorResponse instanceof Error) return isTransient(err.errorResponse);
  const name = (err as Error)?.name ?? '';
  if (/^Mongo(Network|ServerSelection|NotConnected|TopologyClosed|PoolCleared)|PoolClearedError|UnavailableError/.test(name)) return true;
  const code = (err as { code?: string })?.code;
  return code === 'EPIPE' || code === 'ECONNRESET' || code === 'ECONNREFUSED';
}
