// Reading bounded request bodies and writing JSON responses over node:http.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TranscodeError } from './transcode';

/** Past this many bytes beyond the limit the edge stops draining and drops the connection. */
const DRAIN_SLACK = 16 * 1024 * 1024;

/**
 * The body, or a 413 TranscodeError when it exceeds `limit` (Envoy's
 * max_request_body_size). An oversize body is still drained (up to a cap)
 * before answering, so the client has finished sending and reads the 413
 * instead of a connection reset.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = () => new TranscodeError(`request body exceeds ${limit} bytes`, 413, 8 /* RESOURCE_EXHAUSTED */);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > limit + DRAIN_SLACK) {
        req.destroy();
        reject(tooLarge());
      }
    });
    req.on('end', () => (size > limit ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** convert_grpc_status off: the status travels in headers, as Envoy leaves grpc-status/grpc-message. */
export function sendBareStatus(res: ServerResponse, status: number, grpcCode: number, grpcMessage: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'grpc-status': String(grpcCode), 'grpc-message': encodeURIComponent(grpcMessage), 'content-length': 0 });
  res.end();
}

/** A redirect as Envoy's local reply sends it: a Location header and no body. */
export function sendRedirect(res: ServerResponse, status: number, location: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { location, 'content-length': 0 });
  res.end();
}
