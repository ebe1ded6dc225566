// When a failed call is tried again. Only UNAVAILABLE is retried (the call
// did not reach a service that could act on it, or the service said a
// dependency is down), and only for calls that are safe to repeat: reads,
// and commands that carry an idempotency key (the mesh answers a repeated
// key with the first answer instead of acting twice). Every other code is
// the service's answer and is returned as is.
import { status as Code } from '@grpc/grpc-js';

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 turns retries off. */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, initialBackoffMs: 100, maxBackoffMs: 2_000, multiplier: 2 };

export function isRetryable(err: unknown, idempotent: boolean): boolean {
  return idempotent && (err as { code?: unknown } | undefined)?.code === Code.UNAVAILABLE;
}

/**
 * The pause after the `failures`-th failed attempt: exponential, capped, with
 * jitter (half to all of it) so that many clients that lost the same server do
 * not come back in step.
 */
export function backoffMs(failures: number, p: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(p.maxBackoffMs, p.initialBackoffMs * p.multiplier ** (failures - 1));
  return Math.round(cap * (0.5 + random() / 2));
}

export interface RetryRun {
  idempotent: boolean;
  policy: RetryPolicy;
  /** Epoch ms the whole call (every attempt) must end by: no retry starts that the deadline would cut. */
  deadline: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

/** Runs `attempt` (given its number, from 1) until it succeeds or a failure may not be retried. */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, run: RetryRun): Promise<T> {
  const sleep = run.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = run.now ?? Date.now;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!isRetryable(err, run.idempotent) || n >= run.policy.maxAttempts) throw err;
      const wait = backoffMs(n, run.policy, run.random);
      if (now() + wait >= run.deadline) throw err;
      await sleep(wait);
    }
  }
}
