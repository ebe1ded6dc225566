// Shared by the edge tests: the real descriptor set, a test-only one built
// from fixtures/library.proto with the project's buf, and a quiet logger.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { loadDescriptor, type LoadedDescriptor } from '../../edge/descriptor';
import { MESH_DEFAULTS, type TranscoderOptions } from '../../edge/envoy-options';
import { buildRoutes, RouteTable } from '../../edge/routes';

export const repoRoot = join(__dirname, '..', '..');
export const descriptorPath = join(repoRoot, 'gen', 'descriptor.binpb');
export const envoyConfigPath = join(repoRoot, 'envoy', 'envoy.yaml');

export const quietLogger = () => pino({ level: 'silent' });

export const meshDescriptor = (): LoadedDescriptor => loadDescriptor(readFileSync(descriptorPath));

/** Builds fixtures/library.proto (with google/api from google-proto-files) into a temp dir. */
export function buildLibraryDescriptor(): { path: string; descriptor: LoadedDescriptor; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'edge-test-'));
  const google = join(dirname(require.resolve('google-proto-files/package.json')), 'google');
  for (const file of ['api/annotations.proto', 'api/http.proto', 'rpc/status.proto', 'rpc/error_details.proto']) {
    mkdirSync(dirname(join(dir, 'deps', 'google', file)), { recursive: true });
    cpSync(join(google, file), join(dir, 'deps', 'google', file));
  }
  mkdirSync(join(dir, 'proto', 'edgetest', 'v1'), { recursive: true });
  cpSync(join(__dirname, 'fixtures', 'library.proto'), join(dir, 'proto', 'edgetest', 'v1', 'library.proto'));
  writeFileSync(join(dir, 'buf.yaml'), 'version: v2\nmodules:\n  - path: proto\n  - path: deps\n');
  const out = join(dir, 'library.binpb');
  execFileSync(join(repoRoot, 'node_modules', '.bin', 'buf'), ['build', '-o', out], { cwd: dir, stdio: 'pipe', timeout: 30_000 });
  return { path: out, descriptor: loadDescriptor(readFileSync(out)), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function routeTable(descriptor: LoadedDescriptor, options: TranscoderOptions = MESH_DEFAULTS): RouteTable {
  return new RouteTable(buildRoutes(descriptor.methods, []), options);
}

/** fetch with a bound wait, so a hung edge fails the test instead of the suite timeout. */
export function fetchWithin(url: string, init: RequestInit = {}, ms = 10_000): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
}

/** A JSON response body, loosely typed for assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const jsonOf = async (res: Response): Promise<Record<string, any>> => (await res.json()) as Record<string, any>;

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP/1.1 request with the path sent exactly as given. fetch (WHATWG URL)
 * would resolve "./" and "../" and turn backslashes into "/" before sending, which hides
 * what the edge's own normalization does.
 */
export function rawRequest(base: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}, ms = 10_000): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: init.method ?? 'GET', headers: init.headers, timeout: ms, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ms} ms`)));
    req.on('error', reject);
    req.end(init.body);
  });
}
