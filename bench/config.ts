// How long and how big each mode runs. `full` is the default (about 19
// minutes on a 2-core machine), `quick` ends in a few minutes, and `smoke`
// (the test suite's) in well under a minute, with the same code paths.
export type Mode = 'smoke' | 'quick' | 'full';

export const WORKLOADS = ['baselines', 'commands', 'roundtrips', 'projection', 'queries', 'growth', 'bursts', 'overhead'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface Profile {
  mode: Mode;
  repeats: number;
  warmupMs: number;
  /** Measured time of one closed-loop step. */
  stepMs: number;
  concurrencies: number[];
  /** Products stocked for the order workloads. */
  products: number;
  /** Users the commands spread over. */
  users: number;
  /** How long the 80% rate is held (split into `repeats` segments); the lag target wants ≥ 60 s in the full run. */
  holdMs: number;
  /** How long the 50% rate is held. */
  hold50Ms: number;
  /**
   * Load at a hold's rate before it is measured: a hold starts from an idle
   * projector, and the lag climbs to the level its batches settle at (tens
   * of seconds at 80%). The trend the lag target asks about is the settled one.
   */
  holdWarmupMs: number;
  /** Synthetic events queued for each projector drain measurement. */
  drainEvents: number;
  /** Closed-loop saturation for the end-to-end and keep-up figures. */
  saturationMs: number;
  /** One acknowledged order in this many ms gets a lag probe (GetOrder until it is visible). */
  lagProbeEveryMs: number;
  /** Longest wait for a restarted service's readiness line (the launcher gives up after 30 s). */
  restartReadyCapMs: number;
  /** Store round trips: orders created (then paid) as a sustained load, and how many in flight. */
  roundtripOrders: number;
  roundtripConcurrency: number;
  /** Quiet time measured before, for the services' background round trips (health, pointer refresh, relay). */
  roundtripIdleMs: number;
  /** Longest wait for a phase (create, pay) to be fully projected. */
  roundtripCapMs: number;
  /** Bursts and the flash sale: CreateOrder through the edge at `burstConcurrency` for `burstMs`. */
  burstMs: number;
  burstConcurrency: number;
  burstProducts: number;
  /** Longest wait for a burst's backlog to be worked off. */
  burstCapMs: number;
  /** Largest document per collection: reading a collection stops after this long (then it is a sample). */
  docScanBudgetMs: number;
  queryConcurrency: number;
  queryStepMs: number;
  /** A query slower than this per call is measured one call at a time, within `slowQueryBudgetMs`. */
  slowQueryMs: number;
  slowQueryBudgetMs: number;
  minSlowSamples: number;
  /** Orders in the read store for the query workload and the growth step. */
  growthSizes: [number, number];
  ordersPerUser: number;
  baselineStepMs: number;
  consumeCount: number;
  brokerLatencyRate: number;
  codecMs: number;
  /** Longest wait for the system to drain between steps (a slow projector must not stall the run). */
  quietTimeoutMs: number;
  /** Longest wait for the drain after a sustained hold or a saturation run. */
  holdDrainCapMs: number;
  /** Longest a synthetic backlog drain is measured. */
  syntheticCapMs: number;
  saturationRepeats: number;
  drainRepeats: number;
  /**
   * Observability overhead: rounds of every variant, each a closed loop through the edge of
   * `overheadStepMs` at `overheadConcurrency`, then as long at a fixed `overheadRatePerSec`.
   */
  overheadRounds: number;
  overheadStepMs: number;
  overheadConcurrency: number;
  overheadRatePerSec: number;
}

const full: Profile = {
  mode: 'full',
  repeats: 3,
  warmupMs: 1_000,
  stepMs: 3_000,
  concurrencies: [1, 4, 16, 64],
  products: 200,
  users: 2_000,
  holdMs: 60_000,
  hold50Ms: 20_000,
  holdWarmupMs: 20_000,
  drainEvents: 1_000,
  saturationMs: 12_000,
  lagProbeEveryMs: 100,
  restartReadyCapMs: 120_000,
  roundtripOrders: 2_000,
  roundtripConcurrency: 32,
  roundtripIdleMs: 3_000,
  roundtripCapMs: 90_000,
  burstMs: 15_000,
  burstConcurrency: 64,
  burstProducts: 50,
  burstCapMs: 30_000,
  docScanBudgetMs: 8_000,
  queryConcurrency: 8,
  queryStepMs: 2_000,
  slowQueryMs: 250,
  slowQueryBudgetMs: 15_000,
  minSlowSamples: 2,
  growthSizes: [10_000, 100_000],
  ordersPerUser: 20,
  baselineStepMs: 1_200,
  consumeCount: 3_000,
  brokerLatencyRate: 200,
  codecMs: 500,
  quietTimeoutMs: 6_000,
  holdDrainCapMs: 15_000,
  syntheticCapMs: 20_000,
  saturationRepeats: 1,
  drainRepeats: 1,
  overheadRounds: 3,
  overheadStepMs: 8_000,
  overheadConcurrency: 16,
  overheadRatePerSec: 40,
};

const quick: Profile = {
  ...full,
  mode: 'quick',
  repeats: 1,
  warmupMs: 300,
  stepMs: 1_000,
  products: 50,
  users: 500,
  holdMs: 5_000,
  hold50Ms: 5_000,
  holdWarmupMs: 2_000,
  drainEvents: 200,
  restartReadyCapMs: 90_000,
  roundtripOrders: 200,
  roundtripIdleMs: 2_000,
  roundtripCapMs: 45_000,
  burstMs: 4_000,
  burstCapMs: 25_000,
  docScanBudgetMs: 5_000,
  saturationMs: 2_000,
  queryConcurrency: 4,
  queryStepMs: 700,
  slowQueryBudgetMs: 3_000,
  minSlowSamples: 2,
  growthSizes: [1_000, 10_000],
  baselineStepMs: 600,
  consumeCount: 1_000,
  brokerLatencyRate: 100,
  codecMs: 250,
  quietTimeoutMs: 2_000,
  holdDrainCapMs: 5_000,
  syntheticCapMs: 5_000,
  saturationRepeats: 1,
  drainRepeats: 1,
  overheadRounds: 2,
  overheadStepMs: 4_000,
};

const smoke: Profile = {
  ...quick,
  mode: 'smoke',
  repeats: 1,
  warmupMs: 100,
  // Long enough for a few CreateOrders at c=4 on a CI box busy with other suites (at 250 ms a step once measured none).
  stepMs: 600,
  concurrencies: [1, 4],
  products: 10,
  users: 50,
  holdMs: 1_000,
  hold50Ms: 1_000,
  holdWarmupMs: 300,
  // Enough queued events that the prefetch-1 restart happens behind a real backlog.
  drainEvents: 60,
  lagProbeEveryMs: 50,
  // The launcher's own 30 s: a restart that is not ready by then fails the smoke test.
  restartReadyCapMs: 30_000,
  roundtripOrders: 30,
  roundtripConcurrency: 8,
  roundtripIdleMs: 800,
  roundtripCapMs: 20_000,
  burstMs: 1_000,
  burstConcurrency: 16,
  burstProducts: 10,
  burstCapMs: 15_000,
  docScanBudgetMs: 2_000,
  saturationMs: 500,
  queryConcurrency: 2,
  queryStepMs: 150,
  slowQueryBudgetMs: 600,
  minSlowSamples: 1,
  growthSizes: [100, 300],
  ordersPerUser: 10,
  baselineStepMs: 120,
  consumeCount: 60,
  brokerLatencyRate: 50,
  codecMs: 30,
  quietTimeoutMs: 3_000,
  holdDrainCapMs: 5_000,
  syntheticCapMs: 5_000,
  overheadRounds: 1,
  overheadStepMs: 500,
  overheadConcurrency: 4,
  overheadRatePerSec: 20,
};

export const PROFILES: Record<Mode, Profile> = { smoke, quick, full };
