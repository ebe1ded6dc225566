// Secrets never reach a log line. A whole mesh runs with a password in
// AMQP_URL (a RabbitMQ user of its own on the test's vhost) and auth on, at
// debug level, and serves requests that carry `authorization: Bearer
// <token>` (a valid staff token, and a forged one it refuses), through the
// edge and directly over gRPC, good and bad ones; processes that fail
// at start-up on a bad URL with a password say why without it. Every line of
// every process is kept, and neither the token nor a password is in any.
// The logger's own scrubbing is checked on lines that quote both.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { CreateOrderRequest, ProcessPaymentRequest, UpdateInventoryRequest } from '../../gen/ts/cqrs/v1/command_service';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { localAuth } from '../../kit/auth-keys';
import { clients } from '../../kit/clients';
import { createVhost, type TestVhost } from '../../kit/rabbit';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { eventually } from '../../kit/wait';
import { redactUrl, scrubSecrets } from '../../lib/redact';
import { getJson, postJson } from '../support/http';
import { repoRoot } from '../support/envoy-schema';

const TOKEN = `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0b2tlbi1jYW5hcnkifQ.canary${randomBytes(6).toString('hex')}`;
const PASSWORD = `pw-canary-${randomBytes(6).toString('hex')}`;
const USER = `cqrs-secret-${randomBytes(3).toString('hex')}`;

const rabbitmqctl = (...args: string[]) => execFileSync('rabbitmqctl', args, { stdio: 'pipe', timeout: 30_000 });

/** A valid token, minted once the mesh's key exists. */
let STAFF_TOKEN = '';

/** Every line that mentions a secret, with its process. */
const leaks = (lines: string[]) =>
  lines.filter((l) => [TOKEN, PASSWORD, TOKEN.split('.')[2], STAFF_TOKEN, STAFF_TOKEN.split('.')[2]].some((secret) => secret && l.includes(secret)));

describe('the helpers', () => {
  test('a URL keeps its user and loses its password', () => {
    expect(redactUrl('amqp://admin:s3cret@rabbit:5672/vh')).toBe('amqp://admin:***@rabbit:5672/vh');
    expect(redactUrl('mongodb://u:p%40ss@m1:27017,m2:27017/?tls=true')).toBe('mongodb://u:***@m1:27017,m2:27017/?tls=true');
    expect(redactUrl('amqp://127.0.0.1:5672')).toBe('amqp://127.0.0.1:5672');
  });

  test('a text loses every URL password and bearer token', () => {
    expect(scrubSecrets(`dial amqps://a:b@h and mongodb+srv://c:d@e/x; Authorization: Bearer ${TOKEN} ok`)).toBe('dial amqps://a:***@h and mongodb+srv://c:***@e/x; Authorization: Bearer *** ok');
  });

  test('the logger redacts authorization fields and scrubs messages, errors and fields', () => {
    const script = `
      const { createLogger } = require(${JSON.stringify(join(repoRoot, 'dist', 'lib', 'logger.js'))});
      const log = createLogger('probe');
      const token = process.argv[1], pw = process.argv[2];
      log.info({ headers: { authorization: 'Bearer ' + token }, md: { authorization: token }, authorization: token }, 'fields');
      log.info({ url: 'amqp://guest:' + pw + '@rabbit/vh', target: 'mongodb://u:' + pw + '@m/db' }, 'urls as fields');
      log.warn('connecting to amqps://guest:' + pw + '@rabbit with Bearer ' + token);
      log.error({ err: new Error('cannot reach mongodb://u:' + pw + '@m:27017 for Bearer ' + token) }, 'failed');
    `;
    const out = execFileSync(process.execPath, ['-e', script, TOKEN, PASSWORD], { encoding: 'utf8', timeout: 20_000 });
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(leaks(lines)).toEqual([]);
    expect(lines[0]).toContain('[redacted]');
    expect(lines[1]).toContain('amqp://guest:***@rabbit/vh');
    expect(lines[3]).toContain('mongodb://u:***@m:27017');
  });
});

describe('a whole mesh with a password in AMQP_URL and bearer tokens on its requests', () => {
  let vhost: TestVhost;
  let mesh: TestMesh;
  const lines: string[] = [];
  const seen = new Set<string>();
  let amqpUrl: string;
  const keys = mkdtempSync(join(tmpdir(), 'cqrs-secrets-auth-'));

  beforeAll(async () => {
    const auth = await localAuth(keys);
    STAFF_TOKEN = await auth.mint('staff-secret', ['staff']);
    vhost = createVhost('cqrs-secrets');
    rabbitmqctl('add_user', USER, PASSWORD);
    rabbitmqctl('set_permissions', '-p', vhost.name, USER, '.*', '.*', '.*');
    amqpUrl = `amqp://${USER}:${PASSWORD}@127.0.0.1:5672/${encodeURIComponent(vhost.name)}`;
    mesh = await startTestMesh({
      amqpUrl,
      logLevel: 'debug',
      env: { 'command-svc': auth.env, 'query-svc': auth.env },
      onLine: (name, line) => {
        seen.add(name.replace(/-\d+$/, ''));
        lines.push(`${name}: ${line}`);
      },
    });
  }, 120_000);

  afterAll(async () => {
    await mesh?.teardown();
    rmSync(keys, { recursive: true, force: true });
    try {
      rabbitmqctl('delete_user', USER);
    } finally {
      vhost?.remove();
    }
  }, 60_000);

  test('requests with a token, good and bad, through the edge and over gRPC; start-up failures on URLs with passwords; no line says a secret', async () => {
    const auth = { authorization: `Bearer ${STAFF_TOKEN}` };
    const forged = { authorization: `Bearer ${TOKEN}` };
    const edge = mesh.urls.edge;
    expect((await postJson(`${edge}/cqrs/commands/inventory`, { product_id: 6001, product_name: 'Secret', unit_price: 1, quantity: 9, low_stock_threshold: 1 }, auth)).status).toBe(200);
    const created = await postJson(`${edge}/cqrs/commands/orders`, { user_id: 61, product_id: 6001, quantity: 1 }, auth);
    expect(created.status).toBe(200);
    await eventually(async () => ((await getJson(`${edge}/cqrs/queries/orders/${created.body.order_id}`, auth)).status === 200 ? true : undefined), 20_000, 'the order');
    expect((await postJson(`${edge}/cqrs/commands/orders`, { user_id: 0, product_id: 6001, quantity: 1 }, auth)).status).toBe(400);
    expect((await postJson(`${edge}/cqrs/commands/orders`, '{not json', auth)).status).toBe(400);
    expect((await getJson(`${edge}/cqrs/queries/orders/00000000-0000-4000-8000-000000000000`, auth)).status).toBe(404);
    expect((await getJson(`${edge}/cqrs/nowhere`, auth)).status).toBe(404);
    // A forged token and a malformed header are refused, and said so in the logs.
    expect((await postJson(`${edge}/cqrs/commands/orders`, { user_id: 61, product_id: 6001, quantity: 1 }, forged)).status).toBe(401);
    expect((await getJson(`${edge}/cqrs/queries/orders/${created.body.order_id}`, forged)).status).toBe(401);
    expect((await getJson(`${edge}/cqrs/queries/orders/${created.body.order_id}`, { authorization: `Basic ${TOKEN}` })).status).toBe(401);

    const grpc = clients(mesh.urls.command, mesh.urls.query);
    const md = new Metadata();
    md.set('authorization', `Bearer ${STAFF_TOKEN}`);
    const forgedMd = new Metadata();
    forgedMd.set('authorization', `Bearer ${TOKEN}`);
    const unary = (fn: (cb: (err: unknown) => void) => void) => new Promise<unknown>((resolve) => fn((err) => resolve(err)));
    expect(await unary((cb) => grpc.command.updateInventory(UpdateInventoryRequest.fromPartial({ productId: 6002, productName: 'Secret', unitPrice: 1, quantity: 1 }), md, cb))).toBeNull();
    expect(await unary((cb) => grpc.command.createOrder(CreateOrderRequest.fromPartial({ userId: -1, productId: 6002, quantity: 1 }), md, cb))).toMatchObject({ code: 3 });
    expect(await unary((cb) => grpc.command.processPayment(ProcessPaymentRequest.fromPartial({ orderId: 'not-an-order' }), md, cb))).toMatchObject({ code: 3 });
    expect(await unary((cb) => grpc.command.updateInventory(UpdateInventoryRequest.fromPartial({ productId: 6003, productName: 'Secret', unitPrice: 1, quantity: 1 }), forgedMd, cb))).toMatchObject({ code: 16 });
    grpc.close();

    // Start-up failures that quote the URL they could not use.
    const fail = (program: string, env: NodeJS.ProcessEnv) => {
      const r = spawnSync(process.execPath, [join(repoRoot, 'dist', program, 'main.js')], { env: { ...process.env, LOG_LEVEL: 'debug', METRICS_PORT: 'off', COMMAND_GRPC_PORT: '0', QUERY_GRPC_PORT: '0', PROJECTOR_GRPC_PORT: '0', ...env }, encoding: 'utf8', timeout: 40_000 });
      expect(r.status).not.toBe(0);
      lines.push(...`${r.stdout}\n${r.stderr}`.split('\n').map((l) => `${program} (failing): ${l}`));
      return `${r.stdout}${r.stderr}`;
    };
    // Not a broker URL at all: the configuration error names the setting.
    expect(fail('command-svc', { AMQP_URL: `ftp://${USER}:${PASSWORD}@127.0.0.1/x`, MONGO_URL: mesh.urls.mongo })).toMatch(/AMQP_URL must be a amqp or amqps URL/);
    // The broker refuses a wrong user; the store is unreachable.
    expect(fail('projector-svc', { AMQP_URL: `amqp://nobody-${USER}:${PASSWORD}@127.0.0.1:5672/${encodeURIComponent(vhost.name)}`, MONGO_URL: mesh.urls.mongo })).toMatch(/cannot reach RabbitMQ at amqp:\/\/nobody-/);
    expect(fail('query-svc', { MONGO_URL: `mongodb://${USER}:${PASSWORD}@127.0.0.1:1/?serverSelectionTimeoutMS=500` })).toMatch(/failed to start/);

    // Every process spoke, and the edge logged the requests that carried the token.
    await mesh.teardown();
    for (const name of ['store', 'command-svc', 'query-svc', 'projector-svc', 'edge']) expect(seen).toContain(name);
    expect(lines.filter((l) => l.startsWith('edge:') && l.includes('"msg":"request"')).length).toBeGreaterThanOrEqual(9);
    expect(lines.filter((l) => l.includes('call refused: access')).length).toBeGreaterThanOrEqual(4);
    expect(lines.some((l) => l.includes(`${USER}:***@`))).toBe(true);
    expect(leaks(lines)).toEqual([]);
  }, 120_000);
});
