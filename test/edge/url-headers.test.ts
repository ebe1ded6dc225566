import { requestIdOf, requestMetadata } from '../../edge/headers';
import { parseQuery, percentDecode, splitTarget } from '../../edge/url';

describe('percentDecode', () => {
  it('decodes UTF-8 escapes and keeps a stray "%"', () => {
    expect(percentDecode('caf%C3%A9%20100%')).toBe('café 100%');
    expect(percentDecode('%zz')).toBe('%zz');
  });

  it('follows url_unescape_spec', () => {
    expect(percentDecode('%2f%23/%20%2523', 'ALL_CHARACTERS_EXCEPT_RESERVED')).toBe('%2f%23/ %23');
    expect(percentDecode('%2f%23/%20%2523', 'ALL_CHARACTERS_EXCEPT_SLASH')).toBe('%2f#/ %23');
    expect(percentDecode('%2f%23/%20%2523', 'ALL_CHARACTERS')).toBe('/#/ %23');
  });
});

describe('parseQuery', () => {
  it('keeps order and duplicates, skips parameters without a name or "="', () => {
    expect(parseQuery('a=1&ids=1&ids=2&flag&=x&b.c=%41', false)).toEqual([
      { name: 'a', value: '1' },
      { name: 'ids', value: '1' },
      { name: 'ids', value: '2' },
      { name: 'b.c', value: 'A' },
    ]);
  });

  it('splits a request target', () => {
    expect(splitTarget('/a/b?x=1?y')).toEqual({ path: '/a/b', query: 'x=1?y' });
    expect(splitTarget('/a')).toEqual({ path: '/a', query: '' });
  });
});

describe('request headers -> metadata', () => {
  it('passes end-to-end headers (Idempotency-Key) and drops hop-by-hop and message headers', () => {
    const md = requestMetadata(
      {
        'idempotency-key': 'k-1',
        authorization: 'Bearer t',
        connection: 'keep-alive, x-hop',
        'x-hop': 'secret',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        te: 'trailers',
        host: 'localhost:8000',
        'content-type': 'application/json',
        'content-length': '10',
        'grpc-timeout': '1S',
        'x-trace': ['a', 'b'],
        'x-info-bin': Buffer.from([1, 2]).toString('base64'),
      },
      'rid-1',
      '10.0.0.1',
    );
    expect(md.getMap()).toEqual({
      'idempotency-key': 'k-1',
      authorization: 'Bearer t',
      'x-trace': 'a',
      'x-info-bin': Buffer.from([1, 2]),
      'x-request-id': 'rid-1',
      'x-forwarded-for': '10.0.0.1',
    });
    expect(md.get('x-trace')).toEqual(['a', 'b']);
  });

  it('drops values gRPC metadata cannot carry instead of failing', () => {
    expect(requestMetadata({ 'x-name': 'héllo\u0001' }, 'r').get('x-name')).toEqual([]);
  });

  it('keeps a sane x-request-id and generates one otherwise', () => {
    expect(requestIdOf({ 'x-request-id': 'abc-123' })).toBe('abc-123');
    expect(requestIdOf({})).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdOf({ 'x-request-id': 'x'.repeat(500) })).not.toBe('x'.repeat(500));
  });
});
