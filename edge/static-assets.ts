// Files the edge answers itself (the API's description, the live page),
// held in memory from start-up, with the headers a static page wants.
import type { ServerResponse } from 'node:http';

export interface Asset {
  type: string;
  body: Buffer;
}

/**
 * Answers GET/HEAD of one of `assets`' paths (after the edge's path rules, a
 * trailing slash ignored as routes ignore it); false for anything else,
 * which then goes on to the transcoded routes.
 */
export function serveAsset(assets: ReadonlyMap<string, Asset>, csp: string, method: string, path: string, res: ServerResponse): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const asset = assets.get(path.length > 1 ? path.replace(/\/+$/, '') : path);
  if (!asset) return false;
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': asset.body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(asset.type.startsWith('text/html') ? { 'content-security-policy': csp } : {}),
  });
  res.end(method === 'HEAD' ? undefined : asset.body);
  return true;
}
