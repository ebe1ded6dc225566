// JSON shape checks for the REST contract: field names exactly as the seed
// shows them (snake_case), JSON types as the seed shows them, and the
// google.rpc.Status error body.
import { describeReply, type Reply } from './http';

/** Runs assertions about one reply; a failure message ends with the exchange itself. */
export function about<T>(r: Reply, check: () => T): T {
  try {
    return check();
  } catch (err) {
    (err as Error).message += `\n--- exchange ---\n${describeReply(r)}`;
    throw err;
  }
}

/** Status, content-type application/json, a JSON object body, no camelCase key anywhere. */
export function expectJson(r: Reply, status: number): any {
  return about(r, () => {
    expect(r.status).toBe(status);
    expect(r.contentType).toMatch(/^application\/json\b/i);
    expect(r.body).toEqual(expect.any(Object));
    expect(camelCaseKeys(r.body)).toEqual([]);
    return r.body;
  });
}

/** Every object key in a JSON value, recursively, with its path. */
export function keyPaths(value: unknown, at = '$', out: Array<[string, string]> = []): Array<[string, string]> {
  if (Array.isArray(value)) value.forEach((v, i) => keyPaths(v, `${at}[${i}]`, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push([`${at}.${k}`, k]);
      keyPaths(v, `${at}.${k}`, out);
    }
  }
  return out;
}

/**
 * Paths of keys that are lowerCamelCase (a lower-case letter or digit followed
 * by an upper-case letter). Map keys such as "PAID" are all capitals and pass.
 */
export const camelCaseKeys = (value: unknown): string[] => keyPaths(value).filter(([, k]) => /[a-z0-9][A-Z]/.test(k)).map(([p]) => p);

/** The object's keys are exactly `required` plus any of `optional`. */
export function expectKeys(obj: any, required: string[], optional: string[] = []): void {
  expect(obj).toEqual(expect.any(Object));
  const keys = Object.keys(obj);
  const missing = required.filter((k) => !keys.includes(k));
  const unexpected = keys.filter((k) => !required.includes(k) && !optional.includes(k));
  expect({ missing, unexpected }).toEqual({ missing: [], unexpected: [] });
}

/** A JSON number that is a 32-bit integer (proto3 JSON prints int64 as strings, which the contract rules out). */
export function expectInt32(v: unknown, min = -(2 ** 31)): void {
  expect(typeof v).toBe('number');
  expect(Number.isInteger(v)).toBe(true);
  expect(v as number).toBeGreaterThanOrEqual(min);
  expect(v as number).toBeLessThanOrEqual(2 ** 31 - 1);
}

/** A JSON number with at most two decimals (a decimal amount such as 99.99). */
export function expectMoney(v: unknown): void {
  expect(typeof v).toBe('number');
  expect(Number.isFinite(v)).toBe(true);
  const cents = (v as number) * 100;
  expect(Math.abs(cents - Math.round(cents))).toBeLessThan(1e-6);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function expectTimestamp(v: unknown): void {
  expect(typeof v).toBe('string');
  expect(v).toMatch(RFC3339);
  expect(Number.isFinite(Date.parse(v as string))).toBe(true);
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const ORDER_STATUSES = ['PENDING', 'VALIDATED', 'REJECTED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED'];
export const PAYMENT_METHODS = ['CREDIT_CARD', 'DEBIT_CARD', 'PAYPAL', 'BANK_TRANSFER'];

// ---- read models and responses (proto/cqrs/v1/read_models.proto, *_service.proto) ----

export const INVENTORY_KEYS = [
  'product_id', 'product_name', 'unit_price', 'available_quantity', 'reserved_quantity',
  'total_quantity', 'low_stock_threshold', 'low_stock_alert', 'pending_orders', 'pending_orders_count',
];

export function expectInventoryItem(item: any): void {
  expectKeys(item, INVENTORY_KEYS);
  expectInt32(item.product_id, 1);
  expect(typeof item.product_name).toBe('string');
  expectMoney(item.unit_price);
  for (const k of ['available_quantity', 'reserved_quantity', 'total_quantity', 'low_stock_threshold']) expectInt32(item[k], 0);
  expect(typeof item.low_stock_alert).toBe('boolean');
  expect(Array.isArray(item.pending_orders)).toBe(true);
  for (const id of item.pending_orders) expect(id).toMatch(UUID);
  // A bounded list of them, and how many there are.
  expectInt32(item.pending_orders_count, 0);
  expect(item.pending_orders.length).toBeLessThanOrEqual(Math.min(100, item.pending_orders_count));
}

const ORDER_KEYS = ['order_id', 'user_id', 'user_email', 'total_amount', 'status', 'items', 'timeline', 'created_at', 'updated_at', 'status_reason'];

export function expectOrder(o: any): void {
  // payment_info is a message: absent until a payment was processed (proto3 JSON prints unset messages as nothing).
  expectKeys(o, ORDER_KEYS, ['payment_info']);
  expect(o.order_id).toMatch(UUID);
  expectInt32(o.user_id, 1);
  expect(typeof o.user_email).toBe('string');
  expectMoney(o.total_amount);
  expect(ORDER_STATUSES).toContain(o.status);
  expect(typeof o.status_reason).toBe('string');
  expectTimestamp(o.created_at);
  expectTimestamp(o.updated_at);
  expect(Array.isArray(o.items)).toBe(true);
  for (const it of o.items) {
    expectKeys(it, ['product_id', 'product_name', 'quantity', 'unit_price', 'subtotal']);
    expectInt32(it.product_id, 1);
    expect(typeof it.product_name).toBe('string');
    expectInt32(it.quantity, 1);
    expectMoney(it.unit_price);
    expectMoney(it.subtotal);
  }
  expect(Array.isArray(o.timeline)).toBe(true);
  expect(o.timeline.length).toBeGreaterThan(0);
  for (const t of o.timeline) {
    expectKeys(t, ['event', 'timestamp']);
    expect(t.event).toMatch(/^[A-Z][A-Za-z]+$/);
    expectTimestamp(t.timestamp);
  }
  if (o.payment_info !== undefined) {
    const p = o.payment_info;
    expectKeys(p, ['payment_id', 'amount', 'method', 'status', 'processed_at']);
    expect(typeof p.payment_id).toBe('string');
    expect(p.payment_id.length).toBeGreaterThan(0);
    expectMoney(p.amount);
    expect(PAYMENT_METHODS).toContain(p.method);
    expect(['PROCESSED', 'FAILED']).toContain(p.status);
    expectTimestamp(p.processed_at);
  }
}

function expectProductCount(p: any): void {
  expectKeys(p, ['product_id', 'product_name', 'count']);
  expectInt32(p.product_id, 1);
  expect(typeof p.product_name).toBe('string');
  expectInt32(p.count, 0);
}

/** A map<string, int32> as JSON: an object of status names to JSON numbers. */
function expectStatusCounts(m: any): void {
  expect(m).toEqual(expect.any(Object));
  expect(Array.isArray(m)).toBe(false);
  for (const [k, v] of Object.entries(m)) {
    expect(ORDER_STATUSES).toContain(k);
    expectInt32(v, 0);
  }
}

export function expectUserSummary(s: any): void {
  expectKeys(s, ['user_id', 'total_orders', 'total_spent', 'avg_order_value', 'favorite_products', 'order_statuses']);
  expectInt32(s.user_id, 1);
  expectInt32(s.total_orders, 0);
  expectMoney(s.total_spent);
  expectMoney(s.avg_order_value);
  expect(Array.isArray(s.favorite_products)).toBe(true);
  s.favorite_products.forEach(expectProductCount);
  expectStatusCounts(s.order_statuses);
}

export function expectStatistics(s: any): void {
  expectKeys(s, ['total_orders', 'orders_by_status', 'total_revenue', 'average_order_value', 'top_products', 'orders_last_hour', 'orders_last_day', 'generated_at']);
  expectInt32(s.total_orders, 0);
  expectStatusCounts(s.orders_by_status);
  expectMoney(s.total_revenue);
  expectMoney(s.average_order_value);
  expect(Array.isArray(s.top_products)).toBe(true);
  s.top_products.forEach(expectProductCount);
  expectInt32(s.orders_last_hour, 0);
  expectInt32(s.orders_last_day, 0);
  expectTimestamp(s.generated_at);
}

export function expectHealth(h: any, service: string, dependencies: string[]): void {
  expectKeys(h, ['status', 'service', 'dependencies']);
  expect(h.service).toBe(service);
  expect(['SERVING', 'NOT_SERVING']).toContain(h.status);
  expect(Array.isArray(h.dependencies)).toBe(true);
  for (const d of h.dependencies) {
    expectKeys(d, ['name', 'status', 'detail']);
    expect(['UP', 'DOWN']).toContain(d.status);
    expect(typeof d.detail).toBe('string');
  }
  expect(h.dependencies.map((d: any) => d.name).sort()).toEqual([...dependencies].sort());
}

// ---- errors ----

export const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';

/**
 * An error from a service: the HTTP status Envoy maps the gRPC code to, and
 * (convert_grpc_status) a google.rpc.Status JSON body. With `fields`, the
 * details hold a google.rpc.BadRequest whose field violations name each of them.
 */
export function expectStatusError(r: Reply, httpStatus: number, grpcCode: number, fields?: string[]): any {
  const body = expectJson(r, httpStatus);
  return about(r, () => {
    expectKeys(body, ['code', 'message', 'details']);
    expect(body.code).toBe(grpcCode);
    expect(typeof body.message).toBe('string');
    expect(body.message.length).toBeGreaterThan(0);
    expect(Array.isArray(body.details)).toBe(true);
    if (fields) {
      const badRequests = body.details.filter((d: any) => d['@type'] === BAD_REQUEST_TYPE);
      expect(badRequests).toHaveLength(1);
      const br = badRequests[0];
      expectKeys(br, ['@type', 'field_violations']);
      expect(Array.isArray(br.field_violations)).toBe(true);
      for (const v of br.field_violations) {
        // reason and localized_message are newer, optional parts of FieldViolation.
        expectKeys(v, ['field', 'description'], ['reason', 'localized_message']);
        expect(typeof v.field).toBe('string');
        expect(typeof v.description).toBe('string');
        expect(v.description.length).toBeGreaterThan(0);
      }
      const named = br.field_violations.map((v: any) => v.field);
      for (const f of fields) expect(named).toContain(f);
    }
    return body;
  });
}

/**
 * An error the edge raises itself before any service sees the request
 * (malformed JSON, unknown query parameter, unknown path, oversized body).
 * Envoy answers these with a short text body and the local edge with a
 * google.rpc.Status JSON; both are fine, so only a JSON body is checked.
 */
export function expectEdgeError(r: Reply, httpStatus: number, grpcCode?: number): void {
  about(r, () => {
    expect(r.status).toBe(httpStatus);
    if (/^application\/json\b/i.test(r.contentType) && r.body !== undefined) {
      expectKeys(r.body, ['code', 'message'], ['details']);
      if (grpcCode !== undefined) expect(r.body.code).toBe(grpcCode);
      expect(camelCaseKeys(r.body)).toEqual([]);
    }
  });
}
