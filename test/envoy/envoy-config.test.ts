// envoy/envoy.yaml, checked without an Envoy binary: decoded strictly against
// Envoy's own v3 API protos (every typed_config included), held to the
// protoc-gen-validate rules Envoy enforces on load, and checked against the
// project: the descriptor set it transcodes with, the REST contract, and the
// docker-compose/Dockerfile recipe it runs in. See test/support/envoy-schema.ts.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type DescService, type FileRegistry, type JsonValue, createFileRegistry, fromBinary, getOption, hasOption } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { parse as parseYaml } from 'yaml';
import {
  type EnvoySchema,
  anyTypesIn,
  buildEnvoySchema,
  canonicalJson,
  composeVolume,
  decodeEnvoyConfig,
  dockerfileStages,
  parseEnvoyYaml,
  repoRoot,
  validateEnvoyConfig,
} from '../support/envoy-schema';
import { LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../kit/auth-keys';

type J = any;


const ENVOY_YAML = join(repoRoot, 'envoy', 'envoy.yaml');
const DESCRIPTOR = join(repoRoot, 'gen', 'descriptor.binpb');
const TRANSCODER = 'envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder';
const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'envoy.extensions.filters.http.router.v3.Router';
const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const LOCAL_RATE_LIMIT = 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const UPSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const OPENAPI_PATH = '/cqrs/openapi.json';
/** The cluster of Envoy's own admin interface, reached only through the metrics listener. */
const ADMIN_CLUSTER = 'envoy_admin';

/** The REST contract (DESIGN.md): each path must be transcoded to this method. */
const CONTRACT: Array<[string, string, string]> = [
  ['post', '/cqrs/commands/orders', 'cqrs.v1.CommandService.CreateOrder'],
  ['post', '/cqrs/commands/payments', 'cqrs.v1.CommandService.ProcessPayment'],
  ['post', '/cqrs/commands/inventory', 'cqrs.v1.CommandService.UpdateInventory'],
  ['get', '/cqrs/commands/health', 'cqrs.v1.CommandService.'],
  ['get', '/cqrs/queries/orders/{order_id}', 'cqrs.v1.QueryService.GetOrder'],
  ['get', '/cqrs/queries/users/{user_id}/orders', 'cqrs.v1.QueryService.ListUserOrders'],
  ['get', '/cqrs/queries/inventory', 'cqrs.v1.QueryService.GetInventory'],
  ['get', '/cqrs/queries/statistics/orders', 'cqrs.v1.QueryService.GetOrderStatistics'],
  ['get', '/cqrs/queries/health', 'cqrs.v1.QueryService.'],
];

let schema: EnvoySchema;
let raw: J; // envoy.yaml as parsed YAML
let config: J; // envoy.yaml decoded, then printed back canonically (proto names, Anys with @type)
let project: FileRegistry;

/** A fresh copy of envoy.yaml's parsed YAML, changed by `edit`. */
function mutated(edit: (y: J) => void): JsonValue {
  const copy = structuredClone(raw);
  edit(copy);
  return copy;
}

const hcmOf = (c: J): J => c.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const filterOf = (c: J, type: string): J => hcmOf(c).http_filters.find((f: J) => f.typed_config?.['@type']?.endsWith(`/${type}`));
const transcoderOf = (c: J): J => filterOf(c, TRANSCODER).typed_config;

function problemsOf(value: JsonValue): string[] {
  return validateEnvoyConfig(schema, decodeEnvoyConfig(schema, value));
}

beforeAll(() => {
  schema = buildEnvoySchema(60_000);
  raw = parseEnvoyYaml(readFileSync(ENVOY_YAML, 'utf8'));
  config = canonicalJson(schema, decodeEnvoyConfig(schema, raw));
  if (!existsSync(DESCRIPTOR)) {
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'gen.mjs')], { cwd: repoRoot, timeout: 180_000, stdio: 'pipe' });
  }
  project = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR)));
}, 240_000);

describe('envoy.yaml against the Envoy v3 API', () => {
  test('the Envoy API protos build, Bootstrap and every extension used included', () => {
    expect(schema.fileCount).toBeGreaterThan(400);
    for (const type of [TRANSCODER, HCM, ROUTER, HTTP_OPTIONS]) expect(schema.registry.getMessage(type)).toBeDefined();
  });

  test('decodes strictly as envoy.config.bootstrap.v3.Bootstrap, every typed_config too', () => {
    const message = decodeEnvoyConfig(schema, raw);
    // Each Any was resolved to its message and decoded: the filters (the
    // metrics listener has a connection manager and a router of its own), the
    // access log, the cluster protocol options and TLS, the overload monitor,
    // the transcoder switches of the OpenAPI route and the live page's three,
    // the JWT filter and the commands' rate limit.
    expect(anyTypesIn(schema, message).sort()).toEqual(
      [
        HCM,
        HCM,
        ...Array(4).fill('envoy.config.route.v3.FilterConfig'),
        TRANSCODER,
        'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
        ROUTER,
        ROUTER,
        'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
        HTTP_OPTIONS,
        HTTP_OPTIONS,
        UPSTREAM_TLS,
        UPSTREAM_TLS,
        LOCAL_RATE_LIMIT,
        LOCAL_RATE_LIMIT,
        'envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
      ].sort(),
    );
  });

  test('keeps every protoc-gen-validate rule Envoy enforces, and uses nothing deprecated', () => {
    expect(problemsOf(raw)).toEqual([]);
  });
});

describe('the strict check fails when it should', () => {
  const rejected: Array<[string, (y: J) => void, RegExp]> = [
    ['an unknown key inside the transcoder typed_config', (y) => { transcoderOf(y).print_optionz = {}; }, /print_optionz/],
    ['an unknown key two Anys deep (cluster protocol options)', (y) => { y.static_resources.clusters[0].typed_extension_protocol_options[HTTP_OPTIONS].explicit_http_config.http2_protocol_optionz = {}; }, /http2_protocol_optionz/],
    ['an unknown top-level key', (y) => { y.static_resource = {}; }, /static_resource/],
    ['a string where a UInt32Value goes', (y) => { transcoderOf(y).max_request_body_size = '1 MiB'; }, /uint32/],
    ['a string where a list goes', (y) => { transcoderOf(y).services = 'cqrs.v1.CommandService'; }, /services/],
    ['a string where a bool goes', (y) => { transcoderOf(y).print_options.add_whitespace = 'no'; }, /add_whitespace|bool/],
    ['a number where a Duration goes', (y) => { y.static_resources.clusters[0].connect_timeout = 1; }, /Duration/],
    ['a misspelt enum name', (y) => { y.static_resources.clusters[0].lb_policy = 'ROUND_ROBBIN'; }, /ROUND_ROBBIN/],
    ['an @type that names no message', (y) => { filterOf(y, ROUTER).typed_config['@type'] = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Routr'; }, /Routr/],
    ['a typed_config without @type', (y) => { filterOf(y, ROUTER).typed_config = { dynamic_stats: true }; }, /@type|Any/],
  ];
  test.each(rejected)('rejects %s', (_what, edit, message) => {
    expect(() => decodeEnvoyConfig(schema, mutated(edit))).toThrow(message);
  });

  const invalid: Array<[string, (y: J) => void, RegExp]> = [
    ['an empty cluster name', (y) => { y.static_resources.clusters[0].name = ''; }, /clusters\[0\]\.name: needs at least 1/],
    ['a deprecated field', (y) => { y.static_resources.clusters[0].http2_protocol_options = {}; }, /http2_protocol_options: is deprecated/],
    ['a route with no action', (y) => { delete hcmOf(y).route_config.virtual_hosts[0].routes[0].direct_response; }, /routes\[0\]: one of route, .* is required/],
    ['a transcoder with no descriptor', (y) => { delete transcoderOf(y).proto_descriptor; }, /one of proto_descriptor, proto_descriptor_bin is required/],
    ['a zero body limit inside a typed_config', (y) => { transcoderOf(y).max_request_body_size = 0; }, /max_request_body_size: 0 must be > 0/],
    ['a port out of range', (y) => { y.admin.address.socket_address.port_value = 70000; }, /port_value: 70000 must be <= 65535/],
    ['a zero timeout', (y) => { y.static_resources.clusters[1].connect_timeout = '0s'; }, /connect_timeout: 0s must be > 0s/],
    ['a health check without its threshold', (y) => { delete y.static_resources.clusters[0].health_checks[0].healthy_threshold; }, /healthy_threshold: is required/],
  ];
  test.each(invalid)('reports %s', (_what, edit, message) => {
    const problems = problemsOf(mutated(edit));
    expect(problems.join('\n')).toMatch(message);
  });
});

describe('envoy.yaml against the project', () => {
  const services = (): string[] => transcoderOf(config).services;
  const clusterNames = (): string[] => config.static_resources.clusters.map((c: J) => c.name);
  const routes = (): J[] => hcmOf(config).route_config.virtual_hosts.flatMap((vh: J) => vh.routes);

  /** The route Envoy picks for a path: the first whose match applies. */
  function routeFor(path: string): J | undefined {
    return routes().find((r) => {
      const m = r.match;
      if (m.prefix !== undefined) return path.startsWith(m.prefix);
      if (m.path !== undefined) return path === m.path;
      if (m.path_separated_prefix !== undefined) return path === m.path_separated_prefix || path.startsWith(`${m.path_separated_prefix}/`);
      if (m.safe_regex !== undefined) return new RegExp(`^(?:${m.safe_regex.regex})$`).test(path);
      return false;
    });
  }

  function descriptorService(name: string): DescService | undefined {
    return project.getService(name);
  }

  function httpRules(): Array<{ service: string; method: string; verb: string; path: string }> {
    const http = project.getExtension('google.api.http');
    if (!http) throw new Error('google.api.http is not in gen/descriptor.binpb (imports missing from buf build?)');
    const out: Array<{ service: string; method: string; verb: string; path: string }> = [];
    for (const file of project.files) {
      for (const svc of file.services) {
        for (const method of svc.methods) {
          if (!hasOption(method, http)) continue;
          const rule = getOption(method, http) as J;
          for (const r of [rule, ...(rule.additionalBindings ?? [])]) {
            const { case: verb, value } = r.pattern;
            out.push({ service: svc.typeName, method: method.name, verb, path: verb === 'custom' ? value.path : value });
          }
        }
      }
    }
    return out;
  }

  test('the local edge finds its settings under the names it reads', () => {
    const t = transcoderOf(raw);
    for (const key of ['services', 'print_options', 'request_validation_options', 'convert_grpc_status', 'max_request_body_size']) {
      expect(Object.keys(t)).toContain(key);
    }
  });

  test('the transcoder settings the REST contract relies on', () => {
    // Spelled out in the file, false ones included, for the edge that reads it...
    expect(transcoderOf(raw).print_options).toEqual({
      add_whitespace: false,
      always_print_primitive_fields: true,
      always_print_enums_as_ints: false,
      preserve_proto_field_names: true,
      stream_newline_delimited: true,
    });
    // ...and meaning the same to Envoy (proto3 JSON leaves false out).
    const t = transcoderOf(config);
    expect(t.print_options).toEqual({ always_print_primitive_fields: true, preserve_proto_field_names: true, stream_newline_delimited: true });
    expect(t.convert_grpc_status).toBe(true);
    expect(t.request_validation_options).toEqual({ reject_unknown_method: true, reject_unknown_query_parameters: true });
    expect(t.max_request_body_size).toBe(1024 * 1024);
    expect(t.max_response_body_size).toBeGreaterThanOrEqual(1024 * 1024);
    expect(services().sort()).toEqual(['cqrs.v1.CommandService', 'cqrs.v1.QueryService']);
  });

  test('the transcoder runs before the router, and the router is last', () => {
    const types = hcmOf(config).http_filters.map((f: J) => String(f.typed_config['@type']).split('/').pop());
    expect(types[types.length - 1]).toBe(ROUTER);
    expect(types.indexOf(TRANSCODER)).toBeGreaterThanOrEqual(0);
    expect(types.indexOf(TRANSCODER)).toBeLessThan(types.length - 1);
  });

  test('gen/descriptor.binpb carries its imports, each before the files that use it', () => {
    // Envoy builds its descriptor pool file by file, in order, at start-up.
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR));
    const seen = new Set<string>();
    const missing: string[] = [];
    for (const file of set.file) {
      for (const dep of file.dependency) if (!seen.has(dep)) missing.push(`${file.name} needs ${dep} first`);
      seen.add(file.name);
    }
    expect(missing).toEqual([]);
    expect(seen).toContain('google/api/annotations.proto');
    // convert_grpc_status prints the grpc-status-details-bin google.rpc.Status
    // as JSON; its Any details only print if their types are in the same set.
    expect(project.getMessage('google.rpc.Status')).toBeDefined();
    expect(project.getMessage('google.rpc.BadRequest')).toBeDefined();
  });

  test('every service the transcoder lists is in gen/descriptor.binpb', () => {
    for (const name of services()) expect(descriptorService(name)).toBeDefined();
  });

  test('every google.api.http rule of the descriptor belongs to a transcoded service', () => {
    const rules = httpRules();
    expect(rules.length).toBeGreaterThan(0);
    const stray = rules.filter((r) => !services().includes(r.service)).map((r) => `${r.verb.toUpperCase()} ${r.path} (${r.service})`);
    expect(stray).toEqual([]);
  });

  test('every REST path of the contract is annotated on a transcoded method', () => {
    const rules = httpRules();
    for (const [verb, path, method] of CONTRACT) {
      const hit = rules.find((r) => r.verb === verb && r.path === path);
      expect({ verb, path, found: hit ? `${hit.service}.${hit.method}` : 'none' }).toEqual({
        verb,
        path,
        found: expect.stringContaining(method),
      });
      expect(services()).toContain(hit!.service);
    }
  });

  test('every route sends to a cluster that exists, but the OpenAPI document', () => {
    expect(routes().length).toBeGreaterThan(0);
    for (const r of routes()) {
      if (r.direct_response) continue; // the OpenAPI document, the live page
      expect(r.route?.cluster).toBeDefined();
      expect(clusterNames()).toContain(r.route.cluster);
      // The admin interface is for the metrics listener only, never for REST clients.
      expect(r.route.cluster).not.toBe(ADMIN_CLUSTER);
    }
  });

  test('every method of a transcoded service is routed, commands to command_svc and queries to query_svc', () => {
    const expected: Record<string, string> = { 'cqrs.v1.CommandService': 'command_svc', 'cqrs.v1.QueryService': 'query_svc' };
    for (const name of services()) {
      const svc = descriptorService(name)!;
      for (const method of svc.methods) {
        const path = `/${name}/${method.name}`;
        expect({ path, cluster: routeFor(path)?.route?.cluster }).toEqual({ path, cluster: expected[name] });
      }
    }
  });

  test('commands are never retried; queries are retried on unavailable/reset, with bounded timeouts', () => {
    const vhosts = hcmOf(config).route_config.virtual_hosts;
    for (const vh of vhosts) expect(vh.retry_policy).toBeUndefined();
    const command = routeFor('/cqrs.v1.CommandService/CreateOrder')!.route;
    expect(command.retry_policy).toBeUndefined();
    expect(command.timeout).toMatch(/^\d+(\.\d+)?s$/);
    const query = routeFor('/cqrs.v1.QueryService/GetOrder')!.route;
    expect(query.retry_policy.retry_on.split(',')).toEqual(expect.arrayContaining(['unavailable', 'reset']));
    expect(query.retry_policy.num_retries).toBeGreaterThan(0);
    expect(query.timeout).toMatch(/^\d+(\.\d+)?s$/);
  });

  test('upstreams speak HTTP/2 and resolve to the compose services on the contract ports', () => {
    const compose: J = parseYaml(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true });
    const expected: Record<string, { host: string; port: number; env: string }> = {
      command_svc: { host: 'command-svc', port: 8010, env: 'COMMAND_GRPC_PORT' },
      query_svc: { host: 'query-svc', port: 8011, env: 'QUERY_GRPC_PORT' },
    };
    expect(clusterNames().sort()).toEqual([...Object.keys(expected), ADMIN_CLUSTER].sort());
    for (const cluster of config.static_resources.clusters.filter((c: J) => c.name !== ADMIN_CLUSTER)) {
      const want = expected[cluster.name];
      expect(cluster.type).toBe('STRICT_DNS');
      const options = cluster.typed_extension_protocol_options?.[HTTP_OPTIONS];
      expect(options?.explicit_http_config?.http2_protocol_options).toBeDefined();
      const addresses = cluster.load_assignment.endpoints.flatMap((e: J) => e.lb_endpoints.map((l: J) => l.endpoint.address.socket_address));
      expect(addresses).toEqual([{ address: want.host, port_value: want.port }]);
      const svc = compose.services[want.host];
      expect(svc).toBeDefined();
      expect(String(svc.environment[want.env])).toBe(String(want.port));
    }
  });

  test('commands have a token bucket (429 with Retry-After, RESOURCE_EXHAUSTED for gRPC), queries none; the filter runs after the transcoder', () => {
    const types = hcmOf(config).http_filters.map((f: J) => String(f.typed_config['@type']).split('/').pop());
    expect(types.indexOf(LOCAL_RATE_LIMIT)).toBeGreaterThan(types.indexOf(TRANSCODER));
    expect(types.indexOf(LOCAL_RATE_LIMIT)).toBeLessThan(types.indexOf(ROUTER));
    // The filter itself has no bucket: only routes that configure one are limited.
    expect(filterOf(config, LOCAL_RATE_LIMIT).typed_config.token_bucket).toBeUndefined();
    const limit = routeFor('/cqrs.v1.CommandService/CreateOrder')!.typed_per_filter_config['envoy.filters.http.local_ratelimit'];
    expect(limit.token_bucket).toEqual({ max_tokens: 40, tokens_per_fill: 20, fill_interval: '1s' });
    for (const f of [limit.filter_enabled, limit.filter_enforced]) expect(f.default_value).toEqual({ numerator: 100 });
    expect(limit.rate_limited_as_resource_exhausted).toBe(true);
    expect(limit.response_headers_to_add).toContainEqual({ header: { key: 'retry-after', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
    expect(routeFor('/cqrs.v1.QueryService/GetOrder')!.typed_per_filter_config).toBeUndefined();
    // The same numbers as command-svc's own limit in docker-compose.yml.
    const compose: J = parseYaml(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true });
    const env = compose.services['command-svc'].environment;
    expect(Number(env.RATE_LIMIT_PER_SECOND)).toBe(limit.token_bucket.tokens_per_fill);
    expect(Number(env.RATE_LIMIT_BURST)).toBe(limit.token_bucket.max_tokens);
  });

  test("a client's grpc-timeout bounds each route, up to the route's own timeout", () => {
    for (const path of ['/cqrs.v1.CommandService/CreateOrder', '/cqrs.v1.QueryService/GetOrder']) {
      const route = routeFor(path)!.route;
      expect({ path, max: route.max_stream_duration?.grpc_timeout_header_max }).toEqual({ path, max: route.timeout });
    }
  });

  test('upstreams speak TLS with ALPN h2, verify the service by its name against the mounted CA, and present Envoy\'s certificate', () => {
    const compose: J = parseYaml(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true });
    const mounts = (compose.services.envoy.volumes ?? []).map(composeVolume);
    const services = config.static_resources.clusters.filter((c: J) => ['command_svc', 'query_svc'].includes(c.name));
    expect(services).toHaveLength(2);
    for (const cluster of services) {
      const host = cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address;
      expect(cluster.transport_socket?.name).toBe('envoy.transport_sockets.tls');
      const tls = cluster.transport_socket.typed_config;
      expect(tls['@type']).toBe(`type.googleapis.com/${UPSTREAM_TLS}`);
      expect(tls.sni).toBe(host);
      expect(tls.common_tls_context.alpn_protocols).toEqual(['h2']);
      expect(tls.common_tls_context.validation_context.match_typed_subject_alt_names).toEqual([{ san_type: 'DNS', matcher: { exact: host } }]);
      const files = [tls.common_tls_context.validation_context.trusted_ca.filename, tls.common_tls_context.tls_certificates[0].certificate_chain.filename, tls.common_tls_context.tls_certificates[0].private_key.filename];
      for (const f of files) expect(mounts.some((m: { target: string }) => f.startsWith(`${m.target}/`))).toBe(true);
    }
  });

  test('GET /cqrs/openapi.json is answered by Envoy with the generated document, the transcoder off', () => {
    const route = routeFor(OPENAPI_PATH)!;
    expect(route.match).toEqual({ path: OPENAPI_PATH });
    expect(route.direct_response).toEqual({ status: 200, body: { filename: '/etc/envoy/openapi.json' } });
    expect(route.response_headers_to_add).toContainEqual({ header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
    // reject_unknown_method would otherwise answer 404 before the router.
    expect(route.typed_per_filter_config['envoy.filters.http.grpc_json_transcoder']).toEqual({ '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', disabled: true });
    // A direct response body over the route table's cap fails Envoy's start-up.
    const cap = hcmOf(config).route_config.max_direct_response_body_size_bytes ?? 4096;
    expect(statSync(join(repoRoot, 'gen', 'openapi.json')).size).toBeLessThan(cap);
    // The Dockerfile's envoy stage copies the document there, from the stage that generates it.
    const stages = dockerfileStages(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
    const copies = stages.find((st) => st.name === 'envoy')!.instructions.filter((i) => /^COPY\s+--from=build\s+\/app\/gen\/openapi\.json\s+\/etc\/envoy\/openapi\.json$/.test(i));
    expect(copies).toHaveLength(1);
  });

  test('GET /cqrs/live and its files are answered by Envoy from the files of edge/live, the transcoder off', () => {
    const stages = dockerfileStages(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
    expect(stages.find((st) => st.name === 'envoy')!.instructions).toContain('COPY --from=build /app/edge/live /etc/envoy/live');
    const cap = hcmOf(config).route_config.max_direct_response_body_size_bytes ?? 4096;
    for (const [path, file, type] of [['/cqrs/live', 'index.html', 'text/html'], ['/cqrs/live/live.js', 'live.js', 'text/javascript'], ['/cqrs/live/live.css', 'live.css', 'text/css']]) {
      const route = routes().find((r) => r.match.path === path)!;
      expect(route.direct_response).toEqual({ status: 200, body: { filename: `/etc/envoy/live/${file}` } });
      expect(route.response_headers_to_add.find((h: J) => h.header.key === 'content-type').header.value).toMatch(new RegExp(`^${type}`));
      expect(route.typed_per_filter_config['envoy.filters.http.grpc_json_transcoder'].disabled).toBe(true);
      expect(statSync(join(repoRoot, 'edge', 'live', file)).size).toBeLessThan(cap);
    }
  });

  test('REST listens on 0.0.0.0:8000, metrics on 0.0.0.0:9902, and the admin interface only on 127.0.0.1:9901', () => {
    const listeners = config.static_resources.listeners;
    expect(listeners.map((l: J) => l.address.socket_address)).toEqual([
      { address: '0.0.0.0', port_value: 8000 },
      { address: '0.0.0.0', port_value: 9902 },
    ]);
    expect(config.admin.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 9901 });
  });

  test('the metrics listener passes GET /stats/prometheus to the admin interface, and nothing else', () => {
    const metrics = config.static_resources.listeners.find((l: J) => l.name === 'metrics');
    const hcm = metrics.filter_chains[0].filters[0].typed_config;
    // Normalized first, so no ../ walks from the allowed path to /quit or /drain_listeners.
    expect(hcm).toMatchObject({ normalize_path: true, merge_slashes: true, path_with_escaped_slashes_action: 'REJECT_REQUEST' });
    const routes: J[] = hcm.route_config.virtual_hosts.flatMap((vh: J) => vh.routes);
    expect(routes).toEqual([
      {
        match: { path: '/stats/prometheus', headers: [{ name: ':method', string_match: { exact: 'GET' } }] },
        route: { cluster: ADMIN_CLUSTER, timeout: '5s' },
      },
    ]);
    const admin = config.static_resources.clusters.find((c: J) => c.name === ADMIN_CLUSTER);
    const addresses = admin.load_assignment.endpoints.flatMap((e: J) => e.lb_endpoints.map((l: J) => l.endpoint.address.socket_address));
    expect(addresses).toEqual([config.admin.address.socket_address]);
  });

  test('docker-compose gives the envoy container this file and the descriptor at the path it names', () => {
    const compose: J = parseYaml(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true });
    const envoy = compose.services.envoy;
    expect(envoy).toBeDefined();
    expect(envoy.ports.map(String)).toContain('8000:8000');

    // envoy.yaml: mounted where the command line points -c.
    const command: string[] = envoy.command;
    const configPath = command[command.indexOf('-c') + 1];
    const mounts = (envoy.volumes ?? []).map(composeVolume);
    expect(mounts).toContainEqual({ source: './envoy/envoy.yaml', target: configPath });

    // The descriptor: either mounted at proto_descriptor, or copied there by the
    // Dockerfile stage the envoy service is built from, out of the stage that
    // generates it.
    const descriptorPath: string = transcoderOf(config).proto_descriptor;
    const mounted = mounts.find((m: { target: string }) => m.target === descriptorPath);
    if (mounted) {
      expect(mounted.source).toBe('./gen/descriptor.binpb');
      return;
    }
    expect(envoy.build?.target).toBeDefined();
    const stages = dockerfileStages(readFileSync(join(repoRoot, envoy.build.context ?? '.', envoy.build.dockerfile ?? 'Dockerfile'), 'utf8'));
    const stage = stages.find((s) => s.name === envoy.build.target);
    expect(stage).toBeDefined();
    const copies = stage!.instructions
      .map((i) => /^COPY\s+--from=(\S+)\s+(\S+)\s+(\S+)$/i.exec(i))
      .filter((m): m is RegExpExecArray => m !== null && m[3] === descriptorPath);
    expect(copies).toHaveLength(1);
    const [, fromStage, source] = copies[0];
    expect(source).toMatch(/\/gen\/descriptor\.binpb$/);
    const producer = stages.find((s) => s.name === fromStage);
    expect(producer?.instructions.some((i) => /^RUN\s.*(scripts\/gen\.mjs|npm run gen)/.test(i))).toBe(true);
  });
});

describe('jwt_authn at the edge', () => {
  const hcm = () => (parseYaml(readFileSync(ENVOY_YAML, 'utf8')) as J).static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const jwt = () => hcm().http_filters.find((f: J) => f.name === 'envoy.filters.http.jwt_authn').typed_config;

  test('runs before the transcoder, and forwards the token for the services to check again', () => {
    const names = hcm().http_filters.map((f: J) => f.name);
    expect(names.indexOf('envoy.filters.http.jwt_authn')).toBeLessThan(names.indexOf('envoy.filters.http.grpc_json_transcoder'));
    expect(jwt().providers.cqrs_mesh.forward).toBe(true);
  });

  test('requires a token on every REST path but health and the API description, with the issuer and audience the local keys use', () => {
    const { rules, providers } = jwt();
    expect(rules.filter((r: J) => !r.requires).map((r: J) => r.match.path ?? r.match.prefix)).toEqual(['/cqrs/commands/health', '/cqrs/queries/health', '/cqrs/openapi.json', '/cqrs/docs']);
    expect(rules[rules.length - 1]).toEqual({ match: { prefix: '/cqrs/' }, requires: { provider_name: 'cqrs_mesh' } });
    expect([providers.cqrs_mesh.issuer, providers.cqrs_mesh.audiences]).toEqual([LOCAL_ISSUER, [LOCAL_AUDIENCE]]);
  });
});
