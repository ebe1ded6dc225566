// The OpenAPI (Swagger 2.0) document as JSON-schema validators (ajv), for
// checking real requests and responses against it.
//
// Checked more strictly than the document says: every object schema that
// names its properties is closed (additionalProperties: false), unless it
// declares additionalProperties itself (maps, google.protobuf.Any). With
// always_print_primitive_fields every field prints, so a field the edge
// prints under another name (userId for user_id) or a field the document
// lacks fails the check instead of passing as an "extra" property.
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

type J = any;

export interface Operation {
  method: string;
  path: string;
  op: J;
}

const INT32 = 2 ** 31;
const UINT32 = 2 ** 32;

function closed(schema: J): J {
  if (Array.isArray(schema)) return schema.map(closed);
  if (!schema || typeof schema !== 'object') return schema;
  const out: J = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as J).map(([p, s]) => [p, closed(s)])) : closed(v)]));
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

export class OpenApi {
  private readonly ajv: Ajv;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(readonly doc: J) {
    if (doc.swagger !== '2.0') throw new Error(`expected a Swagger 2.0 document, got ${JSON.stringify(doc.swagger ?? doc.openapi)}`);
    // strict off: Swagger's own keywords (title, example, x-…) are not JSON Schema's.
    this.ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(this.ajv, ['date-time']);
    // The proto scalar formats protoc-gen-openapiv2 writes; 64-bit ones are strings in proto3 JSON.
    this.ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -INT32 && n < INT32 });
    this.ajv.addFormat('uint32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 && n < UINT32 });
    this.ajv.addFormat('int64', { type: 'string', validate: (s: string) => /^-?\d+$/.test(s) });
    this.ajv.addFormat('uint64', { type: 'string', validate: (s: string) => /^\d+$/.test(s) });
    this.ajv.addFormat('double', { type: 'number', validate: () => true });
    this.ajv.addFormat('float', { type: 'number', validate: () => true });
    this.ajv.addFormat('byte', { type: 'string', validate: (s: string) => /^[A-Za-z0-9+/_-]*={0,2}$/.test(s) });
    this.ajv.addSchema({ $id: 'openapi', definitions: closed(doc.definitions) });
  }

  operations(): Operation[] {
    return Object.entries(this.doc.paths as J).flatMap(([path, item]) => Object.entries(item as J).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));
  }

  operation(method: string, path: string): J {
    const op = this.doc.paths[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`the OpenAPI document has no ${method} ${path}`);
    return op;
  }

  /** Problems of `value` against a schema of the document (a $ref into definitions, or inline), [] when it holds. */
  problems(schema: J, value: unknown): string[] {
    const key = JSON.stringify(schema);
    let validate = this.cache.get(key);
    if (!validate) {
      validate = this.ajv.compile(schema.$ref ? { $ref: `openapi${schema.$ref}` } : closed(schema));
      this.cache.set(key, validate);
    }
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  }

  /** The schema a response of this status must hold to: the status's own, else `default` (rpcStatus). */
  responseSchema(method: string, path: string, status: number): J {
    const responses = this.operation(method, path).responses;
    const r = responses[String(status)] ?? responses.default;
    if (!r?.schema) throw new Error(`${method} ${path}: the document describes no body for status ${status}`);
    return r.schema;
  }

  /** The schema of the request body (the `in: body` parameter), if the operation takes one. */
  bodySchema(method: string, path: string): J | undefined {
    return (this.operation(method, path).parameters ?? []).find((p: J) => p.in === 'body')?.schema;
  }

  /** The query parameters the operation declares, by name. */
  queryParameters(method: string, path: string): Map<string, J> {
    return new Map((this.operation(method, path).parameters ?? []).filter((p: J) => p.in === 'query').map((p: J) => [p.name, p]));
  }
}
