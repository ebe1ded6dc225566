// Nothing acknowledged is lost between the write store and the broker. Before
// a commit is written, an outbox marker names it; the marker is removed only
// after the broker confirmed every event of the commit. A sweep re-publishes
// whatever still has a marker (broker down, crash between store and publish),
// so delivery is at-least-once and consumers deduplicate by stream version.
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { Logger } from '../lib/logger';
import { commitEvents, type EventStore } from '../lib/event-store';
import type { EventPublisher } from './event-publisher';

interface OutboxDoc {
  // Unique per attempt, so a writer that loses a race removes only its own
  // marker, never the winner's.
  _id: string;
  commit_id: string;
  created_at: Date;
}

export interface RelayOptions {
  intervalMs: number;
  /** A marker older than this whose commit never appeared is dropped. */
  orphanAfterMs: number;
  /** Markers younger than this belong to commands still publishing inline. */
  graceMs: number;
}

export class OutboxRelay {
  private readonly outbox: Collection<OutboxDoc>;
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    db: Db,
    private readonly store: EventStore,
    private readonly publisher: EventPublisher,
    private readonly log: Logger,
    private readonly opts: RelayOptions,
  ) {
    this.outbox = db.collection<OutboxDoc>('outbox');
  }

  /** Returns the marker's id, to unmark once the commit is confirmed (or lost its race). */
  async mark(commitId: string): Promise<string> {
    const _id = `${commitId}/${randomUUID()}`;
    await this.outbox.insertOne({ _id, commit_id: commitId, created_at: new Date() });
    return _id;
  }

  async unmark(markerId: string): Promise<void> {
    await this.outbox.deleteOne({ _id: markerId });
  }

  start(): void {
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .then(() => undefined)
        .catch((err) => this.log.warn({ err: (err as Error).message }, 'outbox sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** Publishes every commit still marked; returns how many were published. */
  async sweep(now = Date.now()): Promise<number> {
    if (!this.publisher.isUp) return 0;
    const markers = await this.outbox.find({}).sort({ _id: 1 }).limit(500).toArray();
    let published = 0;
    for (const m of markers) {
      const age = now - m.created_at.getTime();
      if (age < this.opts.graceMs) continue;
      const commit = await this.store.getCommit(m.commit_id);
      if (!commit) {
        if (age > this.opts.orphanAfterMs) await this.unmark(m._id);
        continue;
      }
      const envelopes = commitEvents(commit);
      await this.publisher.publish(envelopes);
      await this.unmark(m._id);
      published++;
      this.log.info({ commitId: m.commit_id, eventIds: envelopes.map((e) => e.eventId) }, 'relayed unpublished commit');
    }
    return published;
  }
}
