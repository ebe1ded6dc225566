// The local edge as a process: REST on :8000 in front of command-svc and
// query-svc, configured from the environment and from envoy/envoy.yaml.
// First: tracing must be set up before grpc-js and http are loaded.
import '../lib/tracing';
import { join, resolve } from 'node:path';
import { address, common, int, port, portOrOff, readConfig, str } from '../lib/config';
import { serveMetrics } from '../lib/metrics';
import { runService } from '../lib/lifecycle';
import { repoRoot } from '../lib/paths';
import { createEdge, DEFAULT_CALL_TIMEOUT_MS } from './server';

runService('edge', async (log) => {
  const config = readConfig({
    EDGE_PORT: port(8000),
    HOST: common.HOST,
    COMMAND_SVC_ADDR: address('127.0.0.1:8010'),
    QUERY_SVC_ADDR: address('127.0.0.1:8011'),
    // repoRoot is found from __dirname, so this holds from sources and from dist/.
    DESCRIPTOR_PATH: str(join(repoRoot, 'gen', 'descriptor.binpb')),
    ENVOY_CONFIG: str(join(repoRoot, 'envoy', 'envoy.yaml')),
    OPENAPI_PATH: str(join(repoRoot, 'gen', 'openapi.json')),
    EDGE_CALL_TIMEOUT_MS: int(DEFAULT_CALL_TIMEOUT_MS, 1),
    METRICS_PORT: portOrOff(9100),
  });
  const edge = await createEdge({
    descriptorPath: resolve(config.DESCRIPTOR_PATH),
    envoyConfigPath: resolve(config.ENVOY_CONFIG),
    upstreams: {
      'cqrs.v1.CommandService': config.COMMAND_SVC_ADDR,
      'cqrs.v1.QueryService': config.QUERY_SVC_ADDR,
    },
    logger: log,
    callTimeoutMs: config.EDGE_CALL_TIMEOUT_MS,
    openApiPath: resolve(config.OPENAPI_PATH),
  });
  const bound = await edge.listen(config.EDGE_PORT, config.HOST);
  const metrics = await serveMetrics('edge', config.HOST, config.METRICS_PORT, log);
  log.info({ host: config.HOST, port: bound }, 'edge listening');
  return {
    async stop() {
      await metrics?.stop();
      await edge.close();
    },
  };
});
