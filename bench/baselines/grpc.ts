// Baseline: a no-op grpc-js unary call, client in the bench process, server in
// a process of its own (as the services are), with the same request and
// response sizes as the system call it is compared with.
import { join } from 'node:path';
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { repoRoot } from '../../lib/paths';
import { spawnChild, stopChild, type Child } from '../../kit/processes';
import { readProc } from '../harness/mesh';
import { closedLoopWindows, type RunResult } from '../load';
import { NOOP_PATH } from './grpc-noop-path';

export class NoopGrpc {
  private constructor(
    private readonly child: Child,
    private readonly client: Client,
  ) {}

  static async start(): Promise<NoopGrpc> {
    const child = spawnChild({
      name: 'grpc-noop',
      command: process.execPath,
      args: [join(repoRoot, 'dist', 'bench', 'baselines', 'grpc-noop-server.js')],
      ready: /^noop listening \d+/,
    });
    const port = Number((await child.ready).split(' ').pop());
    return new NoopGrpc(child, new Client(`127.0.0.1:${port}`, credentials.createInsecure()));
  }

  get pid(): number | undefined {
    return this.child.proc.pid;
  }

  /** One call carrying `reqBytes` and answered with `resBytes`. */
  call(reqBytes: number, resBytes: number): Promise<Buffer> {
    const req = Buffer.alloc(Math.max(4, reqBytes), 1);
    req.writeUInt32BE(resBytes, 0);
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(NOOP_PATH, (b: Buffer) => b, (b: Buffer) => b, req, new Metadata(), (err, res) => (err ? reject(err) : resolve(res!))),
    );
  }

  /** `windows` consecutive measured windows of one loop (the repeats). */
  run(o: { concurrency: number; durationMs: number; warmupMs: number; reqBytes: number; resBytes: number; windows?: number }): Promise<RunResult[]> {
    return closedLoopWindows({ concurrency: o.concurrency, durationMs: o.durationMs, windows: o.windows ?? 1, warmupMs: o.warmupMs, op: () => this.call(o.reqBytes, o.resBytes) });
  }

  /** Stops the server; returns the CPU seconds it used. */
  async stop(): Promise<number> {
    const cpu = this.child.proc.pid ? (readProc(this.child.proc.pid)?.cpuSec ?? 0) : 0;
    this.client.close();
    await stopChild(this.child);
    return cpu;
  }
}
