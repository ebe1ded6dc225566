// `npm run test:tools` (run by `pretest`): installs the programs the tests
// drive, so `npm ci && npm test` works on a fresh machine.
//  - Go tools, pinned, into .bin/go/ (project-local, git-ignored) with
//    `GOBIN=.bin/go go install pkg@version`; skipped when already there:
//      grpcurl          test/inspection (README "Inspecting with grpcurl")
//      toxiproxy-server test/faults/network (Toxiproxy's `server` command)
//  - Debian's docker-compose (test/compose runs `docker-compose config`),
//    only when no docker-compose is on PATH, with apt-get (as root, or with
//    sudo that needs no password).
// Anything it cannot install is named with the command that would install
// it, and it exits non-zero. SKIP_TEST_TOOLS=1 skips it all.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, renameSync, rmSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const goBin = join(root, '.bin', 'go');

const GO_TOOLS = [
  { name: 'grpcurl', pkg: 'github.com/fullstorydev/grpcurl/cmd/grpcurl', version: 'v1.9.4', built: 'grpcurl' },
  { name: 'toxiproxy-server', pkg: 'github.com/Shopify/toxiproxy/v2/cmd/server', version: 'v2.5.0', built: 'server' },
];

const say = (s) => console.log(`test:tools: ${s}`);
const problems = [];

const executable = (p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};
const onPath = (cmd) => (process.env.PATH ?? '').split(delimiter).filter(Boolean).some((d) => executable(join(d, cmd)));
const works = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;

function goTools() {
  const missing = GO_TOOLS.filter((t) => !executable(join(goBin, t.name)));
  for (const t of GO_TOOLS) if (!missing.includes(t)) say(`${t.name} ${t.version} already in .bin/go`);
  if (!missing.length) return;
  if (!works('go', ['version'])) {
    for (const t of missing) {
      const rename = t.built === t.name ? '' : ` && mv ${join(goBin, t.built)} ${join(goBin, t.name)}`;
      problems.push(`${t.name}: the Go toolchain is needed to install it (GOBIN=${goBin} go install ${t.pkg}@${t.version}${rename})`);
    }
    return;
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
}

function dockerCompose() {
  if (onPath('docker-compose')) {
    say('docker-compose already on PATH');
    return;
  }
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = !asRoot && onPath('sudo') && works('sudo', ['-n', 'true']);
  if (!onPath('apt-get') || (!asRoot && !sudo)) {
    problems.push(
      'docker-compose (test/compose runs `docker-compose config`) is not on PATH and cannot be installed here ' +
        `(${onPath('apt-get') ? 'not root, and no password-less sudo' : 'no apt-get'}): install Debian's package with \`sudo apt-get install -y docker-compose\`, or put a docker-compose on PATH`,
    );
    return;
  }
  const apt = (...args) => {
    const [cmd, argv] = asRoot ? ['apt-get', args] : ['sudo', ['-n', 'apt-get', ...args]];
    return spawnSync(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'], timeout: 10 * 60_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  };
  say('docker-compose is not on PATH: installing Debian\'s package docker-compose with apt-get...');
  // A fresh machine may have no package lists yet: update once, then retry.
  const ok = apt('install', '-y', '-q', '--no-install-recommends', 'docker-compose') || (apt('update', '-q') && apt('install', '-y', '-q', '--no-install-recommends', 'docker-compose'));
  if (ok && onPath('docker-compose')) say('installed docker-compose');
  else problems.push('docker-compose: `apt-get install -y docker-compose` failed (see above)');
}

if (process.env.SKIP_TEST_TOOLS) {
  say('SKIP_TEST_TOOLS is set: not installing anything (tests that need grpcurl, Toxiproxy or docker-compose will fail without them)');
  process.exit(0);
}
goTools();
dockerCompose();
if (problems.length) {
  console.error(`test:tools: the tests need programs that could not be installed:\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
