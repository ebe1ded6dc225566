// Runs a command against one aggregate: load, decide (pure), store, publish.
// A lost optimistic-concurrency race is retried from a fresh load; after a few
// losses the client gets ABORTED and can retry.
import type { EventEnvelope } from '../gen/ts/cqrs/v1/events';
import { ConcurrencyError } from '../domain/errors';
import type { DomainEvent } from '../domain/events';
import type { EventMeta } from '../lib/envelope';
import { KeyedLock } from '../lib/keyed-lock';
import type { Logger } from '../lib/logger';
import { commitId, type EventStore } from '../lib/event-store';
import type { EventPublisher } from './event-publisher';
import type { OutboxRelay } from './outbox-relay';

export interface Aggregate<S, C> {
  initial: () => S;
  decide: (command: C, state: S) => DomainEvent[];
  evolve: (state: S, event: DomainEvent) => S;
}

export interface Executed<S> {
  state: S;
  version: number;
  envelopes: EventEnvelope[];
}

const MAX_ATTEMPTS = 8;

export class CommandHandler {
  private readonly streams = new KeyedLock();
  /** Test-only fault hook: called after storing, before publishing. */
  afterStore?: () => void;

  constructor(
    private readonly store: EventStore,
    private readonly relay: OutboxRelay,
    private readonly publisher: EventPublisher,
    private readonly log: Logger,
  ) {}

  load<S, C>(streamId: string, agg: Aggregate<S, C>) {
    return this.store.load(streamId, agg.initial, agg.evolve);
  }

  /**
   * Commands on one stream run one at a time in this process: racing them
   * would only make all but one lose and reload. The unique commit id still
   * decides between processes.
   */
  execute<S, C>(streamId: string, agg: Aggregate<S, C>, command: C, meta: EventMeta): Promise<Executed<S>> {
    return this.streams.run(streamId, () => this.attempt(streamId, agg, command, meta));
  }

  private async attempt<S, C>(streamId: string, agg: Aggregate<S, C>, command: C, meta: EventMeta): Promise<Executed<S>> {
    for (let attempt = 1; ; attempt++) {
      const { version, state } = await this.store.load(streamId, agg.initial, agg.evolve);
      const events = agg.decide(command, state);
      if (!events.length) return { state, version, envelopes: [] };
      const after = events.reduce(agg.evolve, state);
      const marker = await this.relay.mark(commitId(streamId, version + 1));
      let envelopes: EventEnvelope[];
      try {
        envelopes = await this.store.append(streamId, version, events, meta, after);
      } catch (err) {
        // Only a lost race proves nothing was written. Any other failure may
        // have stored the commit (a timeout after the write), so the marker
        // stays and the relay publishes the commit if it exists.
        if (!(err instanceof ConcurrencyError)) throw err;
        await this.relay.unmark(marker);
        if (attempt >= MAX_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
        continue;
      }
      this.log.info(
        { streamId, version: version + events.length, correlationId: meta.correlationId, events: envelopes.map((e) => ({ eventId: e.eventId, type: e.payload?.$case })) },
        'events stored',
      );
      this.afterStore?.();
      await this.publishNow(envelopes, marker);
      return { state: after, version: version + events.length, envelopes };
    }
  }

  /** The command is already safe; a failed publish is left to the relay. */
  private async publishNow(envelopes: EventEnvelope[], marker: string): Promise<void> {
    try {
      await this.publisher.publish(envelopes);
      await this.relay.unmark(marker);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, eventIds: envelopes.map((e) => e.eventId) }, 'publish deferred to the outbox relay');
    }
  }
}
