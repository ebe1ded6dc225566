import { compareSpecificity, matchTemplate, parseTemplate, TemplateError } from '../../edge/path-template';
import { RouteTable, type Route } from '../../edge/routes';

const parts = (path: string) => path.split('/').slice(1);

describe('parseTemplate', () => {
  it('parses literals, {var} as {var=*}, nested field paths and verbs', () => {
    const t = parseTemplate('/v1/users/{user.id}/orders:cancel');
    expect(t.segments).toEqual([{ kind: 'literal', value: 'v1' }, { kind: 'literal', value: 'users' }, { kind: 'wildcard' }, { kind: 'literal', value: 'orders' }]);
    expect(t.variables).toEqual([{ fieldPath: ['user', 'id'], start: 2, end: 3 }]);
    expect(t.verb).toBe('cancel');
  });

  it('parses multi-segment variables and "**"', () => {
    expect(parseTemplate('/v1/{name=shelves/*/books/*}').variables).toEqual([{ fieldPath: ['name'], start: 1, end: 5 }]);
    expect(parseTemplate('/v1/{path=**}').variables).toEqual([{ fieldPath: ['path'], start: 1, end: -1 }]);
  });

  it('keeps a colon inside a non-final segment as part of the literal', () => {
    const t = parseTemplate('/a:b/c');
    expect(t.verb).toBeUndefined();
    expect(t.segments[0]).toEqual({ kind: 'literal', value: 'a:b' });
  });

  it.each([
    ['no leading slash', 'v1/x'],
    ['"**" not last', '/v1/**/x'],
    ['nested variables', '/v1/{a={b}}'],
    ['unclosed variable', '/v1/{a=*'],
    ['empty segment', '/v1//x'],
    ['trailing slash', '/v1/'],
    ['same variable twice', '/{a}/{a}'],
    ['bad field path', '/{1a}'],
  ])('rejects %s', (_what, source) => {
    expect(() => parseTemplate(source)).toThrow(TemplateError);
  });
});

describe('matchTemplate', () => {
  it('binds single-segment variables fully decoded', () => {
    const t = parseTemplate('/users/{user_id}/orders');
    expect(matchTemplate(t, parts('/users/12%203/orders'), undefined, 'ALL_CHARACTERS_EXCEPT_RESERVED')).toEqual([{ fieldPath: ['user_id'], value: '12 3' }]);
    expect(matchTemplate(t, parts('/users/a%2Fb/orders'), undefined, 'ALL_CHARACTERS_EXCEPT_RESERVED')).toEqual([{ fieldPath: ['user_id'], value: 'a/b' }]);
    expect(matchTemplate(t, parts('/users/1/2/orders'), undefined, 'ALL_CHARACTERS')).toBeUndefined();
  });

  it('joins multi-segment variables, keeping reserved escapes by default (url_unescape_spec)', () => {
    const t = parseTemplate('/v1/{name=shelves/*/books/*}');
    const path = parts('/v1/shelves/s%2F1/books/b%201');
    expect(matchTemplate(t, path, undefined, 'ALL_CHARACTERS_EXCEPT_RESERVED')?.[0].value).toBe('shelves/s%2F1/books/b 1');
    expect(matchTemplate(t, path, undefined, 'ALL_CHARACTERS')?.[0].value).toBe('shelves/s/1/books/b 1');
    expect(matchTemplate(t, parts('/v1/shelves/s1/books'), undefined, 'ALL_CHARACTERS')).toBeUndefined();
  });

  it('lets "**" take zero or more segments', () => {
    const t = parseTemplate('/files/{path=**}');
    expect(matchTemplate(t, parts('/files/a/b/c.txt'), undefined, 'ALL_CHARACTERS')?.[0].value).toBe('a/b/c.txt');
    expect(matchTemplate(t, ['files'], undefined, 'ALL_CHARACTERS')?.[0].value).toBe('');
    expect(matchTemplate(t, ['other', 'a'], undefined, 'ALL_CHARACTERS')).toBeUndefined();
  });

  it('matches a verb only against the same verb', () => {
    const t = parseTemplate('/books/{name}:publish');
    expect(matchTemplate(t, ['books', 'b1'], 'publish', 'ALL_CHARACTERS')).toEqual([{ fieldPath: ['name'], value: 'b1' }]);
    expect(matchTemplate(t, ['books', 'b1'], undefined, 'ALL_CHARACTERS')).toBeUndefined();
    expect(matchTemplate(parseTemplate('/books/{name}'), ['books', 'b1'], 'publish', 'ALL_CHARACTERS')).toBeUndefined();
  });
});

describe('precedence', () => {
  it('ranks literal over "*" over "**", left to right', () => {
    const order = ['/a/{x=**}', '/a/{x}/c', '/a/b/{y}', '/a/b/c'].map(parseTemplate).sort(compareSpecificity);
    expect(order.map((t) => t.source)).toEqual(['/a/b/c', '/a/b/{y}', '/a/{x}/c', '/a/{x=**}']);
  });
});

describe('RouteTable', () => {
  const route = (httpMethod: string, pattern: string, name: string) =>
    ({ rpc: { grpcPath: name }, binding: { httpMethod, pattern, body: '', responseBody: '' } }) as unknown as Route;
  const table = (routes: Route[], matchUnregisteredCustomVerb = false) =>
    new RouteTable(
      routes.map((r) => ({ ...r, template: parseTemplate(r.binding.pattern) })),
      { urlUnescapeSpec: 'ALL_CHARACTERS_EXCEPT_RESERVED', matchUnregisteredCustomVerb },
    );
  const hit = (t: RouteTable, method: string, path: string) => t.lookup(method, path)?.route.rpc.grpcPath;

  const routes = [
    route('GET', '/cqrs/queries/orders/{order_id}', 'GetOrder'),
    route('GET', '/cqrs/queries/orders/statistics', 'Stats'),
    route('GET', '/cqrs/files/{path=**}', 'Files'),
    route('GET', '/cqrs/files/{dir}/index', 'Index'),
    route('POST', '/cqrs/orders/{id}:cancel', 'Cancel'),
    route('POST', '/cqrs/orders/{id}', 'Post'),
  ];

  it('prefers the literal route whatever the declaration order', () => {
    expect(hit(table(routes), 'GET', '/cqrs/queries/orders/statistics')).toBe('Stats');
    expect(hit(table([...routes].reverse()), 'GET', '/cqrs/queries/orders/statistics')).toBe('Stats');
    expect(hit(table(routes), 'GET', '/cqrs/queries/orders/o-1')).toBe('GetOrder');
  });

  it('prefers "*" over "**" and falls back to "**"', () => {
    expect(hit(table(routes), 'GET', '/cqrs/files/docs/index')).toBe('Index');
    expect(hit(table(routes), 'GET', '/cqrs/files/docs/a/index')).toBe('Files');
  });

  it('splits registered verbs only, unless match_unregistered_custom_verb', () => {
    expect(hit(table(routes), 'POST', '/cqrs/orders/o1:cancel')).toBe('Cancel');
    const other = table(routes).lookup('POST', '/cqrs/orders/o1:refund');
    expect(other?.route.rpc.grpcPath).toBe('Post');
    expect(other?.bindings[0].value).toBe('o1:refund');
    expect(hit(table(routes, true), 'POST', '/cqrs/orders/o1:refund')).toBeUndefined();
  });

  it('matches the HTTP method and ignores trailing slashes', () => {
    expect(hit(table(routes), 'POST', '/cqrs/queries/orders/o-1')).toBeUndefined();
    expect(table(routes).hasPath('/cqrs/queries/orders/o-1')).toBe(true);
    expect(hit(table(routes), 'GET', '/cqrs/queries/orders/o-1/')).toBe('GetOrder');
    expect(hit(table(routes), 'GET', '/nothing')).toBeUndefined();
  });
});
