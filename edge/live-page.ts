// The live page at /cqrs/live: static files of this repository
// (edge/live/), read once at start-up, that show the read models changing
// through the live queries. Like /cqrs/docs it is the local edge's; it calls
// only this origin's REST paths.
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { repoRoot } from '../lib/paths';
import { serveAsset, type Asset } from './static-assets';

export const LIVE_PATH = '/cqrs/live';

// Everything from this origin, scripts from files only (no inline script, no eval).
const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

const FILES: Array<[string, string, string]> = [
  [LIVE_PATH, 'index.html', 'text/html; charset=utf-8'],
  [`${LIVE_PATH}/live.js`, 'live.js', 'text/javascript; charset=utf-8'],
  [`${LIVE_PATH}/live.css`, 'live.css', 'text/css; charset=utf-8'],
];

export class LivePage {
  private readonly assets = new Map<string, Asset>();

  /** A missing file stops the edge with its path named. */
  constructor(dir = join(repoRoot, 'edge', 'live')) {
    for (const [path, file, type] of FILES) this.assets.set(path, { type, body: readFileSync(join(dir, file)) });
  }

  /** Answers GET/HEAD of one of its paths (a trailing slash ignored); false for anything else. */
  serve(method: string, path: string, res: ServerResponse): boolean {
    return serveAsset(this.assets, CSP, method, path, res);
  }
}
