// HTTP request headers -> gRPC metadata. Envoy forwards the request's headers
// to the upstream as metadata (it is one HTTP/2 stream), minus hop-by-hop
// headers; this edge does the same over HTTP/1.1 -> gRPC, so
// Idempotency-Key reaches command-svc as `idempotency-key`.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Metadata } from '@grpc/grpc-js';

// RFC 9110 §7.6.1 connection-specific headers, never forwarded by a proxy.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

// Headers about the HTTP/1.1 message itself, which the gRPC call replaces
// with its own (content-type application/grpc, :authority, user-agent, ...).
const MESSAGE_HEADERS = new Set(['host', 'content-type', 'content-length', 'accept-encoding', 'accept', 'user-agent', 'expect', 'http2-settings']);

/** Keep a client's request id if it is sane, else make one (Envoy generates a UUID). */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  return typeof given === 'string' && /^[\x21-\x7e]{1,128}$/.test(given) ? given : randomUUID();
}

export function requestMetadata(headers: IncomingHttpHeaders, requestId: string, remoteAddress?: string): Metadata {
  const md = new Metadata();
  const dropped = connectionTokens(headers.connection);
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || MESSAGE_HEADERS.has(name) || dropped.has(name)) continue;
    // grpc-* names belong to the gRPC protocol (grpc-timeout, grpc-encoding, ...)
    if (name.startsWith('grpc-') || name === 'x-request-id' || name === 'x-forwarded-for') continue;
    for (const v of Array.isArray(value) ? value : [value]) addSafely(md, name, v);
  }
  md.set('x-request-id', requestId);
  // Envoy at the edge (use_remote_address) appends the peer to X-Forwarded-For.
  const xff = [headers['x-forwarded-for'], remoteAddress].filter(Boolean).join(', ');
  if (xff) addSafely(md, 'x-forwarded-for', xff);
  return md;
}

/** Headers listed in Connection are hop-by-hop too. */
function connectionTokens(connection: string | undefined): Set<string> {
  return new Set((connection ?? '').split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/** Metadata refuses some names and values (non-ASCII text); those are dropped, not fatal. */
function addSafely(md: Metadata, name: string, value: string): void {
  try {
    if (name.endsWith('-bin')) md.add(name, Buffer.from(value, 'base64'));
    else md.add(name, value);
  } catch {
    // not representable as gRPC metadata
  }
}
