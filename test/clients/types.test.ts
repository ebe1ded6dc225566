// The package's types hold callers to the contract at compile time:
// `npm run typecheck` (run by `npm test`) fails if any expected error below
// stops being an error. Nothing here connects anywhere.
import { commandClient, EventSubscriber, OrderStatus, type CommandClient, type ReceivedEvent } from '../../clients/ts/src';

test('requests, responses and event handlers are typed from the protos', () => {
  const typed = (c: CommandClient, s: EventSubscriber) => {
    void c.createOrder({ userId: 1, items: [{ productId: 2, quantity: 3 }] }).then((r) => r.status === OrderStatus.PENDING);
    // @ts-expect-error quantity is a number
    void c.createOrder({ quantity: 'two' });
    // @ts-expect-error no such field in CreateOrderRequest
    void c.createOrder({ userID: 1 });
    // @ts-expect-error no such RPC
    void c.deleteOrder({});
    s.on('orderPaid', (e: ReceivedEvent<'orderPaid'>) => void e.event.amountCents.toFixed());
    // @ts-expect-error OrderPaid has no trackingNumber
    s.on('orderPaid', (e) => void e.event.trackingNumber);
    // @ts-expect-error no such event
    s.on('orderTeleported', () => undefined);
  };
  expect(typeof typed).toBe('function');
  expect(typeof commandClient).toBe('function');
});
