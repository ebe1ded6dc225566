import { ENVOY_CONNECTION_MANAGER_DEFAULTS, type ConnectionManagerOptions } from '../../edge/envoy-options';
import { decidePath, mergeSlashes, normalizePathRfc3986, removeDotSegments, screenHeaders, unescapeSlashes } from '../../edge/normalize';

// envoy/envoy.yaml's connection manager.
const mesh: ConnectionManagerOptions = { normalizePath: true, mergeSlashes: true, escapedSlashesAction: 'REJECT_REQUEST', underscoreHeadersAction: 'REJECT_REQUEST' };

describe('normalizePathRfc3986 (normalize_path)', () => {
  it.each([
    ['/cqrs/queries/./health', '/cqrs/queries/health'],
    ['/a/b/../c', '/a/c'],
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['/..', '/'],
    ['/../../a', '/a'],
    ['/a/./././b', '/a/b'],
    ['/a/..b/.../c.', '/a/..b/.../c.'],
  ])('removes dot segments: %s -> %s', (input, output) => {
    expect(normalizePathRfc3986(input)).toBe(output);
  });

  it('treats %2e as a dot, so encoded dot segments are removed too', () => {
    expect(normalizePathRfc3986('/a/b/%2e%2E/c')).toBe('/a/c');
    expect(normalizePathRfc3986('/a/.%2e/c')).toBe('/c');
    expect(normalizePathRfc3986('/a/%2e/c')).toBe('/a/c');
    expect(normalizePathRfc3986('/a%2eb')).toBe('/a.b');
  });

  it('decodes percent-encoded unreserved characters only, keeping other escapes byte for byte', () => {
    expect(normalizePathRfc3986('/%7Euser/%41%62%63-%5F%2D%30')).toBe('/~user/Abc-_-0');
    expect(normalizePathRfc3986('/a%2Fb%2fc%5Cd%20e%3a%3A%25')).toBe('/a%2Fb%2fc%5Cd%20e%3a%3A%25');
    expect(normalizePathRfc3986('/caf%C3%A9')).toBe('/caf%C3%A9');
  });

  it('does not take an escaped slash for a separator', () => {
    expect(normalizePathRfc3986('/a/..%2Fb')).toBe('/a/..%2Fb');
  });

  it('turns a backslash into a slash (also around dot segments)', () => {
    expect(normalizePathRfc3986('/a\\b')).toBe('/a/b');
    expect(normalizePathRfc3986('/a\\..\\b')).toBe('/b');
  });

  it('percent-encodes characters that may not appear raw', () => {
    expect(normalizePathRfc3986('/a b"<>^`{|}#')).toBe('/a%20b%22%3C%3E%5E%60%7B%7C%7D%23');
    expect(normalizePathRfc3986('/x\x7f\x01')).toBe('/x%7F%01');
    expect(normalizePathRfc3986('/é')).toBe('/%C3%A9');
  });

  it("keeps a '%' that starts no escape, unless decoding would make one", () => {
    expect(normalizePathRfc3986('/100%')).toBe('/100%');
    expect(normalizePathRfc3986('/%zz/%4')).toBe('/%zz/%4');
    expect(normalizePathRfc3986('/%%34%31')).toBe('/%2541');
    expect(normalizePathRfc3986('/%4%31')).toBe('/%2541');
  });

  it('refuses a NUL, raw or escaped (Envoy answers 400)', () => {
    expect(normalizePathRfc3986('/a/%00')).toBeUndefined();
    expect(normalizePathRfc3986('/a/\0')).toBeUndefined();
  });

  it('keeps empty segments (merging them is merge_slashes) and leaves pchars alone', () => {
    expect(normalizePathRfc3986('//a//b/')).toBe('//a//b/');
    expect(normalizePathRfc3986('/a//../b')).toBe('/a/b');
    expect(normalizePathRfc3986("/v1/books/b3:publish;v=1@x!$&'()*+,=[]")).toBe("/v1/books/b3:publish;v=1@x!$&'()*+,=[]");
  });

  it('only takes absolute paths', () => {
    expect(normalizePathRfc3986('a/b')).toBeUndefined();
    expect(removeDotSegments('/')).toBe('/');
  });
});

describe('mergeSlashes (merge_slashes)', () => {
  it('collapses runs of slashes, keeping leading and trailing ones single', () => {
    expect(mergeSlashes('//cqrs//queries///health')).toBe('/cqrs/queries/health');
    expect(mergeSlashes('/a/b//')).toBe('/a/b/');
    expect(mergeSlashes('/a/b')).toBe('/a/b');
  });

  it('does not count escaped slashes', () => {
    expect(mergeSlashes('/a%2F%2Fb')).toBe('/a%2F%2Fb');
  });
});

describe('unescapeSlashes', () => {
  it('decodes %2F and %5C in either case and says it did', () => {
    expect(unescapeSlashes('/a%2Fb%2fc%5Cd%5ce')).toEqual({ path: '/a/b/c\\d\\e', found: true });
  });

  it('leaves everything else, double escapes included', () => {
    expect(unescapeSlashes('/a%252Fb%20c/d')).toEqual({ path: '/a%252Fb%20c/d', found: false });
  });
});

describe('decidePath (the connection manager path rules in order)', () => {
  it("changes nothing with Envoy's defaults", () => {
    expect(decidePath('/a/./b//c%2F..', undefined, ENVOY_CONNECTION_MANAGER_DEFAULTS)).toEqual({ kind: 'forward', path: '/a/./b//c%2F..' });
  });

  it('normalizes and merges slashes with the mesh settings', () => {
    expect(decidePath('/cqrs/queries/./health', undefined, mesh)).toEqual({ kind: 'forward', path: '/cqrs/queries/health' });
    expect(decidePath('//cqrs//queries/health', undefined, mesh)).toEqual({ kind: 'forward', path: '/cqrs/queries/health' });
    expect(decidePath('/cqrs/queries/users/%31/../2/orders', undefined, mesh)).toEqual({ kind: 'forward', path: '/cqrs/queries/users/2/orders' });
    // Merging comes after normalization: "//.." removes the empty segment, then nothing is left to merge.
    expect(decidePath('/a//../b', undefined, mesh)).toEqual({ kind: 'forward', path: '/a/b' });
    expect(decidePath('/a/.//b', undefined, mesh)).toEqual({ kind: 'forward', path: '/a/b' });
  });

  it('normalize_path alone, merge_slashes alone', () => {
    expect(decidePath('//a/./b', undefined, { ...ENVOY_CONNECTION_MANAGER_DEFAULTS, normalizePath: true })).toEqual({ kind: 'forward', path: '//a/b' });
    expect(decidePath('//a/./b', undefined, { ...ENVOY_CONNECTION_MANAGER_DEFAULTS, mergeSlashes: true })).toEqual({ kind: 'forward', path: '/a/./b' });
  });

  it('REJECT_REQUEST refuses %2F and %5C before normalization', () => {
    expect(decidePath('/cqrs/queries/users/1%2F2/orders', undefined, mesh)).toMatchObject({ kind: 'reject', reason: expect.stringMatching(/escaped slash.*REJECT_REQUEST/) });
    expect(decidePath('/a%5cb', undefined, mesh).kind).toBe('reject');
    expect(decidePath('/a/b/..%2F', undefined, mesh).kind).toBe('reject');
    // ... but not a double-escaped one.
    expect(decidePath('/a%252Fb', undefined, mesh)).toEqual({ kind: 'forward', path: '/a%252Fb' });
  });

  it('KEEP_UNCHANGED leaves escaped slashes to the transcoder', () => {
    expect(decidePath('/a/%2e%2e%2Fb', undefined, { ...mesh, escapedSlashesAction: 'KEEP_UNCHANGED' })).toEqual({ kind: 'forward', path: '/a/..%2Fb' });
  });

  it('UNESCAPE_AND_FORWARD decodes them first, so normalization and merging see real slashes', () => {
    const forward: ConnectionManagerOptions = { ...mesh, escapedSlashesAction: 'UNESCAPE_AND_FORWARD' };
    expect(decidePath('/a%2Fb', undefined, forward)).toEqual({ kind: 'forward', path: '/a/b' });
    expect(decidePath('/a%5C..%5Cb', undefined, forward)).toEqual({ kind: 'forward', path: '/b' });
    expect(decidePath('/a%2F%2Fb', undefined, forward)).toEqual({ kind: 'forward', path: '/a/b' });
    // Without normalize_path a decoded backslash stays a backslash.
    expect(decidePath('/a%5Cb', undefined, { ...ENVOY_CONNECTION_MANAGER_DEFAULTS, escapedSlashesAction: 'UNESCAPE_AND_FORWARD' })).toEqual({ kind: 'forward', path: '/a\\b' });
  });

  it('UNESCAPE_AND_REDIRECT redirects to the final path with the query, only when it unescaped something', () => {
    const redirect: ConnectionManagerOptions = { ...mesh, escapedSlashesAction: 'UNESCAPE_AND_REDIRECT' };
    expect(decidePath('/a%2F%2Fb/./c', 'x=%2F&y', redirect)).toEqual({ kind: 'redirect', location: '/a/b/c?x=%2F&y' });
    expect(decidePath('/a%2Fb', undefined, redirect)).toEqual({ kind: 'redirect', location: '/a/b' });
    expect(decidePath('/a%2Fb', '', redirect)).toEqual({ kind: 'redirect', location: '/a/b?' });
    expect(decidePath('/a/./b', 'x=1', redirect)).toEqual({ kind: 'forward', path: '/a/b' });
    // gRPC clients do not follow redirects: Envoy refuses instead.
    expect(decidePath('/a%2Fb', undefined, redirect, true).kind).toBe('reject');
  });

  it('refuses a path normalize_path cannot handle', () => {
    expect(decidePath('/a/%00', undefined, mesh)).toEqual({ kind: 'reject', reason: expect.stringMatching(/normalize_path/) });
    expect(decidePath('/a/%00', undefined, ENVOY_CONNECTION_MANAGER_DEFAULTS).kind).toBe('forward');
  });

  it('leaves a target that is not an absolute path to routing (no route: 404)', () => {
    expect(decidePath('http://host/a/./b', undefined, mesh)).toEqual({ kind: 'forward', path: 'http://host/a/./b' });
    expect(decidePath('*', undefined, mesh)).toEqual({ kind: 'forward', path: '*' });
  });
});

describe('screenHeaders (headers_with_underscores_action)', () => {
  const headers = { host: 'h', x_custom: '1', 'x-request-id': 'r', another_one: ['a', 'b'] };

  it('ALLOW passes every header', () => {
    expect(screenHeaders(headers, 'ALLOW')).toEqual({ headers, dropped: [] });
  });

  it('REJECT_REQUEST names the first underscored header', () => {
    expect(screenHeaders(headers, 'REJECT_REQUEST')).toEqual({ headers, rejected: 'x_custom', dropped: [] });
    expect(screenHeaders({ host: 'h', 'x-custom': '1' }, 'REJECT_REQUEST').rejected).toBeUndefined();
  });

  it('DROP_HEADER removes them and lists what it removed', () => {
    expect(screenHeaders(headers, 'DROP_HEADER')).toEqual({ headers: { host: 'h', 'x-request-id': 'r' }, dropped: ['x_custom', 'another_one'] });
  });
});
