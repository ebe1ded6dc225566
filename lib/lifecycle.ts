import { ConfigError } from './config';
import { createLogger, type Logger } from './logger';
import { shutdownTracing } from './tracing';

export interface Running {
  /** Stop taking work, finish what is in flight, release connections. */
  stop(): Promise<void>;
}

const SHUTDOWN_TIMEOUT_MS = 15_000;

/**
 * The one way every process starts: build (config is read inside, once),
 * serve, and on SIGTERM/SIGINT stop gracefully, with a hard deadline so a
 * stuck dependency cannot keep a process alive forever.
 */
export function runService(name: string, start: (log: Logger) => Promise<Running>): void {
  const log = createLogger(name);
  let running: Running | undefined;
  let stopping = false;

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    try {
      await running?.stop();
      log.info('stopped');
      // The last spans (the shutdown's own calls included) go out before the exit.
      await shutdownTracing();
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  start(log).then(
    (r) => {
      running = r;
      if (stopping) void r.stop();
    },
    (err) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${name}: ${err.message}\n`);
      } else {
        log.fatal({ err }, 'failed to start');
      }
      process.exit(1);
    },
  );
}
