// query-svc: config, wiring, serve. gRPC on QUERY_GRPC_PORT (8011). Needs only
// the read store, so it keeps answering when the command side is down; the
// broker only brings projection notices, which wake the queries waiting on a
// consistency token and drive the live queries sooner than the store
// re-check would.
// First: tracing must be set up before grpc-js and http are loaded.
import '../lib/tracing';
import { QueryServiceService } from '../gen/ts/cqrs/v1/query_service';
import { AmqpConnection } from '../lib/amqp';
import { common, int, port, portOrOff, readConfig } from '../lib/config';
import { serveMetrics } from '../lib/metrics';
import { serveGrpc } from '../lib/grpc-server';
import { authSettings, TokenVerifier } from '../lib/auth';
import { runService } from '../lib/lifecycle';
import { connectMongo, pingMongo, READ_DB } from '../lib/mongo';
import { listenForProjections } from '../lib/projection-notices';
import { ReadStore } from '../lib/read-store';
import { queryService } from './grpc-service';
import { LiveQueries } from './live-queries';
import { ProjectionWaits } from './projection-waits';
import { ReadYourWrites } from './read-your-writes';

runService('query-svc', async (log) => {
  // Waiting queries re-read the store this often, in case a notice was lost.
  const config = readConfig({ ...common, QUERY_GRPC_PORT: port(8011), METRICS_PORT: portOrOff(9102), CONSISTENCY_RECHECK_MS: int(1_000, 10), ...authSettings });
  const verifier = TokenVerifier.fromConfig(config);
  if (!verifier) log.warn('AUTH is off: any caller may read every order and user (set AUTH=on)');

  const mongo = await connectMongo(config.MONGO_URL, log, { timeCommands: config.METRICS_PORT !== 'off' });
  const read = await ReadStore.open(mongo.db(READ_DB), true);
  await read.ensureIndexes();

  const waits = new ProjectionWaits(config.CONSISTENCY_RECHECK_MS);
  const live = new LiveQueries(config.CONSISTENCY_RECHECK_MS, log);
  const amqp = new AmqpConnection(config.AMQP_URL, log);
  await listenForProjections(amqp, {
    applied: (positions) => (waits.applied(positions), live.applied(positions)),
    resubscribed: () => (waits.resubscribed(), live.resubscribed()),
  }, log);
  await amqp.connectOrKeepTrying();

  const server = await serveGrpc({
    process: 'query-svc', host: config.HOST, port: config.QUERY_GRPC_PORT, log, verifier, reflection: config.GRPC_REFLECTION,
    definition: QueryServiceService,
    implementation: (health) => queryService(read, new ReadYourWrites(read, waits), live, health, log),
    checks: { mongodb: () => pingMongo(read.db) },
  });
  const metrics = await serveMetrics('query-svc', config.HOST, config.METRICS_PORT, log, server.report);

  return {
    async stop() {
      waits.stop();
      live.stop();
      await metrics?.stop();
      await server.stop();
      await amqp.close();
      read.close();
      await mongo.close();
    },
  };
});
