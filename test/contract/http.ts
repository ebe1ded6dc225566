// Plain HTTP/1.1 requests on node:http with a hard deadline, for the REST
// contract suite. Unlike fetch, a response the server sends before it has read
// the whole request (Envoy's early 413 for an oversized body) is still
// returned rather than lost in a write error.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface Reply {
  method: string;
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  /** The content-type header ('' when absent). */
  contentType: string;
  /** The body as received. */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: any;
}

export interface RequestOptions {
  /** Sent exactly as given; an object is JSON-encoded. */
  body?: string | Buffer | object;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export const REQUEST_TIMEOUT_MS = 15_000;

export function request(method: string, url: string, opts: RequestOptions = {}): Promise<Reply> {
  const u = new URL(url);
  const payload =
    opts.body === undefined ? undefined : typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string | number> = { accept: 'application/json', ...opts.headers };
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<Reply>((resolve, reject) => {
    let answered = false;
    const chunks: Buffer[] = [];
    const req = send(u, { method, headers, agent: false }, (res) => {
      answered = true;
      res.on('data', (c: Buffer) => chunks.push(c));
      const finish = () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ method, url, status: res.statusCode ?? 0, headers: res.headers, contentType: res.headers['content-type'] ?? '', text, body });
      };
      res.on('end', finish);
      // A server that answers early may close the connection before the body's end.
      res.on('close', finish);
      res.on('error', () => undefined);
    });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${url}: no complete answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      if (answered) return; // e.g. EPIPE while still sending a body the server already refused
      clearTimeout(timer);
      reject(err);
    });
    if (payload !== undefined) req.end(payload);
    else req.end();
  });
}

/** What a failed assertion should show about the exchange. */
export const describeReply = (r: Reply) =>
  `${r.method} ${r.url} -> ${r.status} (content-type: ${r.contentType || 'none'})\n${r.text.length > 2_000 ? `${r.text.slice(0, 2_000)}…` : r.text}`;
