// TLS and mTLS for real, on whole meshes started with the TLS settings
// (lib/tls.ts) and certificates from `npm run certs`: REST through the edge
// and typed gRPC clients round-trip over TLS; a plaintext client, a client
// that does not trust the mesh's CA, and (with mTLS) a client without a
// certificate are refused. The settings themselves fail start-up naming the
// variable, and TLS URLs for RabbitMQ and MongoDB are passed through.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { CommandServiceClient } from '../../gen/ts/cqrs/v1/command_service';
import { GetProductInventoryRequest, QueryServiceClient } from '../../gen/ts/cqrs/v1/query_service';
import { AmqpConnection } from '../../lib/amqp';
import { common, ConfigError, readConfig } from '../../lib/config';
import { readTls } from '../../lib/tls';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { eventually } from '../../kit/wait';
import type { ServiceName } from '../../kit/mesh';
import { getJson, postJson } from '../support/http';
import { repoRoot } from '../support/envoy-schema';

let dir: string;
let certs: string;
let strangerCerts: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cqrs-tls-'));
  certs = join(dir, 'mesh');
  strangerCerts = join(dir, 'stranger');
  // The npm script itself, twice: the mesh's CA, and another CA nobody trusts.
  for (const d of [certs, strangerCerts]) execFileSync(process.execPath, [join(repoRoot, 'scripts', 'gen-certs.mjs'), d], { stdio: 'pipe', timeout: 60_000 });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (d: string, name: string) => join(d, name);
const pem = (d: string, name: string) => readFileSync(file(d, name));

/** The TLS settings of each process: its own certificate, the mesh CA; mTLS when asked. */
function tlsEnv(mtls: boolean): Partial<Record<ServiceName, NodeJS.ProcessEnv>> {
  const server = (name: string) => ({
    TLS_CERT_FILE: file(certs, `${name}.pem`),
    TLS_KEY_FILE: file(certs, `${name}-key.pem`),
    TLS_CA_FILE: file(certs, 'ca.pem'),
    TLS_CLIENT_AUTH: String(mtls),
  });
  return {
    'command-svc': server('command-svc'),
    'query-svc': server('query-svc'),
    'projector-svc': server('projector-svc'),
    // The edge is a client only: it verifies the services against the CA, and presents its certificate under mTLS.
    edge: mtls ? { TLS_CA_FILE: file(certs, 'ca.pem'), TLS_CERT_FILE: file(certs, 'edge.pem'), TLS_KEY_FILE: file(certs, 'edge-key.pem') } : { TLS_CA_FILE: file(certs, 'ca.pem') },
  };
}

const caOnly = () => credentials.createSsl(pem(certs, 'ca.pem'));
const withClientCert = (d = certs) => credentials.createSsl(pem(certs, 'ca.pem'), pem(d, 'client-key.pem'), pem(d, 'client.pem'));

/** GetCommandHealth with a bounded deadline: the answer, or the gRPC error. */
function commandHealth(addr: string, creds: ChannelCredentials): Promise<{ ok: true } | { ok: false; err: ServiceError }> {
  const client = new CommandServiceClient(addr, creds);
  return new Promise((resolve) => {
    client.getCommandHealth({}, new Metadata(), { deadline: Date.now() + 5_000 }, (err) => {
      client.close();
      resolve(err ? { ok: false, err } : { ok: true });
    });
  });
}

function stock(addr: string, creds: ChannelCredentials, productId: number): Promise<void> {
  const client = new CommandServiceClient(addr, creds);
  return new Promise((resolve, reject) =>
    client.updateInventory({ productId, productName: 'TLS widget', unitPrice: 5, quantity: 10, lowStockThreshold: 1 }, new Metadata(), { deadline: Date.now() + 10_000 }, (err) => {
      client.close();
      return err ? reject(err) : resolve();
    }),
  );
}

/** The product's available quantity, or the status code of the query's failure. */
function productQuery(addr: string, creds: ChannelCredentials, productId: number): Promise<{ qty: number } | { code: status }> {
  const client = new QueryServiceClient(addr, creds);
  return new Promise((resolve) =>
    client.getProductInventory(GetProductInventoryRequest.fromPartial({ productId }), new Metadata(), { deadline: Date.now() + 5_000 }, (err, res) => {
      client.close();
      resolve(err ? { code: err.code } : { qty: res?.item?.availableQuantity ?? -1 });
    }),
  );
}

const productOf = async (addr: string, creds: ChannelCredentials, productId: number) => {
  const r = await productQuery(addr, creds, productId);
  return 'qty' in r ? r.qty : undefined;
};

/** REST through the edge: stock a product, order it, read the order back. */
async function restRoundTrip(mesh: TestMesh, productId: number): Promise<void> {
  const stocked = await postJson(`${mesh.urls.edge}/cqrs/commands/inventory`, { product_id: productId, product_name: 'REST widget', unit_price: 3, quantity: 5, low_stock_threshold: 1 });
  expect(stocked.status).toBe(200);
  const created = await postJson(`${mesh.urls.edge}/cqrs/commands/orders`, { user_id: 4242, product_id: productId, quantity: 1 });
  expect(created.status).toBe(200);
  const order = await eventually(async () => {
    const r = await getJson(`${mesh.urls.edge}/cqrs/queries/orders/${created.body.order_id}`);
    return r.status === 200 ? r.body : undefined;
  }, 20_000, 'the order through the edge');
  expect(order.order_id).toBe(created.body.order_id);
}

describe('TLS on (server certificates, no client certificates)', () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startTestMesh({ vhostPrefix: 'cqrs-tls', env: tlsEnv(false) });
  }, 120_000);
  afterAll(() => mesh?.teardown(), 60_000);

  test('the services say they serve TLS', () => {
    const listening = mesh.logs.filter((l) => / listening"/.test(l) && /"transport"/.test(l));
    expect(listening.filter((l) => l.includes('"transport":"TLS"')).length).toBe(3);
    expect(mesh.logs.filter((l) => l.includes('edge listening') && l.includes('"upstreamTransport":"TLS"'))).toHaveLength(1);
  });

  test('REST through the edge round-trips over TLS to the services', async () => {
    await restRoundTrip(mesh, 9101);
  });

  test('a TLS client that trusts the CA round-trips directly', async () => {
    await stock(mesh.urls.command, caOnly(), 9102);
    const qty = await eventually(() => productOf(mesh.urls.query, caOnly(), 9102), 20_000, 'the product over TLS');
    expect(qty).toBe(10);
  });

  test('a plaintext client is refused', async () => {
    const r = await commandHealth(mesh.urls.command, credentials.createInsecure());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.err.code).toBe(status.UNAVAILABLE);
    expect(await productQuery(mesh.urls.query, credentials.createInsecure(), 9102)).toEqual({ code: status.UNAVAILABLE });
  });

  test('a client that does not trust the CA is refused', async () => {
    const r = await commandHealth(mesh.urls.command, credentials.createSsl(pem(strangerCerts, 'ca.pem')));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.err.code).toBe(status.UNAVAILABLE);
  });
});

describe('mTLS on (TLS_CLIENT_AUTH=true)', () => {
  let mesh: TestMesh;
  beforeAll(async () => {
    mesh = await startTestMesh({ vhostPrefix: 'cqrs-mtls', env: tlsEnv(true) });
  }, 120_000);
  afterAll(() => mesh?.teardown(), 60_000);

  test('the services say they require client certificates', () => {
    const listening = mesh.logs.filter((l) => / listening"/.test(l) && l.includes('"transport":"mTLS'));
    expect(listening.length).toBe(3);
    expect(mesh.logs.filter((l) => l.includes('edge listening') && l.includes('"upstreamTransport":"TLS with client certificate"'))).toHaveLength(1);
  });

  test('REST through the edge round-trips: the edge presents its certificate', async () => {
    await restRoundTrip(mesh, 9201);
  });

  test('a client with a certificate from the CA round-trips directly', async () => {
    await stock(mesh.urls.command, withClientCert(), 9202);
    const qty = await eventually(() => productOf(mesh.urls.query, withClientCert(), 9202), 20_000, 'the product over mTLS');
    expect(qty).toBe(10);
  });

  test('a TLS client without a certificate is refused, and nothing is stored', async () => {
    const r = await commandHealth(mesh.urls.command, caOnly());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.err.code).toBe(status.UNAVAILABLE);
    await expect(stock(mesh.urls.command, caOnly(), 9203)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    // The read side, asked by a client it accepts, never heard of the product.
    await stock(mesh.urls.command, withClientCert(), 9204);
    await eventually(() => productOf(mesh.urls.query, withClientCert(), 9204), 20_000, 'a later product projected');
    expect(await productQuery(mesh.urls.query, withClientCert(), 9203)).toEqual({ code: status.NOT_FOUND });
  });

  test('a client whose certificate another CA signed is refused', async () => {
    const r = await commandHealth(mesh.urls.command, withClientCert(strangerCerts));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.err.code).toBe(status.UNAVAILABLE);
  });

  test('a plaintext client is refused', async () => {
    const r = await commandHealth(mesh.urls.command, credentials.createInsecure());
    expect(r.ok).toBe(false);
  });
});

describe('the TLS settings', () => {
  const problems = (env: NodeJS.ProcessEnv): string => {
    try {
      readTls(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    return '';
  };

  test('all unset: plaintext, no error', () => {
    expect(readTls({})).toEqual({ cert: undefined, key: undefined, ca: undefined, clientAuth: false });
  });

  test('a certificate without its key, and a key without its certificate, name the missing setting', () => {
    expect(problems({ TLS_CERT_FILE: file(certs, 'edge.pem') })).toMatch(/TLS_KEY_FILE is required with TLS_CERT_FILE/);
    expect(problems({ TLS_KEY_FILE: file(certs, 'edge-key.pem') })).toMatch(/TLS_CERT_FILE is required with TLS_KEY_FILE/);
  });

  test('an unreadable file or one of the wrong kind names its setting', () => {
    expect(problems({ TLS_CA_FILE: join(dir, 'nope.pem') })).toMatch(/TLS_CA_FILE cannot be read/);
    expect(problems({ TLS_CERT_FILE: file(certs, 'edge-key.pem'), TLS_KEY_FILE: file(certs, 'edge-key.pem') })).toMatch(/TLS_CERT_FILE is not a PEM file/);
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'hello');
    expect(problems({ TLS_CERT_FILE: file(certs, 'edge.pem'), TLS_KEY_FILE: garbage })).toMatch(/TLS_KEY_FILE is not a PEM file/);
  });

  test('mTLS needs the CA and a certificate; a bad switch value is named', () => {
    expect(problems({ TLS_CLIENT_AUTH: 'true', TLS_CERT_FILE: file(certs, 'edge.pem'), TLS_KEY_FILE: file(certs, 'edge-key.pem') })).toMatch(/TLS_CA_FILE is required with TLS_CLIENT_AUTH=true/);
    expect(problems({ TLS_CLIENT_AUTH: 'true', TLS_CA_FILE: file(certs, 'ca.pem') })).toMatch(/TLS_CERT_FILE and TLS_KEY_FILE are required with TLS_CLIENT_AUTH=true/);
    expect(problems({ TLS_CLIENT_AUTH: 'maybe' })).toMatch(/TLS_CLIENT_AUTH must be true or false/);
  });

  test('a service with a bad TLS setting does not start, and says which, before it connects to anything', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'query-svc', 'main.js')], {
      env: { ...process.env, TLS_CERT_FILE: file(certs, 'query-svc.pem'), QUERY_GRPC_PORT: '0', METRICS_PORT: 'off', MONGO_URL: 'mongodb://127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/TLS_KEY_FILE is required with TLS_CERT_FILE/);
  });
});

describe('TLS URLs for RabbitMQ and MongoDB', () => {
  test('amqps:// and mongodb URLs with tls=true are valid settings', () => {
    const c = readConfig(common, { AMQP_URL: 'amqps://user:pw@rabbit.example:5671/vh', MONGO_URL: 'mongodb://user:pw@mongo.example:27017/?tls=true&tlsCAFile=/etc/ca.pem' });
    expect(c.AMQP_URL).toBe('amqps://user:pw@rabbit.example:5671/vh');
    expect(c.MONGO_URL).toContain('tls=true');
  });

  test('an amqps:// URL is dialled with TLS (against the plaintext broker it fails in the TLS handshake)', async () => {
    const link = new AmqpConnection('amqps://guest:guest@127.0.0.1:5672', pino({ level: 'silent' }));
    const err = await link.connect().then(() => undefined, (e: Error) => e);
    await link.close();
    expect(err).toBeDefined();
    expect(`${err!.message} ${(err as NodeJS.ErrnoException).code ?? ''}`).toMatch(/SSL|TLS|wrong version|packet length|EPROTO|ECONNRESET/i);
  });

  test('a mongodb URL with tls=true reaches the driver as TLS options', () => {
    const ca = file(certs, 'ca.pem');
    const client = new MongoClient(`mongodb://127.0.0.1:1/?tls=true&tlsCAFile=${encodeURIComponent(ca)}`);
    expect(client.options.tls).toBe(true);
    expect(client.options.tlsCAFile).toBe(ca);
  });
});
