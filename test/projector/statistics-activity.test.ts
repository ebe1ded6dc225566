// Recent activity in the statistics document: orders of the last hour by
// minute, of the last day by hour, and a document that stays the same size
// however long orders keep coming.
import { emptyStats, statisticsOf, type OrderDoc, type StatsDoc } from '../../read-models';
import { withOrderStats } from '../../projector-svc/statistics-projection';
import { deepFreeze } from '../support/given-when-then';

const T0 = Date.parse('2026-12-01T10:30:00.000Z');
const minutes = (n: number) => new Date(T0 + n * 60_000);

let next = 0;
const order = (createdAt: Date): OrderDoc => ({
  _id: `o-${++next}`, version: 1, order_id: `o-${next}`, user_id: 1, user_email: '', status: 'PENDING', status_reason: '', total_cents: 0,
  items: [], payment_info: null, timeline: [], created_at: createdAt, updated_at: createdAt,
});

/** Each order projected as it is created (now = its creation), then read at `readAt`. */
function project(created: Date[], from: StatsDoc = emptyStats()): StatsDoc {
  return created.reduce((s, at) => withOrderStats(deepFreeze(s), order(at), at, new Map()).doc, from);
}

test('the last hour counts by minute, the last day by whole hours', () => {
  // 10:30, 10:31, 11:11 and 12:10.
  const s = project([minutes(0), minutes(1), minutes(41), minutes(100)]);
  expect(statisticsOf(s, minutes(100))).toMatchObject({ orders_last_hour: 2, orders_last_day: 4 });
  // 09:59 the next day: the day is the current hour and the 23 before it, 10:00 onwards.
  expect(statisticsOf(s, minutes(29 + 23 * 60))).toMatchObject({ orders_last_hour: 0, orders_last_day: 4 });
  // 10:00: the 10:xx orders have gone (23 h 30 m old, but the day counts whole hours)...
  expect(statisticsOf(s, minutes(30 + 23 * 60)).orders_last_day).toBe(2);
  // ...11:00, then 12:00.
  expect(statisticsOf(s, minutes(90 + 23 * 60)).orders_last_day).toBe(1);
  expect(statisticsOf(s, minutes(90 + 24 * 60)).orders_last_day).toBe(0);
});

test('a late order (created long before it is projected) counts only where it falls in the window', () => {
  const s = withOrderStats(emptyStats(), order(minutes(0)), minutes(23 * 60), new Map()).doc;
  expect(statisticsOf(s, minutes(23 * 60))).toMatchObject({ orders_last_hour: 0, orders_last_day: 1 });
  const tooLate = withOrderStats(emptyStats(), order(minutes(0)), minutes(25 * 60), new Map()).doc;
  expect(statisticsOf(tooLate, minutes(25 * 60))).toMatchObject({ total_orders: 1, orders_last_day: 0 });
});

test('the document keeps at most 60 minutes and 24 hours, however long orders come', () => {
  // One order every 7 minutes for three days.
  const s = project(Array.from({ length: (3 * 24 * 60) / 7 }, (_, i) => minutes(i * 7)));
  expect(Object.keys(s.created_minutes).length).toBeLessThanOrEqual(60);
  expect(Object.keys(s.created_hours!).length).toBeLessThanOrEqual(24);
  expect(s.total_orders).toBe(Math.floor((3 * 24 * 60) / 7));
});

test('a document written before hours were kept counts its day from its minutes, and is carried over on its next write', () => {
  const old: StatsDoc = { ...emptyStats(), created_minutes: { [String(T0 / 60_000 - 300)]: 3, [String(T0 / 60_000 - 10)]: 2 } };
  delete old.created_hours;
  expect(statisticsOf(old, minutes(0))).toMatchObject({ orders_last_hour: 2, orders_last_day: 5 });
  const s = project([minutes(0)], old);
  expect(statisticsOf(s, minutes(0))).toMatchObject({ orders_last_hour: 3, orders_last_day: 6 });
  expect(Object.keys(s.created_minutes)).toHaveLength(2);
});
