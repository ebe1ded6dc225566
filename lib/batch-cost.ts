// How long a batch consumer's batches take: a fixed cost per batch (the
// sequential store round trips every batch pays, whatever its size) plus a
// cost per event. An events-per-ms average taken from small batches says a
// backlog drains at small batches' pace, when the batches that drain it are
// large: the read-side gate, told so, held commands the projector had room
// for, so its batches stayed small and its rate looked low. Fitted by least
// squares over the recent batches, older ones weighing less.
//
// A batch counts for at most a few times what the model (or, before any
// batch, a fast guess) predicted for it: one batch that sat out a stalled
// store or a paused process says nothing about the pace, and counted whole it
// made the projector look slow for many batches, during which the gate held
// every client command. A real slowdown is learnt within a few batches.
export interface BatchFit {
  fixedMs: number;
  perEventMs: number;
}

/** The most a batch counts for: this many times its predicted cost, plus SLACK_MS. */
const MAX_SURPRISE = 4;
const SLACK_MS = 50;
/** Before any batch: a fast store's cost per event. */
const GUESS_MS_PER_EVENT = 1;

export class BatchCost {
  private w = 0;
  private sn = 0;
  private st = 0;
  private snn = 0;
  private snt = 0;

  /** `keep`: the weight a batch keeps each time another is noted. */
  constructor(private readonly keep = 0.9) {}

  note(events: number, ms: number): void {
    const predicted = this.drainMs(events, Infinity) ?? events * GUESS_MS_PER_EVENT;
    ms = Math.min(ms, MAX_SURPRISE * predicted + SLACK_MS);
    const k = this.keep;
    this.w = this.w * k + 1;
    this.sn = this.sn * k + events;
    this.st = this.st * k + ms;
    this.snn = this.snn * k + events * events;
    this.snt = this.snt * k + events * ms;
  }

  /** Undefined until a batch was noted. */
  fit(): BatchFit | undefined {
    if (this.w === 0) return undefined;
    const n = this.sn / this.w;
    const t = this.st / this.w;
    const varN = this.snn / this.w - n * n;
    // Batches of (nearly) one size cannot tell the two costs apart: count it all per event.
    if (varN < 1) return { fixedMs: 0, perEventMs: t / Math.max(n, 1) };
    const slope = (this.snt / this.w - n * t) / varN;
    if (slope <= 0) return { fixedMs: t, perEventMs: 0 };
    const fixed = t - slope * n;
    if (fixed < 0) return { fixedMs: 0, perEventMs: t / Math.max(n, 1) };
    return { fixedMs: fixed, perEventMs: slope };
  }

  /** How long `events` take in batches of at most `maxBatch`; undefined until a batch was noted. */
  drainMs(events: number, maxBatch: number): number | undefined {
    const f = this.fit();
    if (!f) return undefined;
    if (events <= 0) return 0;
    return Math.ceil(events / maxBatch) * f.fixedMs + events * f.perEventMs;
  }

  /** Milliseconds per event at full batches: the pace at which more load would be taken in. */
  msPerEvent(maxBatch: number): number | undefined {
    const ms = this.drainMs(maxBatch, maxBatch);
    return ms === undefined ? undefined : ms / maxBatch;
  }
}
