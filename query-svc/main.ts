// query-svc: config, wiring, serve. gRPC on QUERY_GRPC_PORT (8011). Needs only
// the read store, so it keeps answering when the command side is down.
// First: tracing must be set up before grpc-js and http are loaded.
import '../lib/tracing';
import { QueryServiceService } from '../gen/ts/cqrs/v1/query_service';
import { common, port, portOrOff, readConfig } from '../lib/config';
import { serveMetrics } from '../lib/metrics';
import { serveGrpc } from '../lib/grpc-server';
import { authSettings, TokenVerifier } from '../lib/auth';
import { runService } from '../lib/lifecycle';
import { connectMongo, pingMongo, READ_DB } from '../lib/mongo';
import { ReadStore } from '../lib/read-store';
import { queryService } from './grpc-service';

runService('query-svc', async (log) => {
  const { AMQP_URL: _unused, ...settings } = common;
  const config = readConfig({ ...settings, QUERY_GRPC_PORT: port(8011), METRICS_PORT: portOrOff(9102), ...authSettings });
  const verifier = TokenVerifier.fromConfig(config);
  if (!verifier) log.warn('AUTH is off: any caller may read every order and user (set AUTH=on)');

  const mongo = await connectMongo(config.MONGO_URL, log, { timeCommands: config.METRICS_PORT !== 'off' });
  const read = await ReadStore.open(mongo.db(READ_DB), true);
  await read.ensureIndexes();

  const server = await serveGrpc({
    process: 'query-svc', host: config.HOST, port: config.QUERY_GRPC_PORT, log, verifier, reflection: config.GRPC_REFLECTION,
    definition: QueryServiceService,
    implementation: (health) => queryService(read, health, log),
    checks: { mongodb: () => pingMongo(read.db) },
  });
  const metrics = await serveMetrics('query-svc', config.HOST, config.METRICS_PORT, log, server.report);

  return {
    async stop() {
      await metrics?.stop();
      await server.stop();
      read.close();
      await mongo.close();
    },
  };
});
