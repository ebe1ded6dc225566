import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parse } from 'yaml';
import { ENVOY_CONNECTION_MANAGER_DEFAULTS, findConnectionManagerConfig, loadEnvoyOptions, MESH_DEFAULTS, parseEnvoyOptions } from '../../edge/envoy-options';
import { envoyConfigPath, quietLogger } from './helpers';

const indent = (text: string, spaces: number) =>
  text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(spaces)}${l}`)
    .join('\n');

const bootstrap = (typedConfig: string, name = 'envoy.filters.http.grpc_json_transcoder', hcm = '') => `
static_resources:
  listeners:
    - name: l
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
${hcm ? indent(hcm, 16) : ''}
                http_filters:
                  - name: ${name}
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder
${typedConfig
  .trim()
  .split('\n')
  .map((l) => `                      ${l}`)
  .join('\n')}
                  - name: envoy.filters.http.router
`;

describe('parseEnvoyOptions', () => {
  it('reads every option the filter sets, with Envoy defaults for the rest', () => {
    const options = parseEnvoyOptions(
      bootstrap(`
proto_descriptor: /etc/envoy/descriptor.binpb
services: [a.v1.A, b.v1.B]
print_options: { add_whitespace: true, always_print_primitive_fields: true, preserve_proto_field_names: true }
convert_grpc_status: true
request_validation_options: { reject_unknown_method: true }
ignored_query_parameters: [api_key]
max_request_body_size: 100
max_response_body_size: { value: 200 }
url_unescape_spec: ALL_CHARACTERS
`),
      'test.yaml',
    );
    expect(options).toEqual({
      source: 'test.yaml',
      protoDescriptor: '/etc/envoy/descriptor.binpb',
      services: ['a.v1.A', 'b.v1.B'],
      print: { addWhitespace: true, alwaysPrintPrimitiveFields: true, alwaysPrintEnumsAsInts: false, preserveProtoFieldNames: true, streamNewlineDelimited: false },
      convertGrpcStatus: true,
      rejectUnknownMethod: true,
      rejectUnknownQueryParameters: false,
      ignoreUnknownQueryParameters: false,
      ignoredQueryParameters: ['api_key'],
      queryParamUnescapePlus: false,
      matchUnregisteredCustomVerb: false,
      urlUnescapeSpec: 'ALL_CHARACTERS',
      maxRequestBodySize: 100,
      maxResponseBodySize: 200,
      connectionManager: ENVOY_CONNECTION_MANAGER_DEFAULTS,
    });
  });

  it('finds the filter by its @type even under another name, and accepts an enum number', () => {
    const options = parseEnvoyOptions(bootstrap('services: [x.X]\nurl_unescape_spec: 1', 'transcoder'), 't');
    expect(options?.services).toEqual(['x.X']);
    expect(options?.urlUnescapeSpec).toBe('ALL_CHARACTERS_EXCEPT_SLASH');
    expect(options?.maxRequestBodySize).toBe(1024 * 1024);
  });

  it('reads the path and header rules of the connection manager that holds the filter', () => {
    const hcm = `
normalize_path: true
merge_slashes: true
path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT
common_http_protocol_options: { idle_timeout: 300s, headers_with_underscores_action: DROP_HEADER }
`;
    expect(parseEnvoyOptions(bootstrap('services: [x.X]', undefined, hcm), 't')?.connectionManager).toEqual({
      normalizePath: true,
      mergeSlashes: true,
      escapedSlashesAction: 'UNESCAPE_AND_REDIRECT',
      underscoreHeadersAction: 'DROP_HEADER',
    });
  });

  it('accepts normalize_path as a BoolValue and the enums by number; IMPLEMENTATION_SPECIFIC_DEFAULT is KEEP_UNCHANGED', () => {
    const options = (hcm: string) => parseEnvoyOptions(bootstrap('services: [x.X]', undefined, hcm), 't')?.connectionManager;
    expect(options('normalize_path: { value: true }\npath_with_escaped_slashes_action: 4\ncommon_http_protocol_options: { headers_with_underscores_action: 1 }')).toEqual({
      normalizePath: true,
      mergeSlashes: false,
      escapedSlashesAction: 'UNESCAPE_AND_FORWARD',
      underscoreHeadersAction: 'REJECT_REQUEST',
    });
    expect(options('path_with_escaped_slashes_action: IMPLEMENTATION_SPECIFIC_DEFAULT')?.escapedSlashesAction).toBe('KEEP_UNCHANGED');
    expect(options('path_with_escaped_slashes_action: 0')?.escapedSlashesAction).toBe('KEEP_UNCHANGED');
    expect(options('normalize_path: {}')?.normalizePath).toBe(false);
  });

  it("uses Envoy's defaults when the transcoder sits in no connection manager", () => {
    const yaml = `
http_filters:
  - name: envoy.filters.http.grpc_json_transcoder
    typed_config: { services: [x.X] }
`;
    expect(parseEnvoyOptions(yaml, 't')?.connectionManager).toEqual(ENVOY_CONNECTION_MANAGER_DEFAULTS);
    expect(ENVOY_CONNECTION_MANAGER_DEFAULTS).toEqual({ normalizePath: false, mergeSlashes: false, escapedSlashesAction: 'KEEP_UNCHANGED', underscoreHeadersAction: 'ALLOW' });
  });

  it('takes the connection manager that holds the transcoder, not the first one', () => {
    const yaml = `
static_resources:
  listeners:
    - name: admin_like
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                merge_slashes: true
                http_filters: [{ name: envoy.filters.http.router, typed_config: {} }]
    - name: rest
      filter_chains:
        - filters:
            - name: hcm
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                normalize_path: true
                http_filters:
                  - name: envoy.filters.http.grpc_json_transcoder
                    typed_config: { services: [x.X] }
`;
    expect(parseEnvoyOptions(yaml, 't')?.connectionManager).toEqual({ ...ENVOY_CONNECTION_MANAGER_DEFAULTS, normalizePath: true });
    expect(findConnectionManagerConfig(parse(yaml))).toMatchObject({ normalize_path: true });
  });

  it('returns undefined when there is no transcoder filter', () => {
    expect(parseEnvoyOptions('static_resources: { listeners: [] }', 't')).toBeUndefined();
  });

  it.each([
    ['a string for a boolean', 'convert_grpc_status: "yes"', /convert_grpc_status must be a boolean/],
    ['a scalar for a list', 'services: cqrs.v1.X', /services must be a list of strings/],
    ['a zero body size', 'max_request_body_size: 0', /max_request_body_size must be a positive/],
    ['an unknown unescape spec', 'url_unescape_spec: SOME', /url_unescape_spec must be one of/],
  ])('refuses %s, as Envoy would refuse to start', (_what, line, message) => {
    expect(() => parseEnvoyOptions(bootstrap(line), 't')).toThrow(message);
  });

  it.each([
    ['a string for normalize_path', 'normalize_path: "yes"', /http_connection_manager\.normalize_path must be a boolean/],
    ['a number for merge_slashes', 'merge_slashes: 1', /http_connection_manager\.merge_slashes must be a boolean/],
    ['an unknown escaped-slashes action', 'path_with_escaped_slashes_action: SOMETIMES', /path_with_escaped_slashes_action must be one of .*UNESCAPE_AND_FORWARD/],
    ['an out-of-range underscore action', 'common_http_protocol_options: { headers_with_underscores_action: 7 }', /headers_with_underscores_action must be one of ALLOW, REJECT_REQUEST, DROP_HEADER/],
  ])('refuses %s in the connection manager', (_what, hcm, message) => {
    expect(() => parseEnvoyOptions(bootstrap('services: [x.X]', undefined, hcm), 't')).toThrow(message);
  });
});

describe('loadEnvoyOptions', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'edge-envoy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('falls back to the mesh defaults, and says so, when the file is missing', () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    expect(loadEnvoyOptions(join(dir, 'absent.yaml'), log)).toBe(MESH_DEFAULTS);
    expect(lines.join('')).toMatch(/using the mesh defaults/);
  });

  it('falls back to the mesh defaults when the file lacks the filter', () => {
    const path = join(dir, 'plain.yaml');
    writeFileSync(path, 'admin: {}\n');
    expect(loadEnvoyOptions(path, quietLogger())).toBe(MESH_DEFAULTS);
  });

  it('mesh defaults: proto names, primitives printed, status converted, strict requests, 1 MiB', () => {
    expect(MESH_DEFAULTS).toMatchObject({
      print: { preserveProtoFieldNames: true, alwaysPrintPrimitiveFields: true, alwaysPrintEnumsAsInts: false },
      convertGrpcStatus: true,
      rejectUnknownMethod: true,
      rejectUnknownQueryParameters: true,
      maxRequestBodySize: 1024 * 1024,
      // envoy.yaml's connection manager hardening.
      connectionManager: { normalizePath: true, mergeSlashes: true, escapedSlashesAction: 'REJECT_REQUEST', underscoreHeadersAction: 'REJECT_REQUEST' },
    });
  });

  // The project's own envoy/envoy.yaml must give the edge what the REST contract needs.
  (existsSync(envoyConfigPath) ? it : it.skip)('reads envoy/envoy.yaml into the options the mesh needs', () => {
    const options = loadEnvoyOptions(envoyConfigPath, quietLogger());
    expect(options.source).toBe(envoyConfigPath);
    expect(options.services).toEqual(expect.arrayContaining(['cqrs.v1.CommandService', 'cqrs.v1.QueryService']));
    expect(options.print).toMatchObject({ preserveProtoFieldNames: true, alwaysPrintPrimitiveFields: true, alwaysPrintEnumsAsInts: false });
    expect(options).toMatchObject({ convertGrpcStatus: true, rejectUnknownMethod: true, rejectUnknownQueryParameters: true });
    expect(options.maxRequestBodySize).toBeGreaterThan(0);
    // The connection manager around the filter: normalized paths, merged slashes, no %2F, no underscored headers.
    expect(options.connectionManager).toEqual({ normalizePath: true, mergeSlashes: true, escapedSlashesAction: 'REJECT_REQUEST', underscoreHeadersAction: 'REJECT_REQUEST' });
  });
});
