// `npm run demo` (node dist/scripts/demo.js) on a machine where nothing
// answers on its URL: it starts its own mesh (free port, temp data folder,
// private RabbitMQ vhost), walks through every step, checks every figure,
// exits 0 and leaves nothing running.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { safePort } from '../support/faults-infra';
import { createVhost, type TestVhost } from '../../kit/rabbit';
import { alive, ScriptRun } from '../support/script-run';

jest.setTimeout(300_000);

let vhost: TestVhost | undefined;
let dataDir: string | undefined;
let run: ScriptRun | undefined;

afterAll(async () => {
  await run?.stop('SIGTERM', 30_000);
  vhost?.remove();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the demo, with nothing running, starts its own mesh, passes every check and stops it', async () => {
  vhost = createVhost('cqrs-demo');
  dataDir = mkdtempSync(join(tmpdir(), 'cqrs-demo-store-'));
  const port = await safePort();
  const url = `http://127.0.0.1:${port}`;
  await expect(fetch(`${url}/cqrs/queries/health`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow(); // nothing there
  run = new ScriptRun('demo', { AMQP_URL: vhost.url, DATA_DIR: dataDir, DEMO_URL: url, MONGO_URL: '', LOG_LEVEL: 'info' });

  await run.waitForLine(new RegExp(`^nothing answers on ${url}; starting a mesh for the demo`), 10_000);
  await run.waitForLine(/^the demo's mesh is up in [\d.]+ s/, 120_000);
  const children = run.children();
  expect(children.length).toBe(5); // the store and the four services

  const exit = await run.waitForExit(180_000);
  const out = run.lines.join('\n');
  expect({ exit, tail: exit.code === 0 ? '' : run.tail() }).toEqual({ exit: { code: 0, signal: null }, tail: '' });
  for (let n = 1; n <= 7; n++) expect(out).toMatch(new RegExp(`^━━ ${n}\\. `, 'm'));
  expect(out).not.toMatch(/✘/);
  expect(run.lines.filter((l) => l.trimStart().startsWith('✔'))).toHaveLength(28);
  expect(out).toMatch(/COMPLETED at once with the complete command's token/);
  expect(out).toMatch(/REJECTED: .*not enough stock/);
  expect(out).toMatch(/the timeline holds every event, in order/);
  expect(run.lines[run.lines.length - 1]).toBe('all checks passed');
  expect(out).toMatch(/^stopping the demo's mesh\.\.\./m);

  // Nothing left behind: no child, no store on the data folder, nothing on the port.
  for (const pid of children) expect({ pid, alive: alive(pid) }).toEqual({ pid, alive: false });
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { timeout: 5_000 }).toString();
  expect(ps.split('\n').filter((l) => l.includes(dataDir!))).toEqual([]);
  await expect(fetch(`${url}/cqrs/queries/health`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
});
