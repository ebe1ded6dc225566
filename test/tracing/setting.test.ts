// TRACING, as a process sees it at start-up (lib/tracing.ts, from dist/):
// off unless set, no SDK module loaded then; on with TRACING=on; a bad value
// (or an OTLP protocol it cannot export with) stops the process with a
// message naming the setting.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** Loads lib/tracing.js the way a main.ts does and says whether the SDK came with it. */
function load(env: NodeJS.ProcessEnv) {
  const script = `require(${JSON.stringify(join(ROOT, 'dist', 'lib', 'tracing.js'))});
    const loaded = (name) => Object.keys(require.cache).some((k) => k.includes(name));
    const sdk = loaded('@opentelemetry/sdk-trace');
    const exporter = loaded('exporter-trace-otlp-proto') ? 'protobuf' : loaded('exporter-trace-otlp-http') ? 'json' : 'none';
    const { spansOn } = require(${JSON.stringify(join(ROOT, 'dist', 'lib', 'spans.js'))});
    process.stdout.write(JSON.stringify({ sdk, exporter, spans: spansOn() }));`;
  const { TRACING: _unset, ...rest } = process.env;
  // The exporter is never reached: nothing makes a span here.
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...rest, ...env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, out: r.stdout ? JSON.parse(r.stdout || 'null') : null, err: r.stderr };
}

test('off by default: no SDK module is even loaded', () => {
  expect(load({})).toMatchObject({ status: 0, out: { sdk: false, exporter: 'none', spans: false } });
});

test('TRACING=on sets up the SDK and the mesh spans, exporting OTLP protobuf unless told JSON', () => {
  expect(load({ TRACING: 'on' })).toMatchObject({ status: 0, out: { sdk: true, exporter: 'protobuf', spans: true } });
  expect(load({ TRACING: 'on', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toMatchObject({ status: 0, out: { exporter: 'json' } });
  expect(load({ TRACING: 'on', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })).toMatchObject({ status: 0, out: { exporter: 'protobuf' } });
});

test('an OTLP protocol the exporter does not speak stops the process, naming the setting', () => {
  const r = load({ TRACING: 'on', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
  expect(r.status).toBe(1);
  expect(r.err).toMatch(/OTEL_EXPORTER_OTLP_PROTOCOL must be one of http\/protobuf, http\/json, got "grpc"/);
});

test('a bad TRACING value stops the process, naming the setting', () => {
  const r = load({ TRACING: 'sometimes' });
  expect(r.status).toBe(1);
  expect(r.err).toMatch(/TRACING must be true or false, got "sometimes"/);
});
