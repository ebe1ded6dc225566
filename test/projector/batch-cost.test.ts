// The cost model behind the projector's wait estimate (lib/batch-cost.ts):
// a fixed cost per batch and a cost per event, fitted from timed batches.
import { BatchCost } from '../../lib/batch-cost';

const timed = (batches: Array<[number, number]>, keep?: number) => {
  const c = new BatchCost(keep);
  for (const [n, ms] of batches) c.note(n, ms);
  return c;
};

test('knows nothing before a batch is timed', () => {
  const c = new BatchCost();
  expect(c.fit()).toBeUndefined();
  expect(c.drainMs(100, 512)).toBeUndefined();
  expect(c.msPerEvent(512)).toBeUndefined();
});

test('tells the fixed cost from the per-event cost of batches of different sizes', () => {
  // 20 ms per batch + 0.5 ms per event.
  const c = timed([[10, 25], [100, 70], [40, 40], [400, 220]]);
  const f = c.fit()!;
  expect(f.fixedMs).toBeCloseTo(20, 6);
  expect(f.perEventMs).toBeCloseTo(0.5, 6);
});

test('a backlog drains in full batches: small batches do not make it look slow', () => {
  const c = timed([[10, 25], [20, 30], [10, 25], [20, 30]]);
  // 20 + 0.5 n: 1,024 events are two batches of 512, not 1,024 × 2.5 ms.
  expect(c.drainMs(1_024, 512)).toBeCloseTo(2 * 20 + 1_024 * 0.5, 6);
  expect(c.msPerEvent(512)).toBeCloseTo(20 / 512 + 0.5, 6);
  expect(c.drainMs(0, 512)).toBe(0);
});

test('batches of one size count their whole cost per event', () => {
  const c = timed([[8, 40], [8, 40]]);
  expect(c.fit()).toEqual({ fixedMs: 0, perEventMs: 5 });
  expect(c.drainMs(16, 8)).toBe(80);
});

test('recent batches weigh more than old ones', () => {
  const c = timed([...Array.from({ length: 30 }, () => [50, 500] as [number, number]), ...Array.from({ length: 30 }, () => [50, 50] as [number, number])], 0.8);
  expect(c.fit()!.perEventMs).toBeCloseTo(1, 1); // the old batches said 10
});

test('noise that makes bigger batches look cheaper does not give a negative cost', () => {
  const c = timed([[10, 60], [100, 50]], 1);
  const f = c.fit()!;
  expect(f.perEventMs).toBeGreaterThanOrEqual(0);
  expect(f.fixedMs).toBeGreaterThanOrEqual(0);
  expect(c.drainMs(100, 100)).toBeCloseTo(55, 6);
});

test('one stalled batch counts for a few times its prediction, so the next ones bring the pace back', () => {
  const c = timed([[100, 50], [100, 50], [100, 60_000]]);
  expect(c.fit()!.perEventMs).toBeLessThan(2);
  for (let i = 0; i < 10; i++) c.note(100, 50);
  expect(c.fit()!.perEventMs).toBeLessThan(0.7);
  for (let i = 0; i < 30; i++) c.note(100, 50);
  expect(c.fit()!.perEventMs).toBeCloseTo(0.5, 1);
  // Before any batch the guess is a fast store's; a stall in the first batch is capped against it.
  expect(timed([[1, 15_000]]).fit()!.perEventMs).toBeLessThan(100);
});

test('a real slowdown is learnt within a few batches', () => {
  const c = timed([[100, 50], [100, 50]]);
  for (let i = 0; i < 6; i++) c.note(100, 1_000); // 20x slower from now on
  expect(c.fit()!.perEventMs).toBeGreaterThan(5);
});
