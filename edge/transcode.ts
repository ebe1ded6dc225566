// JSON <-> protobuf for one route, descriptor-driven. Requests are built the
// way Envoy's transcoder builds them: path variables and query parameters
// become field bindings, then the body (whole message for "*", one field
// otherwise) is merged on top, so on a conflict the body wins, as Envoy's
// default (reject_binding_body_field_collisions off) does. Body fields the
// message does not define are dropped, at every depth, as Envoy drops them
// (see dropUnknownFields).
import {
  create,
  fromBinary,
  fromJson,
  mergeFromJson,
  ScalarType,
  toBinary,
  toJson,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type JsonWriteOptions,
  type Registry,
} from '@bufbuild/protobuf';
import type { PrintOptions } from './envoy-options';
import { describePath, isPrimitive, resolveFieldPath } from './fields';
import { jsonWriteOptions } from './json';
import type { VariableBinding } from './path-template';
import type { Route } from './routes';
import type { QueryParam } from './url';

/** A request the edge refuses before any upstream call. */
export class TranscodeError extends Error {
  override name = 'TranscodeError';
  constructor(
    message: string,
    readonly httpStatus = 400,
    readonly grpcCode = 3, // INVALID_ARGUMENT
  ) {
    super(message);
  }
}

export interface RequestInput {
  /** Path variables, already decoded. */
  bindings: VariableBinding[];
  query: QueryParam[];
  /** Raw body bytes, if any. */
  body?: Buffer;
}

export interface QueryOptions {
  ignoreUnknownQueryParameters: boolean;
  ignoredQueryParameters: readonly string[];
}

/**
 * The gRPC request message bytes for an HTTP request on `route`. Body fields
 * the request message does not define are ignored, as Envoy ignores them;
 * their paths (`colour`, `items[0].colour`) are pushed onto `ignoredFields`
 * when it is given, for the request's log line.
 */
export function encodeRequest(route: Route, input: RequestInput, registry: Registry, options: QueryOptions, ignoredFields?: string[]): Uint8Array {
  const schema = route.rpc.method.input;
  const fromUrl = bindingsJson(schema, [...input.bindings, ...queryBindings(schema, input.query, options)]);
  const message = parse(() => fromJson(schema, fromUrl, { registry }), 'invalid path or query parameter');
  const text = input.body?.toString('utf8') ?? '';
  if (route.binding.body !== '' && text.trim() !== '') {
    const body = parseJson(text);
    const json = route.bodyField ? nestJson(route.bodyField, body) : body;
    const dropped: string[] = [];
    const known = dropUnknownFields(schema, json, '', registry, dropped);
    parse(() => mergeFromJson(schema, message, known, { registry }), 'invalid JSON body');
    ignoredFields?.push(...dropped);
  }
  return toBinary(schema, message);
}

/**
 * Envoy's transcoder (grpc-httpjson-transcoding's RequestMessageTranslator)
 * writes the body with protobuf's ProtoStreamObjectWriter and
 * `ignore_unknown_fields = true`: a key that names no field of its message
 * (by proto or JSON name) is skipped with whatever value it holds, in nested
 * messages, message lists and message map values too. Unknown enum names are
 * still refused (`ignore_unknown_enum_values` stays false), so this strips
 * keys from the JSON rather than using @bufbuild/protobuf's
 * `ignoreUnknownFields`, which would also swallow unknown enum names.
 * Well-known types with a JSON form of their own are left to the parser.
 */
function dropUnknownFields(desc: DescMessage, json: JsonValue, at: string, registry: Registry, dropped: string[]): JsonValue {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return json; // a type error, for the parser to name
  if (desc.typeName === 'google.protobuf.Any') return dropUnknownInAny(json, at, registry, dropped);
  if (SPECIAL_JSON.has(desc.typeName)) return json;
  const fields = fieldsByJsonKey(desc);
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(json)) {
    const field = fields.get(key);
    const path = at ? `${at}.${key}` : key;
    if (!field) {
      // `[pkg.ext]` names an extension: the registry resolves it, or the parser names it.
      if (key.startsWith('[') && key.endsWith(']')) out[key] = value;
      else dropped.push(path);
      continue;
    }
    if (field.fieldKind === 'message') out[key] = dropUnknownFields(field.message, value, path, registry, dropped);
    else if (field.fieldKind === 'list' && field.listKind === 'message' && Array.isArray(value))
      out[key] = value.map((v, i) => dropUnknownFields(field.message, v, `${path}[${i}]`, registry, dropped));
    else if (field.fieldKind === 'map' && field.mapKind === 'message' && value !== null && typeof value === 'object' && !Array.isArray(value))
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, dropUnknownFields(field.message, v, `${path}[${JSON.stringify(k)}]`, registry, dropped)]));
    else out[key] = value;
  }
  return out;
}

/** An Any is `@type` plus the packed message's fields (or `value` for a well-known type). */
function dropUnknownInAny(json: JsonObject, at: string, registry: Registry, dropped: string[]): JsonValue {
  const typeUrl = json['@type'];
  const packed = typeof typeUrl === 'string' ? registry.getMessage(typeUrl.slice(typeUrl.lastIndexOf('/') + 1)) : undefined;
  if (!packed || SPECIAL_JSON.has(packed.typeName) || packed.typeName === 'google.protobuf.Any') return json;
  const { '@type': type, ...rest } = json;
  const kept = dropUnknownFields(packed, rest, at, registry, dropped) as JsonObject;
  return { '@type': type, ...kept };
}

/** Well-known types whose JSON is not an object of their fields (proto3 JSON mapping). */
const SPECIAL_JSON = new Set(
  ['Any', 'Struct', 'Value', 'ListValue', 'NullValue', 'Timestamp', 'Duration', 'FieldMask', 'DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `google.protobuf.${n}`),
);

const keyCache = new WeakMap<DescMessage, Map<string, DescField>>();
/** A message's fields by every JSON key the parser accepts for them: proto name and JSON name. */
function fieldsByJsonKey(desc: DescMessage): Map<string, DescField> {
  let m = keyCache.get(desc);
  if (!m) {
    m = new Map();
    for (const f of desc.fields) {
      m.set(f.name, f);
      m.set(f.jsonName, f);
    }
    keyCache.set(desc, m);
  }
  return m;
}

/**
 * Query parameters name fields by path ("a.b", proto or JSON names); a
 * repeated field takes the parameter once per value. Parameters Envoy would
 * not map are refused here (see edge/README.md) unless ignored by config.
 */
function queryBindings(schema: DescMessage, query: QueryParam[], options: QueryOptions): VariableBinding[] {
  const out: VariableBinding[] = [];
  for (const { name, value } of query) {
    if (options.ignoredQueryParameters.includes(name)) continue;
    const fields = resolveFieldPath(schema, name.split('.'));
    const last = fields?.[fields.length - 1];
    if (!fields || !last) {
      if (options.ignoreUnknownQueryParameters) continue;
      throw new TranscodeError(`unknown query parameter "${name}": ${schema.typeName} has no such field`);
    }
    if (!isPrimitive(last)) throw new TranscodeError(`query parameter "${name}" names ${describePath(fields)}, which is not a primitive field`);
    out.push({ fieldPath: fields.map((f) => f.name), value });
  }
  return out;
}

/** Bindings as a proto3 JSON object keyed by proto names, so fromJson does every type conversion. */
function bindingsJson(schema: DescMessage, bindings: VariableBinding[]): JsonObject {
  const root: JsonObject = {};
  for (const { fieldPath, value } of bindings) {
    const fields = resolveFieldPath(schema, fieldPath);
    if (!fields) throw new TranscodeError(`no field ${fieldPath.join('.')} in ${schema.typeName}`);
    let node = root;
    for (const f of fields.slice(0, -1)) node = (node[f.name] ??= {}) as JsonObject;
    const last = fields[fields.length - 1];
    const json = scalarJson(last, value, fieldPath.join('.'));
    if (last.fieldKind === 'list') node[last.name] = [...((node[last.name] as JsonValue[] | undefined) ?? []), json];
    else node[last.name] = json; // a singular field bound twice: the last value wins
  }
  return root;
}

/**
 * A URL value as proto3 JSON for its field. Numbers (64-bit ones included),
 * strings and bytes (base64) are accepted as JSON strings; booleans and
 * enum numbers are not, so those are converted here.
 */
function scalarJson(field: DescField, value: string, name: string): JsonValue {
  const isBool = (field.fieldKind === 'scalar' || (field.fieldKind === 'list' && field.listKind === 'scalar')) && field.scalar === ScalarType.BOOL;
  const isEnum = field.fieldKind === 'enum' || (field.fieldKind === 'list' && field.listKind === 'enum');
  if (isBool) {
    if (value === 'true' || value === 'false') return value === 'true';
    throw new TranscodeError(`invalid value for ${name}: "${value}" is not true or false`);
  }
  if (isEnum) {
    if (/^-?\d+$/.test(value)) return Number(value);
    const desc = field.enum!;
    if (!desc.values.some((v) => v.name === value)) throw new TranscodeError(`invalid value for ${name}: "${value}" is not a ${desc.typeName} name`);
  }
  return value;
}

/** A body mapped to one field is that field's JSON value: wrap it in its path. */
function nestJson(fields: DescField[], value: JsonValue): JsonValue {
  return fields.reduceRight<JsonValue>((inner, f) => ({ [f.name]: inner }), value);
}

function parseJson(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new TranscodeError(`malformed JSON body: ${(err as Error).message}`);
  }
}

/** @bufbuild/protobuf's messages name the field and the bad value; keep them. */
function parse<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TranscodeError) throw err;
    throw new TranscodeError(`${what}: ${(err as Error).message}`);
  }
}

/** The response as JSON: the whole message, or only its response_body field. */
export function decodeResponse(route: Route, bytes: Uint8Array, registry: Registry, print: PrintOptions): JsonValue {
  const schema = route.rpc.method.output;
  const message = fromBinary(schema, bytes);
  const options = jsonWriteOptions(print, registry);
  const json = toJson(schema, message, options);
  if (!route.responseField) return json;
  // A scalar, list or map left at its default is absent from the JSON unless
  // printed implicitly; the field alone must still print as its value.
  return pickField(route.responseField, json, options) ?? pickField(route.responseField, toJson(schema, message, { ...options, alwaysEmitImplicit: true }), options) ?? null;
}

/**
 * Walks to the response_body field. A message field left unset prints as
 * that message's defaults rather than nothing, so clients always get JSON.
 */
function pickField(fields: DescField[], json: JsonValue, options: JsonWriteOptions): JsonValue | undefined {
  let node: JsonValue | undefined = json;
  for (const f of fields) {
    const key = options.useProtoFieldName ? f.name : f.jsonName;
    node = node !== null && typeof node === 'object' && !Array.isArray(node) ? node[key] : undefined;
    if (node === undefined) return f.fieldKind === 'message' ? toJson(f.message, create(f.message), options) : undefined;
  }
  return node;
}
