// The client package's promise API against a real gRPC server on 127.0.0.1
// (an OS-picked port) that answers as the test scripts it: which failures are
// retried and which are not, what reaches the server, deadlines, and how the
// mesh's own error encoding (lib/grpc-errors.ts) decodes on the client side.
import { Metadata, Server, ServerCredentials, status, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { grpcError } from '../../lib/grpc-errors';
import { CommandServiceService } from '../../clients/ts/src/gen/cqrs/v1/command_service';
import { QueryServiceService } from '../../clients/ts/src/gen/cqrs/v1/query_service';
import { Status } from '../../clients/ts/src/gen/google/rpc/status';
import { BadRequest } from '../../clients/ts/src/gen/google/rpc/error_details';
import {
  commandClient,
  idempotencyKey,
  idempotencyKeyFrom,
  InvalidArgumentError,
  MeshError,
  queryClient,
  backoffMs,
  type CommandClient,
  type QueryClient,
} from '../../clients/ts/src';

type Answer = { err: Partial<import('@grpc/grpc-js').ServiceError> } | { res: object } | 'hang';
interface Seen {
  method: string;
  request: unknown;
  metadata: Metadata;
}

let server: Server;
let address: string;
let script: Answer[] = [];
let seen: Seen[] = [];
const hung: Array<sendUnaryData<object>> = [];

/** Every method answers from `script` in turn; the last answer repeats. */
function scripted(definition: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(definition).map((method) => [
      method,
      (call: ServerUnaryCall<unknown, object>, cb: sendUnaryData<object>) => {
        seen.push({ method, request: call.request, metadata: call.metadata });
        const a = script.length > 1 ? script.shift()! : script[0];
        if (a === 'hang') return void hung.push(cb);
        if ('err' in a) return cb(a.err as Error);
        cb(null, a.res);
      },
    ]),
  );
}

const unavailable = { err: { code: status.UNAVAILABLE, details: 'store unavailable; retry' } };
const created = { res: { orderId: 'o-1', status: 1, message: 'accepted', consistencyToken: 'tok-1' } };
const order = { res: { order: { orderId: 'o-1', userId: 7, status: 4, items: [], timeline: [] } } };
const fast = { retry: { initialBackoffMs: 1, maxBackoffMs: 5 } };

let commands: CommandClient;
let queries: QueryClient;

beforeAll(async () => {
  server = new Server();
  server.addService(CommandServiceService, scripted(CommandServiceService) as never);
  server.addService(QueryServiceService, scripted(QueryServiceService) as never);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
  commands = commandClient(address, fast);
  queries = queryClient(address, fast);
});

afterAll(async () => {
  commands?.close();
  queries?.close();
  for (const cb of hung) cb({ code: status.CANCELLED } as never);
  await new Promise<void>((r) => server.tryShutdown(() => r()));
});

beforeEach(() => {
  script = [];
  seen = [];
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: unknown) => err as MeshError,
  );

describe('errors', () => {
  test("the mesh's BadRequest details become an InvalidArgumentError with every field violation", async () => {
    const violations = [
      { field: 'quantity', description: 'must be at least 1' },
      { field: 'items[1].product_id', description: 'must be positive' },
    ];
    script = [{ err: grpcError(status.INVALID_ARGUMENT, 'invalid request: quantity must be at least 1', violations) }];
    const err = await failure(commands.createOrder({ userId: 1, productId: 2, quantity: 0 }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toBeInstanceOf(MeshError);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.codeName).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('invalid request: quantity must be at least 1');
    expect((err as InvalidArgumentError).fieldViolations).toEqual(violations);
    expect(err.status?.code).toBe(status.INVALID_ARGUMENT);
    expect(seen).toHaveLength(1);
  });

  test('other codes are a MeshError with their name and the server message, without violations', async () => {
    script = [{ err: grpcError(status.NOT_FOUND, 'order o-9 not found') }];
    const err = await failure(queries.getOrder({ orderId: 'o-9' }));
    expect(err).not.toBeInstanceOf(InvalidArgumentError);
    expect(err).toBeInstanceOf(MeshError);
    expect([err.codeName, err.message]).toEqual(['NOT_FOUND', 'order o-9 not found']);
  });

  test('INVALID_ARGUMENT without details, or with bytes that do not decode, still is an InvalidArgumentError', async () => {
    const md = new Metadata();
    md.set('grpc-status-details-bin', Buffer.from([0xff, 0xff, 0xff]));
    script = [{ err: { code: status.INVALID_ARGUMENT, details: 'bad', metadata: md } }];
    const err = (await failure(commands.createOrder({}))) as InvalidArgumentError;
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect([err.message, err.fieldViolations, err.status]).toEqual(['bad', [], undefined]);
  });

  test('only details typed google.rpc.BadRequest count as violations', async () => {
    // Bytes that would decode as a BadRequest, under another type: not violations.
    const lookalike = Buffer.from(BadRequest.encode({ fieldViolations: [{ field: 'f', description: 'd', reason: '', localizedMessage: undefined }] }).finish());
    const md = new Metadata();
    md.set('grpc-status-details-bin', Buffer.from(Status.encode({ code: 3, message: 'x', details: [{ typeUrl: 'type.googleapis.com/google.rpc.PreconditionFailure', value: lookalike }] }).finish()));
    script = [{ err: { code: status.INVALID_ARGUMENT, details: 'x', metadata: md } }];
    expect(((await failure(commands.createOrder({}))) as InvalidArgumentError).fieldViolations).toEqual([]);
  });
});

describe('requests', () => {
  test('a partial request reaches the server completed with proto3 defaults, with request id and key as metadata', async () => {
    script = [created];
    const key = idempotencyKey();
    const res = await commands.createOrder({ userId: 5, items: [{ productId: 9 }] }, { idempotencyKey: key, requestId: 'req-1' });
    expect(res).toEqual({ orderId: 'o-1', status: 1, message: 'accepted', consistencyToken: 'tok-1' });
    expect(seen[0].request).toEqual({ userId: 5, productId: 0, quantity: 0, userEmail: '', items: [{ productId: 9, quantity: 0 }] });
    expect(seen[0].metadata.get('idempotency-key')).toEqual([key]);
    expect(seen[0].metadata.get('x-request-id')).toEqual(['req-1']);
  });

  test('idempotency keys: fresh ones differ, derived ones repeat for the same parts and fit the mesh limit', () => {
    expect(idempotencyKey()).not.toBe(idempotencyKey());
    expect(idempotencyKeyFrom('ship', 'e-1')).toBe(idempotencyKeyFrom('ship', 'e-1'));
    expect(idempotencyKeyFrom('ship', 'e-1')).not.toBe(idempotencyKeyFrom('ship', 'e-2'));
    expect(idempotencyKeyFrom('a', 'bc')).not.toBe(idempotencyKeyFrom('ab', 'c'));
    expect(idempotencyKeyFrom('x'.repeat(1000)).length).toBeLessThanOrEqual(200);
  });
});

describe('retries', () => {
  test('a command without an idempotency key is not retried on UNAVAILABLE', async () => {
    script = [unavailable, created];
    const err = await failure(commands.createOrder({ userId: 1, productId: 2, quantity: 1 }));
    expect(err.codeName).toBe('UNAVAILABLE');
    expect(seen).toHaveLength(1);
  });

  test('a command with an idempotency key is retried on UNAVAILABLE, with the same key every time', async () => {
    script = [unavailable, unavailable, created];
    const res = await commands.createOrder({ userId: 1, productId: 2, quantity: 1 }, { idempotencyKey: 'k-1' });
    expect(res.orderId).toBe('o-1');
    expect(seen.map((s) => s.metadata.get('idempotency-key'))).toEqual([['k-1'], ['k-1'], ['k-1']]);
  });

  test('queries are retried on UNAVAILABLE', async () => {
    script = [unavailable, unavailable, order];
    expect((await queries.getOrder({ orderId: 'o-1' })).order?.userId).toBe(7);
    expect(seen.map((s) => s.method)).toEqual(['getOrder', 'getOrder', 'getOrder']);
  });

  test.each([status.FAILED_PRECONDITION, status.ABORTED, status.INTERNAL, status.NOT_FOUND])('code %i is never retried, even for a query or a keyed command', async (code) => {
    script = [{ err: grpcError(code, 'no') }, order];
    await failure(queries.getOrder({ orderId: 'o-1' }));
    script = [{ err: grpcError(code, 'no') }, created];
    await failure(commands.processPayment({ orderId: 'o-1', amount: 1 }, { idempotencyKey: 'k-2' }));
    expect(seen).toHaveLength(2);
  });

  test('retries stop after maxAttempts, with the last UNAVAILABLE', async () => {
    script = [unavailable];
    const err = await failure(queries.getInventory({}, { retry: { maxAttempts: 3 } }));
    expect(err.codeName).toBe('UNAVAILABLE');
    expect(seen).toHaveLength(3);
  });

  test('the deadline bounds the whole call: a server that never answers is DEADLINE_EXCEEDED, not retried', async () => {
    script = ['hang'];
    const started = Date.now();
    const err = await failure(queries.getOrder({ orderId: 'o-1' }, { deadlineMs: 300 }));
    expect(err.codeName).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(seen).toHaveLength(1);
  });

  test('no retry starts that the deadline would cut', async () => {
    script = [unavailable];
    // The first pause is at least 1 s (half of 2 s, jittered): past the deadline.
    const q = queryClient(address, { retry: { initialBackoffMs: 2_000, maxBackoffMs: 2_000, maxAttempts: 10 } });
    try {
      const started = Date.now();
      const err = await failure(q.getOrder({ orderId: 'o-1' }, { deadlineMs: 800 }));
      expect(err.codeName).toBe('UNAVAILABLE');
      expect(seen).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(800);
    } finally {
      q.close();
    }
  });
});

describe('back-off', () => {
  test('grows by the multiplier, is capped, and jitters between half and all of it', () => {
    const p = { maxAttempts: 9, initialBackoffMs: 100, maxBackoffMs: 1_000, multiplier: 2 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, p, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
    expect(backoffMs(3, p, () => 0)).toBe(200);
  });
});
