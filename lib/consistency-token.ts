// The consistency token a command answers with and a query accepts: where
// the command's events reached (stream and version), opaque to clients.
// base64url of a small versioned binary with a checksum. The checksum is no
// signature (nothing here is secret: a client may read its own positions);
// it catches a token that was cut, mistyped or made up, which is then
// INVALID_ARGUMENT rather than a wait for a version that will never come.
import { createHash } from 'node:crypto';
import { Violations } from '../domain/errors';
import { orderStream, parseStream, productStream } from '../domain/events';
import { UUID } from '../domain/validation';

export interface StreamPosition {
  streamId: string;
  version: number;
}

export const TOKEN_FIELD = 'consistency_token';
const FORMAT = 1;
const ORDER = 1;
const PRODUCT = 2;
const MAX_POSITIONS = 16;
const MAX_TOKEN_CHARS = 1024;
const CHECKSUM_BYTES = 4;
const MAX_INT32 = 2 ** 31 - 1;

export function encodeConsistencyToken(positions: StreamPosition[]): string {
  const parts: Buffer[] = [Buffer.from([FORMAT, positions.length])];
  for (const p of positions) {
    const ref = parseStream(p.streamId);
    if (!ref) throw new Error(`no token for stream ${p.streamId}`);
    if (ref.kind === 'order') {
      const id = Buffer.from(ref.id, 'ascii');
      parts.push(Buffer.from([ORDER, id.length]), id);
    } else {
      parts.push(Buffer.from([PRODUCT]), uint32(ref.id));
    }
    parts.push(uint32(p.version));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, checksum(body)]).toString('base64url');
}

/** The positions a token names; a ValidationError naming consistency_token for anything else. */
export function decodeConsistencyToken(token: string): StreamPosition[] {
  const bad = (why: string): never => {
    new Violations().add(TOKEN_FIELD, why).throwIfAny();
    throw new Error('unreachable');
  };
  if (token.length > MAX_TOKEN_CHARS) bad(`is longer than ${MAX_TOKEN_CHARS} characters`);
  const bytes = Buffer.from(token, 'base64url');
  if (!/^[A-Za-z0-9_-]+$/.test(token) || bytes.toString('base64url') !== token) bad('is not a consistency token (not base64url)');
  if (bytes.length < 2 + CHECKSUM_BYTES) bad('is not a consistency token (too short)');
  const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
  if (!checksum(body).equals(bytes.subarray(body.length))) bad('is not a consistency token (checksum does not match)');
  if (body[0] !== FORMAT) bad(`has an unknown format (${body[0]})`);
  const count = body[1];
  if (count < 1 || count > MAX_POSITIONS) bad(`names ${count} positions (1 to ${MAX_POSITIONS} allowed)`);
  const positions: StreamPosition[] = [];
  let at = 2;
  const need = (n: number) => (at + n <= body.length ? at : bad('is cut short'));
  for (let i = 0; i < count; i++) {
    const kind = body[need(1)];
    at += 1;
    let streamId: string;
    if (kind === ORDER) {
      const len = body[need(1)];
      at += 1;
      const id = body.subarray(need(len), at + len).toString('latin1');
      at += len;
      if (!UUID.test(id)) bad('names an order id that is not a UUID');
      streamId = orderStream(id);
    } else if (kind === PRODUCT) {
      const id = body.readUInt32BE(need(4));
      at += 4;
      if (id < 1 || id > MAX_INT32) bad('names an impossible product id');
      streamId = productStream(id);
    } else {
      return bad(`names a stream of unknown kind (${kind})`);
    }
    const version = body.readUInt32BE(need(4));
    at += 4;
    if (version < 1 || version > MAX_INT32) bad('names an impossible version');
    positions.push({ streamId, version });
  }
  if (at !== body.length) bad('has trailing bytes');
  return positions;
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

const checksum = (body: Buffer) => createHash('sha256').update('cqrs-consistency-token').update(body).digest().subarray(0, CHECKSUM_BYTES);
