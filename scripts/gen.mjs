// Generates everything derived from proto/: TypeScript (ts-proto, grpc-js
// services) into gen/ts and the descriptor set (imports included) that the
// edge and Envoy load, gen/descriptor.binpb. Third-party protos come from the
// npm package google-proto-files, copied into gen/proto-deps, never committed.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const root = join(dirname(new URL(import.meta.url).pathname), '..');
const gen = join(root, 'gen');
const googleProtos = join(dirname(require.resolve('google-proto-files/package.json')), 'google');
const deps = [
  'api/annotations.proto',
  'api/http.proto',
  'rpc/status.proto',
  'rpc/code.proto',
  'rpc/error_details.proto',
];

rmSync(gen, { recursive: true, force: true });
for (const file of deps) {
  const to = join(gen, 'proto-deps', 'google', file);
  mkdirSync(dirname(to), { recursive: true });
  cpSync(join(googleProtos, file), to);
}
// The standard health service, so reflection (grpcurl) can describe it too.
const healthProto = join(dirname(require.resolve('grpc-health-check/package.json')), 'proto', 'health', 'v1', 'health.proto');
mkdirSync(join(gen, 'proto-deps', 'grpc', 'health', 'v1'), { recursive: true });
cpSync(healthProto, join(gen, 'proto-deps', 'grpc', 'health', 'v1', 'health.proto'));

const buf = (...args) => execFileSync(join(root, 'node_modules', '.bin', 'buf'), args, { cwd: root, stdio: 'inherit' });
buf('lint');
buf('generate');
buf('build', '-o', join(gen, 'descriptor.binpb'));
