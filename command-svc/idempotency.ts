// Idempotent commands: a client that sends an idempotency key (gRPC metadata
// `idempotency-key`, HTTP header Idempotency-Key through the edge) and
// retries gets the first answer, and the retry creates nothing new. The key
// is claimed with an insert (unique _id) before the command runs, so two
// concurrent requests with one key cannot both run it.
import { createHash } from 'node:crypto';
import { Binary, type Collection, type Db } from 'mongodb';
import { ConcurrencyError, PreconditionError, Violations } from '../domain/errors';
import { principalOf } from '../lib/access';
import { isDuplicateKey } from '../lib/mongo';

export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

interface KeyDoc {
  _id: string;
  fingerprint: string;
  response?: Binary;
  created_at: Date;
}

const replays = new WeakSet<object>();
const markReplayed = <T>(response: T): T => (replays.add(response as object), response);
/** True for a response that is a retry's stored first answer: the command did not run again. */
export const isReplayed = (response: unknown) => typeof response === 'object' && response !== null && replays.has(response);

const WAIT_FOR_FIRST_MS = 10_000;
/** A claim this old without an answer was abandoned (its process died). */
const ABANDONED_AFTER_MS = 30_000;
const MAX_KEY_LENGTH = 200;

export class IdempotencyStore {
  private readonly keys: Collection<KeyDoc>;

  constructor(db: Db) {
    this.keys = db.collection<KeyDoc>('idempotency_keys');
  }

  /** Wraps a handler so that a repeated key returns the stored response. */
  wrap<Req, Res>(method: string, req: Codec<Req>, res: Codec<Res>, fn: (r: Req, md: Record<string, string>) => Promise<Res>) {
    return async (request: Req, md: Record<string, string>): Promise<Res> => {
      const key = md['idempotency-key'];
      if (!key) return fn(request, md);
      new Violations().check(key.length <= MAX_KEY_LENGTH, 'idempotency-key', `must be at most ${MAX_KEY_LENGTH} characters`).throwIfAny();
      // A key is the caller's own: another caller's key with the same request must not replay its answer.
      const owner = principalOf(md)?.subject;
      const _id = owner === undefined ? `${method}:${key}` : `${method}:${owner}:${key}`;
      const fingerprint = createHash('sha256').update(req.encode(request).finish()).digest('hex');
      try {
        await this.keys.insertOne({ _id, fingerprint, created_at: new Date() });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const first = await this.firstAnswer(_id, fingerprint);
        if (first) return markReplayed(res.decode(first));
      }
      try {
        const response = await fn(request, md);
        await this.keys.updateOne({ _id }, { $set: { response: new Binary(res.encode(response).finish()) } });
        return response;
      } catch (err) {
        // Refused or failed: free the key so a corrected retry can run.
        await this.keys.deleteOne({ _id }).catch(() => undefined);
        throw err;
      }
    };
  }

  /** The stored answer, or undefined when the first claim was abandoned and this request takes it over. */
  private async firstAnswer(_id: string, fingerprint: string): Promise<Uint8Array | undefined> {
    const deadline = Date.now() + WAIT_FOR_FIRST_MS;
    for (;;) {
      const doc = await this.keys.findOne({ _id });
      if (doc && doc.fingerprint !== fingerprint) {
        throw new PreconditionError('idempotency key already used for a different request');
      }
      if (doc?.response) return doc.response.buffer;
      if (doc && Date.now() - doc.created_at.getTime() > ABANDONED_AFTER_MS) {
        // Commands keyed this way are deterministic (CreateOrder derives its
        // order id from the key), so running again cannot create a second order.
        await this.keys.replaceOne({ _id }, { fingerprint, created_at: new Date() });
        return undefined;
      }
      if (!doc || Date.now() > deadline) throw new ConcurrencyError('a request with this idempotency key is still in progress; retry');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
