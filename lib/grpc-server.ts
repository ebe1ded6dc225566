// One way to serve gRPC: our services plus standard health and reflection,
// so grpcurl and load balancers work against every service the same way.
import { readFileSync } from 'node:fs';
import {
  Server,
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerInterceptor,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { grpcError, toGrpcError, isInternal } from './grpc-errors';
import { accessInterceptor } from './access';
import type { TokenVerifier } from './auth';
import { grpcDuration, grpcRequests } from './metrics';
import { HealthMonitor, type Check, type HealthReport } from './health';
import type { Logger } from './logger';
import { descriptorPath } from './paths';
import { describeTls, serverCredentials } from './tls';

export interface GrpcService {
  name: string; // full name, e.g. cqrs.v1.CommandService
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

/** The handler a method of a generated service definition (ts-proto, grpc-js) must have. */
type HandlerOf<M> = M extends { requestStream: false; requestDeserialize: (b: Buffer) => infer Req; responseSerialize: (v: infer Res) => Buffer }
  ? M extends { responseStream: true }
    ? handleServerStreamingCall<Req, Res>
    : handleUnaryCall<Req, Res>
  : never;

/** Every method of a generated service definition, each with the handler its messages call for. */
export type ImplementationOf<D> = { [K in keyof D]: HandlerOf<D[K]> };

/**
 * A service to serve, its implementation checked against the generated
 * definition: a missing method or a handler of the wrong messages does not
 * compile. Its full name is read from the definition's paths.
 */
export function grpcService<D extends ServiceDefinition>(definition: D, implementation: ImplementationOf<D>): GrpcService {
  const paths = Object.values(definition).map((m) => m.path);
  const name = /^\/([^/]+)\//.exec(paths[0] ?? '')?.[1];
  if (!name || paths.some((p) => !p.startsWith(`/${name}/`))) throw new Error(`not one service: ${paths.join(', ')}`);
  return { name, definition, implementation: implementation as UntypedServiceImplementation };
}

export interface StartedServer {
  port: number;
  health: HealthImplementation;
  /** Stops accepting calls, lets in-flight calls finish (bounded), then closes. */
  stop(): Promise<void>;
}

export async function startGrpcServer(host: string, port: number, services: GrpcService[], o: { interceptors?: ServerInterceptor[]; reflection?: boolean } = {}): Promise<StartedServer> {
  const server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024, interceptors: o.interceptors ?? [] });
  for (const s of services) server.addService(tolerantDecoding(s.definition), s.implementation);
  const health = new HealthImplementation({ '': 'NOT_SERVING', ...Object.fromEntries(services.map((s) => [s.name, 'NOT_SERVING'])) });
  health.addToServer(server);
  const names = [...services.map((s) => s.name), 'grpc.health.v1.Health'];
  if (o.reflection !== false) new ReflectionService(descriptorFiles(), { services: names }).addToServer(server);

  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, serverCredentials(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const stop = () =>
    new Promise<void>((resolve) => {
      const force = setTimeout(() => server.forceShutdown(), 10_000);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  return { port: bound, health, stop };
}

/**
 * The files of `buf build` exactly as compiled, in the shape the reflection
 * service indexes. (proto-loader's own loader regroups files by package,
 * which leaves grpcurl unable to resolve imports such as Timestamp.)
 */
function descriptorFiles(): PackageDefinition {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(descriptorPath));
  const fileDescriptorProtos = set.file.map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f)));
  return { files: { format: 'Protocol Buffer 3 DescriptorProto', type: {}, fileDescriptorProtos } } as unknown as PackageDefinition;
}

/** What a method receives instead of a message when the request bytes do not decode. */
class Undecodable {
  constructor(readonly reason: string) {}
}

/**
 * grpc-js answers bytes its deserializer cannot read with INTERNAL, which
 * says "our fault"; they are the caller's. Decode failures become a marker
 * that unary() answers with INVALID_ARGUMENT.
 */
function tolerantDecoding(definition: ServiceDefinition): ServiceDefinition {
  return Object.fromEntries(
    Object.entries(definition).map(([name, method]) => [
      name,
      {
        ...method,
        requestDeserialize: (bytes: Buffer) => {
          try {
            return method.requestDeserialize(bytes);
          } catch (err) {
            return new Undecodable((err as Error).message);
          }
        },
      },
    ]),
  );
}

export interface ServeOptions<D extends ServiceDefinition> {
  /** The process, as its health reports and its "<process> listening" line name it. */
  process: string;
  host: string;
  port: number;
  definition: D;
  /** The implementation, given the process's health report as it is now. */
  implementation: (health: () => HealthReport) => ImplementationOf<D>;
  /** What the process depends on: it is SERVING only while every check passes. */
  checks: Record<string, Check>;
  /** With a verifier, every call but health and reflection needs a valid token (lib/access.ts). */
  verifier?: TokenVerifier;
  /** Server reflection (default on). */
  reflection?: boolean;
  log: Logger;
}

export interface Serving {
  port: number;
  health: HealthImplementation;
  /** The health report as the monitor last made it. */
  report(): HealthReport;
  /** Stops the health checks, then the server (in-flight calls finish, bounded). */
  stop(): Promise<void>;
}

/**
 * One service served the way every process serves it: the gRPC server with
 * health and reflection, its health kept by a monitor of `checks`, and the
 * "<process> listening" line once it is ready.
 */
export async function serveGrpc<D extends ServiceDefinition>(o: ServeOptions<D>): Promise<Serving> {
  let monitor: HealthMonitor | undefined;
  const service = grpcService(o.definition, o.implementation(() => monitor!.current));
  const server = await startGrpcServer(o.host, o.port, [service], { interceptors: o.verifier ? [accessInterceptor(o.verifier, o.log)] : [], reflection: o.reflection });
  monitor = new HealthMonitor(o.process, o.checks, { health: server.health, services: [service.name] }, o.log);
  return monitored(server, monitor, o);
}

/** A process with no service of its own (projector-svc): grpc.health.v1 and reflection only. */
export async function serveHealth(o: Omit<ServeOptions<never>, 'definition' | 'implementation'>): Promise<Serving> {
  const server = await startGrpcServer(o.host, o.port, [], { reflection: o.reflection });
  return monitored(server, new HealthMonitor(o.process, o.checks, { health: server.health, services: [] }, o.log), o);
}

async function monitored(server: StartedServer, monitor: HealthMonitor, o: { process: string; host: string; log: Logger }): Promise<Serving> {
  await monitor.refresh();
  monitor.start();
  o.log.info({ port: server.port, host: o.host, transport: describeTls().server }, `${o.process} listening`);
  return {
    port: server.port,
    health: server.health,
    report: () => monitor.current,
    async stop() {
      monitor.stop();
      await server.stop();
    },
  };
}

/** What a handler may want of its call besides the request and metadata. */
export interface CallContext {
  /** Aborted once the client cancelled or the call's deadline passed: work not yet done should not start. */
  signal: AbortSignal;
  /** The peer address as grpc-js gives it (host:port). */
  peer: string;
  /** The client's deadline (Infinity without one). */
  deadline: Date | number;
}

/** The same for a server-streaming call. */
export const streamContext = (call: ServerWritableStream<unknown, unknown>): CallContext => ({ signal: callSignal(call), peer: call.getPeer(), deadline: call.getDeadline() });

/**
 * Wraps an async handler: domain errors become statuses in one place, and
 * only unexpected ones are logged as errors. A call whose client already
 * gave up (cancelled, or its deadline passed) is not run at all, and one
 * that fails after its client gave up is logged as abandoned, not failed.
 */
export function unary<Req, Res>(log: Logger, method: string, fn: (req: Req, md: Record<string, string>, call: CallContext) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    if ((call.request as unknown) instanceof Undecodable) {
      const reason = (call.request as unknown as Undecodable).reason;
      log.info({ method, reason }, 'call refused: undecodable request');
      countCall(call.getPath())(status.INVALID_ARGUMENT);
      return callback(grpcError(status.INVALID_ARGUMENT, `invalid request: not a ${method} request message (${reason})`, [{ field: 'request', description: reason }]));
    }
    const signal = callSignal(call);
    const done = countCall(call.getPath());
    if (signal.aborted) {
      log.info({ method }, 'call dropped: the client gave up before it started');
      done(status.CANCELLED);
      return callback(grpcError(status.CANCELLED, 'the client gave up before the call started'));
    }
    const md: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === 'string') md[k] = v;
    fn(call.request, md, { signal, peer: call.getPeer(), deadline: call.getDeadline() }).then(
      (res) => {
        done(status.OK);
        callback(null, res);
      },
      (err) => {
        if (signal.aborted) log.info({ method, reason: (err as Error).message }, 'call abandoned: the client gave up');
        else if (isInternal(err)) log.error({ err, method }, 'call failed');
        else log.info({ method, reason: (err as Error).message }, 'call refused');
        const answer = toGrpcError(err);
        done(answer.code);
        callback(answer);
      },
    );
  };
}

/** Aborted when the call is cancelled: by its client, or by grpc-js when its deadline passes. */
function callSignal(call: { cancelled: boolean; getDeadline(): Date | number; on(event: 'cancelled', l: () => void): unknown }): AbortSignal {
  const ctl = new AbortController();
  const deadline = Number(call.getDeadline());
  if (call.cancelled || (Number.isFinite(deadline) && deadline <= Date.now())) ctl.abort();
  else call.on('cancelled', () => ctl.abort());
  return ctl.signal;
}

/** Starts timing a call; the returned function records it with its status code. */
function countCall(path: string): (code: status) => void {
  const [, service = '', method = ''] = /^\/([^/]*)\/(.*)$/.exec(path) ?? [];
  const end = grpcDuration.startTimer({ service, method });
  return (code) => {
    grpcRequests.inc({ service, method, code: status[code] ?? String(code) });
    end();
  };
}

/**
 * unary() for a server-streaming handler: `fn` sends what it will and
 * returns; an error it throws ends the call with the status unary() would give.
 */
export function streaming<Req, Res>(log: Logger, method: string, fn: (call: ServerWritableStream<Req, Res>) => Promise<void>): handleServerStreamingCall<Req, Res> {
  return (call) => {
    if ((call.request as unknown) instanceof Undecodable) {
      const reason = (call.request as unknown as Undecodable).reason;
      return void call.emit('error', grpcError(status.INVALID_ARGUMENT, `invalid request: not a ${method} request message (${reason})`, [{ field: 'request', description: reason }]));
    }
    fn(call).catch((err) => {
      if (isInternal(err)) log.error({ err, method }, 'call failed');
      else log.info({ method, reason: (err as Error).message }, 'call refused');
      if (!call.cancelled) call.emit('error', toGrpcError(err));
    });
  };
}
