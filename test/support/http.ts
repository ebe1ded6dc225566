// Tiny JSON-over-HTTP helpers on Node's global fetch, for the REST edge.
// They never throw on an HTTP error status: tests assert on what came back.

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the body is JSON, else the raw text ('' when empty). */
  body: T;
  /** The body exactly as received. */
  text: string;
}

const TIMEOUT_MS = 15_000;

async function request<T>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
  const init: RequestInit = {
    method,
    headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  };
  // A string is sent as is, so tests can send exactly the bytes they mean.
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed: unknown = text;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export const getJson = <T = any>(url: string, headers?: Record<string, string>) => request<T>('GET', url, undefined, headers);

export const postJson = <T = any>(url: string, body: unknown, headers?: Record<string, string>) => request<T>('POST', url, body, headers);
