// An error that already is a gRPC answer: its status code, message and
// trailing metadata (e.g. `retry-after`) go to the client as they are.
import type { ServiceError, status } from '@grpc/grpc-js';
import { grpcError } from './grpc-errors';

export class StatusError extends Error {
  override name = 'StatusError';
  constructor(
    readonly code: status,
    message: string,
    readonly trailers: Record<string, string> = {},
  ) {
    super(message);
  }

  toServiceError(): ServiceError {
    const e = grpcError(this.code, this.message);
    for (const [k, v] of Object.entries(this.trailers)) e.metadata.set(k, v);
    return e;
  }
}
