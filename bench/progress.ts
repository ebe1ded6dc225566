// A plain progress line on stderr: phase, step, elapsed time, and an estimate
// of what is left from the mode's planned duration.
import { performance } from 'node:perf_hooks';

export class Progress {
  private readonly t0 = performance.now();
  private phase = '';
  private timer?: NodeJS.Timeout;
  private last = '';
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly enabled: boolean,
    private readonly plannedSec: number,
  ) {
    if (enabled) {
      this.timer = setInterval(() => this.draw(), this.tty ? 1_000 : 10_000);
      this.timer.unref();
    }
  }

  get elapsedSec(): number {
    return (performance.now() - this.t0) / 1000;
  }

  step(phase: string): void {
    this.phase = phase;
    this.draw(true);
  }

  log(message: string): void {
    if (!this.enabled) return;
    if (this.tty) process.stderr.write('\r\x1b[K');
    process.stderr.write(`${message}\n`);
    this.last = '';
  }

  private draw(force = false): void {
    if (!this.enabled) return;
    const e = this.elapsedSec;
    const left = Math.max(0, this.plannedSec - e);
    const line = `[bench ${fmt(e)} elapsed, ~${fmt(left)} left] ${this.phase}`;
    if (!force && line === this.last) return;
    this.last = line;
    if (this.tty) process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    else process.stderr.write(`${line}\n`);
  }

  done(): void {
    clearInterval(this.timer);
    if (this.enabled && this.tty) process.stderr.write('\r\x1b[K');
  }
}

const fmt = (s: number) => (s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`);
