// `npm start`: the whole mesh on this machine, in the foreground; Ctrl-C stops it.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bool, common, port, readConfig, str } from '../lib/config';
import { startMesh } from '../lib/mesh';
import { repoRoot } from '../lib/paths';
import { SAMPLE_CATALOG, stockSampleCatalog } from './sample-catalog';

async function main(): Promise<void> {
  const { MONGO_URL: _default, ...rest } = common;
  const config = readConfig({
    ...rest,
    MONGO_URL: str(''),
    EDGE_PORT: port(8000),
    COMMAND_GRPC_PORT: port(8010),
    QUERY_GRPC_PORT: port(8011),
    STORE_PORT: port(27017),
    DATA_DIR: str(join(repoRoot, '.data', 'store')),
    // Stock a sample catalog on a fresh embedded store (never on MONGO_URL).
    SEED_CATALOG: bool(true),
  });
  const mesh = await startMesh({
    amqpUrl: config.AMQP_URL,
    mongoUrl: config.MONGO_URL || undefined,
    dataDir: config.DATA_DIR,
    ports: { edge: config.EDGE_PORT, command: config.COMMAND_GRPC_PORT, query: config.QUERY_GRPC_PORT, store: config.STORE_PORT },
    host: config.HOST,
    logLevel: config.LOG_LEVEL,
    onLine: (name, line) => process.stdout.write(`${name.padEnd(13)} ${line}\n`),
  });
  const u = mesh.urls;
  const marker = join(config.DATA_DIR, '.catalog-stocked');
  if (!config.MONGO_URL && config.SEED_CATALOG && !existsSync(marker)) {
    await stockSampleCatalog(u.command);
    writeFileSync(marker, `${new Date().toISOString()}\n`);
    process.stdout.write(`stocked a sample catalog: products ${SAMPLE_CATALOG.map((p) => p.productId).join(', ')}\n`);
  }
  process.stdout.write(
    [
      '',
      'CQRS mesh is up:',
      `  REST (edge)     ${u.edge}   e.g. curl -X POST ${u.edge}/cqrs/commands/orders -H 'Content-Type: application/json' -d '{"user_id":123,"product_id":456,"quantity":2}'`,
      `  command-svc     grpc://${u.command}`,
      `  query-svc       grpc://${u.query}`,
      `  store           ${u.mongo}${config.MONGO_URL ? '' : ' (embedded FerretDB, data in ' + config.DATA_DIR + ')'}`,
      `  rabbitmq        ${u.amqp.replace(/\/\/[^@/]*@/, '//***@')}`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping the mesh...\n');
    await mesh.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  for (const [name, child] of mesh.children) {
    void child.exited.then((code) => {
      if (!stopping) {
        process.stderr.write(`${name} exited unexpectedly (code ${code}); stopping the mesh\n`);
        void mesh.stop().then(() => process.exit(1));
      }
    });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`npm start: ${err.message}\n`);
  process.exit(1);
});
