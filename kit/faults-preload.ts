// Test-only fault hooks, injected into a service process by the kit (never
// read by the services themselves): kit/mesh.ts starts a service with
// `node --require dist/kit/faults-preload.js` when its environment names a
// FAULT_* setting.
//
//   FAULT_EXIT_AFTER_STORE=n   command-svc dies (SIGKILL) right after storing
//                              its n-th group of commits, before publishing.
//   FAULT_PAUSE_FILE=path      projector-svc applies nothing while the file
//                              exists: its deliveries stay in hand, unacked
//                              (a projector stuck on its store, say).
import { existsSync } from 'node:fs';
import { CommitWriter } from '../command-svc/commit-writer';
import { Projector } from '../projector-svc/projector';

const exitAfterStore = Number(process.env.FAULT_EXIT_AFTER_STORE ?? 0);
if (!Number.isInteger(exitAfterStore) || exitAfterStore < 0) {
  throw new Error(`FAULT_EXIT_AFTER_STORE must be a whole number, got ${process.env.FAULT_EXIT_AFTER_STORE}`);
}
if (exitAfterStore > 0) {
  let left = exitAfterStore;
  CommitWriter.afterStore = () => {
    if (--left <= 0) process.kill(process.pid, 'SIGKILL');
  };
}

const pauseFile = process.env.FAULT_PAUSE_FILE;
if (pauseFile) {
  const apply = Projector.prototype.handleBatch;
  Projector.prototype.handleBatch = async function (this: Projector, events) {
    while (existsSync(pauseFile)) await new Promise((r) => setTimeout(r, 50));
    return apply.call(this, events);
  };
}
