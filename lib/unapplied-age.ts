// How old the oldest event a consumer has not applied is, as a publisher
// sees it. While the consumer reports (lib/read-lag.ts) its own figure is
// the answer. When it falls silent (stopped, crashed, cut off) it cannot say
// how far behind it falls, so the publisher estimates: what was unapplied at
// the last report has aged since, and everything published after it waits.
// That keeps "the read side is N seconds behind" true while projector-svc
// is down, when its own /metrics is gone.
import type { LagWatch } from './read-lag';

export class UnappliedAge {
  private lastReportAt?: number;
  private lastLagMs = 0;
  /** The first event this process published since the last report. */
  private publishedSince?: number;

  constructor(private readonly watch: LagWatch) {
    watch.onReport(() => {
      this.lastReportAt = Date.now();
      this.lastLagMs = watch.lagMs() ?? 0;
      this.publishedSince = undefined;
    });
  }

  /** Call when the broker confirmed an event for the consumer's queue. */
  published(now = Date.now()): void {
    this.publishedSince ??= now;
  }

  ageMs(now = Date.now()): number {
    const reported = this.watch.lagMs(now);
    if (reported !== undefined) return reported;
    const stillUnapplied = this.lastLagMs > 0 && this.lastReportAt !== undefined ? this.lastLagMs + (now - this.lastReportAt) : 0;
    const waiting = this.publishedSince === undefined ? 0 : now - this.publishedSince;
    return Math.max(stillUnapplied, waiting);
  }
}
