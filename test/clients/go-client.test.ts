// The Go client (clients/go): its example program is built with `go build`
// from the code `npm run gen` generates (protoc-gen-go, protoc-gen-go-grpc)
// and run against a real mesh (RabbitMQ vhost, embedded store): it creates an
// order over gRPC and reads it back from the query side.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import { repoRoot } from '../../lib/paths';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { request } from '../contract/http';

jest.setTimeout(60_000);

const moduleDir = join(repoRoot, 'clients', 'go');
const binDir = mkdtempSync(join(tmpdir(), 'cqrs-go-client-'));
const example = join(binDir, 'create-order');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end, bounded; a non-zero exit is a result, not a throw. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    // GOTOOLCHAIN=local: this machine's Go, never a downloaded one.
    execFile(cmd, args, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, GOTOOLCHAIN: 'local' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : -1) : 0;
      if (err && code === -1) return reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      resolve({ code, stdout, stderr });
    });
  });
}

let mesh: TestMesh;

beforeAll(async () => {
  if (!existsSync(join(moduleDir, 'cqrsv1', 'command_service_grpc.pb.go'))) {
    throw new Error('clients/go/cqrsv1 is not generated: run `npm run gen` (npm ci does it)');
  }
  // The build (cached by Go after the first time) and the mesh side by side.
  const [built, started] = await Promise.allSettled([
    run('go', ['build', '-o', example, './examples/create-order'], moduleDir, 240_000),
    startTestMesh({ vhostPrefix: 'cqrs-go-client' }),
  ]);
  if (started.status === 'fulfilled') mesh = started.value;
  if (started.status === 'rejected') throw started.reason;
  if (built.status === 'rejected') throw built.reason;
  if (built.value.code !== 0) throw new Error(`go build ./examples/create-order failed:\n${built.value.stderr}`);
}, 300_000);

afterAll(async () => {
  await mesh?.teardown();
  rmSync(binDir, { recursive: true, force: true });
}, 60_000);

test('the Go example creates an order over gRPC and reads it back from the query side', async () => {
  const product = randomInt(100_000_000, 2_000_000_000);
  const user = randomInt(100_000_000, 2_000_000_000);
  const stocked = await request('POST', `${mesh.urls.edge}/cqrs/commands/inventory`, {
    body: { product_id: product, product_name: `Go Gopher ${product}`, unit_price: 12.5, quantity: 10, low_stock_threshold: 1 },
  });
  expect(stocked.status).toBe(200);

  const args = ['-command', mesh.urls.command, '-query', mesh.urls.query, '-user', String(user), '-product', String(product), '-quantity', '2', '-wait', '15s'];
  const r = await run(example, args, binDir, 30_000);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/^created order \S+ \(PENDING\)/) });
  const order = JSON.parse(r.stdout);
  expect(order).toMatchObject({ user_id: user, items: [expect.objectContaining({ product_id: product, quantity: 2 })] });
  expect(['PENDING', 'VALIDATED']).toContain(order.status);

  // The same order through REST: one mesh, one read model.
  const rest = await request('GET', `${mesh.urls.edge}/cqrs/queries/orders/${order.order_id}`);
  expect(rest.status).toBe(200);
  expect(rest.body.order_id).toBe(order.order_id);
});

test('bad input comes back as the gRPC status with every bad field, and exit 1', async () => {
  const args = ['-command', mesh.urls.command, '-query', mesh.urls.query, '-user', '0', '-product', '1', '-quantity', '0', '-wait', '1s'];
  const r = await run(example, args, binDir, 30_000);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^create-order: CreateOrder: InvalidArgument: /);
  // Each bad field on a line of its own, from the google.rpc.BadRequest details.
  expect(r.stderr).toMatch(/\n {2}user_id: /);
  expect(r.stderr).toMatch(/\n {2}quantity: /);
});
