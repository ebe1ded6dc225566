// Percent-decoding and query splitting the way Envoy's transcoder
// (grpc-httpjson-transcoding) does it, which differs from WHATWG URL parsing:
// '+' stays '+' unless query_param_unescape_plus, and multi-segment path
// variables keep some escapes (url_unescape_spec).
import type { UrlUnescapeSpec } from './envoy-options';

// RFC 6570 reserved characters: ALL_CHARACTERS_EXCEPT_RESERVED leaves them escaped.
const RESERVED = new Set(":/?#[]@!$&'()*+,;=".split(''));

const keepEscaped = (ch: string, spec: UrlUnescapeSpec) =>
  (spec === 'ALL_CHARACTERS_EXCEPT_RESERVED' && RESERVED.has(ch)) || (spec === 'ALL_CHARACTERS_EXCEPT_SLASH' && ch === '/');

/**
 * Decodes %XX escapes as UTF-8 bytes. A '%' not followed by two hex digits
 * is kept literally rather than rejected, as Envoy does.
 */
export function percentDecode(text: string, spec: UrlUnescapeSpec = 'ALL_CHARACTERS', plusAsSpace = false): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const hex = ch === '%' ? text.slice(i + 1, i + 3) : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      const byte = parseInt(hex, 16);
      if (byte < 0x80 && keepEscaped(String.fromCharCode(byte), spec)) bytes.push(...Buffer.from(`%${hex}`));
      else bytes.push(byte);
      i += 2;
    } else if (ch === '+' && plusAsSpace) {
      bytes.push(0x20);
    } else {
      bytes.push(...Buffer.from(ch));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export interface QueryParam {
  name: string;
  value: string;
}

/**
 * `a=1&b.c=2&ids=1&ids=2`, in order, duplicates kept (repeated fields).
 * Like Envoy, a parameter without '=' or with an empty name binds nothing.
 */
export function parseQuery(query: string, plusAsSpace: boolean): QueryParam[] {
  const params: QueryParam[] = [];
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    params.push({ name: percentDecode(part.slice(0, eq), 'ALL_CHARACTERS', plusAsSpace), value: percentDecode(part.slice(eq + 1), 'ALL_CHARACTERS', plusAsSpace) });
  }
  return params;
}

/** Splits a request target into its raw (still escaped) path and query. */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}
