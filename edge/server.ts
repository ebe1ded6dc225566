// The local edge: REST on node:http, transcoded to gRPC from the descriptor
// set with the options of envoy/envoy.yaml's grpc_json_transcoder filter.
// It stands in for Envoy where no Envoy binary exists; see edge/README.md
// for the Envoy behaviour each rule mirrors.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metadata } from '@grpc/grpc-js';
import type { Logger } from '../lib/logger';
import { httpDuration, httpRequests } from '../lib/metrics';
import { loadDescriptorFile, type LoadedDescriptor } from './descriptor';
import { DocsSite } from './docs';
import { LivePage } from './live-page';
import { loadEnvoyOptions, type TranscoderOptions } from './envoy-options';
import { grpcTimeoutMs, upstreamDeadline } from './deadline';
import { httpStatusFor, retryAfterOf, statusJson } from './grpc-status';
import { requestIdOf, requestMetadata } from './headers';
import { readBody, sendBareStatus, sendJson, sendRedirect } from './http-io';
import { stringifyJson } from './json';
import { decidePath, screenHeaders } from './normalize';
import { buildRoutes, RouteTable, type RouteMatch } from './routes';
import { decodeResponse, encodeRequest, TranscodeError } from './transcode';
import { isServiceError, Upstreams } from './upstream';
import { parseQuery, splitTarget } from './url';

export interface EdgeOptions {
  descriptorPath: string;
  envoyConfigPath?: string;
  /** Full service name (e.g. cqrs.v1.CommandService) -> host:port. */
  upstreams: Record<string, string>;
  logger: Logger;
  /** Deadline of each upstream call; DEADLINE_EXCEEDED becomes 504. */
  callTimeoutMs?: number;
  /** The OpenAPI document to serve at /cqrs/openapi.json, with Swagger UI at /cqrs/docs; none when absent. */
  openApiPath?: string;
}

export interface Edge {
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export const DEFAULT_CALL_TIMEOUT_MS = 15_000;

/** What a request needs from the edge, built once. */
interface Context {
  log: Logger;
  options: TranscoderOptions;
  descriptor: LoadedDescriptor;
  table: RouteTable;
  upstreams: Upstreams;
  callTimeoutMs: number;
  docs?: DocsSite;
  live: LivePage;
}

/** Outcome of one request, for its log line. */
interface Outcome {
  /** The path template that matched, as metrics label it. */
  route?: string;
  grpcMethod?: string;
  grpcStatus?: number;
  httpStatus: number;
  /** Body fields the request message does not define, dropped as Envoy drops them. */
  ignoredFields?: string[];
}

export async function createEdge(opts: EdgeOptions): Promise<Edge> {
  const log = opts.logger;
  const options = loadEnvoyOptions(opts.envoyConfigPath, log);
  const descriptor = await loadDescriptorFile(opts.descriptorPath);
  const services = transcodedServices(descriptor, options, opts.upstreams, log);
  const routes = buildRoutes(descriptor.methods, services, (msg) => log.warn(msg));
  log.info({ routes: routes.map((r) => `${r.binding.httpMethod} ${r.binding.pattern} -> ${r.rpc.grpcPath}`) }, 'edge routes');
  const ctx: Context = {
    log,
    options,
    descriptor,
    table: new RouteTable(routes, options),
    upstreams: new Upstreams(Object.fromEntries(services.map((s) => [s, opts.upstreams[s]]))),
    callTimeoutMs: opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    docs: opts.openApiPath ? new DocsSite(opts.openApiPath) : undefined,
    live: new LivePage(),
  };
  const server = createServer((req, res) => void handle(ctx, req, res));
  return { listen: (port, host) => listen(server, port, host), close: () => close(server, ctx) };
}

/**
 * The filter's services (every annotated one when it lists none). Like
 * Envoy, a listed service missing from the descriptor stops start-up; one
 * without an upstream address gets no routes (Envoy's router would find no
 * cluster), which is logged.
 */
function transcodedServices(descriptor: LoadedDescriptor, options: TranscoderOptions, upstreams: Record<string, string>, log: Logger): string[] {
  const known = new Set(descriptor.methods.map((m) => m.service.typeName));
  const missing = options.services.filter((s) => !known.has(s));
  if (missing.length) throw new Error(`services listed in ${options.source} are not in the descriptor set: ${missing.join(', ')}`);
  const wanted = options.services.length ? options.services : [...new Set(descriptor.methods.filter((m) => m.bindings.length).map((m) => m.service.typeName))];
  const unrouted = wanted.filter((s) => !upstreams[s]);
  if (unrouted.length) log.warn({ services: unrouted }, 'no upstream address for these services; their routes are off');
  return wanted.filter((s) => upstreams[s]);
}

async function handle(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const target = req.url ?? '/';
  const { path, query } = splitTarget(target);
  const method = req.method ?? 'GET';
  // Envoy's codec screens header names before anything else sees them (the request id included).
  const screened = screenHeaders(req.headers, ctx.options.connectionManager.underscoreHeadersAction);
  const requestId = requestIdOf(screened.headers);
  res.setHeader('x-request-id', requestId);
  let routedPath: string | undefined;
  let outcome: Outcome;
  try {
    const admitted = admit(ctx, req, res, screened.rejected, path, target.includes('?') ? query : undefined);
    if ('outcome' in admitted) {
      outcome = admitted.outcome;
    } else {
      routedPath = admitted.path;
      // The API's description first: its paths are no gRPC method's.
      if (ctx.docs?.serve(method, admitted.path, res) || ctx.live.serve(method, admitted.path, res)) outcome = { route: admitted.path, httpStatus: 200 };
      else outcome = await transcode(ctx, req, res, screened.headers, admitted.path, query, requestId);
    }
  } catch (err) {
    outcome = sendLocalError(ctx, res, err);
  }
  const line = {
    method,
    path,
    ...(routedPath !== undefined && routedPath !== path ? { normalizedPath: routedPath } : {}),
    ...(screened.dropped.length ? { droppedHeaders: screened.dropped } : {}),
    ...(outcome.ignoredFields?.length ? { ignoredFields: outcome.ignoredFields } : {}),
    grpcMethod: outcome.grpcMethod,
    grpcStatus: outcome.grpcStatus,
    httpStatus: outcome.httpStatus,
    durationMs: Math.round(performance.now() - started),
    requestId,
  };
  // Unmatched paths share one label: a scanner's made-up paths must not mint series.
  const route = outcome.route ?? 'unmatched';
  httpRequests.inc({ route, method, status: String(outcome.httpStatus) });
  httpDuration.observe({ route, method }, (performance.now() - started) / 1_000);
  if (outcome.httpStatus >= 500) ctx.log.warn(line, 'request');
  else ctx.log.info(line, 'request');
}

/**
 * The HTTP connection manager's rules, before route lookup (edge/normalize.ts):
 * an underscored header name under REJECT_REQUEST is a 400 that also closes
 * the connection (Envoy's HTTP/1 codec treats it as a protocol error); then
 * the path is checked and rewritten, or refused (400), or redirected (307).
 * Returns the path to route, or the outcome already sent.
 */
function admit(ctx: Context, req: IncomingMessage, res: ServerResponse, underscored: string | undefined, path: string, query: string | undefined): { path: string } | { outcome: Outcome } {
  if (underscored !== undefined) {
    res.setHeader('connection', 'close');
    throw new TranscodeError(`header name "${underscored}" contains an underscore, refused by headers_with_underscores_action: REJECT_REQUEST`, 400, 3);
  }
  const isGrpc = /^application\/grpc/i.test(req.headers['content-type'] ?? '');
  const decision = decidePath(path, query, ctx.options.connectionManager, isGrpc);
  switch (decision.kind) {
    case 'forward':
      return { path: decision.path };
    case 'reject':
      throw new TranscodeError(decision.reason, 400, 3);
    case 'redirect':
      sendRedirect(res, 307, decision.location);
      return { outcome: { httpStatus: 307 } };
  }
}

async function transcode(ctx: Context, req: IncomingMessage, res: ServerResponse, headers: IncomingHttpHeaders, path: string, query: string, requestId: string): Promise<Outcome> {
  const match = ctx.table.lookup(req.method ?? 'GET', path);
  if (!match) throw noRoute(ctx, req.method ?? 'GET', path);
  const grpcMethod = match.route.rpc.grpcPath;
  const route = match.route.binding.pattern;
  const ignoredFields: string[] = [];
  try {
    const body = await readBody(req, ctx.options.maxRequestBodySize);
    const request = encodeRequest(match.route, { bindings: match.bindings, query: parseQuery(query, ctx.options.queryParamUnescapePlus), body }, ctx.descriptor.registry, ctx.options, ignoredFields);
    const metadata = requestMetadata(headers, requestId, req.socket.remoteAddress);
    // The client's grpc-timeout, when shorter than the edge's own, goes on to the service.
    const deadline = upstreamDeadline(headers, ctx.callTimeoutMs);
    const outcome = match.route.serverStreaming
      ? await callStreaming(ctx, match, request, metadata, res, grpcTimeoutMs(headers['grpc-timeout']) === undefined ? undefined : deadline)
      : await callUnary(ctx, match, request, metadata, res, deadline);
    return { route, grpcMethod, ignoredFields, ...outcome };
  } catch (err) {
    return { route, grpcMethod, ignoredFields, ...sendLocalError(ctx, res, err) };
  }
}

/**
 * reject_unknown_method answers 404. Without it Envoy would pass the request
 * on untranscoded; this edge has nowhere to pass it, so it is 404 as well.
 */
function noRoute(ctx: Context, method: string, path: string): TranscodeError {
  const hint = ctx.table.hasPath(path) ? ' (the path exists for another HTTP method)' : '';
  return new TranscodeError(`no method for ${method} ${path}${hint}`, 404, 5 /* NOT_FOUND */);
}

async function callUnary(ctx: Context, match: RouteMatch, request: Uint8Array, metadata: Metadata, res: ServerResponse, deadline: Date): Promise<Omit<Outcome, 'grpcMethod'>> {
  const { rpc } = match.route;
  const call = ctx.upstreams.unary(rpc.service.typeName, rpc.grpcPath, request, metadata, deadline);
  // A client that goes away cancels the upstream call, as Envoy resets the stream.
  res.on('close', () => res.writableFinished || call.cancel());
  let bytes: Buffer;
  try {
    bytes = await call.response;
  } catch (err) {
    return sendGrpcError(ctx, res, err);
  }
  if (bytes.length > ctx.options.maxResponseBodySize) {
    return sendLocalError(ctx, res, new TranscodeError(`response body exceeds ${ctx.options.maxResponseBodySize} bytes`, 500, 13 /* INTERNAL */));
  }
  const json = decodeResponse(match.route, bytes, ctx.descriptor.registry, ctx.options.print);
  sendJson(res, 200, stringifyJson(json, ctx.options.print));
  return { grpcStatus: 0, httpStatus: 200 };
}

/**
 * Server streaming, as Envoy prints it: one JSON array of the messages (or
 * newline-delimited JSON with stream_newline_delimited). The status line is
 * held back until the first message, so an immediate error is still a proper
 * error response; an error after that can only cut the response short.
 */
function callStreaming(ctx: Context, match: RouteMatch, request: Uint8Array, metadata: Metadata, res: ServerResponse, deadline: Date | undefined): Promise<Omit<Outcome, 'grpcMethod'>> {
  const { rpc } = match.route;
  const ndjson = ctx.options.print.streamNewlineDelimited;
  // No deadline of the edge's own: a stream (a live query) lasts until the
  // client hangs up, as on Envoy's Watch route (timeout 0s), or until the
  // client's own grpc-timeout; closing the response cancels it.
  const call = ctx.upstreams.serverStream(rpc.service.typeName, rpc.grpcPath, request, metadata, deadline ?? Infinity);
  res.on('close', () => res.writableFinished || call.cancel());
  let count = 0;
  const open = () => {
    if (res.headersSent) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    if (!ndjson) res.write('[');
  };
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: Omit<Outcome, 'grpcMethod'>) => {
      if (!settled) resolve(outcome);
      settled = true;
    };
    call.on('data', (bytes: Buffer) => {
      let text: string;
      try {
        text = stringifyJson(decodeResponse(match.route, bytes, ctx.descriptor.registry, ctx.options.print), ctx.options.print);
      } catch (err) {
        call.cancel();
        if (res.headersSent) res.destroy();
        return settle(sendLocalError(ctx, res, err));
      }
      open();
      const more = res.write(ndjson ? `${text}\n` : `${count++ ? ',' : ''}${text}`);
      if (!more) {
        call.pause();
        res.once('drain', () => call.resume());
      }
    });
    call.on('end', () => {
      if (settled) return;
      open();
      res.end(ndjson ? '' : ']');
      settle({ grpcStatus: 0, httpStatus: 200 });
    });
    call.on('error', (err) => {
      if (settled) return;
      if (!res.headersSent) return settle(sendGrpcError(ctx, res, err));
      ctx.log.warn({ err: err.message, grpcMethod: rpc.grpcPath }, 'stream failed after the response started; cutting it short');
      res.destroy();
      settle({ grpcStatus: isServiceError(err) ? err.code : 2, httpStatus: 200 });
    });
  });
}

const requestUri = (req: IncomingMessage) => `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`;

/** An upstream error: Envoy's HTTP status, and with convert_grpc_status the google.rpc.Status body. */
function sendGrpcError(ctx: Context, res: ServerResponse, err: unknown): Omit<Outcome, 'grpcMethod'> {
  if (!isServiceError(err)) return sendLocalError(ctx, res, err);
  const httpStatus = httpStatusFor(err.code);
  // The services' RFC 6750 challenge, as Envoy's jwt_authn words it: realm is the URI asked for.
  const challenge = err.metadata.get('www-authenticate')[0];
  if (err.code === 16 /* UNAUTHENTICATED */ && typeof challenge === 'string') {
    res.setHeader('www-authenticate', challenge.replace(/realm="[^"]*"/, `realm="${requestUri(res.req).replace(/"/g, "%22")}"`));
  }
  const retryAfter = retryAfterOf(err.metadata);
  if (retryAfter) res.setHeader('retry-after', retryAfter);
  if (!ctx.options.convertGrpcStatus) {
    sendBareStatus(res, httpStatus, err.code, err.details);
  } else {
    const details = err.metadata.get('grpc-status-details-bin')[0];
    const body = statusJson(ctx.descriptor.registry, ctx.options.print, err.code, err.details, Buffer.isBuffer(details) ? details : undefined);
    sendJson(res, httpStatus, stringifyJson(body, ctx.options.print));
  }
  return { grpcStatus: err.code, httpStatus };
}

/**
 * Errors the edge raises itself. Envoy answers these with a short text body;
 * here they get the same google.rpc.Status JSON shape as upstream errors so
 * clients parse one format. Anything unexpected is a 500 and logged.
 */
function sendLocalError(ctx: Context, res: ServerResponse, err: unknown): Outcome {
  const known = err instanceof TranscodeError ? err : undefined;
  if (!known) ctx.log.error({ err }, 'edge failure');
  const e = known ?? new TranscodeError('internal error in the edge', 500, 13);
  const body = statusJson(ctx.descriptor.registry, ctx.options.print, e.grpcCode, e.message);
  sendJson(res, e.httpStatus, stringifyJson(body, ctx.options.print));
  return { httpStatus: e.httpStatus, grpcStatus: undefined };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

const CLOSE_GRACE_MS = 10_000;

/** Stops accepting, lets in-flight requests finish (bounded), then closes upstream channels. */
function close(server: Server, ctx: Context): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      ctx.upstreams.close();
      resolve();
    });
    server.closeIdleConnections();
  });
}
