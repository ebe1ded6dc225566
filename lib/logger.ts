import pino, { type Logger } from 'pino';
import { REDACT_PATHS, scrubSecrets } from './redact';
import { activeTraceFields, spansOn } from './spans';

export type { Logger };

/**
 * One JSON line per event worth knowing; `service` on every line, and with
 * tracing on `trace_id` and `span_id` on every line written inside a span.
 * Secrets never reach the output: known fields are redacted by path, and
 * every line is scrubbed of URL passwords and bearer tokens before it is
 * written (an error message or stack can quote a URL or a header).
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    hooks: { streamWrite: scrubSecrets },
    // Tracing is set up (lib/tracing.ts) before any logger: with it off, no mixin costs anything.
    ...(spansOn() ? { mixin: activeTraceFields } : {}),
  });
}
