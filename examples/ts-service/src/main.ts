// An example service that uses the mesh from outside, through the published
// package only: it stocks a product, shows a refused command's field
// violations, places an order, pays it, reads it back until it is PAID, and
// — as a shipping service would — ships every order on OrderPaid from a queue
// of its own. Prints one JSON line per step, so a test (or a person) can
// follow it; exits 0 when its own order was shipped, 1 otherwise.
import {
  commandClient,
  EventSubscriber,
  idempotencyKey,
  idempotencyKeyFrom,
  InvalidArgumentError,
  MeshError,
  orderStatusToJSON,
  PaymentMethod,
  queryClient,
  UnprocessableEvent,
  type Order,
  type QueryClient,
} from '@cqrs-mesh/client';

const env = (name: string, fallback: string) => process.env[name] || fallback;
const COMMAND_ADDR = env('COMMAND_ADDR', '127.0.0.1:8010');
const QUERY_ADDR = env('QUERY_ADDR', '127.0.0.1:8011');
const AMQP_URL = env('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672');
const QUEUE = env('QUEUE', 'ts-service-example.shipping');
const PRODUCT_ID = Number(env('PRODUCT_ID', '7001'));
const USER_ID = Number(env('USER_ID', '7001'));
const WAIT_MS = Number(env('WAIT_MS', '20000'));

const say = (step: string, fields: object = {}) => console.log(JSON.stringify({ step, ...fields }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads the order until `done` holds; the read side is eventually consistent, so NOT_FOUND first is normal. */
async function readUntil(queries: QueryClient, orderId: string, what: string, done: (o: Order) => boolean): Promise<Order> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const { order } = await queries.getOrder({ orderId });
      if (order && done(order)) return order;
    } catch (err) {
      if (!(err instanceof MeshError && err.codeName === 'NOT_FOUND')) throw err;
    }
    if (Date.now() > deadline) throw new Error(`order ${orderId} not ${what} within ${WAIT_MS} ms`);
    await sleep(100);
  }
}

async function main(): Promise<void> {
  const commands = commandClient(COMMAND_ADDR);
  const queries = queryClient(QUERY_ADDR);
  const shippedByUs = new Map<string, () => void>();

  // The reaction: ship what was paid. The idempotency key comes from the
  // event, so an OrderPaid the broker delivers twice ships the order once.
  const subscriber = new EventSubscriber({ url: AMQP_URL, queue: QUEUE }).on('orderPaid', async ({ event, envelope, attempt }) => {
    say('OrderPaid received', { orderId: event.orderId, amountCents: event.amountCents, eventId: envelope.eventId, correlationId: envelope.correlationId, version: envelope.version, attempt });
    try {
      const res = await commands.shipOrder(
        { orderId: event.orderId, trackingNumber: `EX-${envelope.eventId.slice(0, 8)}` },
        { idempotencyKey: idempotencyKeyFrom('ts-service-example', 'ship', envelope.eventId), requestId: envelope.correlationId },
      );
      say('ship command accepted', { orderId: res.orderId, status: orderStatusToJSON(res.status) });
    } catch (err) {
      // The order refuses shipping (it is not ours to fix): park the event rather than retry it.
      if (err instanceof MeshError && err.codeName === 'FAILED_PRECONDITION') throw new UnprocessableEvent(err.message);
      throw err;
    }
    shippedByUs.get(event.orderId)?.();
  });
  await subscriber.start();
  say('subscribed', { queue: QUEUE });

  try {
    const { item } = await commands.updateInventory(
      { productId: PRODUCT_ID, productName: 'Example widget', unitPrice: 12.5, quantityDelta: 10, lowStockThreshold: 1 },
      { idempotencyKey: idempotencyKey() },
    );
    say('product stocked', { productId: item?.productId, available: item?.availableQuantity });

    try {
      await commands.createOrder({ userId: USER_ID, productId: PRODUCT_ID, quantity: 0 });
      say('bad order accepted?!');
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      say('bad order refused', { code: err.codeName, violations: err.fieldViolations });
    }

    const requestId = idempotencyKey();
    const placed = await commands.createOrder({ userId: USER_ID, productId: PRODUCT_ID, quantity: 2 }, { idempotencyKey: idempotencyKey(), requestId });
    say('order placed', { orderId: placed.orderId, status: orderStatusToJSON(placed.status), requestId });
    const shipped = new Promise<void>((resolve) => shippedByUs.set(placed.orderId, resolve));

    const validated = await readUntil(queries, placed.orderId, 'validated', (o) => orderStatusToJSON(o.status) === 'VALIDATED');
    say('order validated', { orderId: placed.orderId, totalAmount: validated.totalAmount });

    const payment = await commands.processPayment(
      { orderId: placed.orderId, amount: validated.totalAmount, method: PaymentMethod.CREDIT_CARD },
      { idempotencyKey: idempotencyKey(), requestId },
    );
    say('payment accepted', { orderId: payment.orderId, paymentId: payment.paymentId, status: orderStatusToJSON(payment.status) });

    // PAID as the read side shows it. Our own OrderPaid handler may ship the
    // order before this read lands, so "paid" is the timeline's OrderPaid.
    const paid = await readUntil(queries, placed.orderId, 'paid', (o) => o.timeline.some((t) => t.event === 'OrderPaid'));
    say('order paid (query)', { orderId: placed.orderId, status: orderStatusToJSON(paid.status), paidAmount: paid.paymentInfo?.amount });

    let timer: NodeJS.Timeout | undefined;
    await Promise.race([shipped, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no OrderPaid for ${placed.orderId} within ${WAIT_MS} ms`)), WAIT_MS)))]);
    clearTimeout(timer);
    const done = await readUntil(queries, placed.orderId, 'shipped', (o) => orderStatusToJSON(o.status) === 'SHIPPED');
    say('order shipped (query)', { orderId: placed.orderId, timeline: done.timeline.map((t) => t.event) });
  } finally {
    await subscriber.stop();
    commands.close();
    queries.close();
  }
}

main().then(
  () => say('done'),
  (err: Error) => {
    say('failed', { error: err.message, code: (err as MeshError).codeName });
    process.exitCode = 1;
  },
);
