// JSON <-> protobuf for one route, descriptor-driven. Requests are built the
// way Envoy's transcoder builds them: path variables and query parameters
// become field bindings, then the body (whole message for "*", one field
// otherwise) is merged on top, so on a conflict the body wins, as Envoy's
// default (reject_binding_body_field_collisions off) does.
import {
  create,
  fromBinary,
  fromJson,
  mergeFromJsonString,
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

/** The gRPC request message bytes for an HTTP request on `route`. */
export function encodeRequest(route: Route, input: RequestInput, registry: Registry, options: QueryOptions): Uint8Array {
  const schema = route.rpc.method.input;
  const fromUrl = bindingsJson(schema, [...input.bindings, ...queryBindings(schema, input.query, options)]);
  const message = parse(() => fromJson(schema, fromUrl, { registry }), 'invalid path or query parameter');
  const text = input.body?.toString('utf8') ?? '';
  if (route.binding.body !== '' && text.trim() !== '') {
    checkJsonSyntax(text);
    const json = route.bodyField ? nestJsonText(route.bodyField, text) : text;
    parse(() => mergeFromJsonString(schema, message, json, { registry }), 'invalid JSON body');
  }
  return toBinary(schema, message);
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
function nestJsonText(fields: DescField[], text: string): string {
  return fields.reduceRight((inner, f) => `{${JSON.stringify(f.name)}:${inner}}`, text);
}

function checkJsonSyntax(text: string): void {
  try {
    JSON.parse(text);
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
