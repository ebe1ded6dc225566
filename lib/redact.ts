// Secrets that must never reach a log line: the password in a URL's userinfo
// (AMQP_URL, MONGO_URL) and bearer tokens (the `authorization` header and
// metadata). Known fields are redacted by path in the logger; these helpers
// cover the rest: a URL put into a message, and, as a last line of defence,
// every line the logger writes.

/** `amqp://user:secret@host` -> `amqp://user:***@host`; a URL without a password is returned as is. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:@/\s]*):[^@/\s]*@/, '$1:***@');
}

// scheme://user:password@ anywhere in a text; the user name stays for diagnosis.
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^:@/\s"]*):[^@/\s"]*@/gi;
// A bearer (or other) credential after its scheme name.
const CREDENTIAL = /\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/g;

/** Every URL password and bearer/basic credential in `text` replaced by `***`. */
export function scrubSecrets(text: string): string {
  return text.replace(USERINFO, '$1:***@').replace(CREDENTIAL, '$1 ***');
}

/**
 * Paths pino redacts: the authorization header or metadata wherever a line
 * carries headers or metadata, and URL settings logged as fields.
 */
export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  '*.*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'metadata.authorization',
  'md.authorization',
  'AMQP_URL',
  'MONGO_URL',
  '*.AMQP_URL',
  '*.MONGO_URL',
  'password',
  '*.password',
];
