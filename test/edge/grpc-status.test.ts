import { status } from '@grpc/grpc-js';
import { createFileRegistry } from '@bufbuild/protobuf';
import { MESH_DEFAULTS } from '../../edge/envoy-options';
import { GRPC_TO_HTTP, httpStatusFor, statusJson } from '../../edge/grpc-status';
import { BadRequest, ErrorInfo } from '../../gen/ts/google/rpc/error_details';
import { Status } from '../../gen/ts/google/rpc/status';
import { meshDescriptor } from './helpers';

describe('gRPC -> HTTP status (Envoy grpcToHttpStatus)', () => {
  it.each([
    ['OK', status.OK, 200],
    ['CANCELLED', status.CANCELLED, 499],
    ['UNKNOWN', status.UNKNOWN, 500],
    ['INVALID_ARGUMENT', status.INVALID_ARGUMENT, 400],
    ['DEADLINE_EXCEEDED', status.DEADLINE_EXCEEDED, 504],
    ['NOT_FOUND', status.NOT_FOUND, 404],
    ['ALREADY_EXISTS', status.ALREADY_EXISTS, 409],
    ['PERMISSION_DENIED', status.PERMISSION_DENIED, 403],
    ['RESOURCE_EXHAUSTED', status.RESOURCE_EXHAUSTED, 429],
    ['FAILED_PRECONDITION', status.FAILED_PRECONDITION, 400],
    ['ABORTED', status.ABORTED, 409],
    ['OUT_OF_RANGE', status.OUT_OF_RANGE, 400],
    ['UNIMPLEMENTED', status.UNIMPLEMENTED, 501],
    ['INTERNAL', status.INTERNAL, 500],
    ['UNAVAILABLE', status.UNAVAILABLE, 503],
    ['DATA_LOSS', status.DATA_LOSS, 500],
    ['UNAUTHENTICATED', status.UNAUTHENTICATED, 401],
  ])('%s (%i) -> %i', (_name, code, http) => {
    expect(httpStatusFor(code)).toBe(http);
  });

  it('covers exactly the 17 codes and maps anything else to 500', () => {
    expect(Object.keys(GRPC_TO_HTTP)).toHaveLength(17);
    expect(httpStatusFor(17)).toBe(500);
    expect(httpStatusFor(-1)).toBe(500);
  });
});

describe('error body (convert_grpc_status)', () => {
  const { registry } = meshDescriptor();
  const badRequest = (violations: { field: string; description: string }[]) => ({
    typeUrl: 'type.googleapis.com/google.rpc.BadRequest',
    value: Buffer.from(BadRequest.encode({ fieldViolations: violations.map((v) => ({ ...v, reason: '', localizedMessage: undefined })) }).finish()),
  });

  it('prints the details trailer as google.rpc.Status with BadRequest resolved, in proto names', () => {
    const details = Status.encode({ code: 3, message: 'invalid request: quantity', details: [badRequest([{ field: 'quantity', description: 'must be positive' }])] }).finish();
    expect(statusJson(registry, MESH_DEFAULTS.print, 3, 'ignored when details exist', details)).toEqual({
      code: 3,
      message: 'invalid request: quantity',
      details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', field_violations: [{ field: 'quantity', description: 'must be positive', reason: '' }] }],
    });
  });

  it('prints fieldViolations in JSON names when preserve_proto_field_names is off', () => {
    const details = Status.encode({ code: 3, message: 'm', details: [badRequest([{ field: 'user_id', description: 'required' }])] }).finish();
    const json = statusJson(registry, { ...MESH_DEFAULTS.print, preserveProtoFieldNames: false, alwaysPrintPrimitiveFields: false }, 3, 'm', details);
    expect(json).toEqual({ code: 3, message: 'm', details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'user_id', description: 'required' }] }] });
  });

  it('builds the Status from grpc-status and grpc-message without a trailer', () => {
    expect(statusJson(registry, MESH_DEFAULTS.print, 5, 'order o-1 not found')).toEqual({ code: 5, message: 'order o-1 not found', details: [] });
  });

  it('falls back to grpc-status and grpc-message when a detail type is not in the descriptor set', () => {
    const details = Status.encode({ code: 9, message: 'm', details: [{ typeUrl: 'type.googleapis.com/acme.Unknown', value: Buffer.from([8, 1]) }] }).finish();
    expect(statusJson(registry, MESH_DEFAULTS.print, 9, 'from headers', details)).toEqual({ code: 9, message: 'from headers', details: [] });
  });

  it('resolves any detail type the set holds (ErrorInfo with its map)', () => {
    const info = { typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from(ErrorInfo.encode({ reason: 'R', domain: 'd', metadata: { k: 'v' } }).finish()) };
    const json = statusJson(registry, MESH_DEFAULTS.print, 7, 'm', Status.encode({ code: 7, message: 'm', details: [info] }).finish()) as { details: unknown[] };
    expect(json.details).toEqual([{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'R', domain: 'd', metadata: { k: 'v' } }]);
  });

  it('still answers in Status shape when google.rpc.Status is not in the set', () => {
    expect(statusJson(createFileRegistry(), MESH_DEFAULTS.print, 14, 'down')).toEqual({ code: 14, message: 'down', details: [] });
  });
});
