// Builds the embedded FerretDB store (store/, Go) into .bin/store. Skipped when
// the binary is newer than its sources, so repeated builds cost nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const out = join(root, '.bin', 'store');
const sources = ['main.go', 'go.mod', 'go.sum'].map((f) => join(root, 'store', f));

const fresh = existsSync(out) && sources.every((s) => statSync(s).mtimeMs <= statSync(out).mtimeMs);
if (fresh) process.exit(0);

try {
  execFileSync('go', ['version'], { stdio: 'ignore' });
} catch {
  console.error('build:store: the Go toolchain is needed to build the embedded MongoDB-compatible store (store/).');
  console.error('Install Go, or set MONGO_URL to a MongoDB server and skip it with SKIP_STORE_BUILD=1.');
  process.exit(process.env.SKIP_STORE_BUILD ? 0 : 1);
}
console.log('build:store: building the FerretDB-based store (first build takes a few minutes)...');
execFileSync('go', ['build', '-trimpath', '-o', out, '.'], { cwd: join(root, 'store'), stdio: 'inherit' });
