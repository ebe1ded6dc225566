// The machine and the versions a run was measured on, and how busy the
// machine was (other engineers' test meshes share it).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import amqp from 'amqplib';
import { repoRoot } from '../../lib/paths';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  loadavgAtStart: number[];
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const pkgVersion = (name: string): string => {
  try {
    return JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
};

export async function versions(mongo: MongoClient, amqpUrl: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const p of ['@grpc/grpc-js', 'amqplib', 'mongodb', '@bufbuild/protobuf', 'pino', 'typescript']) out[p] = pkgVersion(p);
  try {
    const info = await mongo.db('admin').command({ buildInfo: 1 });
    let ferret = info.ferretdbVersion && info.ferretdbVersion !== 'unknown' ? info.ferretdbVersion : undefined;
    try {
      ferret ??= /github\.com\/FerretDB\/FerretDB (v[\w.-]+)/.exec(readFileSync(join(repoRoot, 'store', 'go.mod'), 'utf8'))?.[1];
    } catch {
      /* no go.mod */
    }
    out.store = `FerretDB ${ferret ?? '?'} embedded (.bin/store), SQLite backend, MongoDB wire version ${info.version}`;
  } catch {
    out.store = 'unknown';
  }
  try {
    const conn = await amqp.connect(amqpUrl, { timeout: 5_000 });
    const props = (conn as unknown as { connection: { serverProperties: Record<string, string> } }).connection.serverProperties;
    out.rabbitmq = `${props.product ?? 'RabbitMQ'} ${props.version ?? '?'} (Erlang ${props.platform ?? '?'})`;
    await conn.close();
  } catch {
    out.rabbitmq = 'unknown';
  }
  try {
    out.git = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    if (dirty) out.git += ` (+ ${dirty.split('\n').length} uncommitted paths)`;
  } catch {
    out.git = 'unknown';
  }
  return out;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
export function machineJiffies(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}
