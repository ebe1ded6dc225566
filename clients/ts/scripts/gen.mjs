// Generates the package's code from the repo's proto/ (the single source of
// truth) into src/gen: the cqrs.v1 contracts and google.rpc's Status and
// BadRequest (to decode error details). Uses the repo's buf workspace
// (buf.yaml), whose google/* deps scripts/gen.mjs copies into gen/proto-deps;
// runs that first when they are missing, e.g. `npm run build -w` on a clone
// that never built.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const pkg = join(dirname(new URL(import.meta.url).pathname), '..');
const root = join(pkg, '..', '..');

if (!existsSync(join(root, 'gen', 'proto-deps', 'google', 'rpc', 'error_details.proto'))) {
  execFileSync(process.execPath, [join(root, 'scripts', 'gen.mjs')], { cwd: root, stdio: 'inherit' });
}
rmSync(join(pkg, 'src', 'gen'), { recursive: true, force: true });
execFileSync(
  join(root, 'node_modules', '.bin', 'buf'),
  [
    'generate',
    '--template', join(pkg, 'buf.gen.yaml'),
    '--output', pkg,
    '--path', 'proto/cqrs/v1',
    '--path', 'gen/proto-deps/google/rpc/status.proto',
    '--path', 'gen/proto-deps/google/rpc/error_details.proto',
  ],
  { cwd: root, stdio: 'inherit' },
);
