// Generates everything derived from proto/: TypeScript (ts-proto, grpc-js
// services) into gen/ts and the descriptor set (imports included) that the
// edge and Envoy load, gen/descriptor.binpb. Third-party protos come from the
// npm package google-proto-files, copied into gen/proto-deps, never committed.
// Then, with buf local plugins that scripts/go-tools.mjs installs (pinned, go
// install, into .bin/go): the Go client (clients/go/cqrsv1, git-ignored) and
// the OpenAPI document the edge serves (gen/openapi.json, scripts/openapi.mjs).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GEN_PLUGINS, installGoTools } from './go-tools.mjs';
import { writeOpenApi } from './openapi.mjs';

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

const problems = installGoTools(GEN_PLUGINS, (line) => console.log(`gen: ${line}`));
if (problems.length) {
  console.error(`gen: the Go client and the OpenAPI document need buf plugins that could not be installed:\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
// Only our own files: the google/* imports come as Go packages (genproto)
// and need no paths of their own in the document.
rmSync(join(root, 'clients', 'go', 'cqrsv1'), { recursive: true, force: true });
buf('generate', '--template', 'buf.gen.go.yaml', '--path', 'proto/cqrs');
buf('generate', '--template', 'buf.gen.openapi.yaml', '--path', 'proto/cqrs');
writeOpenApi(join(gen, 'openapi', 'cqrs.swagger.json'), join(gen, 'openapi.json'));
