// The edge in front of real grpc-js servers implementing cqrs.v1, driven
// over HTTP with fetch, with the project's descriptor set and envoy.yaml.
// Paths the edge must normalize itself go out raw through node:http.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import pino from 'pino';
import { loadEnvoyOptions } from '../../edge/envoy-options';
import { createEdge, type Edge } from '../../edge/server';
import { CommandServiceService, type CreateOrderRequest } from '../../gen/ts/cqrs/v1/command_service';
import { OrderStatus } from '../../gen/ts/cqrs/v1/common';
import { QueryServiceService } from '../../gen/ts/cqrs/v1/query_service';
import { BadRequest } from '../../gen/ts/google/rpc/error_details';
import { Status } from '../../gen/ts/google/rpc/status';
import { descriptorPath, envoyConfigPath, fetchWithin, jsonOf, quietLogger, rawRequest } from './helpers';

interface Seen {
  method: string;
  request: unknown;
  metadata: Metadata;
}

const seen: Seen[] = [];
const timers = new Set<NodeJS.Timeout>();

function reply<Req, Res>(method: string, fn: (req: Req) => Res | ServiceError | 'hang') {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    seen.push({ method, request: call.request, metadata: call.metadata });
    const out = fn(call.request);
    if (out === 'hang') {
      const t = setTimeout(() => callback({ code: status.INTERNAL, details: 'too late' } as ServiceError), 2_000);
      timers.add(t);
      return;
    }
    if (out instanceof Error) callback(out);
    else callback(null, out);
  };
}

const grpcError = (code: status, details: string, metadata = new Metadata()): ServiceError => Object.assign(new Error(details), { code, details, metadata });

function invalidArgument(field: string, description: string): ServiceError {
  const md = new Metadata();
  const detail = { typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value: Buffer.from(BadRequest.encode({ fieldViolations: [{ field, description, reason: '', localizedMessage: undefined }] }).finish()) };
  md.set('grpc-status-details-bin', Buffer.from(Status.encode({ code: status.INVALID_ARGUMENT, message: `invalid request: ${field}`, details: [detail] }).finish()));
  return grpcError(status.INVALID_ARGUMENT, `invalid request: ${field}`, md);
}

const commands: UntypedServiceImplementation = {
  createOrder: reply('CreateOrder', (req: CreateOrderRequest) => {
    if (req.userId === 0) return invalidArgument('user_id', 'must be a positive integer');
    if (req.userId === 999) return 'hang';
    return { orderId: 'o-1', status: OrderStatus.PENDING, message: '', consistencyToken: 'tok-1' };
  }),
  processPayment: reply('ProcessPayment', () => grpcError(status.FAILED_PRECONDITION, 'order o-1 is not awaiting payment')),
  getCommandHealth: reply('GetCommandHealth', () => ({ status: 'SERVING', service: 'command-svc', dependencies: [] })),
};

const queries: UntypedServiceImplementation = {
  getOrder: reply('GetOrder', (req: { orderId: string }) =>
    req.orderId === 'missing'
      ? grpcError(status.NOT_FOUND, 'order missing not found')
      : { order: { orderId: req.orderId, userId: 123, userEmail: '', totalAmount: 0, status: OrderStatus.PAID, items: [], timeline: [], statusReason: '' } },
  ),
  listUserOrders: reply('ListUserOrders', () => ({ orders: [], nextPageToken: '' })),
  getUserSummary: reply('GetUserSummary', (req: { userId: number }) => ({
    summary: { userId: req.userId, totalOrders: 2, totalSpent: 199.98, avgOrderValue: 99.99, favoriteProducts: [], orderStatuses: { PAID: 2 } },
  })),
  getQueryHealth: reply('GetQueryHealth', () => ({ status: 'SERVING', service: 'query-svc', dependencies: [] })),
};

let server: Server;
let edge: Edge;
let base: string;
let upstream: string;
const logLines: string[] = [];
const bodyLimit = loadEnvoyOptions(envoyConfigPath, quietLogger()).maxRequestBodySize;

beforeAll(async () => {
  server = new Server();
  server.addService(CommandServiceService, commands);
  server.addService(QueryServiceService, queries);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  upstream = `127.0.0.1:${port}`;
  edge = await createEdge({
    descriptorPath,
    envoyConfigPath,
    upstreams: { 'cqrs.v1.CommandService': upstream, 'cqrs.v1.QueryService': upstream },
    logger: pino({ level: 'info' }, { write: (line: string) => logLines.push(line) }),
  });
  base = `http://127.0.0.1:${await edge.listen(0, '127.0.0.1')}`;
});

afterAll(async () => {
  for (const t of timers) clearTimeout(t);
  await edge?.close();
  server?.forceShutdown();
});

beforeEach(() => {
  seen.length = 0;
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetchWithin(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('commands', () => {
  it('transcodes the seed request to CreateOrder and prints the response with defaults and enum names', async () => {
    const res = await post('/cqrs/commands/orders', '{"user_id":123,"product_id":456,"quantity":2}');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await jsonOf(res)).toEqual({ order_id: 'o-1', status: 'PENDING', message: '', consistency_token: 'tok-1' });
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('CreateOrder');
    expect(seen[0].request).toMatchObject({ userId: 123, productId: 456, quantity: 2, items: [] });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[0].metadata.get('x-request-id')).toEqual([res.headers.get('x-request-id')]);
  });

  it('passes Idempotency-Key and x-request-id through as metadata, and echoes the request id', async () => {
    const res = await post('/cqrs/commands/orders', '{"userId":1,"productId":2,"quantity":1}', { 'Idempotency-Key': 'key-42', 'X-Request-Id': 'req-7' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-7');
    expect(seen[0].metadata.get('idempotency-key')).toEqual(['key-42']);
    expect(seen[0].metadata.get('x-request-id')).toEqual(['req-7']);
    expect(seen[0].metadata.get('connection')).toEqual([]);
  });

  it('turns INVALID_ARGUMENT with BadRequest details into 400 with the google.rpc.Status body', async () => {
    const res = await post('/cqrs/commands/orders', '{"user_id":0,"product_id":1,"quantity":1}');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await jsonOf(res)).toEqual({
      code: 3,
      message: 'invalid request: user_id',
      details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', field_violations: [{ field: 'user_id', description: 'must be a positive integer', reason: '' }] }],
    });
  });

  it('turns FAILED_PRECONDITION into 400 with a Status built from grpc-status/grpc-message', async () => {
    const res = await post('/cqrs/commands/payments', '{"order_id":"o-1","amount":9.99,"method":"CREDIT_CARD"}');
    expect(res.status).toBe(400);
    expect(await jsonOf(res)).toEqual({ code: 9, message: 'order o-1 is not awaiting payment', details: [] });
    expect(seen[0].request).toMatchObject({ orderId: 'o-1', amount: 9.99, method: 1 });
  });

  it('serves the command health route', async () => {
    const res = await fetchWithin(`${base}/cqrs/commands/health`);
    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toEqual({ status: 'SERVING', service: 'command-svc', dependencies: [] });
  });
});

describe('queries', () => {
  it('binds the path variable as an int32 and query parameters (enum by name) for ListUserOrders', async () => {
    const res = await fetchWithin(`${base}/cqrs/queries/users/123/orders?status=PAID&page_size=10`);
    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toEqual({ orders: [], next_page_token: '' });
    expect(seen[0]).toMatchObject({ method: 'ListUserOrders', request: { userId: 123, status: OrderStatus.PAID, pageSize: 10, pageToken: '' } });
  });

  it('prints only the response_body field (GetOrder -> the order)', async () => {
    const res = await fetchWithin(`${base}/cqrs/queries/orders/o-9`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ order_id: 'o-9', user_id: 123, user_email: '', total_amount: 0, status: 'PAID', items: [], timeline: [], status_reason: '' });
    expect(seen[0].request).toEqual({ orderId: 'o-9', consistencyToken: '', consistencyWaitMs: 0 });
  });

  it('prints maps and doubles in the user summary (response_body: "summary")', async () => {
    const res = await fetchWithin(`${base}/cqrs/queries/users/5/summary`);
    expect(await jsonOf(res)).toEqual({ user_id: 5, total_orders: 2, total_spent: 199.98, avg_order_value: 99.99, favorite_products: [], order_statuses: { PAID: 2 } });
  });

  it('turns NOT_FOUND into 404', async () => {
    const res = await fetchWithin(`${base}/cqrs/queries/orders/missing`);
    expect(res.status).toBe(404);
    expect(await jsonOf(res)).toEqual({ code: 5, message: 'order missing not found', details: [] });
  });
});

describe('requests the edge refuses itself', () => {
  it('answers 413 to a body over max_request_body_size, without calling upstream', async () => {
    const big = JSON.stringify({ user_email: 'x'.repeat(bodyLimit) });
    const res = await post('/cqrs/commands/orders', big);
    expect(res.status).toBe(413);
    expect(await jsonOf(res)).toMatchObject({ code: 8, message: expect.stringContaining(`exceeds ${bodyLimit} bytes`) });
    expect(seen).toHaveLength(0);
  });

  it('answers 400 to malformed JSON', async () => {
    const res = await post('/cqrs/commands/orders', '{"user_id":123,');
    expect(res.status).toBe(400);
    expect(await jsonOf(res)).toMatchObject({ code: 3, message: expect.stringMatching(/^malformed JSON body/), details: [] });
    expect(seen).toHaveLength(0);
  });

  it('accepts a body with an unknown field and forwards the request without it, as Envoy does', async () => {
    const res = await post('/cqrs/commands/orders', '{"user_id":1,"product_id":456,"quantity":2,"colour":"red","items":[]}');
    expect(res.status).toBe(200);
    expect(await jsonOf(res)).toMatchObject({ order_id: 'o-1', status: 'PENDING' });
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('CreateOrder');
    // The upstream got exactly the known fields (ts-proto decodes an absent field as its default).
    expect(seen[0].request).toEqual({ userId: 1, productId: 456, quantity: 2, userEmail: '', items: [] });
  });

  it('answers 400 to a value of the wrong type', async () => {
    const res = await post('/cqrs/commands/orders', '{"user_id":"one"}');
    expect(res.status).toBe(400);
    expect((await jsonOf(res)).message).toMatch(/user_id/);
  });

  it('answers 400 to an unknown query parameter (reject_unknown_query_parameters)', async () => {
    const res = await fetchWithin(`${base}/cqrs/queries/users/1/orders?colour=red`);
    expect(res.status).toBe(400);
    expect((await jsonOf(res)).message).toMatch(/unknown query parameter "colour"/);
    expect(seen).toHaveLength(0);
  });

  it('answers 404 to an unknown path or an unbound method (reject_unknown_method)', async () => {
    const unknown = await fetchWithin(`${base}/cqrs/nothing/here`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 5, message: 'no method for GET /cqrs/nothing/here' });
    const wrongMethod = await fetchWithin(`${base}/cqrs/commands/orders`);
    expect(wrongMethod.status).toBe(404);
    expect((await jsonOf(wrongMethod)).message).toMatch(/exists for another HTTP method/);
    expect(seen).toHaveLength(0);
  });

  it('logs one line per request with method, path, gRPC method, statuses, duration and request id', async () => {
    logLines.length = 0;
    await fetchWithin(`${base}/cqrs/queries/orders/missing`, { headers: { 'x-request-id': 'log-me' } });
    const lines = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: 'GET', path: '/cqrs/queries/orders/missing', grpcMethod: '/cqrs.v1.QueryService/GetOrder', grpcStatus: 5, httpStatus: 404, requestId: 'log-me' });
    expect(typeof lines[0].durationMs).toBe('number');
  });
});

describe('upstream trouble', () => {
  it('answers 504 when the call outlives its deadline', async () => {
    const short = await createEdge({ descriptorPath, envoyConfigPath, upstreams: { 'cqrs.v1.CommandService': upstream }, logger: quietLogger(), callTimeoutMs: 200 });
    try {
      const url = `http://127.0.0.1:${await short.listen(0, '127.0.0.1')}`;
      const started = Date.now();
      const res = await fetchWithin(`${url}/cqrs/commands/orders`, { method: 'POST', body: '{"user_id":999}' });
      expect(res.status).toBe(504);
      expect((await jsonOf(res)).code).toBe(4);
      expect(Date.now() - started).toBeLessThan(1_500);
      // QueryService has no upstream on this edge: its routes are off.
      expect((await fetchWithin(`${url}/cqrs/queries/health`)).status).toBe(404);
    } finally {
      await short.close();
    }
  });

  it('answers 503 when the upstream is unreachable', async () => {
    const down = await createEdge({ descriptorPath, envoyConfigPath, upstreams: { 'cqrs.v1.CommandService': '127.0.0.1:1', 'cqrs.v1.QueryService': '127.0.0.1:1' }, logger: quietLogger() });
    try {
      const url = `http://127.0.0.1:${await down.listen(0, '127.0.0.1')}`;
      const res = await fetchWithin(`${url}/cqrs/queries/health`);
      expect(res.status).toBe(503);
      expect((await jsonOf(res)).code).toBe(14);
    } finally {
      await down.close();
    }
  });
});

describe("envoy.yaml's connection manager rules, before routing", () => {
  const queryHealth = { status: 'SERVING', service: 'query-svc', dependencies: [] };

  it('normalize_path: removes dot segments (RFC 3986) and decodes escaped unreserved characters, then routes', async () => {
    for (const path of ['/cqrs/queries/./health', '/cqrs/queries/x/../health', '/cqrs/%71ueries/health', '/cqrs/queries/%2e/health']) {
      const res = await rawRequest(base, path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(JSON.parse(res.body)).toEqual(queryHealth);
    }
    const res = await rawRequest(base, '/cqrs/queries/users/./9/../7/summary');
    expect(res.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ method: 'GetUserSummary', request: { userId: 7 } });
  });

  it('merge_slashes: //cqrs//queries/health routes, and a POST body is still transcoded', async () => {
    const res = await rawRequest(base, '//cqrs//queries/health');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual(queryHealth);
    const created = await rawRequest(base, '/cqrs//commands/./orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user_id":3,"product_id":4,"quantity":1}' });
    expect(created.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ method: 'CreateOrder', request: { userId: 3, productId: 4, quantity: 1 } });
  });

  it('looks the normalized path up: an unknown one is 404 under its normalized name', async () => {
    const res = await rawRequest(base, '/cqrs/./nothing//here');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ code: 5, message: 'no method for GET /cqrs/nothing/here' });
  });

  it('path_with_escaped_slashes_action REJECT_REQUEST: %2F or %5C in the path is 400, without calling upstream', async () => {
    for (const path of ['/cqrs/queries/users/1%2F2/orders', '/cqrs/queries/orders/a%2fb', '/cqrs/queries/orders/a%5Cb']) {
      const res = await rawRequest(base, path);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(res.headers['content-type']).toBe('application/json');
      expect(JSON.parse(res.body)).toMatchObject({ code: 3, message: expect.stringMatching(/escaped slash.*REJECT_REQUEST/), details: [] });
    }
    // Escaped slashes in the query are not the path's business.
    expect((await rawRequest(base, '/cqrs/queries/users/1/orders?page_token=a%2Fb')).status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('normalize_path: a path that cannot be normalized (NUL) is 400', async () => {
    const res = await rawRequest(base, '/cqrs/queries/orders/a%00');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).message).toMatch(/normalize_path/);
    expect(seen).toHaveLength(0);
  });

  it('headers_with_underscores_action REJECT_REQUEST: an underscored header name is 400 and closes the connection', async () => {
    const res = await rawRequest(base, '/cqrs/queries/health', { headers: { x_custom: '1' } });
    expect(res.status).toBe(400);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body)).toMatchObject({ code: 3, message: expect.stringMatching(/"x_custom" contains an underscore/) });
    expect(seen).toHaveLength(0);
    // Dashes are fine.
    expect((await rawRequest(base, '/cqrs/queries/health', { headers: { 'x-custom': '1' } })).status).toBe(200);
  });

  it('logs the path as sent and, when it differs, the normalized one', async () => {
    logLines.length = 0;
    await rawRequest(base, '/cqrs/queries/./health');
    const lines = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ path: '/cqrs/queries/./health', normalizedPath: '/cqrs/queries/health', grpcMethod: '/cqrs.v1.QueryService/GetQueryHealth', httpStatus: 200 });
  });

  describe('other settings in the same envoy.yaml', () => {
    let dir: string;
    const others: Edge[] = [];
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'edge-hcm-'));
    });
    afterAll(async () => {
      await Promise.all(others.map((e) => e.close()));
      rmSync(dir, { recursive: true, force: true });
    });

    /** The project's envoy.yaml with some connection manager keys set otherwise. */
    async function edgeWith(changes: Record<string, string>): Promise<string> {
      let yaml = readFileSync(envoyConfigPath, 'utf8');
      for (const [key, value] of Object.entries(changes)) {
        const line = new RegExp(`^(\\s*${key}:) .*$`, 'm');
        expect(yaml).toMatch(line);
        yaml = yaml.replace(line, `$1 ${value}`);
      }
      const path = join(dir, `envoy-${others.length}.yaml`);
      writeFileSync(path, yaml);
      const edge = await createEdge({ descriptorPath, envoyConfigPath: path, upstreams: { 'cqrs.v1.CommandService': upstream, 'cqrs.v1.QueryService': upstream }, logger: quietLogger() });
      others.push(edge);
      return `http://127.0.0.1:${await edge.listen(0, '127.0.0.1')}`;
    }

    it('UNESCAPE_AND_REDIRECT answers 307 to the unescaped, normalized path (query kept); gRPC requests get 400', async () => {
      const url = await edgeWith({ path_with_escaped_slashes_action: 'UNESCAPE_AND_REDIRECT' });
      const res = await rawRequest(url, '/cqrs/queries/users%2F5%2F/./orders?page_size=2');
      expect(res.status).toBe(307);
      expect(res.headers.location).toBe('/cqrs/queries/users/5/orders?page_size=2');
      expect(res.body).toBe('');
      expect(seen).toHaveLength(0);
      const followed = await rawRequest(url, res.headers.location!);
      expect(followed.status).toBe(200);
      expect(seen[0]).toMatchObject({ method: 'ListUserOrders', request: { userId: 5, pageSize: 2 } });
      expect((await rawRequest(url, '/cqrs/queries/users%2F5/orders', { headers: { 'content-type': 'application/grpc' } })).status).toBe(400);
      // Nothing escaped: normalized and routed, no redirect.
      expect((await rawRequest(url, '/cqrs/queries/./health')).status).toBe(200);
    });

    it('UNESCAPE_AND_FORWARD routes the unescaped path; DROP_HEADER removes underscored headers before they become metadata', async () => {
      const url = await edgeWith({ path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD', headers_with_underscores_action: 'DROP_HEADER' });
      const res = await rawRequest(url, '/cqrs/queries/users%2F5%5Corders', { headers: { x_custom: '1', 'x-kept': '2' } });
      expect(res.status).toBe(200);
      expect(seen[0]).toMatchObject({ method: 'ListUserOrders', request: { userId: 5 } });
      expect(seen[0].metadata.get('x_custom')).toEqual([]);
      expect(seen[0].metadata.get('x-kept')).toEqual(['2']);
      // Unescaped, "a/b" is two segments: no single-segment {order_id} route takes it.
      expect((await rawRequest(url, '/cqrs/queries/orders/a%2Fb')).status).toBe(404);
    });

    it("KEEP_UNCHANGED and ALLOW (Envoy's defaults) leave both to the transcoder", async () => {
      const url = await edgeWith({ path_with_escaped_slashes_action: 'KEEP_UNCHANGED', headers_with_underscores_action: 'ALLOW' });
      const res = await rawRequest(url, '/cqrs/queries/orders/a%2Fb', { headers: { x_custom: '1' } });
      expect(res.status).toBe(200);
      expect(seen[0]).toMatchObject({ method: 'GetOrder', request: { orderId: 'a/b' } });
      expect(seen[0].metadata.get('x_custom')).toEqual(['1']);
    });

    it('normalize_path and merge_slashes off: the raw path is routed as sent, so these miss (404)', async () => {
      const url = await edgeWith({ normalize_path: 'false', merge_slashes: 'false' });
      expect((await rawRequest(url, '/cqrs/queries/./health')).status).toBe(404);
      expect((await rawRequest(url, '//cqrs//queries/health')).status).toBe(404);
      expect((await rawRequest(url, '/cqrs/queries/health')).status).toBe(200);
    });
  });
});
