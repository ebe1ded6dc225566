// The services as grpcurl sees them (README "Inspecting with grpcurl"): server
// reflection, the rpc signatures, calls with JSON in and out, gRPC errors
// with their google.rpc.BadRequest, and the standard health service, which
// must turn NOT_SERVING when a dependency goes down. Runs the real grpcurl
// binary against a test mesh; every call has a deadline.
import { execFile } from 'node:child_process';
import { UpdateInventoryRequest, type UpdateInventoryResponse } from '../../gen/ts/cqrs/v1/command_service';
import { stopChild } from '../../kit/processes';
import { call, clients } from '../../kit/clients';
import { getJson } from '../support/http';
import { eventually } from '../../kit/wait';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { findTool, GRPCURL } from '../support/tools';

jest.setTimeout(90_000);

const CALL_TIMEOUT_MS = 20_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Run {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
}

function exec(file: string, args: string[], timeoutMs = CALL_TIMEOUT_MS): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as { code?: unknown; killed?: boolean; message: string } | null;
      if (e && typeof e.code !== 'number' && !e.killed) {
        // Could not run at all (ENOENT, EACCES, …).
        resolve({ args, code: -1, stdout, stderr: `${stderr}${e.message}` });
        return;
      }
      const code = !e ? 0 : e.killed ? -2 : (e.code as number);
      resolve({ args, code, stdout, stderr: e?.killed ? `${stderr}\n(killed after ${timeoutMs} ms)` : stderr });
    });
  });
}

let grpcurlBin: string;
let mesh: TestMesh;
let grpc: ReturnType<typeof clients>;

beforeAll(async () => {
  grpcurlBin = findTool(GRPCURL);
  mesh = await startTestMesh();
  grpc = clients(mesh.urls.command, mesh.urls.query);
}, 120_000);

afterAll(async () => {
  grpc?.close();
  await mesh?.teardown();
}, 60_000);

/** grpcurl -plaintext with its own connect and call deadlines. */
const grpcurl = (...args: string[]) => exec(grpcurlBin, ['-plaintext', '-connect-timeout', '5', '-max-time', '10', ...args]);

/** A failure message showing the grpcurl run and what the mesh said last. */
const shown = (r: Run) =>
  `grpcurl ${r.args.join(' ')}\nexit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- recent mesh output ---\n${mesh.logs.slice(-20).join('\n')}`;

function ok(r: Run): string {
  if (r.code !== 0) throw new Error(`grpcurl failed\n${shown(r)}`);
  return r.stdout;
}

function json(r: Run): any {
  const out = ok(r);
  try {
    return JSON.parse(out);
  } catch {
    throw new Error(`grpcurl printed no JSON\n${shown(r)}`);
  }
}

describe('grpcurl list (server reflection)', () => {
  test('command-svc lists cqrs.v1.CommandService and grpc.health.v1.Health', async () => {
    const services = ok(await grpcurl(mesh.urls.command, 'list')).split('\n').map((l) => l.trim());
    expect(services).toEqual(expect.arrayContaining(['cqrs.v1.CommandService', 'grpc.health.v1.Health']));
  });

  test('query-svc lists cqrs.v1.QueryService and grpc.health.v1.Health', async () => {
    const services = ok(await grpcurl(mesh.urls.query, 'list')).split('\n').map((l) => l.trim());
    expect(services).toEqual(expect.arrayContaining(['cqrs.v1.QueryService', 'grpc.health.v1.Health']));
  });

  test('list <service> shows its methods', async () => {
    const methods = ok(await grpcurl(mesh.urls.command, 'list', 'cqrs.v1.CommandService')).split('\n').map((l) => l.trim());
    expect(methods).toEqual(
      expect.arrayContaining(['cqrs.v1.CommandService.CreateOrder', 'cqrs.v1.CommandService.ProcessPayment', 'cqrs.v1.CommandService.UpdateInventory']),
    );
  });
});

describe('grpcurl describe', () => {
  test('cqrs.v1.CommandService.CreateOrder shows the rpc signature', async () => {
    const out = ok(await grpcurl(mesh.urls.command, 'describe', 'cqrs.v1.CommandService.CreateOrder'));
    expect(out).toMatch(/cqrs\.v1\.CommandService\.CreateOrder is a method/);
    expect(out).toMatch(/rpc CreateOrder\s*\(\s*\.cqrs\.v1\.CreateOrderRequest\s*\)\s*returns\s*\(\s*\.cqrs\.v1\.CreateOrderResponse\s*\)/);
  });

  test('cqrs.v1.CreateOrderRequest shows its fields', async () => {
    const out = ok(await grpcurl(mesh.urls.command, 'describe', 'cqrs.v1.CreateOrderRequest'));
    expect(out).toMatch(/cqrs\.v1\.CreateOrderRequest is a message/);
    for (const field of [/int32 user_id = 1;/, /int32 product_id = 2;/, /int32 quantity = 3;/, /string user_email = 4;/, /repeated \.cqrs\.v1\.OrderLine items = 5;/]) {
      expect(out).toMatch(field);
    }
  });

  test('a type from an imported file resolves (google.protobuf.Timestamp in cqrs.v1.Order)', async () => {
    const out = ok(await grpcurl(mesh.urls.query, 'describe', 'cqrs.v1.Order'));
    expect(out).toMatch(/\.google\.protobuf\.Timestamp created_at = 9;/);
  });
});

describe('grpcurl calls', () => {
  let orderId: string;
  let token: string;

  test('CreateOrder with the seed JSON answers an orderId', async () => {
    // Product 456 must exist and have stock for the order to be validated.
    const stocked = await call<UpdateInventoryRequest, UpdateInventoryResponse>(
      grpc.command,
      grpc.command.updateInventory,
      UpdateInventoryRequest.fromPartial({ productId: 456, productName: 'Mechanical Keyboard', unitPrice: 49.99, quantity: 100 }),
    );
    expect(stocked.item).toMatchObject({ productId: 456, totalQuantity: 100 });

    const res = json(await grpcurl('-d', '{"user_id":123,"product_id":456,"quantity":2}', mesh.urls.command, 'cqrs.v1.CommandService/CreateOrder'));
    expect(res).toMatchObject({ orderId: expect.stringMatching(UUID), status: 'PENDING', consistencyToken: expect.stringMatching(/^[\w-]{20,}$/) });
    orderId = res.orderId;
    token = res.consistencyToken;
  });

  test('GetOrder with the consistency_token answers the new order at the first call, no polling', async () => {
    const r = await grpcurl('-d', JSON.stringify({ order_id: orderId, consistency_token: token }), mesh.urls.query, 'cqrs.v1.QueryService/GetOrder');
    expect(json(r).order).toMatchObject({ orderId, userId: 123 });
  });

  test('QueryService/GetOrder with that id shows userId 123 and its status', async () => {
    expect(orderId).toMatch(UUID);
    const order = await eventually(
      async () => {
        const r = await grpcurl('-d', JSON.stringify({ order_id: orderId }), mesh.urls.query, 'cqrs.v1.QueryService/GetOrder');
        if (r.code !== 0) throw new Error(shown(r)); // NotFound until projected
        const res = JSON.parse(r.stdout);
        return res.order?.status && res.order.status !== 'PENDING' ? res.order : undefined;
      },
      20_000,
      `order ${orderId} to be projected and validated, as grpcurl sees it`,
    );
    expect(order).toMatchObject({ orderId, userId: 123, status: 'VALIDATED', totalAmount: 99.98 });
    expect(order.items).toEqual([expect.objectContaining({ productId: 456, quantity: 2 })]);
  });

  test('QueryService/WatchOrder streams the current order and ends at the deadline (-max-time)', async () => {
    const r = await exec(grpcurlBin, ['-plaintext', '-connect-timeout', '5', '-max-time', '2', '-d', JSON.stringify({ order_id: orderId }), mesh.urls.query, 'cqrs.v1.QueryService/WatchOrder']);
    expect(r.stderr).toMatch(/DeadlineExceeded/);
    // One JSON message per state; the current one first.
    const first = JSON.parse(r.stdout.slice(0, r.stdout.indexOf('\n}') + 2));
    expect(first.order).toMatchObject({ orderId, userId: 123 });
  });

  test('a bad CreateOrder exits non-zero with InvalidArgument and the BadRequest field violation', async () => {
    const r = await grpcurl('-d', '{"user_id":0,"product_id":456,"quantity":2}', mesh.urls.command, 'cqrs.v1.CommandService/CreateOrder');
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: expect.any(Number), stdout: '' });
    expect(r.code).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/Code: InvalidArgument/);
    expect(r.stderr).toContain('type.googleapis.com/google.rpc.BadRequest');
    expect(r.stderr).toMatch(/"field":\s*"user_id"/);
  });

  test('an unknown order exits non-zero with NotFound', async () => {
    const r = await grpcurl('-d', '{"order_id":"00000000-0000-4000-8000-000000000000"}', mesh.urls.query, 'cqrs.v1.QueryService/GetOrder');
    expect(r.code).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/Code: NotFound/);
  });
});

describe('grpc.health.v1.Health', () => {
  test('Check answers SERVING on command-svc and query-svc, for the server and for each service', async () => {
    expect(json(await grpcurl(mesh.urls.command, 'grpc.health.v1.Health/Check'))).toEqual({ status: 'SERVING' });
    expect(json(await grpcurl(mesh.urls.query, 'grpc.health.v1.Health/Check'))).toEqual({ status: 'SERVING' });
    expect(json(await grpcurl('-d', '{"service":"cqrs.v1.CommandService"}', mesh.urls.command, 'grpc.health.v1.Health/Check'))).toEqual({ status: 'SERVING' });
    expect(json(await grpcurl('-d', '{"service":"cqrs.v1.QueryService"}', mesh.urls.query, 'grpc.health.v1.Health/Check'))).toEqual({ status: 'SERVING' });
  });

  // Last: it takes the store away for good.
  describe('when the store goes down', () => {
    beforeAll(async () => {
      const store = mesh.children.get('store');
      if (!store) throw new Error('the test mesh has no store process to stop');
      await stopChild(store);
    }, 30_000);

    test('query-svc: Health/Check turns NOT_SERVING, and GET /cqrs/queries/health shows mongodb DOWN', async () => {
      const check = await eventually(
        async () => {
          const res = json(await grpcurl(mesh.urls.query, 'grpc.health.v1.Health/Check'));
          return res.status === 'NOT_SERVING' ? res : undefined;
        },
        20_000,
        'query-svc Health/Check to report NOT_SERVING',
      );
      expect(check).toEqual({ status: 'NOT_SERVING' });

      const rest = await eventually(
        async () => {
          const r = await getJson(`${mesh.urls.edge}/cqrs/queries/health`);
          return r.status === 200 && r.body?.status === 'NOT_SERVING' ? r : undefined;
        },
        20_000,
        'GET /cqrs/queries/health to report NOT_SERVING',
      );
      expect(rest.headers.get('content-type')).toMatch(/^application\/json/);
      expect(rest.body).toEqual({ status: 'NOT_SERVING', service: 'query-svc', dependencies: [{ name: 'mongodb', status: 'DOWN', detail: expect.any(String) }] });
    });

    test('command-svc: Health/Check turns NOT_SERVING, and GET /cqrs/commands/health shows mongodb DOWN, rabbitmq UP', async () => {
      await eventually(
        async () => {
          const res = json(await grpcurl(mesh.urls.command, 'grpc.health.v1.Health/Check'));
          return res.status === 'NOT_SERVING' ? res : undefined;
        },
        20_000,
        'command-svc Health/Check to report NOT_SERVING',
      );
      const rest = await eventually(
        async () => {
          const r = await getJson(`${mesh.urls.edge}/cqrs/commands/health`);
          return r.status === 200 && r.body?.status === 'NOT_SERVING' ? r : undefined;
        },
        20_000,
        'GET /cqrs/commands/health to report NOT_SERVING',
      );
      const deps = Object.fromEntries((rest.body.dependencies as Array<{ name: string; status: string }>).map((d) => [d.name, d.status]));
      expect(deps).toEqual({ mongodb: 'DOWN', rabbitmq: 'UP' });
    });
  });
});
