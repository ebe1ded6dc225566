// Typed domain errors. Domain code throws these; one place at the gRPC
// boundary (lib/grpc-errors.ts) turns them into status codes.

export interface FieldViolation {
  field: string;
  description: string;
}

/** Malformed input: INVALID_ARGUMENT with every bad field named. */
export class ValidationError extends Error {
  constructor(readonly violations: FieldViolation[]) {
    super(violations.map((v) => `${v.field}: ${v.description}`).join('; '));
    this.name = 'ValidationError';
  }
}

/** An aggregate that does not exist: NOT_FOUND. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The aggregate's state refuses the command: FAILED_PRECONDITION. */
export class PreconditionError extends Error {
  override name = 'PreconditionError';
}

/** Someone else appended to the stream first: ABORTED after retries. */
export class ConcurrencyError extends Error {
  override name = 'ConcurrencyError';
}

/** Collects violations so a client learns about every bad field at once. */
export class Violations {
  private readonly list: FieldViolation[] = [];
  add(field: string, description: string): this {
    this.list.push({ field, description });
    return this;
  }
  check(ok: boolean, field: string, description: string): this {
    return ok ? this : this.add(field, description);
  }
  throwIfAny(): void {
    if (this.list.length) throw new ValidationError(this.list);
  }
}
