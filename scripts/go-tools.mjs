// Pinned Go programs installed into the project-local, git-ignored .bin/go
// with `go install pkg@version` (the Go module proxy is all it needs), each
// skipped when already there. Shared by scripts/test-tools.mjs (programs the
// tests drive) and scripts/gen.mjs (the buf plugins that make the Go client
// and the OpenAPI document).
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const root = join(dirname(new URL(import.meta.url).pathname), '..');
export const goBin = join(root, '.bin', 'go');

/**
 * The buf local plugins of buf.gen.go.yaml and buf.gen.openapi.yaml. Their
 * versions go with clients/go/go.mod: protoc-gen-go matches
 * google.golang.org/protobuf there, protoc-gen-go-grpc's output needs
 * google.golang.org/grpc >= 1.64.
 */
export const GEN_PLUGINS = [
  { name: 'protoc-gen-go', pkg: 'google.golang.org/protobuf/cmd/protoc-gen-go', version: 'v1.36.12', built: 'protoc-gen-go' },
  { name: 'protoc-gen-go-grpc', pkg: 'google.golang.org/grpc/cmd/protoc-gen-go-grpc', version: 'v1.6.2', built: 'protoc-gen-go-grpc' },
  { name: 'protoc-gen-openapiv2', pkg: 'github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2', version: 'v2.34.0', built: 'protoc-gen-openapiv2' },
];

export const executable = (p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export const goWorks = () => spawnSync('go', ['version'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

/**
 * Installs the missing ones; returns one problem line per tool it could not
 * install (with the command that would), so the caller decides how to fail.
 */
export function installGoTools(tools, say) {
  const problems = [];
  const missing = tools.filter((t) => !executable(join(goBin, t.name)));
  for (const t of tools) if (!missing.includes(t)) say(`${t.name} ${t.version} already in .bin/go`);
  if (!missing.length) return problems;
  if (!goWorks()) {
    for (const t of missing) {
      const rename = t.built === t.name ? '' : ` && mv ${join(goBin, t.built)} ${join(goBin, t.name)}`;
      problems.push(`${t.name}: the Go toolchain is needed to install it (GOBIN=${goBin} go install ${t.pkg}@${t.version}${rename})`);
    }
    return problems;
  }
  mkdirSync(goBin, { recursive: true });
  for (const t of missing) {
    say(`installing ${t.name} ${t.version} into .bin/go (go install ${t.pkg}@${t.version})...`);
    // A temporary GOBIN per tool: `server` is too generic a name to leave lying around.
    const tmp = join(goBin, `.installing-${t.name}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      execFileSync('go', ['install', `${t.pkg}@${t.version}`], {
        stdio: 'inherit',
        timeout: 15 * 60_000,
        // GOTOOLCHAIN=local: build with this Go, never fetch another toolchain.
        env: { ...process.env, GOBIN: tmp, GOTOOLCHAIN: 'local', GOFLAGS: '-trimpath' },
      });
      renameSync(join(tmp, t.built), join(goBin, t.name));
      say(`installed ${join('.bin', 'go', t.name)}`);
    } catch (err) {
      problems.push(`${t.name}: \`go install ${t.pkg}@${t.version}\` failed (${err.message.split('\n')[0]})`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return problems;
}
