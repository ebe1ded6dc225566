// `npm run certs [-- <dir>]`: a local CA and a certificate for each process,
// for TLS and mTLS between the edge (or Envoy) and the services. Written to
// <dir> (default .data/certs, git-ignored): ca.pem, and <name>.pem with
// <name>-key.pem for each name below. Every certificate is good for server
// and client use, and names its service (the docker-compose host name),
// localhost, 127.0.0.1 and ::1. An existing CA is kept, so certificates
// issued before stay valid; the leaf certificates are issued afresh.
//
// openssl does the signing (node's crypto cannot issue X.509). These are
// development certificates: the keys are world-readable so a container user
// can read them from a bind mount. Production issues its own.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const NAMES = ['command-svc', 'query-svc', 'projector-svc', 'edge', 'envoy', 'client'];
const DAYS = '825';

const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });

export function generateCerts(dir) {
  mkdirSync(dir, { recursive: true });
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  if (!existsSync(ca) || !existsSync(caKey)) {
    openssl('req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-keyout', caKey, '-out', ca, '-days', DAYS, '-subj', '/CN=cqrs-mesh local CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  }
  for (const name of NAMES) {
    const key = join(dir, `${name}-key.pem`);
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=DNS:${name},DNS:localhost,IP:127.0.0.1,IP:::1`,
      '',
    ].join('\n'));
    openssl('req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', join(dir, `${name}.pem`), '-days', DAYS, '-extfile', ext);
    rmSync(csr);
    rmSync(ext);
    chmodSync(key, 0o644);
  }
  rmSync(join(dir, 'ca.srl'), { force: true });
  return { dir, ca, names: NAMES };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = resolve(process.argv[2] ?? join(import.meta.dirname ?? '.', '..', '.data', 'certs'));
  try {
    generateCerts(dir);
  } catch (err) {
    const stderr = err.stderr?.toString().trim();
    console.error(`certs: ${err.code === 'ENOENT' ? 'openssl is not on PATH (apt-get install openssl)' : err.message}${stderr ? `\n${stderr}` : ''}`);
    process.exit(1);
  }
  console.log(`certs: CA and certificates for ${NAMES.join(', ')} in ${dir}`);
  console.log(`certs: e.g. TLS_CERT_FILE=${join(dir, 'command-svc.pem')} TLS_KEY_FILE=${join(dir, 'command-svc-key.pem')} TLS_CA_FILE=${join(dir, 'ca.pem')}`);
}
