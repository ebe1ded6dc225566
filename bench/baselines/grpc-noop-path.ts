export const NOOP_PATH = '/bench.v1.Noop/Call';
