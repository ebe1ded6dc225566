// Settings come from environment variables only, are checked once at start-up,
// and every bad one is named in a single error so a misconfigured deployment
// fails fast and says exactly what to fix.

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Parser<T> = (raw: string) => T;
export interface Setting<T> {
  parse: Parser<T>;
  default?: T;
}

export const port = (fallback?: number): Setting<number> => ({
  default: fallback,
  parse: (raw) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n > 65535) throw new Error(`must be a TCP port (0-65535), got "${raw}"`);
    return n;
  },
});

/** A port, or `off` for a listener a deployment does without (metrics). */
export const portOrOff = (fallback: number | 'off'): Setting<number | 'off'> => ({
  default: fallback,
  parse: (raw) => (raw === 'off' ? 'off' : port().parse(raw)),
});

export const int = (fallback?: number, min = 0): Setting<number> => ({
  default: fallback,
  parse: (raw) => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min) throw new Error(`must be an integer >= ${min}, got "${raw}"`);
    return n;
  },
});

export const url = (fallback?: string, schemes: string[] = []): Setting<string> => ({
  default: fallback,
  parse: (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new Error(`must be a URL, got "${raw}"`);
    }
    if (schemes.length && !schemes.includes(parsed.protocol.replace(/:$/, ''))) {
      throw new Error(`must be a ${schemes.join(' or ')} URL, got "${raw}"`);
    }
    return raw;
  },
});

export const str = (fallback?: string): Setting<string> => ({ default: fallback, parse: (raw) => raw });

export const oneOf = <T extends string>(values: readonly T[], fallback?: T): Setting<T> => ({
  default: fallback,
  parse: (raw) => {
    if (!values.includes(raw as T)) throw new Error(`must be one of ${values.join(', ')}, got "${raw}"`);
    return raw as T;
  },
});

export const bool = (fallback?: boolean): Setting<boolean> => ({
  default: fallback,
  parse: (raw) => {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new Error(`must be true or false, got "${raw}"`);
  },
});

/** `host:port` as grpc-js dials it. */
export const address = (fallback?: string): Setting<string> => ({
  default: fallback,
  parse: (raw) => {
    if (!/^[\w.-]+:\d{1,5}$/.test(raw)) throw new Error(`must be host:port, got "${raw}"`);
    return raw;
  },
});

type Values<S> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

export function readConfig<S extends Record<string, Setting<unknown>>>(
  spec: S,
  env: NodeJS.ProcessEnv = process.env,
): Values<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, setting] of Object.entries(spec)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      if (setting.default === undefined) problems.push(`${name} is required`);
      else out[name] = setting.default;
      continue;
    }
    try {
      out[name] = setting.parse(raw);
    } catch (err) {
      problems.push(`${name} ${(err as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return out as Values<S>;
}

/** Health limits of an event consumer (lib/consumer-health.ts). */
export const consumerLimits = {
  CONSUMER_MAX_LAG_MS: int(30_000, 1),
  CONSUMER_MAX_STALL_MS: int(15_000, 1),
};

/** Settings every service shares. */
export const common = {
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  AMQP_URL: url('amqp://guest:guest@127.0.0.1:5672', ['amqp', 'amqps']),
  MONGO_URL: url('mongodb://127.0.0.1:27017', ['mongodb', 'mongodb+srv']),
  HOST: str('127.0.0.1'),
  // gRPC server reflection (grpcurl's list/describe); off hides the API's shape from callers.
  GRPC_REFLECTION: bool(true),
};
