// An aggregate as an Emmett-style decider: decide(command, state) → events,
// evolve(state, event) → state, from an initial state. Pure: no I/O, no
// clock, no randomness (ids come in with the command). Each decider works on
// one kind of stream, and its evolve takes only that stream's events.
import { isEventOf, parseStream, type DomainEvent, type EventOfKind, type StreamKind } from './events';

export interface Decider<State, Command, Event extends DomainEvent> {
  decide: (command: Command, state: State) => Event[];
  evolve: (state: State, event: Event) => State;
  initialState: () => State;
}

/** A decider for one kind of stream: it can tell that stream's events from any others. */
export interface StreamDecider<State, Command, K extends StreamKind = StreamKind> extends Decider<State, Command, EventOfKind<K>> {
  streamKind: K;
}

/**
 * The decider's evolve over events as stored (any event): one of another
 * kind of stream, or a stream id of another kind, means the stream is not the
 * decider's, and folding it would be wrong.
 */
export function evolveStored<S, C, K extends StreamKind>(d: StreamDecider<S, C, K>, streamId: string): (state: S, e: DomainEvent) => S {
  if (parseStream(streamId)?.kind !== d.streamKind) throw new Error(`stream ${streamId} is not a ${d.streamKind} stream`);
  return (state, e) => {
    if (!isEventOf(d.streamKind, e)) throw new Error(`stream ${streamId} holds ${e.$case}, not a ${d.streamKind} event`);
    return d.evolve(state, e);
  };
}
