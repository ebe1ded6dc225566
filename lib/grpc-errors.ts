// The one place domain errors become gRPC statuses. Field violations travel
// as google.rpc.BadRequest in grpc-status-details-bin, which the edge (like
// Envoy with convert_grpc_status) turns into the REST error body.
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { BadRequest } from '../gen/ts/google/rpc/error_details';
import { Status } from '../gen/ts/google/rpc/status';
import { isTransient } from './mongo';
import { StatusError } from './status-error';
import { ConcurrencyError, NotFoundError, PreconditionError, ValidationError, type FieldViolation } from '../domain/errors';

export function grpcError(code: status, message: string, violations: FieldViolation[] = []): ServiceError {
  const metadata = new Metadata();
  const details = violations.length
    ? [
        {
          typeUrl: 'type.googleapis.com/google.rpc.BadRequest',
          value: Buffer.from(BadRequest.encode({ fieldViolations: violations.map((v) => ({ ...v, reason: '', localizedMessage: undefined })) }).finish()),
        },
      ]
    : [];
  metadata.set('grpc-status-details-bin', Buffer.from(Status.encode({ code, message, details }).finish()));
  return Object.assign(new Error(message), { code, details: message, metadata });
}

/** Known errors keep their meaning; anything else is INTERNAL and logged by the caller. */
export function toGrpcError(err: unknown): ServiceError {
  if (err instanceof StatusError) return withTrailers(grpcError(err.code, err.message), err.trailers);
  if (err instanceof ValidationError) return grpcError(status.INVALID_ARGUMENT, `invalid request: ${err.message}`, err.violations);
  if (err instanceof NotFoundError) return grpcError(status.NOT_FOUND, err.message);
  if (err instanceof PreconditionError) return grpcError(status.FAILED_PRECONDITION, err.message);
  if (err instanceof ConcurrencyError) return grpcError(status.ABORTED, err.message);
  if (err instanceof UnavailableError) return grpcError(status.UNAVAILABLE, err.message);
  if (err instanceof BehindError) return grpcError(status.DEADLINE_EXCEEDED, err.message);
  if (isTransient(err)) return grpcError(status.UNAVAILABLE, 'store unavailable; retry');
  return grpcError(status.INTERNAL, 'internal error');
}

function withTrailers(e: ServiceError, trailers: Record<string, string>): ServiceError {
  for (const [k, v] of Object.entries(trailers)) e.metadata.set(k, v);
  return e;
}

export const isInternal = (err: unknown) =>
  !isTransient(err) && !(err instanceof StatusError || err instanceof ValidationError || err instanceof NotFoundError || err instanceof PreconditionError || err instanceof ConcurrencyError || err instanceof UnavailableError || err instanceof BehindError);

/** A dependency (store, broker) is down: the client may retry. */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
}

/** A read model did not reach what a consistency token asks within the wait: DEADLINE_EXCEEDED. */
export class BehindError extends Error {
  override name = 'BehindError';
}
