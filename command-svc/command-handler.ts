// Runs commands against aggregates: load, decide (pure), store, publish.
// Commands that arrive for a stream while one of its commits is being
// written wait, then are decided together, in arrival order, into one
// commit: a product many orders reserve at once (a flash sale) costs one
// commit per round, not one per order. A lost optimistic-concurrency race is
// retried from a fresh load; after a few losses the callers get ABORTED.
import type { EventEnvelope } from '../gen/ts/cqrs/v1/events';
import { evolveStored, type StreamDecider } from '../domain/decider';
import { ConcurrencyError } from '../domain/errors';
import type { DomainEvent, StreamKind } from '../domain/events';
import { newEnvelope, type EventMeta } from '../lib/envelope';
import type { Logger } from '../lib/logger';
import { eventsDeferred } from '../lib/metrics';
import { activeTraceContext, detached, sharedSpans, traceFieldsOf } from '../lib/spans';
import { commitDoc, type EventStore, type Loaded } from '../lib/event-store';
import type { CommitWriter } from './commit-writer';
import type { EventPublisher } from './event-publisher';

/**
 * A decider on one stream, as the handler runs it: commands queued on a
 * stream come from callers of one decider, so their types are theirs;
 * events are evolved as stored (any event: one of another stream is refused).
 */
interface StreamRun {
  initialState: () => unknown;
  decide: (command: unknown, state: unknown) => DomainEvent[];
  evolve: (state: unknown, event: DomainEvent) => unknown;
}

export interface Executed<S> {
  state: S;
  version: number;
  envelopes: EventEnvelope[];
}

export interface ExecuteOptions {
  /** The stream was named by this command (a fresh random id): skip the read. */
  isNew?: boolean;
}

interface Queued {
  command: unknown;
  meta: EventMeta;
  resolve: (r: Executed<unknown>) => void;
  reject: (err: unknown) => void;
}

interface Outcome {
  q: Queued;
  events: DomainEvent[];
  error?: unknown;
  state: unknown;
  version: number;
}

export class CommandHandler {
  private readonly queues = new Map<string, Queued[]>();

  constructor(
    private readonly store: EventStore,
    private readonly writer: CommitWriter,
    private readonly publisher: EventPublisher,
    private readonly log: Logger,
    private readonly maxAttempts = 8,
  ) {}

  load<S, C, K extends StreamKind>(streamId: string, decider: StreamDecider<S, C, K>, fresh = false): Promise<Loaded<S>> {
    return this.store.load(streamId, decider.initialState, evolveStored(decider, streamId), { fresh });
  }

  execute<S, C, K extends StreamKind>(streamId: string, decider: StreamDecider<S, C, K>, command: C, meta: EventMeta, opts: ExecuteOptions = {}): Promise<Executed<S>> {
    return new Promise<Executed<S>>((resolve, reject) => {
      // The caller's trace goes with its command into the commit (lib/spans.ts).
      const q: Queued = { command, meta: { ...meta, traceContext: meta.traceContext ?? activeTraceContext() }, resolve: resolve as Queued['resolve'], reject };
      const waiting = this.queues.get(streamId);
      if (waiting) return void waiting.push(q);
      this.queues.set(streamId, [q]);
      const evolve = evolveStored(decider, streamId);
      const run: StreamRun = {
        initialState: decider.initialState,
        decide: (c, s) => decider.decide(c as C, s as S),
        evolve: (s, e) => evolve(s as S, e),
      };
      // The queue serves every caller of the stream: none of their traces is its own.
      detached(() => void this.run(streamId, run, opts));
    });
  }

  /** Takes whatever has queued for the stream, round after round, until none is left. */
  private async run(streamId: string, decider: StreamRun, opts: ExecuteOptions): Promise<void> {
    const queue = this.queues.get(streamId)!;
    let first = true;
    while (queue.length > 0) {
      const round = queue.splice(0);
      try {
        await this.round(streamId, decider, round, first ? opts : {});
      } catch (err) {
        for (const q of round) q.reject(err);
      }
      first = false;
    }
    this.queues.delete(streamId);
  }

  private async round(streamId: string, decider: StreamRun, round: Queued[], opts: ExecuteOptions): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let loaded = await this.store.load(streamId, decider.initialState, decider.evolve, { isNew: opts.isNew && attempt === 1 });
      let outcomes = decideAll(decider, round, loaded);
      // A refusal or a no-op decided on a cached state is checked against the store.
      if (!loaded.verified && outcomes.some((o) => o.error || o.events.length === 0)) {
        loaded = await this.store.load(streamId, decider.initialState, decider.evolve, { fresh: true });
        outcomes = decideAll(decider, round, loaded);
      }
      const decided = outcomes.flatMap((o) => o.events.map((e) => ({ e, meta: o.q.meta })));
      if (decided.length === 0) return settle(outcomes, []);
      const now = new Date();
      const stored = decided.map(({ e, meta }, k) => newEnvelope(streamId, loaded.version + 1 + k, e, meta, now));
      const commit = commitDoc(streamId, stored, now);
      const traces = outcomes.filter((o) => o.events.length).map((o) => o.q.meta.traceContext ?? {});
      const written = sharedSpans('store commit', traces, { 'db.system.name': 'mongodb', 'db.collection.name': 'commits', 'cqrs.commit_id': commit._id });
      try {
        await this.writer.write(commit);
        written();
      } catch (err) {
        written(err);
        if (!(err instanceof ConcurrencyError)) throw err;
        this.store.forget(streamId);
        this.log.info({ streamId, version: loaded.version + 1, attempt, of: this.maxAttempts }, 'lost a race for the stream; deciding again');
        if (attempt >= this.maxAttempts) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
        continue;
      }
      const last = outcomes[outcomes.length - 1];
      this.store.remember(streamId, commit.last_version, last.state);
      const byCommand = sliceEnvelopes(outcomes, stored);
      outcomes.forEach((o, i) => {
        if (byCommand[i].length === 0) return;
        this.log.info(
          { ...traceFieldsOf(o.q.meta.traceContext), streamId, version: byCommand[i][byCommand[i].length - 1].version, correlationId: o.q.meta.correlationId, events: byCommand[i].map((e) => ({ eventId: e.eventId, type: e.payload?.$case })) },
          'events stored',
        );
      });
      // The channel keeps publish order, so the next round need not wait for
      // this one's confirms; the callers are answered once they arrive.
      void this.publishNow(commit._id, stored).then(() => settle(outcomes, byCommand));
      return;
    }
  }

  /** The command is already safe; a failed publish is left to the outbox relay. */
  private async publishNow(commitId: string, envelopes: EventEnvelope[]): Promise<void> {
    try {
      await this.publisher.publish(envelopes);
      this.writer.settled(commitId);
    } catch (err) {
      eventsDeferred.inc(envelopes.length);
      this.log.warn({ err: (err as Error).message, eventIds: envelopes.map((e) => e.eventId) }, 'publish deferred to the outbox relay');
    }
  }
}

/** Each command in turn, on the state the ones before it left. */
function decideAll(decider: StreamRun, round: Queued[], loaded: Loaded<unknown>): Outcome[] {
  let state = loaded.state;
  let version = loaded.version;
  return round.map((q) => {
    try {
      const events = decider.decide(q.command, state);
      state = events.reduce(decider.evolve, state);
      version += events.length;
      return { q, events, state, version };
    } catch (error) {
      return { q, events: [], error, state, version };
    }
  });
}

function sliceEnvelopes(outcomes: Outcome[], stored: EventEnvelope[]): EventEnvelope[][] {
  let k = 0;
  return outcomes.map((o) => stored.slice(k, (k += o.events.length)));
}

function settle(outcomes: Outcome[], byCommand: EventEnvelope[][]): void {
  outcomes.forEach((o, i) => (o.error ? o.q.reject(o.error) : o.q.resolve({ state: o.state, version: o.version, envelopes: byCommand[i] ?? [] })));
}
