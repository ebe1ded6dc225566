// Who is calling. Bearer JWTs (RS256 or ES256) verified against the keys of
// a JWKS file or URL (any OIDC provider publishes one), with issuer,
// audience, expiry and not-before checked and the clock skew bounded. The
// roles come from one claim; the subject is the caller's user id.
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { bool, ConfigError, int, readConfig, str } from './config';

export const ROLES = ['customer', 'staff', 'service'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  subject: string;
  roles: Role[];
}

/** The settings, read with the rest of a service's config. */
export const authSettings = {
  AUTH: bool(false),
  AUTH_JWKS_FILE: str(''),
  AUTH_JWKS_URL: str(''),
  AUTH_ISSUER: str(''),
  AUTH_AUDIENCE: str(''),
  AUTH_CLOCK_SKEW_S: int(30, 0),
  AUTH_ROLES_CLAIM: str('roles'),
};

type AuthConfig = ReturnType<typeof readConfig<typeof authSettings>>;

const MAX_SKEW_S = 300;
const ALGORITHMS = ['RS256', 'ES256'];

/** A token the mesh does not accept; the message says why, for the caller. */
export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    message: string,
    /** No token at all, as opposed to one that is invalid (RFC 6750 error="invalid_token"). */
    readonly missing = false,
  ) {
    super(message);
  }
}

export class TokenVerifier {
  private constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly c: AuthConfig,
  ) {}

  /** The verifier the settings ask for, or undefined with AUTH off; every missing setting named at once. */
  static fromConfig(c: AuthConfig): TokenVerifier | undefined {
    if (!c.AUTH) return undefined;
    const problems: string[] = [];
    if (!c.AUTH_JWKS_FILE && !c.AUTH_JWKS_URL) problems.push('AUTH_JWKS_FILE or AUTH_JWKS_URL is required with AUTH=on');
    if (!c.AUTH_ISSUER) problems.push('AUTH_ISSUER is required with AUTH=on');
    if (!c.AUTH_AUDIENCE) problems.push('AUTH_AUDIENCE is required with AUTH=on');
    if (c.AUTH_CLOCK_SKEW_S > MAX_SKEW_S) problems.push(`AUTH_CLOCK_SKEW_S must be at most ${MAX_SKEW_S}, got ${c.AUTH_CLOCK_SKEW_S}`);
    if (problems.length) throw new ConfigError(problems);
    return new TokenVerifier(c.AUTH_JWKS_FILE ? localKeys(c.AUTH_JWKS_FILE) : createRemoteJWKSet(new URL(c.AUTH_JWKS_URL)), c);
  }

  /** The caller of an `authorization` value; throws AuthError. */
  async verify(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw new AuthError('a bearer token is required (authorization: Bearer <JWT>)', true);
    const m = /^Bearer\s+([\w-]+\.[\w-]+\.[\w-]*)$/i.exec(authorization.trim());
    if (!m) throw new AuthError('the authorization value is not "Bearer <JWT>"');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(m[1], this.keys, {
        issuer: this.c.AUTH_ISSUER, audience: this.c.AUTH_AUDIENCE, algorithms: ALGORITHMS, clockTolerance: this.c.AUTH_CLOCK_SKEW_S, requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      throw new AuthError(`invalid token: ${(err as Error).message}`);
    }
    const claimed = payload[this.c.AUTH_ROLES_CLAIM];
    const roles = (Array.isArray(claimed) ? claimed : [claimed]).filter((r): r is Role => ROLES.includes(r as Role));
    if (roles.length === 0) throw new AuthError(`invalid token: claim "${this.c.AUTH_ROLES_CLAIM}" names none of the roles ${ROLES.join(', ')}`);
    return { subject: String(payload.sub), roles };
  }
}

function localKeys(path: string): JWTVerifyGetKey {
  try {
    return createLocalJWKSet(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new ConfigError([`AUTH_JWKS_FILE ${path} is not a readable JWKS: ${(err as Error).message}`]);
  }
}
