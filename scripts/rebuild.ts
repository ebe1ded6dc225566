// `npm run rebuild -- <orders|inventory|user_summaries|all>`: rebuilds read
// models from the write store's events into fresh collections while the live
// ones keep serving, switches every running service over, then replays the
// events once more so nothing projected during the rebuild is missed.
import pino from 'pino';
import { common, readConfig } from '../lib/config';
import { commitEvents, EventStore, type CommitDoc } from '../lib/event-store';
import { connectMongo, READ_DB, WRITE_DB } from '../lib/mongo';
import { POINTER_REFRESH_MS, PROJECTIONS, ReadStore, type CollectionNames, type Projection } from '../lib/read-store';
import { Projector } from '../projector-svc/projector';

const REPLAY_BATCH = 256;

async function replayAll(write: EventStore, projector: Projector): Promise<number> {
  // Stream by stream, in version order, as the projector expects at best.
  const commits = await write.commits.find({}).toArray();
  commits.sort((a: CommitDoc, b: CommitDoc) => a.stream_id.localeCompare(b.stream_id) || a.first_version - b.first_version);
  const events = commits.flatMap((c) => commitEvents(c));
  for (let i = 0; i < events.length; i += REPLAY_BATCH) await projector.handleBatch(events.slice(i, i + REPLAY_BATCH));
  return events.length;
}

export async function rebuild(mongoUrl: string, chosen: Projection[], log = pino({ level: 'info' })): Promise<CollectionNames> {
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
    const events = await replayAll(write, new Projector(target, write, log.child({ rebuild: true, level: 'warn' })));
    await target.ensureIndexes();

    const next = { ...live.names };
    for (const p of chosen) next[p] = fresh[p];
    const old = live.names;
    await live.switchTo(next);
    log.info({ events, switchedTo: next }, 'rebuilt; services switch within a second');
    await new Promise((r) => setTimeout(r, POINTER_REFRESH_MS * 2));
    const caughtUp = await replayAll(write, new Projector(live, write, log.child({ catchUp: true, level: 'warn' })));
    for (const p of PROJECTIONS) {
      if (!chosen.includes(p)) await db.collection(fresh[p]).drop().catch(() => undefined);
      else if (old[p] !== next[p]) await db.collection(old[p]).drop().catch(() => undefined);
    }
    log.info({ caughtUp }, 'rebuild done');
    return next;
  } finally {
    await mongo.close();
  }
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  const chosen = arg === 'all' ? [...PROJECTIONS] : PROJECTIONS.filter((p) => p === arg);
  if (!chosen.length) throw new Error(`usage: npm run rebuild -- <${PROJECTIONS.join('|')}|all>`);
  const { MONGO_URL } = readConfig({ MONGO_URL: common.MONGO_URL });
  await rebuild(MONGO_URL, chosen);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`rebuild: ${err.message}`);
    process.exit(1);
  });
}
