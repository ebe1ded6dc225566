// The write store: one document per commit, keyed by stream and the commit's
// first version. Two writers that read the same version race for the same
// _id and the unique index lets exactly one win: optimistic concurrency with
// no read-then-write and no multi-document transaction. Loads use only _id
// lookups (the only filter FerretDB's SQLite backend can push down): a head
// document caches the latest state, and commits after it are probed by _id.
import { Binary, type Collection, type Db } from 'mongodb';
import type { EventEnvelope } from '../gen/ts/cqrs/v1/events';
import { ConcurrencyError } from '../domain/errors';
import type { DomainEvent } from '../domain/events';
import { decodeEnvelope, encodeEnvelope, newEnvelope, type EventMeta } from './envelope';
import { Lru } from './lru';
import { isDuplicateKey } from './mongo';

export interface CommitDoc {
  _id: string; // `${streamId}:${firstVersion}`
  stream_id: string;
  first_version: number;
  last_version: number;
  events: Binary[]; // EventEnvelope bytes, exactly what goes on the broker
  committed_at: Date;
}

interface HeadDoc<S> {
  _id: string;
  version: number;
  state: S;
}

export interface Loaded<S> {
  version: number;
  state: S;
}

export const commitId = (streamId: string, firstVersion: number) => `${streamId}:${firstVersion}`;

const CACHED_STREAMS = 10_000;

/** At most this many commits are probed past the cached head on a load. */
const HEAD_EVERY = 8;
const crossed = (from: number, to: number) => Math.floor(from / HEAD_EVERY) !== Math.floor(to / HEAD_EVERY);

export class EventStore {
  readonly commits: Collection<CommitDoc>;
  private readonly heads: Collection<HeadDoc<unknown>>;
  /** Recently used streams' states: a load then costs one probe that misses. */
  private readonly cache = new Lru<string, Loaded<unknown>>(CACHED_STREAMS);

  constructor(db: Db) {
    this.commits = db.collection<CommitDoc>('commits');
    this.heads = db.collection<HeadDoc<unknown>>('stream_heads');
  }

  /**
   * Current state of a stream: from this process's cache or the stored head,
   * then every later commit. Commits are immutable and contiguous, so probing
   * past any earlier state finds whatever other writers added.
   */
  async load<S>(streamId: string, initial: () => S, evolve: (s: S, e: DomainEvent) => S): Promise<Loaded<S>> {
    const head = (this.cache.get(streamId) ?? (await this.heads.findOne({ _id: streamId }))) as HeadDoc<S> | Loaded<S> | null | undefined;
    let version = head?.version ?? 0;
    let state = head ? head.state : initial();
    for (;;) {
      const commit = await this.commits.findOne({ _id: commitId(streamId, version + 1) });
      if (!commit) {
        this.cache.set(streamId, { version, state });
        return { version, state };
      }
      for (const e of commitEvents(commit)) state = evolve(state, e.payload);
      version = commit.last_version;
    }
  }

  /**
   * Appends events after `expectedVersion`; throws ConcurrencyError if any
   * other commit got there first. Returns the stored envelopes.
   */
  async append<S>(streamId: string, expectedVersion: number, events: DomainEvent[], meta: EventMeta, stateAfter: S, now = new Date()): Promise<EventEnvelope[]> {
    const envelopes = events.map((e, i) => newEnvelope(streamId, expectedVersion + 1 + i, e, meta, now));
    const doc: CommitDoc = {
      _id: commitId(streamId, expectedVersion + 1),
      stream_id: streamId,
      first_version: expectedVersion + 1,
      last_version: expectedVersion + events.length,
      events: envelopes.map((e) => new Binary(encodeEnvelope(e))),
      committed_at: now,
    };
    try {
      await this.commits.insertOne(doc);
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConcurrencyError(`stream ${streamId} moved past version ${expectedVersion}`);
      throw err;
    }
    // The head is only a cache: losing this write (crash) or writing an older
    // one (a racing writer) costs extra probes on the next load, never data.
    // Short streams (an order's life) are cheaper to probe than to cache, so
    // the head is written once a stream has grown past HEAD_EVERY versions.
    this.cache.set(streamId, { version: doc.last_version, state: stateAfter });
    if (crossed(expectedVersion, doc.last_version)) {
      await this.heads
        .replaceOne({ _id: streamId }, { version: doc.last_version, state: stateAfter }, { upsert: true })
        .catch(() => undefined);
    }
    return envelopes;
  }

  async getCommit(id: string): Promise<CommitDoc | null> {
    return this.commits.findOne({ _id: id });
  }
}

export function commitEvents(commit: CommitDoc): Array<EventEnvelope & { payload: DomainEvent }> {
  return commit.events.map((b) => decodeEnvelope(b.buffer));
}

/** Reads a stream's events by version range, for consumers filling a gap. */
export async function readStream(store: EventStore, streamId: string, from: number, to: number): Promise<Array<EventEnvelope & { payload: DomainEvent }>> {
  // Find the commit holding `from`: commits are keyed by their first version.
  let commit: CommitDoc | null = null;
  for (let k = from; k >= 1 && !commit; k--) commit = await store.getCommit(commitId(streamId, k));
  const out: Array<EventEnvelope & { payload: DomainEvent }> = [];
  while (commit && commit.first_version <= to) {
    for (const e of commitEvents(commit)) if (e.version >= from && e.version <= to) out.push(e);
    commit = await store.getCommit(commitId(streamId, commit.last_version + 1));
  }
  return out;
}
