// `npm run rebuild -- <projection|all>`: rebuilds read models from the write
// store's events into fresh collections while the live ones keep serving,
// switches every running service over, then has the live projector catch up
// whatever arrived meanwhile: the latest event of every stream is sent to it
// again, and an event ahead of what a document holds makes it fill the gap
// from the write store. So each collection only ever has one writer.
import amqp from 'amqplib';
import pino from 'pino';
import { common, readConfig } from '../lib/config';
import { EXCHANGE, encodeEnvelope, publishOptions, routingKey } from '../lib/envelope';
import { commitEvents, EventStore, type CommitDoc } from '../lib/event-store';
import { connectMongo, READ_DB, WRITE_DB } from '../lib/mongo';
import { POINTER_REFRESH_MS, ReadStore } from '../lib/read-store';
import { PROJECTIONS, type CollectionNames, type Projection } from '../read-models';
import { CATCH_UP_PREFIX, type Envelope } from '../lib/consumer';
import { Projector } from '../projector-svc/projector';
import { sleep } from '../kit/wait';

const REPLAY_BATCH = 256;

/** Read models kept from one another's bookkeeping are rebuilt together. */
const TOGETHER: Projection[][] = [
  ['orders', 'user_summaries', 'user_orders', 'order_stats', 'user_product_counts', 'product_counts'],
  ['inventory', 'inventory_pending'],
];

export const withPartners = (chosen: Projection[]): Projection[] =>
  PROJECTIONS.filter((p) => chosen.includes(p) || TOGETHER.some((g) => g.includes(p) && g.some((q) => chosen.includes(q))));

async function allEvents(write: EventStore): Promise<Envelope[]> {
  // Stream by stream, in version order, as the projector expects at best.
  const commits = await write.commits.find({}).toArray();
  commits.sort((a: CommitDoc, b: CommitDoc) => a.stream_id.localeCompare(b.stream_id) || a.first_version - b.first_version);
  return commits.flatMap((c) => commitEvents(c));
}

/** Into collections nobody else writes: the revision guards never trip here. */
async function replay(events: Envelope[], projector: Projector): Promise<void> {
  for (let i = 0; i < events.length; i += REPLAY_BATCH) await projector.handleBatch(events.slice(i, i + REPLAY_BATCH));
}

/** The latest event of every stream, sent to the projector again (routing keys only it binds to). */
async function nudge(amqpUrl: string, events: Envelope[]): Promise<number> {
  const latest = new Map<string, Envelope>();
  for (const e of events) if ((latest.get(e.streamId)?.version ?? 0) < e.version) latest.set(e.streamId, e);
  const conn = await amqp.connect(amqpUrl);
  try {
    const ch = await conn.createConfirmChannel();
    for (const e of latest.values()) ch.publish(EXCHANGE, `${CATCH_UP_PREFIX}${routingKey(e)}`, encodeEnvelope(e), publishOptions(e));
    await ch.waitForConfirms();
    await ch.close();
  } finally {
    await conn.close();
  }
  return latest.size;
}

export async function rebuild(mongoUrl: string, asked: Projection[], log = pino({ level: 'info' }), amqpUrl = readConfig({ AMQP_URL: common.AMQP_URL }).AMQP_URL): Promise<CollectionNames> {
  const chosen = withPartners(asked);
  const mongo = await connectMongo(mongoUrl);
  try {
    const db = mongo.db(READ_DB);
    const write = new EventStore(mongo.db(WRITE_DB));
    const live = await ReadStore.open(db);
    const stamp = Date.now().toString(36);
    // Chosen projections go to fresh collections; the others to scratch ones
    // the projector needs on the way (user summaries are derived from orders).
    const fresh = Object.fromEntries(PROJECTIONS.map((p) => [p, `${p}_${chosen.includes(p) ? 'rebuild' : 'scratch'}_${stamp}`])) as CollectionNames;
    const target = new ReadStore(db, fresh);
    const events = await allEvents(write);
    await replay(events, new Projector(target, write, log.child({ rebuild: true, level: 'warn' })));
    await target.ensureIndexes();

    const next = { ...live.names };
    for (const p of chosen) next[p] = fresh[p];
    const old = live.names;
    await live.switchTo(next);
    log.info({ events: events.length, rebuilt: chosen, switchedTo: next }, 'rebuilt; services switch within a second');
    await sleep(POINTER_REFRESH_MS * 2);
    const streams = await nudge(amqpUrl, await allEvents(write));
    for (const p of PROJECTIONS) {
      if (!chosen.includes(p)) await db.collection(fresh[p]).drop().catch(() => undefined);
      else if (old[p] !== next[p]) await db.collection(old[p]).drop().catch(() => undefined);
    }
    log.info({ streams }, 'rebuild done; the projector catches up every stream');
    return next;
  } finally {
    await mongo.close();
  }
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  const chosen = arg === 'all' ? [...PROJECTIONS] : PROJECTIONS.filter((p) => p === arg);
  if (!chosen.length) throw new Error(`usage: npm run rebuild -- <${PROJECTIONS.join('|')}|all>`);
  const { MONGO_URL, AMQP_URL } = readConfig({ MONGO_URL: common.MONGO_URL, AMQP_URL: common.AMQP_URL });
  await rebuild(MONGO_URL, chosen, undefined, AMQP_URL);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`rebuild: ${err.message}`);
    process.exit(1);
  });
}
