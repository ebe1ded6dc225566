// A store outage must read as one: the consumers hold an event and retry
// while isTransient(err) says the store is down, and spend its attempts
// (then dead-letter it) otherwise. A bulk write that loses its connection
// comes back from the driver wrapped in a MongoBulkWriteError that names no
// document; an outage during the order process's group commit was once
// taken for the event's fault and parked three good events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoBulkWriteError, MongoClient, MongoNetworkError } from 'mongodb';
import { stopChild } from '../../kit/processes';
import { spawnStore } from '../../kit/store';
import { isTransient } from '../../lib/mongo';

jest.setTimeout(45_000);

test('a bulk write that lost its connection is transient; one the store refused for a document is not', () => {
  const lost = new MongoBulkWriteError(new MongoNetworkError('connect ECONNREFUSED 127.0.0.1:1'), {} as never);
  expect(isTransient(lost)).toBe(true);
  const refused = new MongoBulkWriteError({ message: 'E11000 duplicate key', code: 11000, writeErrors: [{ index: 0, code: 11000, errmsg: 'E11000 duplicate key' }] } as never, {} as never);
  expect(isTransient(refused)).toBe(false);
  expect(isTransient(new Error('stream order-1 is missing events 2..3'))).toBe(false);
});

test('every write against a stopped store fails as transient, bulk writes included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cqrs-transient-'));
  const store = await spawnStore({ dataDir: dir, timeoutMs: 20_000 });
  const client = new MongoClient(store.url, { serverSelectionTimeoutMS: 1_500, connectTimeoutMS: 1_000, socketTimeoutMS: 5_000 });
  try {
    const outbox = client.db('transient').collection<{ _id: string }>('outbox');
    await outbox.insertOne({ _id: 'before' });
    await stopChild(store.child, 5_000);
    const writes: Array<() => Promise<unknown>> = [
      () => outbox.bulkWrite([{ insertOne: { document: { _id: 'a' } } }, { deleteOne: { filter: { _id: 'before' } } }], { ordered: true }),
      () => outbox.insertMany([{ _id: 'b' }, { _id: 'c' }], { ordered: false }),
      () => outbox.replaceOne({ _id: 'before' }, {}, { upsert: true }),
      () => outbox.findOne({ _id: 'before' }),
    ];
    const seen: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (const write of writes) {
        const err = await write().then(() => undefined, (e: Error) => e);
        expect(err).toBeDefined();
        seen.push(`${err!.name}: ${err!.message}`);
        if (!isTransient(err)) throw new Error(`not taken for an outage: ${seen[seen.length - 1]}`);
      }
    }
  } finally {
    await client.close(true).catch(() => undefined);
    await stopChild(store.child, 5_000);
    rmSync(dir, { recursive: true, force: true });
  }
});
