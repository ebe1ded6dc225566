// The client package as another service gets it: `npm pack` of
// clients/ts, installed from the tarball (npm, --prefer-offline) into a copy
// of examples/ts-service in a temporary folder outside the repo, compiled
// against the package's .d.ts, and run against a real mesh (real RabbitMQ
// vhost, real embedded store). The example places an order, pays it, reads
// it until PAID, and ships it on OrderPaid through the subscriber; the test
// reads what it printed and checks the mesh independently.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { clients } from '../../kit/clients';
import { rpc } from '../e2e/helpers';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { repoRoot } from '../../lib/paths';
import { OrderStatus } from '../../gen/ts/cqrs/v1/common';

const run = promisify(execFile);
const PKG = join(repoRoot, 'clients', 'ts');
const EXAMPLE = join(repoRoot, 'examples', 'ts-service');
const QUEUE = 'ts-service-example.shipping';

let mesh: TestMesh | undefined;
let work: string;
let app: string;

/** The environment without npm's own variables, so the nested npm acts as one run by hand in that folder. */
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
const sh = (cmd: string, args: string[], cwd: string, timeout: number, env: NodeJS.ProcessEnv = {}) =>
  run(cmd, args, { cwd, timeout, env: { ...cleanEnv(), ...env }, maxBuffer: 16 * 1024 * 1024 }).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });

const newest = (dir: string): number =>
  Math.max(0, ...readdirSync(dir).map((n) => (statSync(join(dir, n)).isDirectory() ? (n === 'gen' ? 0 : newest(join(dir, n))) : statSync(join(dir, n)).mtimeMs)));

/** npm test builds the package first (the build script); a test run alone rebuilds a stale one. */
async function packageTarball(): Promise<string> {
  let built = 0;
  try {
    built = statSync(join(PKG, 'dist', 'index.js')).mtimeMs;
  } catch {
    /* never built */
  }
  if (built < Math.max(newest(join(PKG, 'src')), statSync(join(PKG, 'package.json')).mtimeMs)) {
    await sh('npm', ['run', 'build', '-w', '@cqrs-mesh/client'], repoRoot, 120_000);
  }
  const { stdout } = await sh('npm', ['pack', '-w', '@cqrs-mesh/client', '--pack-destination', work, '--ignore-scripts', '--json'], repoRoot, 60_000);
  return join(work, (JSON.parse(stdout) as Array<{ filename: string }>)[0].filename);
}

async function installExample(): Promise<void> {
  const tarball = await packageTarball();
  cpSync(EXAMPLE, app, { recursive: true, filter: (src) => !/(node_modules|dist|\.tgz$)/.test(relative(EXAMPLE, src)) });
  cpSync(tarball, join(app, 'cqrs-mesh-client.tgz'));
  await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], app, 120_000);
  await sh('npm', ['run', 'build'], app, 60_000);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cqrs-client-example-'));
  app = join(work, 'ts-service');
  const [meshResult, installResult] = await Promise.allSettled([startTestMesh({ vhostPrefix: 'cqrs-client-example' }), installExample()]);
  if (meshResult.status === 'fulfilled') mesh = meshResult.value;
  if (meshResult.status === 'rejected') throw meshResult.reason;
  if (installResult.status === 'rejected') throw installResult.reason;
}, 150_000);

afterAll(async () => {
  await mesh?.teardown();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

test('the packed package installs outside the repo and carries its own code, not repo paths', () => {
  expect(relative(repoRoot, app).startsWith('..')).toBe(true);
  const resolved = require.resolve('@cqrs-mesh/client', { paths: [app] });
  expect(resolved).toBe(join(app, 'node_modules', '@cqrs-mesh', 'client', 'dist', 'index.js'));
  const installed = JSON.parse(readFileSync(join(app, 'node_modules', '@cqrs-mesh', 'client', 'package.json'), 'utf8'));
  expect(Object.keys(installed.dependencies).sort()).toEqual(['@bufbuild/protobuf', '@grpc/grpc-js', 'amqplib']);
  // Every require in the shipped code is relative within dist or one of those dependencies.
  const dist = join(app, 'node_modules', '@cqrs-mesh', 'client', 'dist');
  const requires = new Set<string>();
  const walk = (d: string): void =>
    readdirSync(d).forEach((n) => {
      const p = join(d, n);
      if (statSync(p).isDirectory()) return walk(p);
      if (!n.endsWith('.js')) return;
      for (const m of readFileSync(p, 'utf8').matchAll(/require\("([^"]+)"\)/g)) {
        if (m[1].startsWith('.')) expect(join(d, m[1]).startsWith(dist)).toBe(true);
        else requires.add(m[1].split('/').slice(0, m[1].startsWith('@') ? 2 : 1).join('/'));
      }
    });
  walk(dist);
  expect([...requires].filter((r) => !r.startsWith('node:')).sort()).toEqual(['@bufbuild/protobuf', '@grpc/grpc-js', 'amqplib']);
});

test('the example service places, pays, reads back and ships an order through the package', async () => {
  const m = mesh!;
  const env = { COMMAND_ADDR: m.urls.command, QUERY_ADDR: m.urls.query, AMQP_URL: m.urls.amqp, WAIT_MS: '20000' };
  const { stdout, stderr } = await sh(process.execPath, ['dist/main.js'], app, 60_000, env).catch((err: Error) => {
    throw new Error(`${err.message}\n--- mesh ---\n${m.logs.slice(-30).join('\n')}`);
  });
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { step: string });
  const step = (name: string) => {
    const found = lines.find((l) => l.step === name);
    if (!found) throw new Error(`the example never printed "${name}":\n${stdout}\n${stderr}`);
    return found;
  };
  // Two tracks: the main flow, and the OrderPaid handler running beside it.
  const steps = lines.map((l) => l.step);
  const handler = ['OrderPaid received', 'ship command accepted'];
  expect(steps.filter((s) => !handler.includes(s))).toEqual([
    'subscribed',
    'product stocked',
    'bad order refused',
    'order placed',
    'order validated',
    'payment accepted',
    'order paid (query)',
    'order shipped (query)',
    'done',
  ]);
  expect(steps.filter((s) => handler.includes(s))).toEqual(handler);
  expect(steps.indexOf('OrderPaid received')).toBeGreaterThan(steps.indexOf('order validated'));
  expect(steps.indexOf('ship command accepted')).toBeLessThan(steps.indexOf('order shipped (query)'));
  expect(step('bad order refused')).toMatchObject({ code: 'INVALID_ARGUMENT', violations: [{ field: 'quantity', description: expect.any(String) }] });
  const { orderId, requestId } = step('order placed') as unknown as { orderId: string; requestId: string };
  expect(step('order placed').status).toBe('PENDING');
  expect(step('order validated').totalAmount).toBe(25);
  expect(step('payment accepted').status).toBe('PAID');
  expect(step('order paid (query)')).toMatchObject({ orderId, paidAmount: 25 });
  expect(['PAID', 'SHIPPED']).toContain(step('order paid (query)').status);
  expect(step('OrderPaid received')).toMatchObject({ orderId, amountCents: 2_500, correlationId: requestId, attempt: 1 });
  expect(step('ship command accepted')).toMatchObject({ orderId, status: 'SHIPPED' });
  expect(step('order shipped (query)').timeline).toEqual(['OrderInitiated', 'OrderValidated', 'PaymentProcessed', 'OrderPaid', 'OrderShipped']);

  // What the mesh itself says, through the repo's own client.
  const grpc = clients(m.urls.command, m.urls.query);
  try {
    const { order } = await rpc(grpc).getOrder(orderId);
    expect(order?.status).toBe(OrderStatus.SHIPPED);
    expect(order?.userId).toBe(7001);
  } finally {
    grpc.close();
  }
  // Its own queue, with the mesh's dead-letter queue beside it and nothing parked.
  const conn = await amqp.connect(m.urls.amqp);
  try {
    const ch = await conn.createChannel();
    expect((await ch.checkQueue(QUEUE)).messageCount).toBe(0);
    expect((await ch.checkQueue(`${QUEUE}.dead-letter`)).messageCount).toBe(0);
  } finally {
    await conn.close();
  }
}, 90_000);
