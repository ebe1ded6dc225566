// grpcService() holds an implementation to the generated service definition
// at compile time: `npm run typecheck` (run by `npm test`) fails if any of
// the expected errors below stops being an error.
import type { handleUnaryCall } from '@grpc/grpc-js';
import { QueryServiceService, type GetOrderRequest, type GetOrderResponse, type QueryServiceServer } from '../../gen/ts/cqrs/v1/query_service';
import { grpcService, type ImplementationOf } from '../../lib/grpc-server';

const noop = (_call: unknown, callback: (err: null, res: object) => void) => callback(null, {});
const impl = Object.fromEntries(Object.keys(QueryServiceService).map((k) => [k, noop])) as unknown as QueryServiceServer;

test('the generated server interface is exactly what the definition asks for', () => {
  const asked: ImplementationOf<typeof QueryServiceService> = impl;
  const back: QueryServiceServer = asked;
  expect(grpcService(QueryServiceService, back).name).toBe('cqrs.v1.QueryService');
});

test('a handler of the wrong messages, or a missing method, does not compile', () => {
  const wrongResponse: handleUnaryCall<GetOrderRequest, { nonsense: number }> = (_call, callback) => callback(null, { nonsense: 1 });
  const wrongRequest: handleUnaryCall<{ nonsense: number }, GetOrderResponse> = (_call, callback) => callback(null, { order: undefined });
  // @ts-expect-error getOrder must answer a GetOrderResponse
  grpcService(QueryServiceService, { ...impl, getOrder: wrongResponse });
  // @ts-expect-error getOrder takes a GetOrderRequest
  grpcService(QueryServiceService, { ...impl, getOrder: wrongRequest });
  const { getOrder: _, ...missing } = impl;
  // @ts-expect-error every method must be implemented
  grpcService(QueryServiceService, missing);
  expect(true).toBe(true);
});
