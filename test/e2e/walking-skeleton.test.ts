// The walking skeleton, end to end on a whole mesh: the seed's request through
// the REST edge and through the typed gRPC clients, bad input refused without
// a trace in the write store or on the broker, and protobuf events on the wire.
import { status } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { CreateOrderRequest } from '../../gen/ts/cqrs/v1/command_service';
import { OrderStatus } from '../../gen/ts/cqrs/v1/common';
import { EventEnvelope } from '../../gen/ts/cqrs/v1/events';
import type { Order } from '../../gen/ts/cqrs/v1/read_models';
import { clients } from '../../kit/clients';
import { getJson, postJson } from '../support/http';
import { eventually } from '../../kit/wait';
import { startTestMesh, type TestMesh } from '../../kit/test-mesh';
import { camelCaseKeys, EventTap, grpcFailure, rpc, UUID, violatedFields, writeStoreCounts } from './helpers';
import { sleep } from '../../kit/wait';

const PRODUCT = { productId: 456, productName: 'Mechanical Keyboard', unitPrice: 49.99, quantity: 100 };

let mesh: TestMesh;
let grpc: ReturnType<typeof clients>;
let api: ReturnType<typeof rpc>;
let mongo: MongoClient;

beforeAll(async () => {
  mesh = await startTestMesh();
  grpc = clients(mesh.urls.command, mesh.urls.query);
  api = rpc(grpc);
  mongo = new MongoClient(mesh.urls.mongo, { serverSelectionTimeoutMS: 5_000, retryWrites: false });
  await mongo.connect();
  const seeded = await api.updateInventory(PRODUCT);
  expect(seeded.item).toMatchObject({ productId: 456, availableQuantity: 100, totalQuantity: 100, unitPrice: 49.99 });
}, 120_000);

afterAll(async () => {
  grpc?.close();
  await mongo?.close();
  await mesh?.teardown();
}, 60_000);

/** Explains a failure with what the mesh said last. */
function withLogs<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: Error) => {
    err.message += `\n--- recent mesh output ---\n${mesh.logs.slice(-30).join('\n')}`;
    throw err;
  });
}

const edge = (path: string) => `${mesh.urls.edge}${path}`;

/** Polls the read side (typed client) until the order is out of PENDING. */
function settledOrder(orderId: string): Promise<Order> {
  return withLogs(
    eventually(async () => {
      const { order } = await api.getOrder(orderId);
      return order && order.status !== OrderStatus.PENDING ? order : undefined;
    }, 20_000, `order ${orderId} to leave PENDING`),
  );
}

describe('the seed request through the REST edge', () => {
  test('POST /cqrs/commands/orders answers an order id, and GET /cqrs/queries/orders/{id} shows the order in snake_case', async () => {
    const created = await postJson(edge('/cqrs/commands/orders'), '{"user_id":123,"product_id":456,"quantity":2}');
    expect(created.status).toBe(200);
    expect(created.body.order_id).toMatch(UUID);
    expect(created.headers.get('content-type')).toMatch(/application\/json/);
    const orderId: string = created.body.order_id;

    const order = await withLogs(
      eventually(async () => {
        const r = await getJson(edge(`/cqrs/queries/orders/${orderId}`));
        return r.status === 200 ? r.body : undefined;
      }, 20_000, `GET /cqrs/queries/orders/${orderId} to answer 200`),
    );
    expect(order.order_id).toBe(orderId);
    expect(typeof order.user_id).toBe('number');
    expect(order.user_id).toBe(123);
    expect(order.items).toHaveLength(1);
    expect(order.items[0]).toMatchObject({ product_id: 456, quantity: 2 });
    expect(typeof order.items[0].product_id).toBe('number');
    expect(order.timeline.length).toBeGreaterThanOrEqual(1);
    expect(order.timeline[0].event).toBe('OrderInitiated');
    expect(camelCaseKeys(order)).toEqual([]);

    // The stock check finishes: validated, priced from inventory, still snake_case.
    const validated = await withLogs(
      eventually(async () => {
        const r = await getJson(edge(`/cqrs/queries/orders/${orderId}`));
        return r.status === 200 && r.body.status !== 'PENDING' ? r.body : undefined;
      }, 20_000, `order ${orderId} to be validated`),
    );
    expect(validated.status).toBe('VALIDATED');
    expect(validated.total_amount).toBe(99.98);
    expect(validated.items[0]).toMatchObject({ product_id: 456, product_name: PRODUCT.productName, quantity: 2, unit_price: 49.99, subtotal: 99.98 });
    expect(validated.timeline.map((t: { event: string }) => t.event)).toEqual(['OrderInitiated', 'OrderValidated']);
    expect(camelCaseKeys(validated)).toEqual([]);
  });
});

describe('the same round trip through the typed gRPC clients', () => {
  test('CreateOrder then GetOrder', async () => {
    const created = await api.createOrder({ userId: 123, productId: 456, quantity: 2 });
    expect(created.orderId).toMatch(UUID);
    expect(created.status).toBe(OrderStatus.PENDING);

    const seen = await withLogs(
      eventually(async () => (await api.getOrder(created.orderId)).order, 20_000, 'GetOrder to find the order'),
    );
    expect(seen.orderId).toBe(created.orderId);
    expect(seen.userId).toBe(123);
    expect(seen.items).toHaveLength(1);
    expect(seen.items[0]).toMatchObject({ productId: 456, quantity: 2 });
    expect(seen.timeline[0].event).toBe('OrderInitiated');

    const settled = await settledOrder(created.orderId);
    expect(settled.status).toBe(OrderStatus.VALIDATED);
    expect(settled.totalAmount).toBe(99.98);
    expect(settled.timeline.map((t) => t.event)).toEqual(['OrderInitiated', 'OrderValidated']);
  });
});

describe('bad input is refused, and nothing is stored or published', () => {
  /**
   * Runs `bad` with a tap on cqrs.events, then checks that the write store's
   * commits and outbox did not change and that no event was published; a
   * valid command at the end proves the tap was listening.
   */
  async function leavesNoTrace(bad: () => Promise<void>): Promise<void> {
    // Let earlier orders' stock checks finish: the write store stops changing
    // and the outbox empties once every commit is confirmed by the broker.
    const before = await withLogs(
      eventually(async () => {
        const a = await writeStoreCounts(mongo);
        await sleep(750);
        const b = await writeStoreCounts(mongo);
        return a.commits === b.commits && b.outbox === 0 ? b : undefined;
      }, 20_000, 'the write store to be quiet'),
    );
    const tap = await EventTap.open(mesh.urls.amqp);
    try {
      await bad();
      await sleep(1_500);
      expect(tap.messages.map((m) => m.properties.type)).toEqual([]);
      expect(await writeStoreCounts(mongo)).toEqual(before);

      await api.updateInventory({ productId: 456, lowStockThreshold: 5 });
      await withLogs(eventually(async () => (tap.messages.length > 0 ? true : undefined), 10_000, 'the tap to see a valid command'));
      expect(tap.messages.map((m) => m.properties.type)).toEqual(['cqrs.v1.InventoryUpdated']);
    } finally {
      await tap.close();
    }
  }

  test('through the edge: HTTP 400 naming the field', () =>
    leavesNoTrace(async () => {
      const badBodies: Array<[string, string]> = [
        ['{"user_id":123,"product_id":456,"quantity":0}', 'quantity'],
        ['{"user_id":123,"product_id":456}', 'quantity'],
        ['{"user_id":"abc","product_id":456,"quantity":2}', 'user_id'],
      ];
      for (const [body, field] of badBodies) {
        const r = await postJson(edge('/cqrs/commands/orders'), body);
        expect({ body, status: r.status }).toEqual({ body, status: 400 });
        // A google.rpc.Status body (as Envoy's convert_grpc_status gives):
        // INVALID_ARGUMENT, and the message names the field.
        expect(r.body.code).toBe(status.INVALID_ARGUMENT);
        expect(r.body.message).toContain(field);
      }
    }));

  test('through gRPC: INVALID_ARGUMENT with google.rpc.BadRequest naming the field', () =>
    leavesNoTrace(async () => {
      const badRequests: Array<[Partial<CreateOrderRequest>, string]> = [
        [{ userId: 123, productId: 456, quantity: 0 }, 'quantity'],
        [{ userId: 123, productId: 456 }, 'quantity'],
        [{ productId: 456, quantity: 2 }, 'user_id'],
        [{ userId: -5, productId: 456, quantity: 2 }, 'user_id'],
      ];
      for (const [req, field] of badRequests) {
        const err = await grpcFailure(api.createOrder(req));
        expect({ req, code: err.code }).toEqual({ req, code: status.INVALID_ARGUMENT });
        expect(violatedFields(err)).toContain(field);
        expect(err.details).toContain(field);
      }
    }));
});

describe('events on the broker', () => {
  let tap: EventTap | undefined;
  afterAll(() => tap?.close());

  test('are protobuf EventEnvelopes with content type, type, message id and persistence set', async () => {
    tap = await EventTap.open(mesh.urls.amqp);
    const created = await api.createOrder({ userId: 123, productId: 456, quantity: 2 });
    const initiated = await withLogs(
      eventually(async () => tap!.messages.find((m) => m.properties.type === 'cqrs.v1.OrderInitiated'), 10_000, 'OrderInitiated on the tap'),
    );
    expect(initiated.properties.contentType).toBe('application/x-protobuf');
    expect(initiated.properties.deliveryMode).toBe(2);
    const envelope = EventEnvelope.decode(initiated.content);
    expect(initiated.properties.messageId).toBe(envelope.eventId);
    expect(envelope.eventId).toMatch(UUID);
    expect(envelope.streamId).toBe(`order-${created.orderId}`);
    expect(envelope.version).toBe(1);
    expect(envelope.occurredAt).toBeInstanceOf(Date);
    expect(envelope.payload).toEqual({
      $case: 'orderInitiated',
      value: { orderId: created.orderId, userId: 123, userEmail: '', lines: [{ productId: 456, quantity: 2 }] },
    });
    // Not JSON: the bytes do not parse as a JSON document.
    expect(() => JSON.parse(initiated.content.toString('utf8'))).toThrow();

    // Every event the order caused (reservation, validation) follows the same rules.
    await settledOrder(created.orderId);
    const caused = await withLogs(
      eventually(async () => {
        const msgs = tap!.messages.filter((m) => EventEnvelope.decode(m.content).correlationId === envelope.correlationId);
        return msgs.some((m) => m.properties.type === 'cqrs.v1.OrderValidated') ? msgs : undefined;
      }, 10_000, 'OrderValidated on the tap'),
    );
    expect(caused.map((m) => m.properties.type)).toEqual(
      expect.arrayContaining(['cqrs.v1.OrderInitiated', 'cqrs.v1.InventoryReserved', 'cqrs.v1.OrderValidated']),
    );
    for (const m of caused) {
      const e = EventEnvelope.decode(m.content);
      const name = e.payload!.$case.charAt(0).toUpperCase() + e.payload!.$case.slice(1);
      expect(m.properties).toMatchObject({ contentType: 'application/x-protobuf', type: `cqrs.v1.${name}`, messageId: e.eventId, deliveryMode: 2 });
      expect(m.fields.routingKey).toBe(`cqrs.v1.${name}`);
    }
  });
});
