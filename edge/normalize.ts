// What Envoy's HTTP connection manager does to a request before any filter or
// route sees it, for the settings read from envoy.yaml (ConnectionManagerOptions):
// underscored header names, escaped slashes, RFC 3986 path normalization and
// slash merging. Pure functions; edge/server.ts applies them before route lookup.
import type { IncomingHttpHeaders } from 'node:http';
import type { ConnectionManagerOptions, UnderscoreHeadersAction } from './envoy-options';

// ---------------------------------------------------------------------------
// Headers with underscores (common_http_protocol_options.headers_with_underscores_action)
// ---------------------------------------------------------------------------

export interface ScreenedHeaders {
  /** The headers the rest of the edge may see (underscored ones removed by DROP_HEADER). */
  headers: IncomingHttpHeaders;
  /** REJECT_REQUEST: the first underscored name; the request must be refused (400). */
  rejected?: string;
  /** DROP_HEADER: the names removed. */
  dropped: string[];
}

/**
 * Envoy's HTTP/1 codec checks every request header name for '_': ALLOW
 * passes them on, REJECT_REQUEST answers 400, DROP_HEADER removes the header
 * before any filter (so it never becomes gRPC metadata).
 */
export function screenHeaders(headers: IncomingHttpHeaders, action: UnderscoreHeadersAction): ScreenedHeaders {
  if (action === 'ALLOW') return { headers, dropped: [] };
  const underscored = Object.keys(headers).filter((name) => name.includes('_'));
  if (underscored.length === 0) return { headers, dropped: [] };
  if (action === 'REJECT_REQUEST') return { headers, rejected: underscored[0], dropped: [] };
  const kept: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!name.includes('_')) kept[name] = value;
  return { headers: kept, dropped: underscored };
}

// ---------------------------------------------------------------------------
// Escaped slashes (path_with_escaped_slashes_action)
// ---------------------------------------------------------------------------

/**
 * %2F/%2f become '/' and %5C/%5c become '\' (Envoy's unescapeSlashes, which
 * runs before normalization and slash merging). `found` says whether any was there.
 */
export function unescapeSlashes(path: string): { path: string; found: boolean } {
  let found = false;
  const out = path.replace(/%(2f|5c)/gi, (_m, hex: string) => {
    found = true;
    return hex.toLowerCase() === '2f' ? '/' : '\\';
  });
  return { path: out, found };
}

// ---------------------------------------------------------------------------
// normalize_path: RFC 3986 normalization as Envoy does it
// ---------------------------------------------------------------------------

const isHex = (c: string | undefined) => c !== undefined && /^[0-9a-fA-F]$/.test(c);

/** RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
const isUnreserved = (code: number) =>
  (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x2d || code === 0x2e || code === 0x5f || code === 0x7e;

/**
 * Characters Envoy's canonicalizer (its copy of Chromium's URL path rules)
 * writes percent-encoded when they arrive raw: space and `"#<>^`{|}`, plus
 * control characters, DEL and anything outside ASCII.
 */
const mustEscape = (code: number) => code < 0x20 || code >= 0x7f || ' "#<>^`{|}'.includes(String.fromCharCode(code));

const escapeByte = (byte: number) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;

/**
 * The path (no query) normalized the way Envoy's normalize_path does it, or
 * undefined when it cannot be (Envoy answers 400):
 * - `\` is a path separator: it becomes `/`;
 * - percent-encoded unreserved characters are decoded (`%7E` -> `~`,
 *   `%2e` -> `.`); every other escape is kept byte for byte, hex case
 *   included (Envoy does no case normalization) — so `%2F` stays `%2F`;
 * - characters that may not appear raw are percent-encoded;
 * - dot segments are removed (RFC 3986 §5.2.4), never above the root, and a
 *   trailing `.` or `..` leaves a trailing `/`;
 * - a NUL (`%00`) makes the path invalid;
 * - a `%` that starts no valid escape stays, unless decoding made it look
 *   like one (`%%34%31` would read `%41`): then it is written `%25`.
 * Empty segments are kept: merging `//` is merge_slashes' job.
 */
export function normalizePathRfc3986(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  let out = '';
  const strayPercents: number[] = [];
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    const code = ch.charCodeAt(0);
    if (ch === '%') {
      if (isHex(path[i + 1]) && isHex(path[i + 2])) {
        const byte = parseInt(path.slice(i + 1, i + 3), 16);
        if (byte === 0) return undefined;
        out += isUnreserved(byte) ? String.fromCharCode(byte) : path.slice(i, i + 3);
        i += 2;
      } else {
        strayPercents.push(out.length);
        out += '%';
      }
    } else if (ch === '\\') {
      out += '/';
    } else if (code === 0) {
      return undefined;
    } else if (mustEscape(code)) {
      for (const byte of Buffer.from(ch, 'utf8')) out += escapeByte(byte);
    } else {
      out += ch;
    }
  }
  // A stray '%' now followed by two hex digits would decode on the next pass; escape it.
  for (const at of strayPercents.reverse()) {
    if (isHex(out[at + 1]) && isHex(out[at + 2])) out = `${out.slice(0, at)}%25${out.slice(at + 1)}`;
  }
  return removeDotSegments(out);
}

/** RFC 3986 §5.2.4 on an absolute path: `.` dropped, `..` drops the segment before it (not above `/`). */
export function removeDotSegments(path: string): string {
  const segments = path.slice(1).split('/');
  const out: string[] = [];
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') out.pop();
      // "/a/b/.." is "/a/": the directory, with its slash.
      if (last) out.push('');
    } else {
      out.push(segment);
    }
  });
  return `/${out.join('/')}`;
}

/** merge_slashes: runs of `/` become one (`//a///b/` -> `/a/b/`); escaped slashes are not slashes. */
export function mergeSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

// ---------------------------------------------------------------------------
// All path rules, in Envoy's order
// ---------------------------------------------------------------------------

export type PathDecision =
  /** Route this path (possibly rewritten). */
  | { kind: 'forward'; path: string }
  /** Answer 400. */
  | { kind: 'reject'; reason: string }
  /** Answer 307 with this Location (path and query). */
  | { kind: 'redirect'; location: string };

export type PathOptions = Pick<ConnectionManagerOptions, 'normalizePath' | 'mergeSlashes' | 'escapedSlashesAction'>;

/**
 * Envoy's order (ConnectionManagerUtility::maybeNormalizePath): escaped
 * slashes first (REJECT_REQUEST stops here with 400; the UNESCAPE_* actions
 * decode them), then normalize_path (a path it cannot normalize is 400), then
 * merge_slashes. UNESCAPE_AND_REDIRECT answers 307 to the final path when it
 * unescaped anything — except for a gRPC request (gRPC clients do not follow
 * redirects), which gets 400. The query is never touched. A path that does
 * not start with `/` (absolute-form, `*`) is left alone: nothing routes it.
 */
export function decidePath(path: string, query: string | undefined, options: PathOptions, isGrpc = false): PathDecision {
  if (!path.startsWith('/')) return { kind: 'forward', path };
  let current = path;
  let redirect = false;
  if (options.escapedSlashesAction !== 'KEEP_UNCHANGED') {
    const unescaped = unescapeSlashes(current);
    if (unescaped.found) {
      if (options.escapedSlashesAction === 'REJECT_REQUEST') {
        return { kind: 'reject', reason: 'the path contains an escaped slash (%2F or %5C), refused by path_with_escaped_slashes_action: REJECT_REQUEST' };
      }
      current = unescaped.path;
      redirect = options.escapedSlashesAction === 'UNESCAPE_AND_REDIRECT';
    }
  }
  if (options.normalizePath) {
    const normalized = normalizePathRfc3986(current);
    if (normalized === undefined) return { kind: 'reject', reason: 'the path cannot be normalized (normalize_path)' };
    current = normalized;
  }
  if (options.mergeSlashes) current = mergeSlashes(current);
  if (redirect) {
    if (isGrpc) return { kind: 'reject', reason: 'the path contains an escaped slash and gRPC requests cannot be redirected (path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT)' };
    return { kind: 'redirect', location: query === undefined ? current : `${current}?${query}` };
  }
  return { kind: 'forward', path: current };
}
