// gRPC calls with raw bytes in and out: the edge already holds the encoded
// request and decodes the response itself, so grpc-js only frames bytes.
import { Client, type ChannelCredentials, type ClientReadableStream, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { channelCredentials } from '../lib/tls';

const identity = (b: Buffer) => b;

export interface UnaryCall {
  response: Promise<Buffer>;
  cancel(): void;
}

export class Upstreams {
  private readonly clients = new Map<string, Client>();

  /** `addresses`: full service name -> host:port; `creds`: TLS when TLS_CA_FILE is set (lib/tls.ts). */
  constructor(addresses: Record<string, string>, creds: ChannelCredentials = channelCredentials()) {
    for (const [service, address] of Object.entries(addresses)) {
      // No receive limit here: the edge applies max_response_body_size itself
      // so an oversize response is a 500 as in Envoy, not RESOURCE_EXHAUSTED.
      this.clients.set(service, new Client(address, creds, { 'grpc.max_receive_message_length': -1 }));
    }
  }

  has(service: string): boolean {
    return this.clients.has(service);
  }

  unary(service: string, path: string, request: Uint8Array, metadata: Metadata, deadline: Date): UnaryCall {
    const client = this.client(service);
    let cancel = () => undefined as void;
    const response = new Promise<Buffer>((resolve, reject) => {
      const call = client.makeUnaryRequest(path, identity, identity, Buffer.from(request), metadata, { deadline }, (err: ServiceError | null, res?: Buffer) =>
        err ? reject(err) : resolve(res ?? Buffer.alloc(0)),
      );
      cancel = () => call.cancel();
    });
    return { response, cancel };
  }

  serverStream(service: string, path: string, request: Uint8Array, metadata: Metadata, deadline: Date | number): ClientReadableStream<Buffer> {
    return this.client(service).makeServerStreamRequest(path, identity, identity, Buffer.from(request), metadata, { deadline });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
  }

  private client(service: string): Client {
    const client = this.clients.get(service);
    if (!client) throw new Error(`no upstream for ${service}`);
    return client;
  }
}

export const isServiceError = (err: unknown): err is ServiceError =>
  err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && (err as Partial<ServiceError>).metadata !== undefined;
