// An error that already is a gRPC answer: its status code, message and
// trailing metadata (e.g. `retry-after`) go to the client as they are
// (lib/grpc-errors.ts toGrpcError).
import type { status } from '@grpc/grpc-js';

export class StatusError extends Error {
  override name = 'StatusError';
  constructor(
    readonly code: status,
    message: string,
    readonly trailers: Record<string, string> = {},
  ) {
    super(message);
  }
}
