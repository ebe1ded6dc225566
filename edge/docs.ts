// The REST API's description, served beside the transcoded routes:
//   GET /cqrs/openapi.json  the OpenAPI document scripts/gen.mjs makes from
//                           proto/ (gen/openapi.json)
//   GET /cqrs/docs          Swagger UI over that document, its files from the
//                           npm package swagger-ui-dist, served from here
// Envoy answers /cqrs/openapi.json itself (a direct_response in
// envoy/envoy.yaml); the docs page is the local edge's.
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { serveAsset, type Asset } from './static-assets';

export const OPENAPI_PATH = '/cqrs/openapi.json';
export const DOCS_PATH = '/cqrs/docs';

// The page loads nothing from elsewhere (no CDN), and the policy makes the
// browser hold it to that. Swagger UI sets inline styles, hence 'unsafe-inline'
// for styles only; its script is a file, not inline.
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>CQRS mesh REST API</title>
<link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to an
// online validator and show its badge.
const INIT = `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(OPENAPI_PATH)}, dom_id: '#swagger-ui', validatorUrl: null, deepLinking: true });\n`;

export class DocsSite {
  private readonly assets = new Map<string, Asset>();

  /** Reads every file once, at start-up: a missing one stops the edge with its path named. */
  constructor(openApiFile: string) {
    let openApi: Buffer;
    try {
      openApi = readFileSync(openApiFile);
      JSON.parse(openApi.toString('utf8'));
    } catch (err) {
      throw new Error(`the OpenAPI document ${openApiFile} cannot be read (${(err as Error).message}); \`npm run gen\` makes it`);
    }
    const ui = dirname(require.resolve('swagger-ui-dist/package.json'));
    this.assets.set(OPENAPI_PATH, { type: 'application/json', body: openApi });
    this.assets.set(DOCS_PATH, { type: 'text/html; charset=utf-8', body: Buffer.from(PAGE) });
    this.assets.set(`${DOCS_PATH}/init.js`, { type: 'text/javascript; charset=utf-8', body: Buffer.from(INIT) });
    this.assets.set(`${DOCS_PATH}/swagger-ui.css`, { type: 'text/css; charset=utf-8', body: readFileSync(join(ui, 'swagger-ui.css')) });
    this.assets.set(`${DOCS_PATH}/swagger-ui-bundle.js`, { type: 'text/javascript; charset=utf-8', body: readFileSync(join(ui, 'swagger-ui-bundle.js')) });
  }

  /**
   * Answers GET/HEAD of one of its paths (after the edge's path rules, a
   * trailing slash ignored as routes ignore it); false for anything else,
   * which then goes on to the transcoded routes.
   */
  serve(method: string, path: string, res: ServerResponse): boolean {
    return serveAsset(this.assets, CSP, method, path, res);
  }
}
