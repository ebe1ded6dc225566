// A grpc-js server with one no-op unary method, run as its own process like
// the services: it answers every call at once with a response of the size the
// request asks for (first 4 bytes, big-endian), so a baseline call carries
// the same bytes as the system call it stands beside.
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';

import { NOOP_PATH } from './grpc-noop-path';
const identity = (b: Buffer) => b;

const server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
const cache = new Map<number, Buffer>();
server.register(
  NOOP_PATH,
  (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
    const size = call.request.length >= 4 ? call.request.readUInt32BE(0) : 0;
    let res = cache.get(size);
    if (!res) cache.set(size, (res = Buffer.alloc(size, 7)));
    cb(null, res);
  },
  identity,
  identity,
  'unary',
);
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`noop listening ${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
