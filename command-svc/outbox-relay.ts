// Nothing acknowledged is lost between the write store and the broker. Before
// a group of commits is written, an outbox marker names them; the marker is
// removed only after the broker confirmed every event of every commit in it
// (command-svc/commit-writer.ts). A sweep re-publishes whatever still has a
// marker (broker down, crash between store and publish), so delivery is
// at-least-once and consumers deduplicate by stream version.
import type { Collection } from 'mongodb';
import type { Logger } from '../lib/logger';
import { outboxRelayed } from '../lib/metrics';
import { commitEvents, type EventStore } from '../lib/event-store';
import type { OutboxDoc } from './commit-writer';
import type { EventPublisher } from './event-publisher';

export interface RelayOptions {
  intervalMs: number;
  /** A marker older than this whose commits never all appeared is dropped, after publishing those that did. */
  orphanAfterMs: number;
  /** Markers younger than this belong to commands still publishing inline. */
  graceMs: number;
}

export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;

  constructor(
    private readonly outbox: Collection<OutboxDoc>,
    private readonly store: EventStore,
    private readonly publisher: EventPublisher,
    private readonly log: Logger,
    private readonly opts: RelayOptions,
  ) {}

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
      const ids = m.commit_ids ?? (m.commit_id ? [m.commit_id] : []);
      const commits = await Promise.all(ids.map((id) => this.store.getCommit(id)));
      // A missing commit may still be on its way (a slow write): wait for it until the marker is an orphan.
      if (commits.some((c) => !c) && age <= this.opts.orphanAfterMs) continue;
      for (const commit of commits) {
        if (!commit) continue;
        const envelopes = commitEvents(commit);
        await this.publisher.publish(envelopes, true);
        published++;
        outboxRelayed.inc();
        this.log.info({ commitId: commit._id, eventIds: envelopes.map((e) => e.eventId) }, 'relayed unpublished commit');
      }
      await this.outbox.deleteOne({ _id: m._id });
    }
    return published;
  }
}
