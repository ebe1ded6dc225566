// A local signing key and the tokens it signs: what `npm start` with AUTH=on
// and the tests use in place of an OIDC provider. The public half is written
// as a JWKS file, the form every provider publishes, so the services verify
// these tokens exactly as they would a provider's.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import type { Role } from '../lib/auth';

export const LOCAL_ISSUER = 'https://auth.cqrs-mesh.local';
export const LOCAL_AUDIENCE = 'cqrs-mesh';

export interface MintOptions {
  ttlSeconds?: number;
  /** Seconds from now before which the token is not valid. */
  notBeforeSeconds?: number;
  issuer?: string;
  audience?: string;
}

export interface LocalAuth {
  jwksFile: string;
  issuer: string;
  audience: string;
  /** The settings a service needs to verify these tokens. */
  env: NodeJS.ProcessEnv;
  mint(subject: string, roles: Role[], o?: MintOptions): Promise<string>;
}

/** The key kept in `dir` (made on first use, ES256), and a minter of tokens it signs. */
export async function localAuth(dir: string): Promise<LocalAuth> {
  const privateFile = join(dir, 'signing-key.jwk.json');
  // The public half apart, so a deployment can mount it without the private key.
  const jwksFile = join(dir, 'public', 'jwks.json');
  if (!existsSync(privateFile)) {
    mkdirSync(join(dir, 'public'), { recursive: true });
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = `local-${Date.now().toString(36)}`;
    writeFileSync(privateFile, JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'ES256' }), { mode: 0o600 });
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] }));
  }
  const jwk = JSON.parse(readFileSync(privateFile, 'utf8')) as JWK;
  const key = await importJWK(jwk, 'ES256');
  return {
    jwksFile,
    issuer: LOCAL_ISSUER,
    audience: LOCAL_AUDIENCE,
    env: { AUTH: 'on', AUTH_JWKS_FILE: jwksFile, AUTH_ISSUER: LOCAL_ISSUER, AUTH_AUDIENCE: LOCAL_AUDIENCE },
    mint: (subject, roles, o = {}) => {
      const now = Math.floor(Date.now() / 1_000);
      const jwt = new SignJWT({ roles })
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
        .setSubject(subject)
        .setIssuer(o.issuer ?? LOCAL_ISSUER)
        .setAudience(o.audience ?? LOCAL_AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + (o.ttlSeconds ?? 12 * 3600));
      if (o.notBeforeSeconds !== undefined) jwt.setNotBefore(now + o.notBeforeSeconds);
      return jwt.sign(key);
    },
  };
}
