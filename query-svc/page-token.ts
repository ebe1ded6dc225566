// Opaque, stable keyset paging: the token names the last row seen, so pages
// neither skip nor repeat rows when new orders arrive between requests.
import { Violations } from '../domain/errors';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export function pageSize(requested: number): number {
  const v = new Violations();
  v.check(requested >= 0, 'page_size', 'must not be negative');
  v.throwIfAny();
  return Math.min(requested || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
}

export function encodeToken(key: unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeToken(token: string, shape: Array<'number' | 'string'>): unknown[] | undefined {
  if (!token) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(token, 'base64url').toString());
  } catch {
    key = undefined;
  }
  const ok = Array.isArray(key) && key.length === shape.length && key.every((k, i) => typeof k === shape[i]);
  if (!ok) new Violations().add('page_token', 'is not a token this service returned').throwIfAny();
  return key as unknown[];
}
