// projector-svc: consumes every event on cqrs.events into the read models.
// First: tracing must be set up before grpc-js and http are loaded.
import '../lib/tracing';
import { AmqpConnection, brokerUnreachable } from '../lib/amqp';
import { common, consumerLimits, int, port, portOrOff, readConfig } from '../lib/config';
import { consumerChecks } from '../lib/consumer-health';
import { serveHealth } from '../lib/grpc-server';
import { serveMetrics, unappliedAgeGauge } from '../lib/metrics';
import { queueDepthGauges, readyCount } from '../lib/queue-gauges';
import { EventConsumer, PROJECTOR_QUEUE } from '../lib/consumer';
import { EventStore } from '../lib/event-store';
import { runService } from '../lib/lifecycle';
import { connectMongo, pingMongo, READ_DB, WRITE_DB } from '../lib/mongo';
import { ProjectionAnnouncer } from '../lib/projection-notices';
import { ReadStore } from '../lib/read-store';
import { reportLag } from '../lib/read-lag';
import { Projector } from './projector';

runService('projector-svc', async (log) => {
  const config = readConfig({
    ...common, CONSUMER_PREFETCH: int(512, 1), MAX_ATTEMPTS: int(5, 1), BATCH_LINGER_MS: int(5, 0),
    // grpc.health.v1 only: projector-svc has no API, but its health includes how far behind it is.
    PROJECTOR_GRPC_PORT: port(8012),
    METRICS_PORT: portOrOff(9103),
    ...consumerLimits,
  });
  const metricsOn = config.METRICS_PORT !== 'off';

  const mongo = await connectMongo(config.MONGO_URL, log, { timeCommands: metricsOn });
  const read = await ReadStore.open(mongo.db(READ_DB), true);
  await read.ensureIndexes();
  const amqp = new AmqpConnection(config.AMQP_URL, log);
  await amqp.connect().catch((err) => {
    throw brokerUnreachable(config.AMQP_URL, err);
  });
  // query-svc wakes the reads waiting on a consistency token (lib/projection-notices.ts).
  const announcer = new ProjectionAnnouncer(amqp);
  await announcer.start();
  const projector = new Projector(read, new EventStore(mongo.db(WRITE_DB)), log, (positions) => announcer.announce(positions));
  const consumer = new EventConsumer(
    amqp,
    { queue: PROJECTOR_QUEUE, bindings: ['#'], prefetch: config.CONSUMER_PREFETCH, maxAttempts: config.MAX_ATTEMPTS, handleBatch: (es) => projector.handleBatch(es), onChannel: () => projector.forgetCache(), lingerMs: config.BATCH_LINGER_MS },
    log,
  );
  await consumer.start();
  // The command side's admission gate listens (command-svc/read-side-gate.ts).
  const queued = await readyCount(amqp, PROJECTOR_QUEUE, 200);
  const stopLagReports = await reportLag(amqp, PROJECTOR_QUEUE, () => ({ lagMs: consumer.lagMs(), waitMs: consumer.waitMs(Date.now(), queued.current()), eventMs: consumer.msPerEvent() }), 200);
  const health = await serveHealth({
    process: 'projector-svc', host: config.HOST, port: config.PROJECTOR_GRPC_PORT, log, reflection: config.GRPC_REFLECTION,
    checks: { mongodb: () => pingMongo(read.db), ...consumerChecks(consumer, { maxLagMs: config.CONSUMER_MAX_LAG_MS, maxStallMs: config.CONSUMER_MAX_STALL_MS }) },
  });
  if (metricsOn) {
    await queueDepthGauges(amqp, [PROJECTOR_QUEUE]);
    unappliedAgeGauge(() => [[PROJECTOR_QUEUE, consumer.lagMs()]]);
  }
  const metrics = await serveMetrics('projector-svc', config.HOST, config.METRICS_PORT, log, health.report);
  log.info({ queue: PROJECTOR_QUEUE }, 'projector-svc consuming');

  return {
    async stop() {
      await metrics?.stop();
      await health.stop();
      stopLagReports();
      queued.stop();
      await consumer.stop();
      await amqp.close();
      read.close();
      await mongo.close();
    },
  };
});
