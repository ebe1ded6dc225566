// Per-client rate limiting of commands: a token bucket per client, refilled
// at RATE_LIMIT_PER_SECOND up to RATE_LIMIT_BURST. A command over the limit
// is refused as RESOURCE_EXHAUSTED with `retry-after` (whole seconds) in its
// trailing metadata, which the edge (and Envoy) answer as HTTP 429 with a
// Retry-After header. Off (0) unless set; envoy.yaml's local_ratelimit
// filter does the same in front of Envoy.
import { status } from '@grpc/grpc-js';
import { int, readConfig } from './config';
import { StatusError } from './status-error';

export const rateLimitSpec = {
  /** Commands a client may send per second, sustained; 0 turns the limit off. */
  RATE_LIMIT_PER_SECOND: int(0, 0),
  /** Commands a client may send at once; 0 means twice the rate. */
  RATE_LIMIT_BURST: int(0, 0),
};

interface Bucket {
  tokens: number;
  at: number;
}

export type Take = { ok: true } | { ok: false; retryAfterS: number };

/** Token buckets by key. Buckets that have refilled are dropped, so idle clients cost nothing. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private takes = 0;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly sweepEvery = 10_000,
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new Error(`a token bucket needs a rate > 0 and a burst >= 1, got ${perSecond}/s, ${burst}`);
  }

  take(key: string, now = Date.now()): Take {
    if (++this.takes % this.sweepEvery === 0) this.sweep(now);
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1_000) * this.perSecond);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond)) };
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1_000) * this.perSecond >= this.burst) this.buckets.delete(key);
    }
  }
}

/**
 * Who a call counts against: with authentication on, the token's subject
 * (`x-cqrs-subject`, which the auth interceptor sets after verifying the
 * token and drops when a client sends it); else the client address the
 * nearest proxy saw (the last `x-forwarded-for` entry, which the edge and
 * Envoy append); else the peer address of the call. With authentication off
 * nothing vouches for a subject, so a client could pick its own bucket: it
 * is ignored.
 */
export function clientKey(md: Record<string, string>, peer: string, bySubject = true): string {
  const subject = bySubject ? md['x-cqrs-subject'] : undefined;
  if (subject) return `subject:${subject}`;
  const forwarded = md['x-forwarded-for']?.split(',').map((s) => s.trim()).filter(Boolean).pop();
  if (forwarded) return `addr:${forwarded}`;
  return `addr:${peer.replace(/^(ipv4:|ipv6:)/, '').replace(/:\d+$/, '')}`;
}

export interface CommandLimiter {
  /** Throws RESOURCE_EXHAUSTED (with retry-after) when this client is over its limit. */
  admit(md: Record<string, string>, peer: string): void;
}

/** The limiter RATE_LIMIT_* ask for, or none when the rate is 0; `bySubject`: authentication is on. */
export function commandLimiter(env: NodeJS.ProcessEnv, o: { bySubject: boolean }): CommandLimiter | undefined {
  const c = readConfig(rateLimitSpec, env);
  if (c.RATE_LIMIT_PER_SECOND === 0) return undefined;
  const buckets = new TokenBuckets(c.RATE_LIMIT_PER_SECOND, c.RATE_LIMIT_BURST || 2 * c.RATE_LIMIT_PER_SECOND);
  return {
    admit(md, peer) {
      const key = clientKey(md, peer, o.bySubject);
      const taken = buckets.take(key);
      if (!taken.ok) {
        throw new StatusError(status.RESOURCE_EXHAUSTED, `rate limit: more than ${buckets.perSecond} commands per second (burst ${buckets.burst}); retry in ${taken.retryAfterS} s`, {
          'retry-after': String(taken.retryAfterS),
        });
      }
    },
  };
}

/** For the start-up line. */
export function describeLimit(env: NodeJS.ProcessEnv = process.env): string {
  const c = readConfig(rateLimitSpec, env);
  return c.RATE_LIMIT_PER_SECOND === 0 ? 'off' : `${c.RATE_LIMIT_PER_SECOND}/s per client, burst ${c.RATE_LIMIT_BURST || 2 * c.RATE_LIMIT_PER_SECOND}`;
}
