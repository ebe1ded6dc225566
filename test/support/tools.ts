// Where the tests find the programs they drive. `npm run test:tools`
// (pretest) installs the Go ones into .bin/go/, which is looked at first;
// then PATH, then $(go env GOPATH)/bin and ~/go/bin (a hand-made `go install`).
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { repoRoot } from '../../lib/paths';

/** The project-local folder `npm run test:tools` installs Go tools into. */
export const PROJECT_GO_BIN = join(repoRoot, '.bin', 'go');

export const GRPCURL = { name: 'grpcurl', install: 'go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4' };
/** Toxiproxy's server: `.bin/go/toxiproxy-server`; a plain `go install` names it `server`. */
export const TOXIPROXY = { name: 'toxiproxy-server', goName: 'server', install: 'go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.5.0' };

const executable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

function gopathBins(): string[] {
  let gopath = process.env.GOPATH;
  if (!gopath) {
    try {
      gopath = execFileSync('go', ['env', 'GOPATH'], { timeout: 20_000 }).toString().trim();
    } catch {
      gopath = '';
    }
  }
  return [...gopath.split(delimiter).filter(Boolean), join(homedir(), 'go')].map((d) => join(d, 'bin'));
}

/**
 * A tool's path: .bin/go/<name>, else <name> on PATH, else `goName` (the
 * name `go install` gives it) in $(go env GOPATH)/bin or ~/go/bin.
 * Throws a message saying how to install it.
 */
export function findTool(tool: { name: string; goName?: string; install: string }): string {
  const local = join(PROJECT_GO_BIN, tool.name);
  if (executable(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (executable(join(dir, tool.name))) return join(dir, tool.name);
  }
  for (const dir of gopathBins()) {
    const p = join(dir, tool.goName ?? tool.name);
    if (executable(p)) return p;
  }
  throw new Error(
    `${tool.name} not found in .bin/go, on PATH, nor in $(go env GOPATH)/bin. \`npm test\` installs it (npm run test:tools); by hand:\n` +
      `  GOBIN=${PROJECT_GO_BIN} ${tool.install}${tool.goName ? ` && mv ${join(PROJECT_GO_BIN, tool.goName)} ${local}` : ''}`,
  );
}
