// gRPC status -> HTTP, as Envoy maps it (Grpc::Utility::grpcToHttpStatus),
// and the error body Envoy's convert_grpc_status produces: the
// google.rpc.Status from grpc-status-details-bin, details resolved through
// the descriptor set, printed with the transcoder's print options.
import { create, fromBinary, toJson, type DescMessage, type JsonValue, type Registry } from '@bufbuild/protobuf';
import type { PrintOptions } from './envoy-options';
import { jsonWriteOptions } from './json';

export const GRPC_TO_HTTP: Readonly<Record<number, number>> = {
  0: 200, // OK
  1: 499, // CANCELLED (client closed request)
  2: 500, // UNKNOWN
  3: 400, // INVALID_ARGUMENT
  4: 504, // DEADLINE_EXCEEDED
  5: 404, // NOT_FOUND
  6: 409, // ALREADY_EXISTS
  7: 403, // PERMISSION_DENIED
  8: 429, // RESOURCE_EXHAUSTED
  9: 400, // FAILED_PRECONDITION
  10: 409, // ABORTED
  11: 400, // OUT_OF_RANGE
  12: 501, // UNIMPLEMENTED
  13: 500, // INTERNAL
  14: 503, // UNAVAILABLE
  15: 500, // DATA_LOSS
  16: 401, // UNAUTHENTICATED
};

/** Codes outside 0..16 are not gRPC statuses Envoy knows: 500, like UNKNOWN. */
export const httpStatusFor = (code: number): number => GRPC_TO_HTTP[code] ?? 500;

const STATUS = 'google.rpc.Status';

/**
 * The google.rpc.Status JSON for an error. With a details trailer that is
 * the Status itself (code, message and typed details such as BadRequest);
 * without one, or if its details cannot be printed (a type missing from the
 * descriptor set), a Status is built from grpc-status and grpc-message.
 */
export function statusJson(registry: Registry, print: PrintOptions, code: number, message: string, details?: Uint8Array): JsonValue {
  const schema = registry.getMessage(STATUS);
  if (!schema) return { code, message, details: [] };
  if (details?.length) {
    try {
      return toJson(schema, fromBinary(schema, details), jsonWriteOptions(print, registry));
    } catch {
      // fall through: a Status from the headers is better than no body
    }
  }
  return fromHeaders(schema, registry, print, code, message);
}

function fromHeaders(schema: DescMessage, registry: Registry, print: PrintOptions, code: number, message: string): JsonValue {
  return toJson(schema, create(schema, { code, message }), jsonWriteOptions(print, registry));
}

/**
 * A `retry-after` (whole seconds) the service sent with its error, as the
 * HTTP Retry-After header. Envoy passes it through the same way: grpc-js
 * answers an error before any message as trailers-only, so the metadata is
 * in the response headers Envoy forwards.
 */
export function retryAfterOf(metadata: { get(key: string): Array<string | Buffer> }): string | undefined {
  const v = metadata.get('retry-after')[0];
  return typeof v === 'string' && /^\d{1,9}$/.test(v) ? v : undefined;
}
