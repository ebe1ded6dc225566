// The edge knows nothing about our services at compile time: everything it
// routes comes from the `buf build` descriptor set (imports included), the
// same bytes Envoy loads, read through @bufbuild/protobuf's reflection.
import { readFile } from 'node:fs/promises';
import {
  createFileRegistry,
  fromBinary,
  getExtension,
  hasExtension,
  toJson,
  type DescMethod,
  type DescService,
  type FileRegistry,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

/** One HTTP binding of a method: the rule itself or one of its additional_bindings. */
export interface HttpBinding {
  /** Upper-case HTTP method (GET, POST, ... or a custom kind). */
  httpMethod: string;
  pattern: string;
  /** "" (no body), "*" (whole body) or a field path. */
  body: string;
  /** "" (whole response) or a field path. */
  responseBody: string;
}

export interface RpcMethod {
  service: DescService;
  method: DescMethod;
  /** The gRPC path, /package.Service/Method. */
  grpcPath: string;
  bindings: HttpBinding[];
}

export interface LoadedDescriptor {
  registry: FileRegistry;
  methods: RpcMethod[];
}

export async function loadDescriptorFile(path: string): Promise<LoadedDescriptor> {
  return loadDescriptor(await readFile(path));
}

export function loadDescriptor(bytes: Uint8Array): LoadedDescriptor {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
  return { registry, methods: listMethods(registry) };
}

/** Every method of every service, with the HTTP bindings its google.api.http option declares. */
export function listMethods(registry: FileRegistry): RpcMethod[] {
  const methods: RpcMethod[] = [];
  for (const type of registry) {
    if (type.kind !== 'service') continue;
    for (const method of type.methods) {
      methods.push({ service: type, method, grpcPath: `/${type.typeName}/${method.name}`, bindings: httpBindings(registry, method) });
    }
  }
  return methods;
}

/**
 * The option arrives as an unknown field of MethodOptions; getExtension
 * decodes it with google.api.HttpRule from the same set (annotations.proto
 * is among the imports). Without that file there is nothing to route.
 */
function httpBindings(registry: FileRegistry, method: DescMethod): HttpBinding[] {
  const ext = registry.getExtension('google.api.http');
  const options = method.proto.options;
  if (!ext || ext.fieldKind !== 'message' || !options || !hasExtension(options, ext)) return [];
  const rule = toJson(ext.message, getExtension(options, ext) as never, { useProtoFieldName: true });
  return flattenRule(rule as JsonHttpRule);
}

/** google.api.HttpRule in proto3 JSON with proto field names. */
export interface JsonHttpRule {
  get?: string;
  put?: string;
  post?: string;
  delete?: string;
  patch?: string;
  custom?: { kind?: string; path?: string };
  body?: string;
  response_body?: string;
  additional_bindings?: JsonHttpRule[];
}

/** additional_bindings never nest (http.proto), so one level is flattened. */
export function flattenRule(rule: JsonHttpRule): HttpBinding[] {
  const own = toBinding(rule);
  const extra = (rule.additional_bindings ?? []).map(toBinding).filter((b): b is HttpBinding => b !== undefined);
  return own ? [own, ...extra] : extra;
}

function toBinding(rule: JsonHttpRule): HttpBinding | undefined {
  const verbs = ['get', 'put', 'post', 'delete', 'patch'] as const;
  const common = { body: rule.body ?? '', responseBody: rule.response_body ?? '' };
  for (const verb of verbs) {
    const pattern = rule[verb];
    if (pattern) return { httpMethod: verb.toUpperCase(), pattern, ...common };
  }
  if (rule.custom?.kind && rule.custom.path) return { httpMethod: rule.custom.kind.toUpperCase(), pattern: rule.custom.path, ...common };
  return undefined;
}
