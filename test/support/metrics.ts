// Reading what a process exports: Prometheus text scraped over HTTP into
// series, and grpc.health.v1 Check without generated code.
import { credentials, Client, Metadata } from '@grpc/grpc-js';
import { sleep } from '../../kit/wait';

/** `name{a="1",b="2"}` → value, labels in sorted order (the `process` label left out). */
export type Series = Map<string, number>;

export function parseMetrics(text: string): Series {
  const out: Series = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].filter(([, k]) => k !== 'process').map(([, k, v]) => [k, v]);
    out.set(key(m[1], Object.fromEntries(labels)), Number(m[3]));
  }
  return out;
}

export function key(name: string, labels: Record<string, string> = {}): string {
  const ls = Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`);
  return ls.length ? `${name}{${ls.join(',')}}` : name;
}

/** GET /metrics, retried while the server is still coming up (bounded). */
export async function scrape(base: string, timeoutMs = 5_000): Promise<Series> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(3_000) });
      if (res.status !== 200) throw new Error(`GET ${base}/metrics: ${res.status}`);
      return parseMetrics(await res.text());
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

/** A sample's value, 0 when the series does not exist (a counter never incremented). */
export const value = (s: Series, name: string, labels?: Record<string, string>) => s.get(key(name, labels)) ?? 0;

/** How much each listed series moved between two scrapes. */
export function deltas(before: Series, after: Series, wanted: Array<[string, Record<string, string>?]>): Record<string, number> {
  return Object.fromEntries(wanted.map(([name, labels]) => [key(name, labels), value(after, name, labels) - value(before, name, labels)]));
}

const STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** grpc.health.v1.Health/Check of `service` ('' is the server as a whole). */
export function healthCheck(addr: string, service = ''): Promise<string> {
  const client = new Client(addr, credentials.createInsecure());
  const name = Buffer.from(service);
  const request = service ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, request, new Metadata(), { deadline: Date.now() + 3_000 }, (err, res) => {
      client.close();
      if (err) return reject(err);
      // HealthCheckResponse { status = 1 (enum) }: absent means UNKNOWN.
      resolve(STATUS[res && res.length >= 2 && res[0] === 0x08 ? res[1] : 0] ?? 'UNKNOWN');
    });
  });
}
