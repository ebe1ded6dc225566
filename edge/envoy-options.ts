// The transcoder's options are read from envoy/envoy.yaml itself, so the local
// edge and production Envoy cannot drift apart: whatever the
// grpc_json_transcoder filter says there is what this edge does here. The
// path and header rules of the HTTP connection manager that holds the filter
// (normalize_path, merge_slashes, escaped slashes, underscored headers) are
// read from the same place.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Logger } from '../lib/logger';

export const TRANSCODER_FILTER = 'envoy.filters.http.grpc_json_transcoder';
export const TRANSCODER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder';
export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Envoy's UrlUnescapeSpec: how much of a multi-segment path variable is percent-decoded. */
export type UrlUnescapeSpec = 'ALL_CHARACTERS_EXCEPT_RESERVED' | 'ALL_CHARACTERS_EXCEPT_SLASH' | 'ALL_CHARACTERS';

/** HttpConnectionManager.PathWithEscapedSlashesAction (IMPLEMENTATION_SPECIFIC_DEFAULT is read as KEEP_UNCHANGED, Envoy's choice). */
export type EscapedSlashesAction = 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';

/** HttpProtocolOptions.HeadersWithUnderscoresAction. */
export type UnderscoreHeadersAction = 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';

/**
 * The settings of the HTTP connection manager that holds the transcoder
 * which act on a request before routing (edge/normalize.ts applies them).
 */
export interface ConnectionManagerOptions {
  /** normalize_path: RFC 3986 normalization of the path. */
  normalizePath: boolean;
  /** merge_slashes: `//a///b` -> `/a/b`. */
  mergeSlashes: boolean;
  /** path_with_escaped_slashes_action: what %2F / %5C in the path do. */
  escapedSlashesAction: EscapedSlashesAction;
  /** common_http_protocol_options.headers_with_underscores_action. */
  underscoreHeadersAction: UnderscoreHeadersAction;
}

/** Envoy's defaults for an absent key (and for a transcoder outside any connection manager). */
export const ENVOY_CONNECTION_MANAGER_DEFAULTS: ConnectionManagerOptions = {
  normalizePath: false,
  mergeSlashes: false,
  escapedSlashesAction: 'KEEP_UNCHANGED',
  underscoreHeadersAction: 'ALLOW',
};

export interface PrintOptions {
  addWhitespace: boolean;
  alwaysPrintPrimitiveFields: boolean;
  alwaysPrintEnumsAsInts: boolean;
  preserveProtoFieldNames: boolean;
  streamNewlineDelimited: boolean;
}

export interface TranscoderOptions {
  /** Where these came from: the YAML path, or "defaults". */
  source: string;
  /** Envoy's descriptor path (a container path in production; informational here). */
  protoDescriptor?: string;
  /** Full service names to transcode; empty means every service in the descriptor. */
  services: string[];
  print: PrintOptions;
  convertGrpcStatus: boolean;
  rejectUnknownMethod: boolean;
  rejectUnknownQueryParameters: boolean;
  ignoreUnknownQueryParameters: boolean;
  ignoredQueryParameters: string[];
  queryParamUnescapePlus: boolean;
  matchUnregisteredCustomVerb: boolean;
  urlUnescapeSpec: UrlUnescapeSpec;
  maxRequestBodySize: number;
  maxResponseBodySize: number;
  /** The enclosing HTTP connection manager's path and header rules. */
  connectionManager: ConnectionManagerOptions;
}

/** Envoy's default stream buffer (per_connection_buffer_limit_bytes) is 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** What the mesh needs when envoy.yaml is missing: the contract in DESIGN.md. */
export const MESH_DEFAULTS: TranscoderOptions = {
  source: 'defaults',
  services: [],
  print: {
    addWhitespace: false,
    alwaysPrintPrimitiveFields: true,
    alwaysPrintEnumsAsInts: false,
    preserveProtoFieldNames: true,
    streamNewlineDelimited: false,
  },
  convertGrpcStatus: true,
  rejectUnknownMethod: true,
  rejectUnknownQueryParameters: true,
  ignoreUnknownQueryParameters: false,
  ignoredQueryParameters: [],
  queryParamUnescapePlus: false,
  matchUnregisteredCustomVerb: false,
  urlUnescapeSpec: 'ALL_CHARACTERS_EXCEPT_RESERVED',
  maxRequestBodySize: DEFAULT_BODY_LIMIT,
  maxResponseBodySize: DEFAULT_BODY_LIMIT,
  // The edge hardening of envoy/envoy.yaml's connection manager.
  connectionManager: {
    normalizePath: true,
    mergeSlashes: true,
    escapedSlashesAction: 'REJECT_REQUEST',
    underscoreHeadersAction: 'REJECT_REQUEST',
  },
};

/**
 * Reads the options from an Envoy bootstrap file. A missing file or a file
 * without the filter falls back to MESH_DEFAULTS (logged); a filter with
 * values of the wrong type throws, as Envoy would refuse to start.
 */
export function loadEnvoyOptions(path: string | undefined, log: Logger): TranscoderOptions {
  if (!path || !existsSync(path)) {
    log.warn({ envoyConfig: path ?? null }, 'envoy config not found; using the mesh defaults for transcoding');
    return MESH_DEFAULTS;
  }
  const options = parseEnvoyOptions(readFileSync(path, 'utf8'), path);
  if (!options) {
    log.warn({ envoyConfig: path }, `no ${TRANSCODER_FILTER} filter in envoy config; using the mesh defaults`);
    return MESH_DEFAULTS;
  }
  if (options.services.length === 0) {
    // Envoy treats an empty list as "filter disabled"; here it means "all", loudly.
    log.warn({ envoyConfig: path }, 'transcoder filter lists no services (Envoy would disable it); transcoding every service');
  }
  log.info({ envoyConfig: path, services: options.services, connectionManager: options.connectionManager }, 'transcoder options read from envoy config');
  return options;
}

/** Returns undefined when the document holds no transcoder filter. */
export function parseEnvoyOptions(yamlText: string, source: string): TranscoderOptions | undefined {
  const found = locateTranscoder(parse(yamlText), undefined);
  return found ? toOptions(found.transcoder, found.connectionManager, source) : undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Depth-first search for the filter, wherever the bootstrap nests it
 * (listener filter chains, HCM http_filters, ...). In Envoy v3 the typed
 * config's @type selects the extension, so either it or the name matches.
 */
export function findTranscoderConfig(node: unknown): Obj | undefined {
  return locateTranscoder(node, undefined)?.transcoder;
}

/** The HttpConnectionManager typed config whose http_filters hold the transcoder, if any. */
export function findConnectionManagerConfig(node: unknown): Obj | undefined {
  return locateTranscoder(node, undefined)?.connectionManager;
}

interface Located {
  transcoder: Obj;
  connectionManager?: Obj;
}

/** The same search, remembering the innermost connection manager on the way down. */
function locateTranscoder(node: unknown, connectionManager: Obj | undefined): Located | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = locateTranscoder(item, connectionManager);
      if (found) return found;
    }
    return undefined;
  }
  if (!isObj(node)) return undefined;
  const typed = node.typed_config;
  if (isObj(typed) && (node.name === TRANSCODER_FILTER || typed['@type'] === TRANSCODER_TYPE)) return { transcoder: typed, connectionManager };
  const isHcm = isObj(typed) && (node.name === HCM_FILTER || typed['@type'] === HCM_TYPE);
  for (const [key, value] of Object.entries(node)) {
    const found = locateTranscoder(value, isHcm && key === 'typed_config' ? (typed as Obj) : connectionManager);
    if (found) return found;
  }
  return undefined;
}

function toOptions(c: Obj, hcm: Obj | undefined, source: string): TranscoderOptions {
  const read = reader(source, TRANSCODER_FILTER);
  const print = read.obj(c, 'print_options');
  const validation = read.obj(c, 'request_validation_options');
  return {
    source,
    protoDescriptor: read.str(c, 'proto_descriptor'),
    services: read.strings(c, 'services'),
    print: {
      addWhitespace: read.bool(print, 'add_whitespace'),
      alwaysPrintPrimitiveFields: read.bool(print, 'always_print_primitive_fields'),
      alwaysPrintEnumsAsInts: read.bool(print, 'always_print_enums_as_ints'),
      preserveProtoFieldNames: read.bool(print, 'preserve_proto_field_names'),
      streamNewlineDelimited: read.bool(print, 'stream_newline_delimited'),
    },
    convertGrpcStatus: read.bool(c, 'convert_grpc_status'),
    rejectUnknownMethod: read.bool(validation, 'reject_unknown_method'),
    rejectUnknownQueryParameters: read.bool(validation, 'reject_unknown_query_parameters'),
    ignoreUnknownQueryParameters: read.bool(c, 'ignore_unknown_query_parameters'),
    ignoredQueryParameters: read.strings(c, 'ignored_query_parameters'),
    queryParamUnescapePlus: read.bool(c, 'query_param_unescape_plus'),
    matchUnregisteredCustomVerb: read.bool(c, 'match_unregistered_custom_verb'),
    urlUnescapeSpec: read.unescapeSpec(c, 'url_unescape_spec'),
    maxRequestBodySize: read.uint32(c, 'max_request_body_size') ?? DEFAULT_BODY_LIMIT,
    maxResponseBodySize: read.uint32(c, 'max_response_body_size') ?? DEFAULT_BODY_LIMIT,
    connectionManager: hcm ? toConnectionManagerOptions(hcm, source) : ENVOY_CONNECTION_MANAGER_DEFAULTS,
  };
}

const ESCAPED_SLASHES_ACTIONS = ['IMPLEMENTATION_SPECIFIC_DEFAULT', 'KEEP_UNCHANGED', 'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD'] as const;
const UNDERSCORE_HEADERS_ACTIONS = ['ALLOW', 'REJECT_REQUEST', 'DROP_HEADER'] as const;

/**
 * The connection manager's request rules, absent keys at Envoy's defaults:
 * normalize_path false (a BoolValue; Envoy's runtime default is off),
 * merge_slashes false, escaped slashes kept, underscores allowed.
 */
function toConnectionManagerOptions(hcm: Obj, source: string): ConnectionManagerOptions {
  const read = reader(source, HCM_FILTER);
  const escaped = read.enumeration(hcm, 'path_with_escaped_slashes_action', ESCAPED_SLASHES_ACTIONS);
  const protocol = read.obj(hcm, 'common_http_protocol_options');
  return {
    normalizePath: read.boolValue(hcm, 'normalize_path'),
    mergeSlashes: read.bool(hcm, 'merge_slashes'),
    escapedSlashesAction: escaped === 'IMPLEMENTATION_SPECIFIC_DEFAULT' ? 'KEEP_UNCHANGED' : escaped,
    underscoreHeadersAction: read.enumeration(protocol, 'headers_with_underscores_action', UNDERSCORE_HEADERS_ACTIONS),
  };
}

/** Typed accessors with Envoy's proto3 defaults (false, empty, first enum value) for absent keys. */
function reader(source: string, scope: string) {
  const fail = (key: string, want: string, got: unknown): never => {
    throw new Error(`${source}: ${scope}.${key} must be ${want}, got ${JSON.stringify(got)}`);
  };
  const specs = ['ALL_CHARACTERS_EXCEPT_RESERVED', 'ALL_CHARACTERS_EXCEPT_SLASH', 'ALL_CHARACTERS'] as const;
  // Envoy's YAML accepts an enum by name or by number; absent is the first value.
  const enumeration = <T extends string>(o: Obj, key: string, values: readonly T[]): T => {
    const raw = o[key] ?? 0;
    const v = typeof raw === 'number' && Number.isInteger(raw) ? (values[raw] ?? raw) : raw;
    return typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : fail(key, `one of ${values.join(', ')}`, v);
  };
  return {
    obj: (o: Obj, key: string): Obj => (o[key] === undefined || o[key] === null ? {} : isObj(o[key]) ? (o[key] as Obj) : fail(key, 'a mapping', o[key])),
    bool: (o: Obj, key: string): boolean => (o[key] === undefined ? false : typeof o[key] === 'boolean' ? (o[key] as boolean) : fail(key, 'a boolean', o[key])),
    // A google.protobuf.BoolValue: the bare boolean or {value: b}; absent is false.
    boolValue: (o: Obj, key: string): boolean => {
      const v = isObj(o[key]) ? ((o[key] as Obj).value ?? false) : o[key];
      return v === undefined ? false : typeof v === 'boolean' ? v : fail(key, 'a boolean', v);
    },
    str: (o: Obj, key: string): string | undefined => (o[key] === undefined ? undefined : typeof o[key] === 'string' ? (o[key] as string) : fail(key, 'a string', o[key])),
    strings: (o: Obj, key: string): string[] => {
      const v = o[key] ?? [];
      return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : fail(key, 'a list of strings', v);
    },
    // A google.protobuf.UInt32Value: YAML gives either the bare number or {value: n}.
    uint32: (o: Obj, key: string): number | undefined => {
      const v = isObj(o[key]) ? (o[key] as Obj).value : o[key];
      if (v === undefined) return undefined;
      return Number.isInteger(v) && (v as number) > 0 && (v as number) <= 0xffffffff ? (v as number) : fail(key, 'a positive 32-bit integer', v);
    },
    unescapeSpec: (o: Obj, key: string): UrlUnescapeSpec => enumeration(o, key, specs),
    enumeration,
  };
}
