// The system under test, started the way the tests start it (the kit's test
// mesh, kit/test-mesh.ts): embedded store, command-svc, query-svc,
// projector-svc and the edge on OS-picked ports, in a RabbitMQ vhost of its
// own. The services' JSON log lines are tapped to count what was stored and
// projected and when, at no cost to the services.
import { appendFileSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { MongoClient } from 'mongodb';
import { SERVICES, type ServiceName } from '../../kit/mesh';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';

export type ProcName = ServiceName | 'store';
export const PROCS: ProcName[] = ['store', 'command-svc', 'projector-svc', 'query-svc', 'edge'];

/** How often each service logs its cumulative store command counts (lib/mongo.ts, STORE_STATS_MS). */
export const STORE_STATS_MS = 200;

/** One service process's cumulative store commands, from its latest "store commands" line. */
export interface StoreCounts {
  /** Every command sent. */
  total: number;
  /** total − housekeeping: the round trips that do the service's work. */
  work: number;
  /** ping, hello, endSessions…: health checks, the watchdog, the driver. */
  housekeeping: number;
  byCommand: Record<string, number>;
}

export const emptyCounts = (): StoreCounts => ({ total: 0, work: 0, housekeeping: 0, byCommand: {} });

/** a − b, command by command (both cumulative). */
export function countsSince(a: StoreCounts, b: StoreCounts): StoreCounts {
  const byCommand: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a.byCommand), ...Object.keys(b.byCommand)])) {
    const d = (a.byCommand[k] ?? 0) - (b.byCommand[k] ?? 0);
    if (d) byCommand[k] = d;
  }
  return { total: a.total - b.total, work: a.work - b.work, housekeeping: a.housekeeping - b.housekeeping, byCommand };
}

type OrderWaiter = (type: string, at: number) => boolean;

/** What the services' log lines tell: events stored and projected, with times. */
export class LogTap {
  /** performance.now() of every event the command side stored (one per event). */
  readonly stored: number[] = [];
  /** performance.now() of every event the projector applied. */
  readonly projected: number[] = [];
  /** First time any event of an order stream was projected (with gap-filling, that includes version 1), while tracking. */
  readonly orderProjectedAt = new Map<string, number>();
  tracking = false;
  /** While set, every order the order process validates or rejects is recorded in `decisions`. */
  trackDecisions = false;
  readonly decisions = new Map<string, { at: number; validated: boolean }>();
  /** Events stored, by type (orderInitiated, inventoryReserved, orderPaid, inventorySold…). */
  readonly storedByType = new Map<string, number>();
  /** Events projected, by type (one per "event projected" line: gap-filled events are not counted by type). */
  readonly projectedByType = new Map<string, number>();
  /** When each process (by pid) logged its readiness line ("… consuming", "… listening"). */
  readonly readyAt = new Map<number, number>();
  /** Latest cumulative store command counts, by service and pid (a restarted service starts again from 0). */
  readonly storeCounts = new Map<string, Map<number, StoreCounts>>();
  errors: string[] = [];
  warnings = 0;
  deadLettered = 0;
  /** Orders the order process validated or rejected. */
  decided = 0;
  private readonly orderWaiters = new Map<string, OrderWaiter[]>();

  line(name: string, line: string): void {
    if (line.charCodeAt(0) !== 123 /* { */) return;
    if (name === 'projector-svc' && line.includes('"msg":"event projected"')) {
      const now = performance.now();
      // An event ahead of a gap is applied with the missing ones ("filled").
      const filled = Number(/"filled":(\d+)/.exec(line)?.[1] ?? 0);
      for (let i = 0; i <= filled; i++) this.projected.push(now);
      const type = /"type":"(\w+)"/.exec(line)?.[1] ?? '';
      this.projectedByType.set(type, (this.projectedByType.get(type) ?? 0) + 1);
      if (this.tracking || this.orderWaiters.size) {
        const m = /"streamId":"order-([^"]+)"/.exec(line);
        if (m) {
          if (this.tracking && !this.orderProjectedAt.has(m[1])) this.orderProjectedAt.set(m[1], now);
          const waiters = this.orderWaiters.get(m[1]);
          if (waiters) {
            const left = waiters.filter((w) => !w(type, now));
            if (left.length) this.orderWaiters.set(m[1], left);
            else this.orderWaiters.delete(m[1]);
          }
        }
      }
      return;
    }
    if (name === 'command-svc' && line.includes('"msg":"events stored"')) {
      const now = performance.now();
      for (const m of line.matchAll(/"type":"(\w+)"/g)) {
        this.storedByType.set(m[1], (this.storedByType.get(m[1]) ?? 0) + 1);
        if (m[1] === 'orderValidated' || m[1] === 'orderRejected') {
          this.decided++;
          if (this.trackDecisions) {
            const id = /"streamId":"order-([^"]+)"/.exec(line)?.[1];
            if (id && !this.decisions.has(id)) this.decisions.set(id, { at: now, validated: m[1] === 'orderValidated' });
          }
        }
      }
      const n = (line.match(/"eventId"/g) ?? []).length || 1;
      for (let i = 0; i < n; i++) this.stored.push(now);
      return;
    }
    if (line.includes('"msg":"store commands"')) {
      try {
        const o = JSON.parse(line) as StoreCounts & { pid: number };
        const byPid = this.storeCounts.get(name) ?? this.storeCounts.set(name, new Map()).get(name)!;
        byPid.set(o.pid, { total: o.total, work: o.work, housekeeping: o.housekeeping, byCommand: o.byCommand ?? {} });
      } catch {
        /* a line we cannot read is not counted */
      }
      return;
    }
    const ready = /"pid":(\d+).*"msg":"[a-z-]+ (?:consuming|listening)"/.exec(line);
    if (ready) this.readyAt.set(Number(ready[1]), performance.now());
    if (line.includes('"level":50') || line.includes('"level":60')) {
      if (this.errors.length < 50) this.errors.push(`${name}: ${line.slice(0, 400)}`);
    } else if (line.includes('"level":40')) this.warnings++;
    if (line.includes('dead-lettered')) this.deadLettered++;
  }

  /** Events of these types stored, and projected, so far. */
  typeCounts(...types: string[]): { stored: number; projected: number } {
    let stored = 0, projected = 0;
    for (const t of types) {
      stored += this.storedByType.get(t) ?? 0;
      projected += this.projectedByType.get(t) ?? 0;
    }
    return { stored, projected };
  }

  /** Store command counts of one service, summed over every process it has had. */
  countsOf(service: string): StoreCounts {
    const sum = emptyCounts();
    for (const c of this.storeCounts.get(service)?.values() ?? []) {
      sum.total += c.total;
      sum.work += c.work;
      sum.housekeeping += c.housekeeping;
      for (const [k, v] of Object.entries(c.byCommand)) sum.byCommand[k] = (sum.byCommand[k] ?? 0) + v;
    }
    return sum;
  }

  /**
   * Resolves true as soon as projector-svc logs an event of the order's stream
   * (of `type`, when given), false after `timeoutMs` without one.
   */
  whenOrderProjected(orderId: string, timeoutMs: number, type?: string): Promise<boolean> {
    return new Promise((resolve) => {
      const waiter: OrderWaiter = (t) => {
        if (type && t !== type) return false;
        clearTimeout(timer);
        resolve(true);
        return true;
      };
      const timer = setTimeout(() => {
        const list = this.orderWaiters.get(orderId)?.filter((w) => w !== waiter);
        if (list?.length) this.orderWaiters.set(orderId, list);
        else this.orderWaiters.delete(orderId);
        resolve(false);
      }, timeoutMs);
      const list = this.orderWaiters.get(orderId) ?? this.orderWaiters.set(orderId, []).get(orderId)!;
      list.push(waiter);
    });
  }

  /** How many of the (ascending) times are at or after `t`. */
  countSince(times: number[], t: number): number {
    let lo = 0, hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return times.length - lo;
  }
}

export interface ProcSample {
  t: number;
  rssMb: number;
  hwmMb: number;
  cpuSec: number;
}

/** /proc figures of one pid: VmRSS, VmHWM (peak RSS) and CPU seconds used. */
export function readProc(pid: number): { rssMb: number; hwmMb: number; cpuSec: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 (1-based) of stat; the slice starts at field 3.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, cpuSec: ticks / 100 };
  } catch {
    return undefined;
  }
}

export interface BenchMesh {
  mesh: TestMesh;
  tap: LogTap;
  mongo: MongoClient;
  /** Peak VmHWM per process over every instance seen (restarts included). */
  peaks: Map<ProcName, { hwmMb: number; phase: string }>;
  samples: Map<ProcName, ProcSample[]>;
  phase: string;
  pid(name: ProcName): number | undefined;
  /** CPU seconds per process, now (summed over restarted instances). */
  cpu(): Record<string, number>;
  sample(): void;
  stop(): Promise<void>;
}

export async function startBenchMesh(opts: { env?: Partial<Record<ServiceName, NodeJS.ProcessEnv>>; logLevel?: string } = {}): Promise<BenchMesh> {
  const tap = new LogTap();
  const recent: string[] = [];
  // Every service counts its store commands and logs them (lib/mongo.ts); the tap reads the lines.
  const env: Partial<Record<ServiceName, NodeJS.ProcessEnv>> = {};
  for (const svc of SERVICES) env[svc] = { STORE_STATS_MS: String(STORE_STATS_MS), ...opts.env?.[svc] };
  let mesh: TestMesh;
  try {
    mesh = await startTestMesh({
      vhostPrefix: 'cqrs-bench',
      logLevel: opts.logLevel ?? 'info',
      env,
      keepLine: () => false, // `recent` keeps what a failure shows
      onLine: (name, line) => {
        tap.line(name, line);
        // BENCH_LOG=<file> keeps every line the mesh printed, for a post-mortem.
        if (process.env.BENCH_LOG) appendFileSync(process.env.BENCH_LOG, `${name}: ${line}\n`);
        recent.push(`${name}: ${line}`);
        if (recent.length > 400) recent.splice(0, 200);
      },
    });
  } catch (err) {
    throw new Error(`the mesh did not start: ${(err as Error).message}\n${recent.slice(-30).join('\n')}`);
  }
  const mongo = await new MongoClient(mesh.urls.mongo, { retryWrites: false, maxPoolSize: 32 }).connect();
  const peaks = new Map<ProcName, { hwmMb: number; phase: string }>();
  const samples = new Map<ProcName, ProcSample[]>();
  const cpuDone = new Map<ProcName, number>(); // CPU of instances that exited
  const lastCpu = new Map<string, number>(); // `${name}:${pid}` → last seen cpu
  const t0 = performance.now();
  const bm: BenchMesh = {
    mesh,
    tap,
    mongo,
    peaks,
    samples,
    phase: 'start',
    pid: (name) => mesh.children.get(name)?.proc.pid,
    cpu() {
      bm.sample();
      const out: Record<string, number> = {};
      for (const name of PROCS) {
        const pid = bm.pid(name);
        out[name] = (cpuDone.get(name) ?? 0) + (pid ? (lastCpu.get(`${name}:${pid}`) ?? 0) : 0);
      }
      out.bench = process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
      return out;
    },
    sample() {
      for (const name of PROCS) {
        const pid = bm.pid(name);
        if (!pid) continue;
        const p = readProc(pid);
        if (!p) continue;
        // A new pid for a name: bank the old instance's CPU.
        for (const key of [...lastCpu.keys()]) {
          if (key.startsWith(`${name}:`) && key !== `${name}:${pid}`) {
            cpuDone.set(name, (cpuDone.get(name) ?? 0) + lastCpu.get(key)!);
            lastCpu.delete(key);
          }
        }
        lastCpu.set(`${name}:${pid}`, p.cpuSec);
        const peak = peaks.get(name);
        if (!peak || p.hwmMb > peak.hwmMb) peaks.set(name, { hwmMb: p.hwmMb, phase: bm.phase });
        const list = samples.get(name) ?? samples.set(name, []).get(name)!;
        list.push({ t: (performance.now() - t0) / 1000, ...p });
      }
    },
    async stop() {
      clearInterval(timer);
      bm.sample();
      await mongo.close().catch(() => undefined);
      await mesh.teardown();
    },
  };
  const timer = setInterval(() => bm.sample(), 1_000);
  timer.unref();
  bm.sample();
  return bm;
}
