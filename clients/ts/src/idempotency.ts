// Idempotency keys for commands. command-svc reads gRPC metadata
// `idempotency-key` (at most 200 characters): a repeated key gets the first
// answer and acts once, which is what makes a command safe to retry.
import { createHash, randomUUID } from 'node:crypto';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/** A fresh key: make it once per intended action and reuse it for every retry of that action. */
export function idempotencyKey(): string {
  return randomUUID();
}

/**
 * A key derived from what identifies the action, e.g. ('billing', 'ship',
 * event.envelope.eventId): a consumer that sees the same event again (the
 * broker redelivers) sends the same key, so the mesh acts once.
 */
export function idempotencyKeyFrom(...parts: Array<string | number>): string {
  if (parts.length === 0) throw new Error('idempotencyKeyFrom needs at least one part');
  return createHash('sha256').update(JSON.stringify(parts.map(String))).digest('hex');
}
