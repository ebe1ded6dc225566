// TRACING, as a process sees it at start-up (lib/tracing.ts, from dist/):
// off unless set, no SDK module loaded then; on with TRACING=on; a bad value
// stops the process with a message naming the setting.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** Loads lib/tracing.js the way a main.ts does and says whether the SDK came with it. */
function load(env: NodeJS.ProcessEnv) {
  const script = `require(${JSON.stringify(join(ROOT, 'dist', 'lib', 'tracing.js'))});
    const sdk = Object.keys(require.cache).some((k) => k.includes('@opentelemetry/sdk-trace'));
    const { spansOn } = require(${JSON.stringify(join(ROOT, 'dist', 'lib', 'spans.js'))});
    process.stdout.write(JSON.stringify({ sdk, spans: spansOn() }));`;
  const { TRACING: _unset, ...rest } = process.env;
  // The exporter is never reached: nothing makes a span here.
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...rest, ...env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, out: r.stdout ? JSON.parse(r.stdout || 'null') : null, err: r.stderr };
}

test('off by default: no SDK module is even loaded', () => {
  expect(load({})).toMatchObject({ status: 0, out: { sdk: false, spans: false } });
});

test('TRACING=on sets up the SDK and the mesh spans', () => {
  expect(load({ TRACING: 'on' })).toMatchObject({ status: 0, out: { sdk: true, spans: true } });
});

test('a bad TRACING value stops the process, naming the setting', () => {
  const r = load({ TRACING: 'sometimes' });
  expect(r.status).toBe(1);
  expect(r.err).toMatch(/TRACING must be true or false, got "sometimes"/);
});
