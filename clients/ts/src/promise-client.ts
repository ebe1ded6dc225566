// The promise API over the generated grpc-js clients: one async method per
// unary RPC of the service definition (so a new RPC in proto/ appears here
// with no hand-written line), requests given partially and completed with
// the generated fromPartial, a default deadline per call, retries by
// retry.ts, and failures as MeshError / InvalidArgumentError.
import { credentials as grpcCredentials, Metadata, type ChannelCredentials, type Client, type ClientOptions, type ServiceError } from '@grpc/grpc-js';
import * as commandApi from './gen/cqrs/v1/command_service';
import * as queryApi from './gen/cqrs/v1/query_service';
import { toMeshError } from './errors';
import { IDEMPOTENCY_KEY_HEADER } from './idempotency';
import { DEFAULT_RETRY, withRetries, type RetryPolicy } from './retry';

/** A request with any field left out; left-out fields take their proto3 defaults. */
export type PartialMessage<T> = T extends Date | Uint8Array
  ? T
  : T extends Array<infer U>
    ? Array<PartialMessage<U>>
    : T extends { $case: string; value: unknown }
      ? { $case: T['$case']; value: PartialMessage<T['value']> }
      : T extends object
        ? { [K in keyof T]?: PartialMessage<T[K]> }
        : T;

export interface CallOptions {
  /** Milliseconds for the whole call, retries included (default: the client's). */
  deadlineMs?: number;
  /** Makes a command safe to retry (see idempotencyKey()); reads need none. */
  idempotencyKey?: string;
  /** Sent as x-request-id: the mesh's correlation id for every event the command causes. */
  requestId?: string;
  metadata?: Record<string, string>;
  /** Overrides the client's retry policy for this call. */
  retry?: Partial<RetryPolicy>;
}

export interface ClientConfig {
  credentials?: ChannelCredentials;
  /** Default deadline of a call, retries included. */
  deadlineMs?: number;
  retry?: Partial<RetryPolicy>;
  channelOptions?: ClientOptions;
}

type UnaryDefinition = { path: string; requestStream: false; responseStream: false; requestSerialize(value: never): Buffer; responseDeserialize(value: Buffer): unknown };
type RequestOf<M> = M extends { requestSerialize(value: infer R): Buffer } ? R : never;
type ResponseOf<M> = M extends { responseDeserialize(value: Buffer): infer R } ? R : never;

/** One promise-returning method per unary RPC of a service definition. */
export type PromiseMethods<D> = {
  [K in keyof D as D[K] extends UnaryDefinition ? K : never]: (request?: PartialMessage<RequestOf<D[K]>>, options?: CallOptions) => Promise<ResponseOf<D[K]>>;
};

type Callback = (err: ServiceError | null, res: unknown) => void;
type RawUnary = (req: unknown, md: Metadata, opts: { deadline: Date }, cb: Callback) => unknown;
interface MessageCodec {
  fromPartial(object: unknown): unknown;
}

/** Reads, by the API naming rules buf lint holds proto/ to: safe to repeat. */
export const isReadMethod = (method: string) => /^(get|list)[A-Z]/.test(method);

function build<D extends object, C extends Client>(
  definition: D,
  messages: Record<string, unknown>,
  raw: C,
  config: ClientConfig,
  defaultDeadlineMs: number,
): PromiseMethods<D> {
  const methods: Record<string, (req?: unknown, o?: CallOptions) => Promise<unknown>> = {};
  for (const [name, def] of Object.entries(definition) as Array<[string, { requestStream: boolean; responseStream: boolean }]>) {
    if (def.requestStream || def.responseStream) continue;
    // buf lint (RPC_REQUEST_STANDARD_NAME) holds every request to "<Method>Request".
    const codec = messages[`${name.charAt(0).toUpperCase()}${name.slice(1)}Request`] as MessageCodec | undefined;
    if (!codec?.fromPartial) throw new Error(`no request message for ${name}`);
    const call = (raw as unknown as Record<string, RawUnary>)[name];
    methods[name] = async (request = {}, o = {}) => {
      const md = new Metadata();
      for (const [k, v] of Object.entries(o.metadata ?? {})) md.set(k, v);
      if (o.idempotencyKey) md.set(IDEMPOTENCY_KEY_HEADER, o.idempotencyKey);
      if (o.requestId) md.set('x-request-id', o.requestId);
      const message = codec.fromPartial(request);
      const deadline = Date.now() + (o.deadlineMs ?? defaultDeadlineMs);
      try {
        return await withRetries(
          () => new Promise((resolve, reject) => call.call(raw, message, md, { deadline: new Date(deadline) }, (err, res) => (err ? reject(err) : resolve(res)))),
          { idempotent: isReadMethod(name) || !!o.idempotencyKey, policy: { ...DEFAULT_RETRY, ...config.retry, ...o.retry }, deadline },
        );
      } catch (err) {
        throw toMeshError(err);
      }
    };
  }
  return methods as PromiseMethods<D>;
}

export type CommandClient = PromiseMethods<typeof commandApi.CommandServiceService> & {
  /** The generated ts-proto client underneath, for anything the promise API does not cover. */
  readonly raw: commandApi.CommandServiceClient;
  close(): void;
};

export type QueryClient = PromiseMethods<typeof queryApi.QueryServiceService> & {
  readonly raw: queryApi.QueryServiceClient;
  close(): void;
};

/** Commands: no retry unless the call carries an idempotency key; 10 s default deadline. */
export function commandClient(address: string, config: ClientConfig = {}): CommandClient {
  const raw = new commandApi.CommandServiceClient(address, config.credentials ?? grpcCredentials.createInsecure(), config.channelOptions);
  const methods = build(commandApi.CommandServiceService, commandApi, raw, config, config.deadlineMs ?? 10_000);
  return Object.assign(methods, { raw, close: () => raw.close() });
}

/** Queries: every call is a read, retried on UNAVAILABLE; 5 s default deadline. */
export function queryClient(address: string, config: ClientConfig = {}): QueryClient {
  const raw = new queryApi.QueryServiceClient(address, config.credentials ?? grpcCredentials.createInsecure(), config.channelOptions);
  const methods = build(queryApi.QueryServiceService, queryApi, raw, config, config.deadlineMs ?? 5_000);
  return Object.assign(methods, { raw, close: () => raw.close() });
}
