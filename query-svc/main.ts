// query-svc: config, wiring, serve. gRPC on QUERY_GRPC_PORT (8011). Needs only
// the read store, so it keeps answering when the command side is down.
import { QueryServiceService } from '../gen/ts/cqrs/v1/query_service';
import { common, port, readConfig } from '../lib/config';
import { startGrpcServer } from '../lib/grpc-server';
import { HealthMonitor } from '../lib/health';
import { runService } from '../lib/lifecycle';
import { connectMongo, pingMongo, READ_DB } from '../lib/mongo';
import { ReadStore } from '../lib/read-store';
import { queryService } from './grpc-service';

const SERVICE = 'cqrs.v1.QueryService';

runService('query-svc', async (log) => {
  const { AMQP_URL: _unused, ...settings } = common;
  const config = readConfig({ ...settings, QUERY_GRPC_PORT: port(8011) });

  const mongo = await connectMongo(config.MONGO_URL, log);
  const read = await ReadStore.open(mongo.db(READ_DB), true);
  await read.ensureIndexes();

  let monitor: HealthMonitor | undefined;
  const server = await startGrpcServer(config.HOST, config.QUERY_GRPC_PORT, [
    { name: SERVICE, definition: QueryServiceService, implementation: queryService(read, () => monitor!.current, log) as never },
  ]);
  monitor = new HealthMonitor('query-svc', { mongodb: () => pingMongo(read.db) }, { health: server.health, services: [SERVICE] }, log);
  await monitor.refresh();
  monitor.start();
  log.info({ port: server.port, host: config.HOST }, 'query-svc listening');

  return {
    async stop() {
      monitor!.stop();
      await server.stop();
      read.close();
      await mongo.close();
    },
  };
});
