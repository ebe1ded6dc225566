// A consumer's health includes how far behind it is: a projector that is
// connected but minutes behind, or stuck on events it cannot get past, is
// not serving its read models, whatever its connections say.
import type { EventConsumer } from './consumer';
import type { Check } from './health';

export interface ConsumerLimits {
  /** The oldest unapplied event may be at most this old. */
  maxLagMs: number;
  /** Events in hand with none applied for this long is a stall. */
  maxStallMs: number;
}

const seconds = (ms: number) => `${(ms / 1_000).toFixed(1)} s`;

/** Checks for a HealthMonitor; each throws the reason it fails, which the health report carries. */
export function consumerChecks(consumer: EventConsumer, limits: ConsumerLimits): Record<string, Check> {
  return {
    consuming: () => {
      if (!consumer.isUp) throw new Error('not consuming: no channel to the broker');
      return true;
    },
    lag: () => {
      const lag = consumer.lagMs();
      if (lag > limits.maxLagMs) throw new Error(`behind: the oldest unapplied event is ${seconds(lag)} old (limit ${seconds(limits.maxLagMs)})`);
      return true;
    },
    progress: () => {
      const stalled = consumer.stalledMs();
      if (stalled > limits.maxStallMs) throw new Error(`stalled: events in hand and none applied for ${seconds(stalled)} (limit ${seconds(limits.maxStallMs)})`);
      return true;
    },
  };
}
