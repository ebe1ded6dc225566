// Turns protoc-gen-openapiv2's merged output into the document the edge
// serves at /cqrs/openapi.json (and Envoy from /etc/envoy/openapi.json).
// Paths, parameters, schemas and descriptions all come from the plugin, that
// is from proto/; this only names the API (the plugin takes its title from
// whichever file it merged first) and checks the result is one it can serve.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');

export function writeOpenApi(from, to) {
  let doc;
  try {
    doc = JSON.parse(readFileSync(from, 'utf8'));
  } catch (err) {
    throw new Error(`gen: protoc-gen-openapiv2 left no readable document at ${from} (${err.message})`);
  }
  if (doc.swagger !== '2.0' || !doc.paths || !Object.keys(doc.paths).length) {
    throw new Error(`gen: ${from} is not a Swagger 2.0 document with paths; check buf.gen.openapi.yaml`);
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  doc.info = {
    title: 'CQRS mesh REST API',
    version: pkg.version,
    description:
      'REST paths of the CQRS mesh, transcoded to gRPC (CommandService, QueryService) from the google.api.http rules in proto/cqrs/v1. ' +
      'Field names are snake_case, as the edge prints them; int64 values are strings. ' +
      'Errors are google.rpc.Status bodies (rpcStatus); a 400 for bad input carries a google.rpc.BadRequest naming every bad field.',
  };
  ndjsonStreams(doc);
  writeFileSync(to, `${JSON.stringify(doc, null, 2)}\n`);
  return doc;
}

/**
 * The plugin describes a server stream as grpc-gateway prints it, one
 * {"result": …} per message; Envoy's transcoder (stream_newline_delimited)
 * and the local edge print each message as it is, one JSON value per line.
 */
function ndjsonStreams(doc) {
  for (const ops of Object.values(doc.paths)) {
    for (const op of Object.values(ops)) {
      const ok = op.responses?.['200'];
      const result = ok?.schema?.properties?.result;
      if (ok?.description !== '(streaming responses)' || !result) continue;
      op.responses['200'] = { description: 'A stream: newline-delimited JSON, one value per line, the current state first, then each new one.', schema: result };
    }
  }
}
