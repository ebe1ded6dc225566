// `npm run auth-keys`: the local signing key docker-compose's auth uses
// (made once in AUTH_KEYS_DIR, default .data/auth), and a customer and a
// staff token to try it with. Production gets its tokens from an OIDC
// provider instead (README "Security").
import { join } from 'node:path';
import { localAuth } from '../kit/auth-keys';
import { readConfig, str } from '../lib/config';
import { repoRoot } from '../lib/paths';

async function main(): Promise<void> {
  const { AUTH_KEYS_DIR } = readConfig({ AUTH_KEYS_DIR: str(join(repoRoot, '.data', 'auth')) });
  const auth = await localAuth(AUTH_KEYS_DIR);
  process.stdout.write(
    [
      `JWKS (public key, mounted by docker-compose): ${auth.jwksFile}`,
      `issuer ${auth.issuer}, audience ${auth.audience}; tokens valid 12 h:`,
      `CUSTOMER_TOKEN=${await auth.mint('123', ['customer'])}`,
      `STAFF_TOKEN=${await auth.mint('staff', ['staff'])}`,
      '',
    ].join('\n'),
  );
}

main().catch((err: Error) => {
  process.stderr.write(`auth-keys: ${err.message}\n`);
  process.exit(1);
});
