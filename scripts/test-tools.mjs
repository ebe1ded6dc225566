// `npm run test:tools` (run by `pretest`): installs the programs the tests
// drive, so `npm ci && npm test` works on a fresh machine.
//  - Go tools, pinned, into .bin/go/ (project-local, git-ignored) with
//    `GOBIN=.bin/go go install pkg@version`; skipped when already there:
//      grpcurl          test/inspection (README "Inspecting with grpcurl")
//      toxiproxy-server test/faults/network (Toxiproxy's `server` command)
//  - Debian's docker-compose (test/compose runs `docker-compose config`),
//    only when no docker-compose is on PATH, with apt-get (as root, or with
//    sudo that needs no password).
//  - Debian's chromium (test/openapi drives it with playwright-core), the
//    same way, only when no chromium is on PATH.
//  - Debian's prometheus, for its promtool (test/ops runs `promtool check
//    config` and `promtool test rules`), the same way, only when no promtool
//    is on PATH.
// Anything it cannot install is named with the command that would install
// it, and it exits non-zero. SKIP_TEST_TOOLS=1 skips it all.
import { spawnSync } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { executable, installGoTools } from './go-tools.mjs';

const GO_TOOLS = [
  { name: 'grpcurl', pkg: 'github.com/fullstorydev/grpcurl/cmd/grpcurl', version: 'v1.9.4', built: 'grpcurl' },
  { name: 'toxiproxy-server', pkg: 'github.com/Shopify/toxiproxy/v2/cmd/server', version: 'v2.5.0', built: 'server' },
];

const say = (s) => console.log(`test:tools: ${s}`);
const problems = [];

const onPath = (cmd) => (process.env.PATH ?? '').split(delimiter).filter(Boolean).some((d) => executable(join(d, cmd)));
const works = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;

/** Installs Debian's `pkg` when `command` is not on PATH, as root or with password-less sudo. */
function debianPackage(command, pkg, why) {
  if (onPath(command)) {
    say(`${command} already on PATH`);
    return;
  }
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = !asRoot && onPath('sudo') && works('sudo', ['-n', 'true']);
  if (!onPath('apt-get') || (!asRoot && !sudo)) {
    problems.push(
      `${command} (${why}) is not on PATH and cannot be installed here ` +
        `(${onPath('apt-get') ? 'not root, and no password-less sudo' : 'no apt-get'}): install Debian's package with \`sudo apt-get install -y ${pkg}\`, or put a ${command} on PATH`,
    );
    return;
  }
  const apt = (...args) => {
    const [cmd, argv] = asRoot ? ['apt-get', args] : ['sudo', ['-n', 'apt-get', ...args]];
    return spawnSync(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'], timeout: 10 * 60_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  };
  say(`${command} is not on PATH: installing Debian's package ${pkg} with apt-get...`);
  // A fresh machine may have no package lists yet: update once, then retry.
  const ok = apt('install', '-y', '-q', '--no-install-recommends', pkg) || (apt('update', '-q') && apt('install', '-y', '-q', '--no-install-recommends', pkg));
  if (ok && onPath(command)) say(`installed ${pkg}`);
  else problems.push(`${command}: \`apt-get install -y ${pkg}\` failed (see above)`);
}

if (process.env.SKIP_TEST_TOOLS) {
  say('SKIP_TEST_TOOLS is set: not installing anything (tests that need grpcurl, Toxiproxy, docker-compose, chromium or promtool will fail without them)');
  process.exit(0);
}
problems.push(...installGoTools(GO_TOOLS, say));
debianPackage('docker-compose', 'docker-compose', 'test/compose runs `docker-compose config`');
// playwright-core drives Debian's browser; it never downloads one of its own.
debianPackage('chromium', 'chromium', 'test/openapi/docs-page opens /cqrs/docs in it');
// Debian ships promtool only inside the server's package.
debianPackage('promtool', 'prometheus', 'test/ops checks ops/prometheus with `promtool check config` and `promtool test rules`');
if (problems.length) {
  console.error(`test:tools: the tests need programs that could not be installed:\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
