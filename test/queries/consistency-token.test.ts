// The consistency token as a value: what a command encodes a query decodes
// exactly, and anything cut, changed or made up is a ValidationError naming
// consistency_token (INVALID_ARGUMENT at the gRPC boundary).
import { createHash } from 'node:crypto';
import { ValidationError } from '../../domain/errors';
import { decodeConsistencyToken, encodeConsistencyToken } from '../../lib/consistency-token';
import { consistencyOf, DEFAULT_WAIT_MS, MAX_WAIT_MS } from '../../query-svc/read-your-writes';

const ORDER = 'order-0b7f5a0e-8a39-4c1f-9d7e-2f1f3a4b5c6d';

function refusal(token: string): string[] {
  try {
    decodeConsistencyToken(token);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).violations.map((v) => v.field);
  }
  throw new Error(`token ${token} was accepted`);
}

/** A token laid out by hand, with a correct checksum, so only its content can be wrong. */
function handmade(body: number[]): string {
  const b = Buffer.from(body);
  const sum = createHash('sha256').update('cqrs-consistency-token').update(b).digest().subarray(0, 4);
  return Buffer.concat([b, sum]).toString('base64url');
}

test('round trip: orders and products, several positions, versions up to 2^31-1', () => {
  const positions = [
    { streamId: ORDER, version: 1 },
    { streamId: 'product-456', version: 7 },
    { streamId: 'order-FFFFFFFF-8A39-4C1F-9D7E-2F1F3A4B5C6D', version: 2 ** 31 - 1 },
  ];
  const token = encodeConsistencyToken(positions);
  expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
  expect(decodeConsistencyToken(token)).toEqual(positions);
});

test('every single changed byte is refused (the checksum catches it)', () => {
  const bytes = Buffer.from(encodeConsistencyToken([{ streamId: ORDER, version: 3 }]), 'base64url');
  for (let i = 0; i < bytes.length; i++) {
    for (const flip of [0x01, 0x80]) {
      const forged = Buffer.from(bytes);
      forged[i] ^= flip;
      expect(refusal(forged.toString('base64url'))).toEqual(['consistency_token']);
    }
  }
});

test('cut, padded, not base64url, too long: refused', () => {
  const token = encodeConsistencyToken([{ streamId: 'product-9', version: 2 }]);
  for (const bad of [token.slice(0, -1), token.slice(0, 4), `${token}A`, `${token}=`, 'not a token!', 'a+b/c', 'x'.repeat(2_000), '%%%']) {
    expect(refusal(bad)).toEqual(['consistency_token']);
  }
});

test('well-formed with a good checksum but impossible content: refused', () => {
  const id = [...Buffer.from('0b7f5a0e-8a39-4c1f-9d7e-2f1f3a4b5c6d')];
  const v1 = [0, 0, 0, 1];
  const cases: Array<[string, number[]]> = [
    ['unknown format', [2, 1, 1, 36, ...id, ...v1]],
    ['no positions', [1, 0]],
    ['unknown stream kind', [1, 1, 9, 0, 0, 0, 1, ...v1]],
    ['version 0', [1, 1, 1, 36, ...id, 0, 0, 0, 0]],
    ['version past int32', [1, 1, 2, 0, 0, 0, 5, 0x80, 0, 0, 0]],
    ['product 0', [1, 1, 2, 0, 0, 0, 0, ...v1]],
    ['order id not a UUID', [1, 1, 1, 3, 97, 98, 99, ...v1]],
    ['fewer positions than counted', [1, 2, 2, 0, 0, 0, 5, ...v1]],
    ['trailing bytes', [1, 1, 2, 0, 0, 0, 5, ...v1, 0]],
  ];
  for (const [why, body] of cases) {
    expect({ why, fields: refusal(handmade(body)) }).toEqual({ why, fields: ['consistency_token'] });
  }
  // The same layout is accepted when its content is possible.
  expect(decodeConsistencyToken(handmade([1, 1, 2, 0, 0, 0, 5, ...v1]))).toEqual([{ streamId: 'product-5', version: 1 }]);
});

test('the wait: 0 is the default, negative or past the maximum is refused naming consistency_wait_ms', () => {
  const consistencyToken = encodeConsistencyToken([{ streamId: ORDER, version: 1 }]);
  expect(consistencyOf({ consistencyToken, consistencyWaitMs: 0 })?.waitMs).toBe(DEFAULT_WAIT_MS);
  expect(consistencyOf({ consistencyToken, consistencyWaitMs: MAX_WAIT_MS })?.waitMs).toBe(MAX_WAIT_MS);
  expect(consistencyOf({ consistencyToken: '', consistencyWaitMs: 0 })).toBeUndefined();
  for (const bad of [-1, MAX_WAIT_MS + 1]) {
    let fields: string[] = [];
    try {
      consistencyOf({ consistencyToken, consistencyWaitMs: bad });
    } catch (err) {
      fields = (err as ValidationError).violations.map((v) => v.field);
    }
    expect(fields).toEqual(['consistency_wait_ms']);
  }
  // Both wrong: both named at once.
  try {
    consistencyOf({ consistencyToken: 'nope', consistencyWaitMs: -5 });
    throw new Error('accepted');
  } catch (err) {
    expect((err as ValidationError).violations.map((v) => v.field).sort()).toEqual(['consistency_token', 'consistency_wait_ms']);
  }
});
