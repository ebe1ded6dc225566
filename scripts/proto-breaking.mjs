// `buf breaking` against the previous commit's contracts. The previous tree is
// exported with git archive and built into an image next to the same
// third-party protos (gen/proto-deps), since the buf registry is out of reach.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const against = process.argv[2] ?? 'HEAD~1';
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
const buf = (...args) => execFileSync(join(root, 'node_modules', '.bin', 'buf'), args, { cwd: root, stdio: 'inherit' });

try {
  git('rev-parse', '--verify', '--quiet', `${against}^{commit}`);
  git('cat-file', '-e', `${against}:proto`);
} catch {
  console.log(`proto-breaking: ${against} has no proto/ to compare with; nothing to check`);
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), 'proto-prev-'));
try {
  execFileSync('sh', ['-c', `git archive ${against} proto buf.yaml | tar -x -C "${dir}"`], { cwd: root });
  if (!existsSync(join(root, 'gen', 'proto-deps'))) throw new Error('run `npm run gen` first');
  cpSync(join(root, 'gen', 'proto-deps'), join(dir, 'gen', 'proto-deps'), { recursive: true });
  buf('build', dir, '-o', join(dir, 'previous.binpb'));
  buf('build', '-o', join(dir, 'current.binpb'));
  buf('breaking', join(dir, 'current.binpb'), '--against', join(dir, 'previous.binpb'));
  console.log(`proto-breaking: no breaking change against ${against}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
