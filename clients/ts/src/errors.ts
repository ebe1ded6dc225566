// A failed call, as a typed error. The mesh sends field violations as
// google.rpc.BadRequest inside a google.rpc.Status in the
// grpc-status-details-bin trailer (the standard "rich error" model); this
// decodes it so callers read `err.fieldViolations` instead of bytes.
import { status as Code, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { BadRequest } from './gen/google/rpc/error_details';
import { Status } from './gen/google/rpc/status';

const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';
const DETAILS_KEY = 'grpc-status-details-bin';

export interface FieldViolation {
  /** The request field, as the proto names it (e.g. "quantity", "items[0].product_id"). */
  field: string;
  description: string;
}

/** Any call the mesh (or the channel) refused: the gRPC code, its name and the message. */
export class MeshError extends Error {
  override name = 'MeshError';
  /** e.g. "NOT_FOUND", "FAILED_PRECONDITION". */
  readonly codeName: string;

  constructor(
    readonly code: Code,
    message: string,
    /** The response trailers, for anything not decoded here. */
    readonly metadata: Metadata | undefined,
    /** The decoded google.rpc.Status, when the server sent one. */
    readonly status: Status | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.codeName = Code[code] ?? `CODE_${code}`;
  }
}

/** INVALID_ARGUMENT: the request named in `fieldViolations` is wrong; retrying it as is cannot help. */
export class InvalidArgumentError extends MeshError {
  override name = 'InvalidArgumentError';

  constructor(
    message: string,
    metadata: Metadata | undefined,
    status: Status | undefined,
    readonly fieldViolations: FieldViolation[],
    options?: { cause?: unknown },
  ) {
    super(Code.INVALID_ARGUMENT, message, metadata, status, options);
  }
}

/** The google.rpc.Status of a failed call, or undefined when absent or not decodable. */
export function statusDetails(metadata: Metadata | undefined): Status | undefined {
  const raw = metadata?.get(DETAILS_KEY)[0];
  if (!raw || typeof raw === 'string') return undefined;
  try {
    return Status.decode(raw);
  } catch {
    // Bad bytes in a trailer must not hide the error itself.
    return undefined;
  }
}

/** Every field violation of every BadRequest detail. */
export function fieldViolations(status: Status | undefined): FieldViolation[] {
  const out: FieldViolation[] = [];
  for (const any of status?.details ?? []) {
    if (any.typeUrl !== BAD_REQUEST_TYPE) continue;
    try {
      for (const v of BadRequest.decode(any.value).fieldViolations) out.push({ field: v.field, description: v.description });
    } catch {
      /* a detail that does not decode is skipped, the others still count */
    }
  }
  return out;
}

/** A grpc-js ServiceError (or anything thrown by a call) as a MeshError. */
export function toMeshError(err: unknown): MeshError {
  if (err instanceof MeshError) return err;
  const e = err as Partial<ServiceError>;
  if (typeof e?.code !== 'number') return new MeshError(Code.UNKNOWN, (err as Error)?.message ?? String(err), undefined, undefined, { cause: err });
  const status = statusDetails(e.metadata);
  // grpc-js prefixes "3 INVALID_ARGUMENT: "; `details` is the server's own message.
  const message = e.details || status?.message || e.message || Code[e.code];
  if (e.code === Code.INVALID_ARGUMENT) return new InvalidArgumentError(message, e.metadata, status, fieldViolations(status), { cause: err });
  return new MeshError(e.code, message, e.metadata, status, { cause: err });
}
