// The package's surface. Generated code (src/gen, from the mesh's proto/) is
// re-exported as is: the ts-proto grpc-js clients CommandServiceClient and
// QueryServiceClient, their service definitions, every message and enum.
export * from './gen/cqrs/v1/common';
export * from './gen/cqrs/v1/read_models';
export * from './gen/cqrs/v1/events';
export * from './gen/cqrs/v1/command_service';
export * from './gen/cqrs/v1/query_service';
export { BadRequest } from './gen/google/rpc/error_details';
export { Status } from './gen/google/rpc/status';

export * from './errors';
export * from './retry';
export * from './idempotency';
export * from './promise-client';
export * from './events';
export * from './topology';
export * from './subscriber';
export * from './dead-letters';
