// TLS for gRPC, off unless configured. Every process reads the same settings,
// once, at start-up:
//
//   TLS_CERT_FILE, TLS_KEY_FILE  this process's certificate and key (PEM). A
//                                server serves TLS when both are set; a client
//                                presents them as its client certificate.
//   TLS_CA_FILE                  the CA (PEM) a client verifies servers with,
//                                and a server verifies client certificates
//                                with. A client speaks TLS when it is set.
//   TLS_CLIENT_AUTH=true         servers require a client certificate signed
//                                by TLS_CA_FILE (mTLS).
//
// A bad combination or an unreadable file stops start-up naming the setting.
import { readFileSync } from 'node:fs';
import { ChannelCredentials, credentials, ServerCredentials } from '@grpc/grpc-js';
import { bool, ConfigError, readConfig, str } from './config';

export interface TlsSettings {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  clientAuth: boolean;
}

export const tlsSpec = {
  TLS_CERT_FILE: str(''),
  TLS_KEY_FILE: str(''),
  TLS_CA_FILE: str(''),
  TLS_CLIENT_AUTH: bool(false),
};

/** The TLS settings of `env`, files read and checked; throws ConfigError naming each bad setting. */
export function readTls(env: NodeJS.ProcessEnv = process.env): TlsSettings {
  const c = readConfig(tlsSpec, env);
  const problems: string[] = [];
  const pem = (name: keyof typeof tlsSpec, path: string, marker: RegExp): Buffer | undefined => {
    if (!path) return undefined;
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      problems.push(`${name} cannot be read: ${(err as Error).message}`);
      return undefined;
    }
    if (!marker.test(data.toString('latin1'))) problems.push(`${name} is not a PEM file of the right kind (${path})`);
    return data;
  };
  const cert = pem('TLS_CERT_FILE', c.TLS_CERT_FILE, /-----BEGIN CERTIFICATE-----/);
  const key = pem('TLS_KEY_FILE', c.TLS_KEY_FILE, /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  const ca = pem('TLS_CA_FILE', c.TLS_CA_FILE, /-----BEGIN CERTIFICATE-----/);
  if (c.TLS_CERT_FILE && !c.TLS_KEY_FILE) problems.push('TLS_KEY_FILE is required with TLS_CERT_FILE');
  if (c.TLS_KEY_FILE && !c.TLS_CERT_FILE) problems.push('TLS_CERT_FILE is required with TLS_KEY_FILE');
  if (c.TLS_CLIENT_AUTH && !c.TLS_CA_FILE) problems.push('TLS_CA_FILE is required with TLS_CLIENT_AUTH=true (the CA client certificates are checked against)');
  if (c.TLS_CLIENT_AUTH && !c.TLS_CERT_FILE) problems.push('TLS_CERT_FILE and TLS_KEY_FILE are required with TLS_CLIENT_AUTH=true');
  if (problems.length) throw new ConfigError(problems);
  return { cert, key, ca, clientAuth: c.TLS_CLIENT_AUTH };
}

let processTls: TlsSettings | undefined;

/** This process's settings, read on first use (start-up) and kept. */
export function tlsOfProcess(): TlsSettings {
  return (processTls ??= readTls());
}

/** What a server binds with: TLS (and mTLS) when a certificate is configured, else plaintext. */
export function serverCredentials(tls: TlsSettings = tlsOfProcess()): ServerCredentials {
  if (!tls.cert || !tls.key) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(tls.clientAuth ? tls.ca! : null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.clientAuth);
}

/** What a client dials with: TLS verified against TLS_CA_FILE, with the client certificate when one is configured. */
export function channelCredentials(tls: TlsSettings = tlsOfProcess()): ChannelCredentials {
  if (!tls.ca) return credentials.createInsecure();
  return credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null);
}

/** For the start-up line: how this process's gRPC is secured. */
export function describeTls(tls: TlsSettings = tlsOfProcess()): { server: string; client: string } {
  return {
    server: !tls.cert ? 'plaintext' : tls.clientAuth ? 'mTLS (client certificates required)' : 'TLS',
    client: !tls.ca ? 'plaintext' : tls.cert ? 'TLS with client certificate' : 'TLS',
  };
}
