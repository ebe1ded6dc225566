// command-svc: config, wiring, serve. gRPC on COMMAND_GRPC_PORT (8010).
// First: tracing must be set up before grpc-js and http are loaded.
import '../lib/tracing';
import { CommandServiceService } from '../gen/ts/cqrs/v1/command_service';
import { AmqpConnection, brokerUnreachable } from '../lib/amqp';
import { common, consumerLimits, int, port, portOrOff, readConfig } from '../lib/config';
import { consumerChecks } from '../lib/consumer-health';
import { HealthMonitor } from '../lib/health';
import { gaugeOf, serveMetrics, unappliedAgeGauge } from '../lib/metrics';
import { queueDepthGauges } from '../lib/queue-gauges';
import { UnappliedAge } from '../lib/unapplied-age';
import { EventConsumer, ORDER_PROCESS_QUEUE, PROJECTOR_QUEUE } from '../lib/consumer';
import { serveGrpc } from '../lib/grpc-server';
import { authSettings, TokenVerifier } from '../lib/auth';
import { runService } from '../lib/lifecycle';
import { connectMongo, pingMongo, WRITE_DB } from '../lib/mongo';
import { CommandHandler } from './command-handler';
import { CommitWriter } from './commit-writer';
import { EventPublisher } from './event-publisher';
import { EventStore } from '../lib/event-store';
import { IdempotencyStore } from './idempotency';
import { commandService } from './grpc-service';
import { ORDER_PROCESS_EVENTS, OrderProcess } from './order-process';
import { OutboxRelay } from './outbox-relay';
import { ReadSideGate } from './read-side-gate';
import { commandLimiter, describeLimit, rateLimitSpec } from '../lib/rate-limit';

runService('command-svc', async (log) => {
  const config = readConfig({
    ...common,
    COMMAND_GRPC_PORT: port(8010),
    RELAY_INTERVAL_MS: int(1_000, 10),
    CONSUMER_PREFETCH: int(64, 1),
    MAX_ATTEMPTS: int(5, 1),
    // Client commands wait while a new event would wait longer than this to be projected (0: never).
    MAX_PROJECTION_LAG_MS: int(500, 0),
    METRICS_PORT: portOrOff(9101),
    ...authSettings,
    ...consumerLimits,
    ...rateLimitSpec,
  });
  const metricsOn = config.METRICS_PORT !== 'off';
  const verifier = TokenVerifier.fromConfig(config);
  if (!verifier) log.warn('AUTH is off: any caller may run any command (set AUTH=on)');
  log.info({ rateLimit: describeLimit() }, 'client command limits');

  const mongo = await connectMongo(config.MONGO_URL, log, { timeCommands: metricsOn });
  const db = mongo.db(WRITE_DB);
  const amqp = new AmqpConnection(config.AMQP_URL, log);
  await amqp.connect().catch((err) => {
    throw brokerUnreachable(config.AMQP_URL, err);
  });

  const store = new EventStore(db);
  const publisher = new EventPublisher(amqp);
  await publisher.start();
  const writer = new CommitWriter(db, store);
  const relay = new OutboxRelay(writer.outbox, store, publisher, log, { intervalMs: config.RELAY_INTERVAL_MS, graceMs: 10_000, orphanAfterMs: 60_000 });
  const handler = new CommandHandler(store, writer, publisher, log);

  const process_ = new OrderProcess(handler, log);
  const consumer = new EventConsumer(
    amqp,
    {
      queue: ORDER_PROCESS_QUEUE, bindings: ORDER_PROCESS_EVENTS, prefetch: config.CONSUMER_PREFETCH, maxAttempts: config.MAX_ATTEMPTS,
      handle: (e) => process_.handle(e),
      // The process's reaction is a trace of its own, linked to the event's.
      linkTraces: true,
      // Another instance may have run the process meanwhile: its streams moved on.
      onChannel: () => store.forgetAll(),
    },
    log,
  );
  await consumer.start();
  relay.start();
  const gate = new ReadSideGate(amqp, { queue: PROJECTOR_QUEUE, maxLagMs: config.MAX_PROJECTION_LAG_MS, maxWaitMs: 5_000, staleMs: 2_000 }, log);
  await gate.start();

  const server = await serveGrpc({
    process: 'command-svc', host: config.HOST, port: config.COMMAND_GRPC_PORT, log, verifier, reflection: config.GRPC_REFLECTION,
    definition: CommandServiceService,
    implementation: (health) => commandService(handler, new IdempotencyStore(db), gate, health, log, commandLimiter(process.env, { bySubject: verifier !== undefined })),
    checks: { mongodb: () => pingMongo(db), rabbitmq: () => publisher.isUp && consumer.isUp },
  });
  // The order process is a part that can fall behind alone: its own health service name, not the server's.
  const orderProcessHealth = new HealthMonitor(ORDER_PROCESS_QUEUE, consumerChecks(consumer, { maxLagMs: config.CONSUMER_MAX_LAG_MS, maxStallMs: config.CONSUMER_MAX_STALL_MS }), { health: server.health, services: [ORDER_PROCESS_QUEUE], part: true }, log);
  await orderProcessHealth.refresh();
  orderProcessHealth.start();

  if (metricsOn) {
    await queueDepthGauges(amqp, [PROJECTOR_QUEUE, ORDER_PROCESS_QUEUE]);
    // The projector's lag as this process sees it (the gate's reports), which stays known while projector-svc is down.
    const unapplied = new UnappliedAge(gate.watch);
    publisher.onConfirm(() => unapplied.published());
    unappliedAgeGauge(() => [[PROJECTOR_QUEUE, unapplied.ageMs()], [ORDER_PROCESS_QUEUE, consumer.lagMs()]]);
    gaugeOf('cqrs_outbox_pending', 'Outbox markers whose commits the broker has not confirmed yet (in flight, or waiting for the relay).', [], async () => [[{}, await writer.outbox.countDocuments({}, { maxTimeMS: 1_000 })]]);
  }
  const metrics = await serveMetrics('command-svc', config.HOST, config.METRICS_PORT, log, () => orderProcessHealth.current);

  return {
    async stop() {
      orderProcessHealth.stop();
      await metrics?.stop();
      gate.stop();
      await server.stop();
      await consumer.stop();
      await relay.stop();
      await writer.flush().catch(() => undefined);
      await amqp.close();
      await mongo.close();
    },
  };
});
