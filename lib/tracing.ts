// OpenTelemetry tracing for a service process, off unless TRACING=on. Every
// main.ts imports this module first: the gRPC and HTTP instrumentations patch
// @grpc/grpc-js and node:http as they are required, so they must be
// registered before anything else loads them. The exporter is OTLP over
// HTTP, protobuf or JSON, configured by the standard OTEL_* variables
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME,
// OTEL_TRACES_SAMPLER, OTEL_BSP_SCHEDULE_DELAY, ...). With tracing off not
// one SDK module is loaded.
import { basename, dirname } from 'node:path';
import { bool, ConfigError, oneOf, readConfig } from './config';
import { enableSpans } from './spans';

let shutdown: (() => Promise<void>) | undefined;

/** A collector that is down must not hold up a process that is stopping. */
const SHUTDOWN_WAIT_MS = 3_000;

/** Spans still buffered go out before the process exits, for at most SHUTDOWN_WAIT_MS. */
export async function shutdownTracing(): Promise<void> {
  if (!shutdown) return;
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_WAIT_MS)));
  await Promise.race([shutdown().catch(() => undefined), giveUp]);
  clearTimeout(timer);
}

/** command-svc for dist/command-svc/main.js: the service a main module belongs to. */
export function processName(main = process.argv[1] ?? 'node'): string {
  const file = basename(main).replace(/\.[cm]?[jt]s$/, '');
  return file === 'main' ? basename(dirname(main)) : file;
}

/** Incoming HTTP that is no request of the API: scrapes and probes make no traces. */
const UNTRACED_PATHS = /^\/(metrics|healthz?|readyz|livez)(\/|\?|$)/;

/** gRPC methods called on a timer by probes and tools (grpc.health.v1, reflection). */
const UNTRACED_METHODS = ['Check', 'Watch', 'ServerReflectionInfo'];

/** OTLP over HTTP only (the spec's default first); OTLP/gRPC would be one more exporter to carry. */
const PROTOCOLS = ['http/protobuf', 'http/json'] as const;
type Protocol = (typeof PROTOCOLS)[number];

function exporterFor(protocol: Protocol) {
  const { OTLPTraceExporter } =
    protocol === 'http/json'
      ? (require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http'))
      : (require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto'));
  return new OTLPTraceExporter();
}

function start(protocol: Protocol): void {
  const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const { W3CTraceContextPropagator } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const { defaultResource, detectResources, envDetector, resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { GrpcInstrumentation } = require('@opentelemetry/instrumentation-grpc') as typeof import('@opentelemetry/instrumentation-grpc');

  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) win over the process's own name.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': processName() }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporterFor(protocol))] });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.test(req.url ?? '') }),
      new GrpcInstrumentation({ ignoreGrpcMethods: UNTRACED_METHODS }),
    ],
  });
  enableSpans();
  shutdown = () => provider.shutdown();
}

/** The protocol to export with, or undefined with tracing off. */
function tracingSetting(): Protocol | undefined {
  try {
    if (!readConfig({ TRACING: bool(false) }).TRACING) return undefined;
    const { OTEL_EXPORTER_OTLP_PROTOCOL: general } = readConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: oneOf(PROTOCOLS, 'http/protobuf') });
    return readConfig({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: oneOf(PROTOCOLS, general) }).OTEL_EXPORTER_OTLP_TRACES_PROTOCOL;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Imported before runService can report it: say it the same way and stop.
    process.stderr.write(`${processName()}: ${err.message}\n`);
    process.exit(1);
  }
}

const protocol = tracingSetting();
if (protocol) start(protocol);
