// The transcoder's options are read from envoy/envoy.yaml itself, so the local
// edge and production Envoy cannot drift apart: whatever the
// grpc_json_transcoder filter says there is what this edge does here.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Logger } from '../lib/logger';

export const TRANSCODER_FILTER = 'envoy.filters.http.grpc_json_transcoder';
export const TRANSCODER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder';

/** Envoy's UrlUnescapeSpec: how much of a multi-segment path variable is percent-decoded. */
export type UrlUnescapeSpec = 'ALL_CHARACTERS_EXCEPT_RESERVED' | 'ALL_CHARACTERS_EXCEPT_SLASH' | 'ALL_CHARACTERS';

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
  log.info({ envoyConfig: path, services: options.services }, 'transcoder options read from envoy config');
  return options;
}

/** Returns undefined when the document holds no transcoder filter. */
export function parseEnvoyOptions(yamlText: string, source: string): TranscoderOptions | undefined {
  const config = findTranscoderConfig(parse(yamlText));
  return config ? toOptions(config, source) : undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Depth-first search for the filter, wherever the bootstrap nests it
 * (listener filter chains, HCM http_filters, ...). In Envoy v3 the typed
 * config's @type selects the extension, so either it or the name matches.
 */
export function findTranscoderConfig(node: unknown): Obj | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = findTranscoderConfig(item);
      if (found) return found;
    }
    return undefined;
  }
  if (!isObj(node)) return undefined;
  const typed = node.typed_config;
  if (isObj(typed) && (node.name === TRANSCODER_FILTER || typed['@type'] === TRANSCODER_TYPE)) return typed;
  for (const value of Object.values(node)) {
    const found = findTranscoderConfig(value);
    if (found) return found;
  }
  return undefined;
}

function toOptions(c: Obj, source: string): TranscoderOptions {
  const read = reader(source);
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
  };
}

/** Typed accessors with Envoy's proto3 defaults (false, empty) for absent keys. */
function reader(source: string) {
  const fail = (key: string, want: string, got: unknown): never => {
    throw new Error(`${source}: ${TRANSCODER_FILTER}.${key} must be ${want}, got ${JSON.stringify(got)}`);
  };
  const specs: UrlUnescapeSpec[] = ['ALL_CHARACTERS_EXCEPT_RESERVED', 'ALL_CHARACTERS_EXCEPT_SLASH', 'ALL_CHARACTERS'];
  return {
    obj: (o: Obj, key: string): Obj => (o[key] === undefined || o[key] === null ? {} : isObj(o[key]) ? (o[key] as Obj) : fail(key, 'a mapping', o[key])),
    bool: (o: Obj, key: string): boolean => (o[key] === undefined ? false : typeof o[key] === 'boolean' ? (o[key] as boolean) : fail(key, 'a boolean', o[key])),
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
    unescapeSpec: (o: Obj, key: string): UrlUnescapeSpec => {
      // Envoy's YAML accepts an enum by name or by number.
      const raw = o[key] ?? 0;
      const v = typeof raw === 'number' && Number.isInteger(raw) ? (specs[raw] ?? raw) : raw;
      return typeof v === 'string' && specs.includes(v as UrlUnescapeSpec) ? (v as UrlUnescapeSpec) : fail(key, `one of ${specs.join(', ')}`, v);
    },
  };
}
