// Emmett-style specifications for pure aggregates:
//
//   const given = specFor(orderDecider);
//   given([created]).when(validate).then([validated]);
//   given([]).when(pay).thenThrows(NotFoundError, /order not found/);
//
// `given` folds the history with the decider's own evolve, `when` runs decide
// on that state, and `then` compares the events decided. History and state are
// deep-frozen first, so a decide or evolve that mutates its input fails the
// spec instead of passing by accident.
import type { Decider } from '../../domain/decider';
import type { DomainEvent } from '../../domain/events';

type ErrorClass = abstract new (...args: never[]) => Error;

export interface Decided<S, E extends DomainEvent> {
  /** The command decides exactly these events (order matters). */
  then(expected: E[]): S;
  /** The command decides nothing (an idempotent no-op). */
  thenNothing(): S;
  /** The command is refused with exactly this error class and a matching message. */
  thenThrows(error: ErrorClass, message?: RegExp | string): Error;
}

export interface Given<S, C, E extends DomainEvent> {
  /** The state the history folds to, before any command. */
  readonly state: S;
  when(command: C): Decided<S, E>;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** The state after folding `history` with the decider's evolve. */
export function fold<S, C, E extends DomainEvent>(agg: Decider<S, C, E>, history: E[], from: S = agg.initialState()): S {
  return history.reduce((s, e) => deepFreeze(agg.evolve(s, deepFreeze(e))), deepFreeze(from));
}

export function specFor<S, C, E extends DomainEvent>(agg: Decider<S, C, E>): (history?: E[]) => Given<S, C, E> {
  return (history = []) => {
    const state = fold(agg, history);
    return {
      state,
      when(command: C): Decided<S, E> {
        deepFreeze(command);
        const run = () => agg.decide(command, state);
        return {
          then(expected) {
            const events = run();
            expect(events).toEqual(expected);
            return fold(agg, events, state);
          },
          thenNothing() {
            const events = run();
            expect(events).toEqual([]);
            return state;
          },
          thenThrows(error, message) {
            let caught: unknown;
            let decided: E[] | undefined;
            try {
              decided = run();
            } catch (err) {
              caught = err;
            }
            if (caught === undefined) {
              throw new Error(`expected ${error.name} but the command decided ${JSON.stringify(decided)}`);
            }
            expect(caught).toBeInstanceOf(error);
            // Exactly this class, not a subclass: ReservationRefused is a
            // PreconditionError but means something else to the order process.
            expect((caught as Error).constructor).toBe(error);
            if (message !== undefined) expect((caught as Error).message).toMatch(message);
            return caught as Error;
          },
        };
      },
    };
  };
}
