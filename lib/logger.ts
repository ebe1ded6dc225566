import pino, { type Logger } from 'pino';
import { activeTraceFields, spansOn } from './spans';

export type { Logger };

/**
 * One JSON line per event worth knowing; `service` on every line, and with
 * tracing on `trace_id` and `span_id` on every line written inside a span.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  // Tracing is set up (lib/tracing.ts) before any logger: with it off, no mixin costs anything.
  return pino({ level, base: { service, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, ...(spansOn() ? { mixin: activeTraceFields } : {}) });
}
