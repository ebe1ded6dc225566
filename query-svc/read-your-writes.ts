// Read-your-writes: a query given a command's consistency token answers
// only once every read model it reads reflects the positions the token
// names, waiting at most a bounded time; past that it is DEADLINE_EXCEEDED
// naming the read model that is behind, never a stale answer. What "reflects"
// means is exact, from what the projector stores: an order document's
// version; for the documents derived from orders (a user's summary and order
// list, the statistics) the version of the contribution stored with the
// order, written after them; a product's inventory document's version.
import type { CallContext } from '../lib/grpc-server';
import { Violations, ValidationError } from '../domain/errors';
import { parseStream } from '../domain/events';
import { decodeConsistencyToken, TOKEN_FIELD, type StreamPosition } from '../lib/consistency-token';
import { BehindError } from '../lib/grpc-errors';
import type { ReadStore } from '../lib/read-store';
import { contributionVersion, numericKey } from '../read-models';
import type { ProjectionWaits } from './projection-waits';

export const DEFAULT_WAIT_MS = 5_000;
export const MAX_WAIT_MS = 10_000;
/** The answer must leave before the caller's own deadline cuts the call. */
const DEADLINE_MARGIN_MS = 50;
const WAIT_FIELD = 'consistency_wait_ms';

/** What a query reads, as far as a token can concern it. */
export interface Reads {
  /** Order documents: one order's, or every order's (a list) without an id. */
  orders?: { id?: string };
  /** Documents derived from orders: one user's (others' orders are no concern) or everyone's. */
  derived?: { model: string; userId?: number };
  /** Inventory documents: one product's, or every product's without an id. */
  inventory?: { productId?: number };
}

export interface ConsistencyFields {
  consistencyToken: string;
  consistencyWaitMs: number;
}

interface Requirement {
  model: string;
  position: StreamPosition;
  /** The version the read model reflects now (Infinity: the stream does not concern it). */
  current(): Promise<number>;
}

export class ReadYourWrites {
  constructor(
    private readonly read: ReadStore,
    private readonly waits: ProjectionWaits,
  ) {}

  /** Returns once `reads` reflect the request's token (at once without one). */
  async reach(req: ConsistencyFields, reads: Reads, call?: Pick<CallContext, 'signal' | 'deadline'>): Promise<void> {
    const want = consistencyOf(req);
    if (!want) return;
    let pending = want.positions.flatMap((p) => this.requirements(p, reads));
    if (pending.length === 0) return;
    const started = Date.now();
    const until = Math.min(started + want.waitMs, Number(call?.deadline ?? Infinity) - DEADLINE_MARGIN_MS);
    const signal = call?.signal ?? new AbortController().signal;
    for (;;) {
      const levels = await Promise.all(pending.map((r) => r.current()));
      const behind = pending.map((r, i) => ({ r, at: levels[i] })).filter((b) => b.at < b.r.position.version);
      if (behind.length === 0) return;
      if (Date.now() >= until || signal.aborted) throw behindError(behind[0].r, behind[0].at, Date.now() - started);
      pending = behind.map((b) => b.r);
      await this.waits.next(pending.map((r) => r.position), until, signal);
    }
  }

  private requirements(position: StreamPosition, reads: Reads): Requirement[] {
    const ref = parseStream(position.streamId);
    const out: Requirement[] = [];
    if (ref?.kind === 'order') {
      const id = ref.id;
      if (reads.orders && (reads.orders.id === undefined || reads.orders.id === id)) {
        out.push({ model: 'order', position, current: async () => (await this.read.orders.findOne({ _id: id }, { projection: { version: 1 } }))?.version ?? 0 });
      }
      const derived = reads.derived;
      if (derived) {
        out.push({
          model: derived.model,
          position,
          current: async () => {
            const doc = await this.read.orders.findOne({ _id: id }, { projection: { user_id: 1, contrib: 1 } });
            if (doc && derived.userId !== undefined && doc.user_id !== derived.userId) return Infinity;
            return contributionVersion(doc?.contrib);
          },
        });
      }
    } else if (ref?.kind === 'product') {
      const productId = ref.id;
      if (reads.inventory && (reads.inventory.productId === undefined || reads.inventory.productId === productId)) {
        out.push({ model: 'inventory', position, current: async () => (await this.read.inventory.findOne({ _id: numericKey(productId) }, { projection: { version: 1 } }))?.version ?? 0 });
      }
    }
    return out;
  }
}

/** The token's positions and the wait, validated; undefined without a token. */
export function consistencyOf(req: ConsistencyFields): { positions: StreamPosition[]; waitMs: number } | undefined {
  const v = new Violations();
  const wait = req.consistencyWaitMs;
  v.check(Number.isInteger(wait) && wait >= 0 && wait <= MAX_WAIT_MS, WAIT_FIELD, `must be 0 (the default, ${DEFAULT_WAIT_MS} ms) to ${MAX_WAIT_MS} milliseconds`);
  let positions: StreamPosition[] = [];
  if (req.consistencyToken) {
    try {
      positions = decodeConsistencyToken(req.consistencyToken);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      for (const x of err.violations) v.add(x.field, x.description);
    }
  }
  v.throwIfAny();
  return req.consistencyToken ? { positions, waitMs: wait || DEFAULT_WAIT_MS } : undefined;
}

function behindError(r: Requirement, at: number, waitedMs: number): BehindError {
  const { streamId, version } = r.position;
  return new BehindError(
    `the ${r.model} read model is behind: it reflects ${streamId} up to version ${at}, ${TOKEN_FIELD} needs ${version} (waited ${waitedMs} ms; ${WAIT_FIELD} allows up to ${MAX_WAIT_MS})`,
  );
}
