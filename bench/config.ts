// How long and how big each mode runs. `full` is the default (under ~15
// minutes on a 2-core machine), `quick` ends in about a minute or two, and
// `smoke` (the test suite's) in seconds, with the same code paths.
export type Mode = 'smoke' | 'quick' | 'full';

export const WORKLOADS = ['baselines', 'commands', 'projection', 'queries', 'growth'] as const;
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
  /** How long each sustained rate is held (split into `repeats` segments). */
  holdMs: number;
  /** Synthetic events queued for each projector drain measurement. */
  drainEvents: number;
  /** Closed-loop saturation for the end-to-end and keep-up figures. */
  saturationMs: number;
  /** Lag probes poll GetOrder this often. */
  lagPollMs: number;
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
}

const full: Profile = {
  mode: 'full',
  repeats: 3,
  warmupMs: 1_000,
  stepMs: 4_000,
  concurrencies: [1, 4, 16, 64],
  products: 200,
  users: 2_000,
  holdMs: 40_000,
  drainEvents: 1_000,
  saturationMs: 12_000,
  lagPollMs: 10,
  queryConcurrency: 8,
  queryStepMs: 2_500,
  slowQueryMs: 250,
  slowQueryBudgetMs: 15_000,
  minSlowSamples: 2,
  growthSizes: [10_000, 100_000],
  ordersPerUser: 20,
  baselineStepMs: 1_500,
  consumeCount: 3_000,
  brokerLatencyRate: 200,
  codecMs: 500,
  quietTimeoutMs: 6_000,
  holdDrainCapMs: 20_000,
  syntheticCapMs: 20_000,
  saturationRepeats: 1,
  drainRepeats: 1,
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
  drainEvents: 200,
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
};

const smoke: Profile = {
  ...quick,
  mode: 'smoke',
  repeats: 1,
  warmupMs: 100,
  stepMs: 250,
  concurrencies: [1, 4],
  products: 10,
  users: 50,
  holdMs: 1_000,
  drainEvents: 24,
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
};

export const PROFILES: Record<Mode, Profile> = { smoke, quick, full };
