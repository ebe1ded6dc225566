import pino, { type Logger } from 'pino';

export type { Logger };

/** One JSON line per event worth knowing; `service` on every line. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
