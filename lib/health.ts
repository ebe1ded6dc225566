// Health as one value, shared by the REST health path and grpc.health.v1:
// SERVING only while every dependency answers.
import type { HealthImplementation } from 'grpc-health-check';
import type { DependencyHealth } from '../gen/ts/cqrs/v1/read_models';
import type { Logger } from './logger';

export interface HealthReport {
  status: 'SERVING' | 'NOT_SERVING';
  service: string;
  dependencies: DependencyHealth[];
}

export type Check = () => Promise<boolean> | boolean;

export class HealthMonitor {
  private report: HealthReport;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly service: string,
    private readonly checks: Record<string, Check>,
    /** `part`: these services only, not the server as a whole ("") — a part of a process that can fail alone. */
    private readonly grpc: { health: HealthImplementation; services: string[]; part?: boolean },
    private readonly log: Logger,
  ) {
    this.report = { status: 'NOT_SERVING', service, dependencies: [] };
  }

  get current(): HealthReport {
    return this.report;
  }

  async refresh(): Promise<HealthReport> {
    const dependencies = await Promise.all(
      Object.entries(this.checks).map(async ([name, check]) => {
        try {
          const up = await check();
          return { name, status: up ? 'UP' : 'DOWN', detail: up ? '' : 'not reachable' };
        } catch (err) {
          return { name, status: 'DOWN', detail: (err as Error).message };
        }
      }),
    );
    const status = dependencies.every((d) => d.status === 'UP') ? 'SERVING' : 'NOT_SERVING';
    if (status !== this.report.status) this.log.info({ status, dependencies }, 'health changed');
    this.report = { status, service: this.service, dependencies };
    const names = this.grpc.part ? this.grpc.services : ['', ...this.grpc.services];
    for (const n of names) this.grpc.health.setStatus(n, status === 'SERVING' ? 'SERVING' : 'NOT_SERVING');
    return this.report;
  }

  start(intervalMs = 1_000): void {
    // A slow check (a store timing out) must not overlap the next one, or an
    // older answer could land last and flip the status back.
    let running = false;
    this.timer = setInterval(() => {
      if (running) return;
      running = true;
      void this.refresh().finally(() => (running = false));
    }, intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
