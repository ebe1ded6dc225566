import { fromBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import { MESH_DEFAULTS, type PrintOptions } from '../../edge/envoy-options';
import type { LoadedDescriptor } from '../../edge/descriptor';
import type { RouteTable } from '../../edge/routes';
import { decodeResponse, encodeRequest, TranscodeError, type QueryOptions } from '../../edge/transcode';
import { parseQuery, splitTarget } from '../../edge/url';
import { CreateOrderRequest } from '../../gen/ts/cqrs/v1/command_service';
import { GetOrderResponse, ListUserOrdersRequest } from '../../gen/ts/cqrs/v1/query_service';
import { OrderStatus } from '../../gen/ts/cqrs/v1/common';
import { buildLibraryDescriptor, meshDescriptor, routeTable } from './helpers';

const strict: QueryOptions = { ignoreUnknownQueryParameters: false, ignoredQueryParameters: [] };

/** Transcodes one HTTP request through the route table; returns the request as proto3 JSON (proto names). */
function request(d: LoadedDescriptor, table: RouteTable, method: string, target: string, body?: string, options = strict): Record<string, unknown> {
  const { path, query } = splitTarget(target);
  const match = table.lookup(method, path);
  if (!match) throw new Error(`no route for ${method} ${target}`);
  const bytes = encodeRequest(match.route, { bindings: match.bindings, query: parseQuery(query, false), body: body === undefined ? undefined : Buffer.from(body) }, d.registry, options);
  const schema = match.route.rpc.method.input;
  return toJson(schema, fromBinary(schema, bytes), { useProtoFieldName: true, registry: d.registry }) as Record<string, unknown>;
}

function refusal(fn: () => unknown): TranscodeError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TranscodeError) return err;
    throw err;
  }
  throw new Error('expected a TranscodeError');
}

describe('cqrs.v1 requests', () => {
  const d = meshDescriptor();
  const table = routeTable(d);

  it('maps the seed body (body: "*") onto CreateOrderRequest, as ts-proto decodes it', () => {
    const { path } = splitTarget('/cqrs/commands/orders');
    const match = table.lookup('POST', path)!;
    const bytes = encodeRequest(match.route, { bindings: [], query: [], body: Buffer.from('{"user_id":123,"product_id":456,"quantity":2}') }, d.registry, strict);
    expect(CreateOrderRequest.decode(bytes)).toMatchObject({ userId: 123, productId: 456, quantity: 2 });
  });

  it('accepts JSON names as well as proto names in the body', () => {
    expect(request(d, table, 'POST', '/cqrs/commands/orders', '{"userId":7,"items":[{"productId":1,"quantity":3}]}')).toEqual({ user_id: 7, items: [{ product_id: 1, quantity: 3 }] });
  });

  it('treats an empty body as an empty message', () => {
    expect(request(d, table, 'POST', '/cqrs/commands/orders', '')).toEqual({});
  });

  it('converts path variables to the field type and maps query parameters, enums by name or number', () => {
    const { path, query } = splitTarget('/cqrs/queries/users/123/orders?status=PAID&page_size=5&pageToken=abc&consistency_token=tok-1&consistency_wait_ms=250');
    const match = table.lookup('GET', path)!;
    const bytes = encodeRequest(match.route, { bindings: match.bindings, query: parseQuery(query, false), body: undefined }, d.registry, strict);
    expect(ListUserOrdersRequest.decode(bytes)).toEqual({ userId: 123, status: OrderStatus.PAID, pageSize: 5, pageToken: 'abc', consistencyToken: 'tok-1', consistencyWaitMs: 250 });
    expect(request(d, table, 'GET', '/cqrs/queries/users/9/orders?status=4')).toEqual({ user_id: 9, status: 'PAID' });
  });

  it('merges path variables with a body, the body winning on conflict (Envoy default)', () => {
    expect(request(d, table, 'POST', '/cqrs/commands/orders/o-1/ship', '{"tracking_number":"T1"}')).toEqual({ order_id: 'o-1', tracking_number: 'T1' });
    expect(request(d, table, 'POST', '/cqrs/commands/orders/o-1/ship', '{"order_id":"o-2"}')).toEqual({ order_id: 'o-2' });
  });

  it('ignores body fields CreateOrderRequest does not define, at every depth, as Envoy does (ignore_unknown_fields)', () => {
    const ignored: string[] = [];
    const { path } = splitTarget('/cqrs/commands/orders');
    const match = table.lookup('POST', path)!;
    const body = '{"user_id":1,"colour":"red","items":[{"product_id":2,"quantity":3,"gift":{"wrap":true}}],"auth":[1,{"x":null}]}';
    const bytes = encodeRequest(match.route, { bindings: [], query: [], body: Buffer.from(body) }, d.registry, strict, ignored);
    const schema = match.route.rpc.method.input;
    expect(toJson(schema, fromBinary(schema, bytes), { useProtoFieldName: true })).toEqual({ user_id: 1, items: [{ product_id: 2, quantity: 3 }] });
    // Exactly the same bytes as the body without the unknown fields: nothing else changed.
    const clean = encodeRequest(match.route, { bindings: [], query: [], body: Buffer.from('{"user_id":1,"items":[{"product_id":2,"quantity":3}]}') }, d.registry, strict);
    expect(Buffer.from(bytes).equals(Buffer.from(clean))).toBe(true);
    expect(ignored).toEqual(['colour', 'items[0].gift', 'auth']);
  });

  it('still refuses an unknown enum name in the body (Envoy keeps ignore_unknown_enum_values off)', () => {
    const err = refusal(() => request(d, table, 'POST', '/cqrs/commands/payments', '{"order_id":"o","amount":1,"method":"BITCOIN","colour":"red"}'));
    expect(err.httpStatus).toBe(400);
    expect(err.message).toMatch(/method|BITCOIN/);
  });

  it.each([
    ['malformed JSON', 'POST', '/cqrs/commands/orders', '{"user_id":', /malformed JSON body/],
    ['a wrong type, naming the field', 'POST', '/cqrs/commands/orders', '{"user_id":"abc"}', /user_id/],
    ['a fractional int32', 'POST', '/cqrs/commands/orders', '{"quantity":1.5}', /quantity/],
    ['a body that is not an object', 'POST', '/cqrs/commands/orders', '[1,2]', /CreateOrderRequest/],
    ['a path variable of the wrong type', 'GET', '/cqrs/queries/users/abc/orders', undefined, /user_id/],
    ['an unknown query parameter, named', 'GET', '/cqrs/queries/users/1/orders?colour=red', undefined, /unknown query parameter "colour"/],
    ['an unknown enum name', 'GET', '/cqrs/queries/users/1/orders?status=LOST', undefined, /status/],
    ['a bad boolean', 'GET', '/cqrs/queries/inventory?low_stock_only=yes', undefined, /low_stock_only/],
  ])('refuses %s with 400 / INVALID_ARGUMENT', (_what, method, target, body, message) => {
    const err = refusal(() => request(d, table, method, target, body));
    expect(err.httpStatus).toBe(400);
    expect(err.grpcCode).toBe(3);
    expect(err.message).toMatch(message);
  });

  it('drops unknown query parameters when told to (ignore_unknown_query_parameters, ignored_query_parameters)', () => {
    expect(request(d, table, 'GET', '/cqrs/queries/inventory?x=1&low_stock_only=true', undefined, { ignoreUnknownQueryParameters: true, ignoredQueryParameters: [] })).toEqual({ low_stock_only: true });
    expect(request(d, table, 'GET', '/cqrs/queries/inventory?api_key=k', undefined, { ignoreUnknownQueryParameters: false, ignoredQueryParameters: ['api_key'] })).toEqual({});
  });
});

describe('cqrs.v1 responses', () => {
  const d = meshDescriptor();
  const table = routeTable(d);
  const getOrder = table.lookup('GET', '/cqrs/queries/orders/o-1')!.route;

  it('prints only the response_body field, with defaults, enum names and proto names', () => {
    const bytes = GetOrderResponse.encode({ order: { orderId: 'o-1', userId: 123, userEmail: '', totalAmount: 0, status: OrderStatus.ORDER_STATUS_UNSPECIFIED, items: [], paymentInfo: undefined, timeline: [], createdAt: new Date('2024-01-02T03:04:05Z'), updatedAt: undefined, statusReason: '' } }).finish();
    expect(decodeResponse(getOrder, bytes, d.registry, MESH_DEFAULTS.print)).toEqual({
      order_id: 'o-1',
      user_id: 123,
      user_email: '',
      total_amount: 0,
      status: 'ORDER_STATUS_UNSPECIFIED',
      items: [],
      timeline: [],
      created_at: '2024-01-02T03:04:05Z',
      status_reason: '',
    });
  });

  it('follows the print options (JSON names, enums as ints, defaults omitted)', () => {
    const bytes = GetOrderResponse.encode({ order: { orderId: 'o-1', userId: 0, userEmail: '', totalAmount: 0, status: OrderStatus.PAID, items: [], paymentInfo: undefined, timeline: [], createdAt: undefined, updatedAt: undefined, statusReason: '' } }).finish();
    const print: PrintOptions = { ...MESH_DEFAULTS.print, preserveProtoFieldNames: false, alwaysPrintPrimitiveFields: false, alwaysPrintEnumsAsInts: true };
    expect(decodeResponse(getOrder, bytes, d.registry, print)).toEqual({ orderId: 'o-1', status: 4 });
  });

  it('prints an unset response_body message as its defaults', () => {
    expect(decodeResponse(getOrder, new Uint8Array(), d.registry, MESH_DEFAULTS.print)).toMatchObject({ order_id: '', total_amount: 0, status: 'ORDER_STATUS_UNSPECIFIED' });
  });
});

describe('generic mapping (test-only Library service)', () => {
  let lib: ReturnType<typeof buildLibraryDescriptor>;
  let table: RouteTable;
  beforeAll(() => {
    lib = buildLibraryDescriptor();
    table = routeTable(lib.descriptor);
  });
  afterAll(() => lib?.cleanup());
  const req = (method: string, target: string, body?: string) => request(lib.descriptor, table, method, target, body);

  it('maps nested and repeated query parameters, enums by name, int64 and doubles', () => {
    expect(req('GET', '/v1/books/b1?filter.min=3&filter.color=RED&filter.tags=a&filter.tags=b&ids=1&ids=9007199254740993&colors=GREEN&colors=1&ratio=0.5&flag=true&userId=4')).toEqual({
      name: 'b1',
      user_id: 4,
      ids: ['1', '9007199254740993'],
      filter: { min: 3, color: 'RED', tags: ['a', 'b'] },
      flag: true,
      colors: ['GREEN', 'RED'],
      ratio: 0.5,
    });
  });

  it('decodes query values, keeping "+" unless query_param_unescape_plus', () => {
    expect(req('GET', '/v1/books/b1?filter.tags=a%20b&filter.tags=c+d')).toEqual({ name: 'b1', filter: { tags: ['a b', 'c+d'] } });
    expect(parseQuery('t=c+d', true)).toEqual([{ name: 't', value: 'c d' }]);
  });

  it('refuses a query parameter that names a message field', () => {
    expect(refusal(() => req('GET', '/v1/books/b1?filter=x')).message).toMatch(/not a primitive field/);
  });

  it('maps body: "field" onto that field, with nested path variables', () => {
    expect(req('PATCH', '/v1/books/b7', '{"title":"T","pages":"12"}')).toEqual({ book: { name: 'b7', title: 'T', pages: '12' } });
    expect(req('PUT', '/v1/users/5/books/b2?color=GREEN', '{"title":"T"}')).toEqual({ name: 'b2', user_id: 5, color: 'GREEN', book: { title: 'T' } });
  });

  it('ignores an unknown field inside a body mapped to a field, as Envoy does', () => {
    expect(req('PATCH', '/v1/books/b7', '{"author":"x","title":"T"}')).toEqual({ book: { name: 'b7', title: 'T' } });
  });

  it('prints int64 as strings and a scalar-list response_body as the list', () => {
    const echo = lib.descriptor.registry.getMessage('edgetest.v1.Echo')!;
    const notes = table.lookup('GET', '/v1/notes')!.route;
    const { create, toBinary } = jest.requireActual('@bufbuild/protobuf') as typeof import('@bufbuild/protobuf');
    const bytes = toBinary(echo, create(echo, { big: 2n ** 60n, notes: ['a', 'b'] } as never));
    expect(decodeResponse(notes, bytes, lib.descriptor.registry, MESH_DEFAULTS.print)).toEqual(['a', 'b']);
    expect(decodeResponse(notes, new Uint8Array(), lib.descriptor.registry, MESH_DEFAULTS.print)).toEqual([]);
    const get = table.lookup('GET', '/v1/books/b1')!.route;
    expect((decodeResponse(get, bytes, lib.descriptor.registry, MESH_DEFAULTS.print) as Record<string, JsonValue>).big).toBe('1152921504606846976');
  });
});
