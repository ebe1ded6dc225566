// The route table: one entry per google.api.http binding of every method of
// every transcoded service. Problems Envoy refuses at start-up (bad template,
// unknown field, duplicate binding) throw here too, so a bad proto fails fast.
import type { DescField } from '@bufbuild/protobuf';
import type { HttpBinding, RpcMethod } from './descriptor';
import type { UrlUnescapeSpec } from './envoy-options';
import { isPrimitive, resolveFieldPath } from './fields';
import { compareSpecificity, matchTemplate, parseTemplate, shapeKey, type PathTemplate, type VariableBinding } from './path-template';

export interface Route {
  rpc: RpcMethod;
  binding: HttpBinding;
  template: PathTemplate;
  /** The request field the body maps to (body: "field"); undefined for "*" or no body. */
  bodyField?: DescField[];
  /** The response field printed alone (response_body: "field"). */
  responseField?: DescField[];
  serverStreaming: boolean;
}

export interface RouteMatch {
  route: Route;
  bindings: VariableBinding[];
}

export interface MatchOptions {
  urlUnescapeSpec: UrlUnescapeSpec;
  matchUnregisteredCustomVerb: boolean;
}

export class RouteError extends Error {
  override name = 'RouteError';
}

/**
 * Routes for every method of the given services (all when `services` is
 * empty). Client-streaming methods are skipped with a warning: Envoy can
 * transcode them, this edge cannot.
 */
export function buildRoutes(methods: RpcMethod[], services: readonly string[], warn: (message: string) => void = () => undefined): Route[] {
  const routes: Route[] = [];
  const seen = new Map<string, string>();
  for (const rpc of methods) {
    if (services.length && !services.includes(rpc.service.typeName)) continue;
    if (rpc.bindings.length && (rpc.method.methodKind === 'client_streaming' || rpc.method.methodKind === 'bidi_streaming')) {
      warn(`${rpc.grpcPath}: client-streaming methods are not transcoded by the local edge`);
      continue;
    }
    for (const binding of rpc.bindings) {
      const route = buildRoute(rpc, binding);
      const key = `${binding.httpMethod} ${shapeKey(route.template)}`;
      const other = seen.get(key);
      if (other) throw new RouteError(`${rpc.grpcPath}: ${binding.httpMethod} ${binding.pattern} is already bound to ${other}`);
      seen.set(key, rpc.grpcPath);
      routes.push(route);
    }
  }
  return routes;
}

function buildRoute(rpc: RpcMethod, binding: HttpBinding): Route {
  const where = `${rpc.grpcPath} (${binding.httpMethod} ${binding.pattern})`;
  let template: PathTemplate;
  try {
    template = parseTemplate(binding.pattern);
  } catch (err) {
    throw new RouteError(`${where}: ${(err as Error).message}`);
  }
  for (const v of template.variables) {
    const fields = resolveFieldPath(rpc.method.input, v.fieldPath);
    const last = fields?.[fields.length - 1];
    if (!fields || !last || !isPrimitive(last) || last.fieldKind === 'list') {
      throw new RouteError(`${where}: path variable "${v.fieldPath.join('.')}" is not a singular primitive field of ${rpc.method.input.typeName}`);
    }
  }
  return {
    rpc,
    binding,
    template,
    bodyField: fieldOf(where, 'body', rpc.method.input, binding.body),
    responseField: fieldOf(where, 'response_body', rpc.method.output, binding.responseBody),
    serverStreaming: rpc.method.methodKind === 'server_streaming',
  };
}

function fieldOf(where: string, what: string, message: RpcMethod['method']['input'], path: string): DescField[] | undefined {
  if (path === '' || path === '*') return undefined;
  const fields = resolveFieldPath(message, path.split('.'));
  if (!fields) throw new RouteError(`${where}: ${what} "${path}" is not a field of ${message.typeName}`);
  return fields;
}

export class RouteTable {
  /** Verbs some template declares: only these are split off request paths (Envoy's rule). */
  private readonly verbs: Set<string>;
  private readonly sorted: Route[];

  constructor(
    readonly routes: Route[],
    private readonly options: MatchOptions,
  ) {
    this.verbs = new Set(routes.map((r) => r.template.verb).filter((v): v is string => v !== undefined));
    this.sorted = [...routes].sort((a, b) => compareSpecificity(a.template, b.template));
  }

  /** The most specific route for the method and raw path, with its path variables. */
  lookup(httpMethod: string, rawPath: string): RouteMatch | undefined {
    const { parts, verb } = this.splitPath(rawPath);
    for (const route of this.sorted) {
      if (route.binding.httpMethod !== httpMethod) continue;
      const bindings = matchTemplate(route.template, parts, verb, this.options.urlUnescapeSpec);
      if (bindings) return { route, bindings };
    }
    return undefined;
  }

  /** Also whether any method serves this path, to tell "no such path" from "wrong method" in logs. */
  hasPath(rawPath: string): boolean {
    const { parts, verb } = this.splitPath(rawPath);
    return this.routes.some((r) => matchTemplate(r.template, parts, verb, this.options.urlUnescapeSpec) !== undefined);
  }

  /**
   * Like Envoy: a ":verb" after the last "/" is split off only when some
   * template registers it (or match_unregistered_custom_verb); trailing
   * slashes are dropped.
   */
  private splitPath(rawPath: string): { parts: string[]; verb?: string } {
    let path = rawPath;
    let verb: string | undefined;
    const colon = path.lastIndexOf(':');
    if (colon >= 0 && colon > path.lastIndexOf('/')) {
      const candidate = path.slice(colon + 1);
      if (this.options.matchUnregisteredCustomVerb || this.verbs.has(candidate)) {
        verb = candidate;
        path = path.slice(0, colon);
      }
    }
    const parts = path.length > 1 ? path.slice(1).split('/') : [];
    while (parts.length && parts[parts.length - 1] === '') parts.pop();
    return { parts, verb };
  }
}
