// Order statistics kept ready to read (read-models/statistics.ts): each
// order's contribution moved into the one document of counters, and the
// orders created per minute over the last day.
import { DAY_MINUTES, type OrderDoc, type StatsDoc } from '../read-models';
import { contributionOf, encodeContribution, moveCounters, takenIn, type Contribution } from './contribution';

/** The statistics with this order's latest version taken in; the same object if they hold it already. */
export function withOrderStats(s: StatsDoc, o: OrderDoc, now: Date): StatsDoc {
  const from = takenIn(s, o);
  return from && from.v >= o.version ? s : withStatsContribution(s, o.order_id, from, contributionOf(o, 0), now);
}

/** The statistics with the order's contribution moved from `from` to `to`, remembered in flight. */
export function withStatsContribution(s: StatsDoc, orderId: string, from: Contribution | undefined, to: Contribution, now: Date): StatsDoc {
  const moved = moveCounters(s, from, to);
  const nowMinute = Math.floor(now.getTime() / 60_000);
  const minutes: Record<string, number> = {};
  for (const [m, n] of Object.entries(s.created_minutes)) if (nowMinute - Number(m) < DAY_MINUTES) minutes[m] = n;
  if (!from && nowMinute - to.created_minute < DAY_MINUTES) minutes[to.created_minute] = (minutes[to.created_minute] ?? 0) + 1;
  return { ...moved, created_minutes: minutes, inflight: { ...s.inflight, [orderId]: encodeContribution(to) } };
}
