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
  /**
   * False when the state came from this process's cache: another process may
   * have appended since. Appending still cannot go wrong (the next commit id
   * would be taken), but a refusal decided on it must be checked against the store.
   */
  verified: boolean;
}

interface Cached {
  version: number;
  state: unknown;
  /** Version of the stored head, so heads are rewritten only every HEAD_EVERY versions. */
  headVersion: number;
}

export const commitId = (streamId: string, firstVersion: number) => `${streamId}:${firstVersion}`;

const CACHED_STREAMS = 10_000;

/** A stream's head is stored again once it is this many versions past the stored one. */
const HEAD_EVERY = 32;

export class EventStore {
  readonly commits: Collection<CommitDoc>;
  private readonly heads: Collection<HeadDoc<unknown>>;
  /** Recently used streams' states: a command on one costs no read at all. */
  private readonly cache = new Lru<string, Cached>(CACHED_STREAMS);

  constructor(db: Db) {
    this.commits = db.collection<CommitDoc>('commits');
    this.heads = db.collection<HeadDoc<unknown>>('stream_heads');
  }

  /**
   * Current state of a stream: from this process's cache (unverified), or
   * from the stored head and every later commit. Commits are immutable and
   * contiguous, so probing past any earlier state finds whatever other writers added.
   */
  async load<S>(streamId: string, initial: () => S, evolve: (s: S, e: DomainEvent) => S, opts: { fresh?: boolean; isNew?: boolean } = {}): Promise<Loaded<S>> {
    const cached = this.cache.get(streamId);
    if (cached && !opts.fresh) return { version: cached.version, state: cached.state as S, verified: false };
    // A stream the caller has just named (a new random order id) cannot exist yet; if it
    // does after all, its first commit id is taken and the append says so.
    if (opts.isNew && !opts.fresh) return { version: 0, state: initial(), verified: false };
    const head = (cached ?? (await this.heads.findOne({ _id: streamId }))) as HeadDoc<S> | Cached | null;
    let version = head?.version ?? 0;
    let state = (head ? head.state : initial()) as S;
    const headVersion = head ? ('headVersion' in head ? head.headVersion : head.version) : 0;
    for (;;) {
      const commit = await this.commits.findOne({ _id: commitId(streamId, version + 1) });
      if (!commit) {
        this.cache.set(streamId, { version, state, headVersion });
        return { version, state, verified: true };
      }
      for (const e of commitEvents(commit)) state = evolve(state, e.payload);
      version = commit.last_version;
    }
  }

  /** After a commit of this process's own was stored: the state it reached. */
  remember<S>(streamId: string, version: number, state: S): void {
    const headVersion = this.cache.get(streamId)?.headVersion ?? 0;
    this.cache.set(streamId, { version, state, headVersion });
    // The head is only a cache: losing this write (crash) or writing an older
    // one (a racing writer) costs extra probes on the next load, never data.
    if (version - headVersion >= HEAD_EVERY) {
      this.cache.set(streamId, { version, state, headVersion: version });
      void this.heads.replaceOne({ _id: streamId }, { version, state }, { upsert: true }).catch(() => undefined);
    }
  }

  /** The cached state may be wrong (a lost race, a write whose outcome is unknown). */
  forget(streamId: string): void {
    this.cache.delete(streamId);
  }

  /** Another process may have written meanwhile (a consumer that takes over a queue). */
  forgetAll(): void {
    this.cache.clear();
  }

  /**
   * Appends one commit directly (tools and tests; command-svc batches its
   * commits through its CommitWriter). Throws ConcurrencyError if any other
   * commit got there first. Returns the stored envelopes.
   */
  async append<S>(streamId: string, expectedVersion: number, events: DomainEvent[], meta: EventMeta, stateAfter: S, now = new Date()): Promise<EventEnvelope[]> {
    const envelopes = events.map((e, i) => newEnvelope(streamId, expectedVersion + 1 + i, e, meta, now));
    try {
      await this.commits.insertOne(commitDoc(streamId, envelopes, now));
    } catch (err) {
      if (isDuplicateKey(err)) throw new ConcurrencyError(`stream ${streamId} moved past version ${expectedVersion}`);
      throw err;
    }
    this.remember(streamId, expectedVersion + events.length, stateAfter);
    return envelopes;
  }

  async getCommit(id: string): Promise<CommitDoc | null> {
    return this.commits.findOne({ _id: id });
  }
}

/** The commit document holding these envelopes (contiguous versions of one stream). */
export function commitDoc(streamId: string, envelopes: EventEnvelope[], now: Date): CommitDoc {
  const first = envelopes[0].version;
  return {
    _id: commitId(streamId, first),
    stream_id: streamId,
    first_version: first,
    last_version: first + envelopes.length - 1,
    events: envelopes.map((e) => new Binary(encodeEnvelope(e))),
    committed_at: now,
  };
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
