// Runs one of the built entry points (`node dist/scripts/<name>.js`, what
// `npm start` / `npm run demo` run) as a child process, keeps every output
// line, and waits (bounded) for lines. Whatever it started is stopped by
// `stop()`, children of the script included.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../../lib/paths';
import { eventually } from '../../kit/wait';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ScriptRun {
  readonly lines: string[] = [];
  readonly proc: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Every pid seen as a child of the script, so none outlives the test. */
  private readonly descendants = new Set<number>();
  private exit?: Exit;

  constructor(script: string, env: NodeJS.ProcessEnv) {
    this.proc = spawn(process.execPath, [join(repoRoot, 'dist', 'scripts', `${script}.js`)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      }),
    );
    for (const s of [this.proc.stdout!, this.proc.stderr!]) createInterface({ input: s }).on('line', (l) => this.lines.push(l));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Waits for a line matching `re` at or after line `from`; returns the match. */
  async waitForLine(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    return eventually(
      async () => {
        for (let i = from; i < this.lines.length; i++) {
          const m = this.lines[i].match(re);
          if (m) return m;
        }
        if (this.exit) throw new Error(`the script exited (${JSON.stringify(this.exit)}) without printing it`);
        return undefined;
      },
      timeoutMs,
      `a line matching ${re}`,
    ).catch((err: Error) => {
      err.message += `\n--- output ---\n${this.tail()}`;
      throw err;
    });
  }

  /** Waits for the script to exit (bounded). */
  async waitForExit(timeoutMs: number): Promise<Exit> {
    return eventually(async () => this.exit, timeoutMs, 'the script to exit').catch((err: Error) => {
      err.message += `\n--- output ---\n${this.tail()}`;
      throw err;
    });
  }

  tail(n = 60): string {
    return this.lines.slice(-n).join('\n');
  }

  /** The script's direct children now (and remembered for stop()). */
  children(): number[] {
    let out = '';
    try {
      out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(this.pid)], { timeout: 5_000 }).toString();
    } catch {
      return []; // ps exits 1 when there are none
    }
    const pids = out.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
    for (const p of pids) this.descendants.add(p);
    return pids;
  }

  /** Remembers pids the test learnt otherwise (from the script's output). */
  remember(...pids: number[]): void {
    for (const p of pids) this.descendants.add(p);
  }

  /** Signals the script, waits up to `timeoutMs`, then kills it and every child it had. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<Exit> {
    this.children();
    if (!this.exit) this.proc.kill(signal);
    const exit = await this.waitForExit(timeoutMs).catch(() => {
      this.proc.kill('SIGKILL');
      return this.exited;
    });
    for (const p of this.descendants) if (alive(p)) process.kill(p, 'SIGKILL');
    return exit;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is not alive.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The command line of a running process ('' if it is gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}
