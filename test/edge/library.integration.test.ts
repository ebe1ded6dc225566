// The edge is generic: a test-only service (fixtures/library.proto, built
// with buf) checks the routing and mapping cqrs.v1 does not use, server
// streaming, and envoy.yaml options other than the mesh's.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, toBinary, toJson, type DescService } from '@bufbuild/protobuf';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { createEdge, type Edge } from '../../edge/server';
import { buildLibraryDescriptor, fetchWithin, jsonOf, quietLogger } from './helpers';

let lib: ReturnType<typeof buildLibraryDescriptor>;
let server: Server;
let upstream: string;
let configDir: string;
const edges: Edge[] = [];

const identity = (b: Buffer) => b;

/** A grpc-js service over raw bytes, straight from the descriptor. */
function definition(service: DescService): ServiceDefinition {
  return Object.fromEntries(
    service.methods.map((m) => [
      m.name,
      { path: `/${service.typeName}/${m.name}`, requestStream: false, responseStream: m.methodKind === 'server_streaming', requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity, originalName: m.name },
    ]),
  ) as ServiceDefinition;
}

/** Every unary method answers an Echo carrying the decoded request; Watch streams user_id of them. */
function implementation(service: DescService): UntypedServiceImplementation {
  const { registry } = lib.descriptor;
  const req = registry.getMessage('edgetest.v1.Req')!;
  const echo = registry.getMessage('edgetest.v1.Echo')!;
  const decode = (bytes: Buffer) => fromBinary(req, bytes);
  const echoOf = (rpc: string, bytes: Buffer, extra: object = {}) => {
    const json = JSON.stringify(toJson(req, decode(bytes), { useProtoFieldName: true }));
    return Buffer.from(toBinary(echo, create(echo, { rpc, requestJson: json, big: 2n ** 62n, ...extra } as never)));
  };
  const impl: UntypedServiceImplementation = {};
  for (const m of service.methods) {
    if (m.name === 'Watch') {
      impl[m.name] = (call: ServerWritableStream<Buffer, Buffer>) => {
        const r = decode(call.request) as unknown as { name: string; userId: number };
        if (r.name === 'fail') return void call.emit('error', { code: status.NOT_FOUND, details: 'no such feed' });
        for (let i = 0; i < r.userId; i++) call.write(echoOf('Watch', call.request, { notes: [`n${i}`] }));
        if (r.name === 'fail-late') return void call.emit('error', { code: status.INTERNAL, details: 'broke' });
        call.end();
      };
    } else if (m.name === 'Replace') {
      impl[m.name] = (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
        const r = decode(call.request) as unknown as { book?: object };
        cb(null, Buffer.from(toBinary(echo, create(echo, { rpc: 'Replace', book: { ...r.book, pages: 7n } } as never))));
      };
    } else {
      impl[m.name] = (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => cb(null, echoOf(m.name, call.request));
    }
  }
  return impl;
}

async function startEdge(yaml?: string): Promise<string> {
  let envoyConfigPath: string | undefined;
  if (yaml) {
    envoyConfigPath = join(configDir, `envoy-${edges.length}.yaml`);
    writeFileSync(envoyConfigPath, yaml);
  }
  const edge = await createEdge({ descriptorPath: lib.path, envoyConfigPath, upstreams: { 'edgetest.v1.Library': upstream }, logger: quietLogger() });
  edges.push(edge);
  return `http://127.0.0.1:${await edge.listen(0, '127.0.0.1')}`;
}

const transcoder = (body: string) => `
http_filters:
  - name: envoy.filters.http.grpc_json_transcoder
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder
      proto_descriptor: /unused
${body
  .trim()
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
`;

let base: string;

beforeAll(async () => {
  lib = buildLibraryDescriptor();
  configDir = mkdtempSync(join(tmpdir(), 'edge-lib-'));
  const service = lib.descriptor.registry.getService('edgetest.v1.Library')!;
  server = new Server();
  server.addService(definition(service), implementation(service));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  upstream = `127.0.0.1:${port}`;
  // No envoy config: the mesh defaults apply.
  base = await startEdge();
});

afterAll(async () => {
  await Promise.all(edges.map((e) => e.close()));
  server?.forceShutdown();
  lib?.cleanup();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; rpc?: string; request?: Record<string, unknown>; body: Record<string, unknown> }> {
  const res = await fetchWithin(url, init);
  const body = (await res.json()) as Record<string, unknown>;
  const requestJson = body.request_json ?? body.requestJson; // proto or JSON field names, per print options
  return { status: res.status, rpc: body.rpc as string | undefined, request: typeof requestJson === 'string' ? JSON.parse(requestJson) : undefined, body };
}

describe('routing', () => {
  it('binds a multi-segment variable and prefers a literal route', async () => {
    expect(await call(`${base}/v1/shelves/s1/books/b1`)).toMatchObject({ status: 200, rpc: 'Get', request: { name: 'shelves/s1/books/b1' } });
    expect(await call(`${base}/v1/shelves/special/books/b1`)).toMatchObject({ status: 200, rpc: 'GetSpecial', request: { name: 'b1' } });
  });

  it('serves additional_bindings', async () => {
    expect(await call(`${base}/v1/books/b2`)).toMatchObject({ status: 200, rpc: 'Get', request: { name: 'b2' } });
  });

  it('binds "**" to the rest of the path', async () => {
    expect(await call(`${base}/v1/files/a/b/c.txt`)).toMatchObject({ rpc: 'GetFile', request: { name: 'a/b/c.txt' } });
  });

  it('routes a custom verb and only that verb', async () => {
    expect(await call(`${base}/v1/books/b3:publish`, { method: 'POST', body: '{"flag":true}' })).toMatchObject({ status: 200, rpc: 'Publish', request: { name: 'books/b3', flag: true } });
    expect((await call(`${base}/v1/books/b3:publish`)).status).toBe(404);
    expect((await call(`${base}/v1/books/b3`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('serves PATCH, PUT (body: "field", response_body), DELETE and a custom method', async () => {
    expect(await call(`${base}/v1/books/b4`, { method: 'PATCH', body: '{"title":"T"}' })).toMatchObject({ rpc: 'Update', request: { book: { name: 'b4', title: 'T' } } });
    const put = await call(`${base}/v1/users/3/books/b5`, { method: 'PUT', body: '{"title":"New","color":"GREEN"}' });
    expect(put).toMatchObject({ status: 200, body: { name: '', title: 'New', pages: '7', color: 'GREEN' } });
    expect(await call(`${base}/v1/books/b6`, { method: 'DELETE' })).toMatchObject({ rpc: 'Remove', request: { name: 'b6' } });
    expect(await call(`${base}/v1/cache/c1`, { method: 'PURGE' })).toMatchObject({ rpc: 'Purge', request: { name: 'c1' } });
  });

  it('maps nested, repeated and enum query parameters, and prints int64 as a string', async () => {
    const res = await call(`${base}/v1/books/b7?filter.min=2&filter.color=RED&ids=1&ids=2&filter.tags=x&filter.tags=y`);
    expect(res.request).toEqual({ name: 'b7', ids: ['1', '2'], filter: { min: 2, color: 'RED', tags: ['x', 'y'] } });
    expect(res.body.big).toBe('4611686018427387904');
    expect(res.body.notes).toEqual([]);
  });
});

describe('server streaming', () => {
  it('prints the stream as one JSON array', async () => {
    const res = await fetchWithin(`${base}/v1/watch/feed?user_id=3`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const items = (await res.json()) as { rpc: string; notes: string[] }[];
    expect(items.map((i) => [i.rpc, i.notes])).toEqual([
      ['Watch', ['n0']],
      ['Watch', ['n1']],
      ['Watch', ['n2']],
    ]);
  });

  it('prints an empty stream as []', async () => {
    const res = await fetchWithin(`${base}/v1/watch/feed`);
    expect(await res.text()).toBe('[]');
  });

  it('turns an error before the first message into an error response', async () => {
    const res = await fetchWithin(`${base}/v1/watch/fail?user_id=2`);
    expect(res.status).toBe(404);
    expect(await jsonOf(res)).toEqual({ code: 5, message: 'no such feed', details: [] });
  });

  it('cuts the response short on an error after the first message, so it is not valid JSON', async () => {
    const res = await fetchWithin(`${base}/v1/watch/fail-late?user_id=2`, {}, 5_000);
    expect(res.status).toBe(200);
    let received = '';
    const reader = res.body!.getReader();
    const failure = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        received += Buffer.from(value).toString();
      }
    })().catch((err: Error) => err);
    // undici reports the cut connection as "terminated" (not our 5 s timeout)
    expect(failure?.message).toBe('terminated');
    expect(received.startsWith('[{')).toBe(true);
    expect(received.endsWith(']')).toBe(false);
  });

  it('prints newline-delimited JSON with stream_newline_delimited', async () => {
    const url = await startEdge(transcoder('services: [edgetest.v1.Library]\nprint_options: { stream_newline_delimited: true, preserve_proto_field_names: true }'));
    const text = await (await fetchWithin(`${url}/v1/watch/feed?user_id=2`)).text();
    expect(text.split('\n')).toHaveLength(3);
    expect(text.split('\n').slice(0, 2).map((l) => JSON.parse(l).notes)).toEqual([['n0'], ['n1']]);
  });
});

describe('options from the envoy config', () => {
  it('prints with the filter\'s print options (JSON names, ints for enums, no defaults, whitespace)', async () => {
    const url = await startEdge(transcoder('services: [edgetest.v1.Library]\nprint_options: { add_whitespace: true, always_print_enums_as_ints: true }'));
    const res = await fetchWithin(`${url}/v1/users/3/books/b5`, { method: 'PUT', body: '{"color":"GREEN"}' });
    const text = await res.text();
    expect(text).toContain('\n');
    expect(JSON.parse(text)).toEqual({ pages: '7', color: 2 });
  });

  it('leaves grpc-status/grpc-message in headers without convert_grpc_status', async () => {
    const url = await startEdge(transcoder('services: [edgetest.v1.Library]'));
    const res = await fetchWithin(`${url}/v1/watch/fail`);
    expect(res.status).toBe(404);
    expect(res.headers.get('grpc-status')).toBe('5');
    expect(decodeURIComponent(res.headers.get('grpc-message') ?? '')).toBe('no such feed');
    expect(await res.text()).toBe('');
  });

  it('ignores unknown query parameters with ignore_unknown_query_parameters', async () => {
    const url = await startEdge(transcoder('services: [edgetest.v1.Library]\nignore_unknown_query_parameters: true'));
    expect(await call(`${url}/v1/books/b1?nope=1`)).toMatchObject({ status: 200, request: { name: 'b1' } });
  });

  it('answers 413 past the filter\'s max_request_body_size', async () => {
    const url = await startEdge(transcoder('services: [edgetest.v1.Library]\nmax_request_body_size: 64'));
    const res = await fetchWithin(`${url}/v1/books/b1:publish`, { method: 'POST', body: JSON.stringify({ name: 'x'.repeat(100) }) });
    expect(res.status).toBe(413);
  });

  it('answers 500 past max_response_body_size', async () => {
    const url = await startEdge(transcoder('services: [edgetest.v1.Library]\nconvert_grpc_status: true\nmax_response_body_size: 16'));
    const res = await fetchWithin(`${url}/v1/books/b1`);
    expect(res.status).toBe(500);
    expect((await jsonOf(res)).code).toBe(13);
  });

  it('refuses to start when the filter lists a service the descriptor lacks, as Envoy does', async () => {
    writeFileSync(join(configDir, 'bad.yaml'), transcoder('services: [edgetest.v1.Nope]'));
    await expect(createEdge({ descriptorPath: lib.path, envoyConfigPath: join(configDir, 'bad.yaml'), upstreams: {}, logger: quietLogger() })).rejects.toThrow(/edgetest.v1.Nope/);
  });
});
