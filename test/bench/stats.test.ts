// The bench's trend test (the lag target's judge): Mann–Kendall with Sen's slope.
import { mannKendall } from '../../bench/stats';

const at = (n: number) => Array.from({ length: n }, (_, i) => 3 + 6 * i); // ten 6 s windows' middles

describe('mannKendall', () => {
  test('a steady rise: every pair rises, S = n(n-1)/2, z as the normal approximation gives, Sen slope exact', () => {
    const xs = at(10);
    const t = mannKendall(xs, xs.map((x) => 100 + 2 * x));
    expect(t.s).toBe(45);
    // Var(S) = n(n-1)(2n+5)/18 = 125 without ties; z = (S - 1)/sqrt(Var).
    expect(t.z).toBeCloseTo(44 / Math.sqrt(125), 10);
    expect(t.senSlope).toBeCloseTo(2, 10);
  });

  test('wander about a level is not a trend, whatever a fitted line through it says', () => {
    const ys = [250, 300, 200, 310, 190, 280, 240, 320, 210, 260];
    const t = mannKendall(at(10), ys);
    expect(Math.abs(t.z)).toBeLessThan(1.645);
  });

  test('a fall is negative; a step up counts as a rise, ties accounted for', () => {
    expect(mannKendall(at(10), at(10).map((x) => 500 - x)).z).toBeLessThan(-1.645);
    const step = mannKendall(at(10), [100, 100, 100, 100, 100, 200, 200, 200, 200, 200]);
    expect(step.s).toBe(25);
    // Two groups of five tied values: Var(S) = (10·9·25 - 2·5·4·15)/18.
    expect(step.z).toBeCloseTo(24 / Math.sqrt(1650 / 18), 10);
    expect(step.senSlope).toBeGreaterThan(0);
  });

  test('nothing to go on: all equal, or fewer than two points', () => {
    expect(mannKendall(at(10), new Array(10).fill(7)).z).toBe(0);
    expect(mannKendall([1], [5])).toMatchObject({ s: 0, z: 0, senSlope: 0, n: 1 });
  });
});
