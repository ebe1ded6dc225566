// google.api.http path templates, as http.proto defines them:
//   Template = "/" Segments [ Verb ] ;  Segment = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;  Verb = ":" LITERAL ;
// and matched like Envoy's transcoder (grpc-httpjson-transcoding's path
// matcher): literal segments beat "*", which beats "**"; "**" (last only)
// takes zero or more segments; a template with a verb only matches that verb.
import type { UrlUnescapeSpec } from './envoy-options';
import { percentDecode } from './url';

export type Segment = { kind: 'literal'; value: string } | { kind: 'wildcard' } | { kind: 'deep' };

export interface Variable {
  fieldPath: string[];
  start: number;
  /** Exclusive end segment, or -1 when the variable ends with "**" (runs to the path's end). */
  end: number;
}

export interface PathTemplate {
  source: string;
  segments: Segment[];
  variables: Variable[];
  verb?: string;
}

export interface VariableBinding {
  fieldPath: string[];
  value: string;
}

export class TemplateError extends Error {
  constructor(source: string, problem: string) {
    super(`invalid path template "${source}": ${problem}`);
    this.name = 'TemplateError';
  }
}

export function parseTemplate(source: string): PathTemplate {
  if (!source.startsWith('/')) throw new TemplateError(source, 'must start with "/"');
  const { path, verb } = splitVerb(source);
  const parser = new Parser(source, path);
  const segments = path === '/' ? [] : parser.segments(false);
  if (!parser.done()) throw new TemplateError(source, `unexpected "${path.slice(parser.pos)}"`);
  const deep = segments.findIndex((s) => s.kind === 'deep');
  if (deep >= 0 && deep !== segments.length - 1) throw new TemplateError(source, '"**" must be the last segment');
  return { source, segments, variables: parser.variables, verb };
}

/** The verb is a ":" after the last "/" and outside any variable. */
function splitVerb(source: string): { path: string; verb?: string } {
  const colon = source.lastIndexOf(':');
  if (colon < 0 || colon < source.lastIndexOf('/') || colon < source.lastIndexOf('}')) return { path: source };
  const verb = source.slice(colon + 1);
  if (!/^[^/{}*:]+$/.test(verb)) throw new TemplateError(source, `invalid verb ":${verb}"`);
  return { path: source.slice(0, colon), verb };
}

class Parser {
  pos = 1;
  readonly segments_: Segment[] = [];
  readonly variables: Variable[] = [];

  constructor(
    private readonly source: string,
    private readonly text: string,
  ) {}

  done = () => this.pos === this.text.length;

  segments(inVariable: boolean): Segment[] {
    for (;;) {
      this.segment(inVariable);
      if (this.text[this.pos] !== '/') return this.segments_;
      this.pos++;
    }
  }

  private segment(inVariable: boolean): void {
    const rest = this.text.slice(this.pos);
    if (rest.startsWith('{')) {
      if (inVariable) throw new TemplateError(this.source, 'variables cannot nest');
      return this.variable();
    }
    if (rest.startsWith('**')) return this.push({ kind: 'deep' }, 2);
    if (rest.startsWith('*')) return this.push({ kind: 'wildcard' }, 1);
    const literal = /^[^/{}*]+/.exec(rest)?.[0];
    if (!literal) throw new TemplateError(this.source, `empty or invalid segment at "${rest}"`);
    this.push({ kind: 'literal', value: literal }, literal.length);
  }

  private push(segment: Segment, width: number): void {
    this.segments_.push(segment);
    this.pos += width;
  }

  private variable(): void {
    const m = /^\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(=|\})/.exec(this.text.slice(this.pos));
    if (!m) throw new TemplateError(this.source, `invalid variable at "${this.text.slice(this.pos)}"`);
    const fieldPath = m[1].split('.');
    if (this.variables.some((v) => v.fieldPath.join('.') === m[1])) throw new TemplateError(this.source, `variable "${m[1]}" appears twice`);
    this.pos += m[0].length;
    const start = this.segments_.length;
    if (m[2] === '}') {
      this.segments_.push({ kind: 'wildcard' }); // {var} is {var=*}
    } else {
      this.segments(true);
      if (this.text[this.pos] !== '}') throw new TemplateError(this.source, `unclosed variable "${m[1]}"`);
      this.pos++;
    }
    const endsDeep = this.segments_[this.segments_.length - 1].kind === 'deep';
    this.variables.push({ fieldPath, start, end: endsDeep ? -1 : this.segments_.length });
  }
}

/**
 * Matches raw (still percent-encoded) path segments, verb already split off.
 * Single-segment variables are fully decoded; multi-segment ones follow
 * url_unescape_spec, as in Envoy.
 */
export function matchTemplate(t: PathTemplate, parts: readonly string[], verb: string | undefined, spec: UrlUnescapeSpec): VariableBinding[] | undefined {
  if (t.verb !== verb) return undefined;
  const deep = t.segments.length > 0 && t.segments[t.segments.length - 1].kind === 'deep';
  const fixed = deep ? t.segments.length - 1 : t.segments.length;
  if (deep ? parts.length < fixed : parts.length !== fixed) return undefined;
  for (let i = 0; i < fixed; i++) {
    const s = t.segments[i];
    if (s.kind === 'literal' && s.value !== parts[i]) return undefined;
  }
  return t.variables.map((v) => {
    const end = v.end < 0 ? parts.length : v.end;
    const multi = end - v.start > 1 || v.end < 0;
    const value = parts
      .slice(v.start, end)
      .map((p) => percentDecode(p, multi ? spec : 'ALL_CHARACTERS'))
      .join('/');
    return { fieldPath: v.fieldPath, value };
  });
}

const RANK = { literal: 0, wildcard: 1, deep: 2 } as const;

/**
 * Negative when `a` is more specific. Comparing segment kinds left to right
 * gives the same winner as Envoy's trie walk, which tries a literal child
 * first, then "*", then "**", and backtracks on failure.
 */
export function compareSpecificity(a: PathTemplate, b: PathTemplate): number {
  const n = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = RANK[a.segments[i].kind] - RANK[b.segments[i].kind];
    if (d !== 0) return d;
  }
  return a.segments.length - b.segments.length;
}

/** Two templates that would match exactly the same paths (Envoy refuses duplicates). */
export const shapeKey = (t: PathTemplate) =>
  t.segments.map((s) => (s.kind === 'literal' ? `=${s.value}` : s.kind === 'wildcard' ? '*' : '**')).join('/') + (t.verb ? `:${t.verb}` : '');
