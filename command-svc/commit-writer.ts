// Group commit for the write store. Commands that reach the store while a
// write is in flight wait for the next one, which stores all of them with
// two round trips: one outbox write (the group's marker, plus the removal of
// earlier markers whose commits the broker has confirmed) and one unordered
// insertMany of the commits. The marker is stored before its commits, so a
// commit can never exist without the relay knowing it may be unpublished.
import { randomUUID } from 'node:crypto';
import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb';
import { ConcurrencyError } from '../domain/errors';
import type { CommitDoc, EventStore } from '../lib/event-store';
import { isDuplicateKey, writeErrorsOf } from '../lib/mongo';

export interface OutboxDoc {
  // Unique per group, so removing it never removes another writer's marker.
  _id: string;
  commit_ids: string[];
  created_at: Date;
  /** Markers written before group commit name one commit. */
  commit_id?: string;
}

interface Pending {
  commit: CommitDoc;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Group {
  markerId: string;
  /** Commits whose fate is still open: stored and not yet confirmed by the broker. */
  open: Set<string>;
}

const MAX_GROUP = 256;
/** Confirmed markers wait this long for a group write to ride on before they are removed alone. */
const UNMARK_AFTER_MS = 25;

export class CommitWriter {
  readonly outbox: Collection<OutboxDoc>;
  private queue: Pending[] = [];
  private writing?: Promise<void>;
  private readonly groups = new Map<string, Group>(); // commit id → its group
  private unmarkable: string[] = [];
  private unmarkTimer?: NodeJS.Timeout;
  /**
   * Called after a group is stored, before anything is published: a fault
   * test sets it from outside the service (kit/faults-preload.ts).
   */
  static afterStore?: () => void;

  constructor(
    db: Db,
    private readonly store: EventStore,
  ) {
    this.outbox = db.collection<OutboxDoc>('outbox');
  }

  /** Resolves once the commit is stored; ConcurrencyError if its id was taken (a lost race). */
  write(commit: CommitDoc): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ commit, resolve, reject });
      this.kick();
    });
  }

  /**
   * The commit's events are confirmed by the broker (or will never be written):
   * once every commit of its group is, the group's marker can go.
   */
  settled(commitId: string): void {
    const group = this.groups.get(commitId);
    if (!group) return;
    this.groups.delete(commitId);
    group.open.delete(commitId);
    if (group.open.size > 0) return;
    this.unmarkable.push(group.markerId);
    this.unmarkTimer ??= setTimeout(() => {
      this.unmarkTimer = undefined;
      this.kick();
    }, UNMARK_AFTER_MS);
  }

  /** Waits for the write in flight, and removes the markers already confirmed. */
  async flush(): Promise<void> {
    clearTimeout(this.unmarkTimer);
    this.unmarkTimer = undefined;
    this.kick();
    while (this.writing) await this.writing;
  }

  /** Starts a writer loop unless one runs; a loop ends only with nothing left to write. */
  private kick(): void {
    if (this.writing || (this.queue.length === 0 && this.unmarkable.length === 0)) return;
    this.writing = this.drain().catch(() => undefined).finally(() => {
      this.writing = undefined;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 || this.unmarkable.length > 0) {
      const batch = this.queue.splice(0, MAX_GROUP);
      const unmark = this.unmarkable.splice(0);
      await this.writeGroup(batch, unmark);
    }
  }

  private async writeGroup(batch: Pending[], unmark: string[]): Promise<void> {
    const markerId = randomUUID();
    const ids = batch.map((p) => p.commit._id);
    const ops: AnyBulkWriteOperation<OutboxDoc>[] = [
      ...(batch.length ? [{ insertOne: { document: { _id: markerId, commit_ids: ids, created_at: new Date() } } }] : []),
      ...unmark.map((id) => ({ deleteOne: { filter: { _id: id } } })),
    ];
    try {
      await this.outbox.bulkWrite(ops, { ordered: true });
    } catch (err) {
      // Not removed now, removed by the relay once it finds the commits published.
      for (const p of batch) p.reject(err as Error);
      return;
    }
    if (batch.length === 0) return;
    const group: Group = { markerId, open: new Set(ids) };
    for (const id of ids) this.groups.set(id, group);
    const failed = await this.insert(batch.map((p) => p.commit));
    CommitWriter.afterStore?.();
    batch.forEach((p, i) => {
      const err = failed.get(i);
      if (!err) return p.resolve();
      // A lost race stored nothing. Anything else may have stored the commit
      // (a timeout after the write): its marker stays for the relay.
      if (err instanceof ConcurrencyError) this.settled(p.commit._id);
      else this.store.forget(p.commit.stream_id);
      p.reject(err);
    });
  }

  /** Index in the batch → why that commit was not (or maybe not) stored. */
  private async insert(commits: CommitDoc[]): Promise<Map<number, Error>> {
    const failed = new Map<number, Error>();
    try {
      await this.store.commits.insertMany(commits, { ordered: false });
    } catch (err) {
      const writeErrors = writeErrorsOf(err);
      if (!writeErrors) {
        commits.forEach((_, i) => failed.set(i, err as Error));
        return failed;
      }
      for (const we of writeErrors) {
        const c = commits[we.index];
        failed.set(we.index, isDuplicateKey(we) ? new ConcurrencyError(`stream ${c.stream_id} moved past version ${c.first_version - 1}`) : new Error(we.errmsg ?? 'write failed'));
      }
    }
    return failed;
  }
}
