// Typed, promise-returning calls on the generated ts-proto clients (the
// clients other services import), plus a keep-alive HTTP client for the edge.
import { Agent, request } from 'node:http';
import { Metadata, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import * as cmd from '../../gen/ts/cqrs/v1/command_service';
import * as qry from '../../gen/ts/cqrs/v1/query_service';
import { clients } from '../../kit/clients';

export type Grpc = ReturnType<typeof typedClients>;

/** Every bench call has a deadline: a service that stops answering fails the run instead of hanging it. */
export const CALL_DEADLINE_MS = 60_000;

type Unary<Req, Res> = (req: Req, md: Metadata, options: CallOptions, cb: (err: ServiceError | null, res: Res) => void) => unknown;

function call<Req, Res>(client: object, method: unknown, req: Req): Promise<Res> {
  return new Promise((resolve, reject) =>
    (method as Unary<Req, Res>).call(client, req, new Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

export function typedClients(commandAddr: string, queryAddr: string) {
  const g = clients(commandAddr, queryAddr);
  const c = g.command;
  const q = g.query;
  return {
    close: g.close,
    createOrder: (r: cmd.CreateOrderRequest) => call<cmd.CreateOrderRequest, cmd.CreateOrderResponse>(c, c.createOrder, r),
    processPayment: (r: cmd.ProcessPaymentRequest) => call<cmd.ProcessPaymentRequest, cmd.ProcessPaymentResponse>(c, c.processPayment, r),
    updateInventory: (r: Partial<cmd.UpdateInventoryRequest>) =>
      call<cmd.UpdateInventoryRequest, cmd.UpdateInventoryResponse>(c, c.updateInventory, cmd.UpdateInventoryRequest.fromPartial(r)),
    getOrder: (orderId: string) => call<qry.GetOrderRequest, qry.GetOrderResponse>(q, q.getOrder, qry.GetOrderRequest.fromPartial({ orderId })),
    listUserOrders: (userId: number, pageSize = 0) =>
      call<qry.ListUserOrdersRequest, qry.ListUserOrdersResponse>(q, q.listUserOrders, qry.ListUserOrdersRequest.fromPartial({ userId, status: 0, pageSize, pageToken: '' })),
    getUserSummary: (userId: number) => call<qry.GetUserSummaryRequest, qry.GetUserSummaryResponse>(q, q.getUserSummary, qry.GetUserSummaryRequest.fromPartial({ userId })),
    getInventory: () => call<qry.GetInventoryRequest, qry.GetInventoryResponse>(q, q.getInventory, qry.GetInventoryRequest.fromPartial({ lowStockOnly: false, pageSize: 0, pageToken: '' })),
    getOrderStatistics: () => call<qry.GetOrderStatisticsRequest, qry.GetOrderStatisticsResponse>(q, q.getOrderStatistics, qry.GetOrderStatisticsRequest.fromPartial({})),
  };
}

export class HttpClient {
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, maxSockets = 64) {
    const u = new URL(baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  /** Resolves with the body on 2xx; rejects with the status otherwise. */
  get(path: string): Promise<string> {
    return this.send('GET', path);
  }

  post(path: string, body: unknown): Promise<string> {
    return this.send('POST', path, JSON.stringify(body));
  }

  private send(method: string, path: string, body?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: this.host, port: this.port, path, method, agent: this.agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) resolve(text);
            else reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`), { code: `http ${res.statusCode}` }));
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(CALL_DEADLINE_MS, () => req.destroy(Object.assign(new Error(`HTTP ${method} ${path}: no answer within ${CALL_DEADLINE_MS} ms`), { code: 'timeout' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
