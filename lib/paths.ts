import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root, whether running from sources (tests) or from dist/. */
export const repoRoot = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export const descriptorPath = join(repoRoot, 'gen', 'descriptor.binpb');
