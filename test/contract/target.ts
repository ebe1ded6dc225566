// Where the REST contract suite points: BASE_URL when given (Envoy from
// docker-compose, a running `npm start`, any edge), else a whole test mesh
// with the local TypeScript edge on ports the OS picks.
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { request } from './http';

export interface RestTarget {
  /** e.g. http://127.0.0.1:8000, no trailing slash. */
  base: string;
  /** true when BASE_URL named an edge this suite did not start. */
  external: boolean;
  /** Recent output of the mesh this suite started (empty for an external edge). */
  logs(): string[];
  close(): Promise<void>;
}

export async function openTarget(): Promise<RestTarget> {
  const given = process.env.BASE_URL?.trim();
  if (given) {
    const base = given.replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+/.test(base)) throw new Error(`BASE_URL must be an http(s) URL such as http://localhost:8000, got "${given}"`);
    // Fail early, with a clear message, when nothing answers there.
    try {
      await request('GET', `${base}/cqrs/queries/health`, { timeoutMs: 10_000 });
    } catch (err) {
      throw new Error(
        `BASE_URL=${base}: no answer from ${base}/cqrs/queries/health (${(err as Error).message}). ` +
          'Start the mesh first (docker-compose up -d, or npm start) or unset BASE_URL to let the suite start its own.',
      );
    }
    return { base, external: true, logs: () => [], close: async () => undefined };
  }
  const mesh: TestMesh = await startTestMesh();
  return { base: mesh.urls.edge, external: false, logs: () => mesh.logs, close: () => mesh.teardown() };
}
