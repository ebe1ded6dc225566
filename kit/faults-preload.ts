// Test-only fault hooks, injected into a service process by the kit (never
// read by the services themselves): kit/mesh.ts starts a service with
// `node --require dist/kit/faults-preload.js` when its environment names a
// FAULT_* setting.
//
//   FAULT_EXIT_AFTER_STORE=n   command-svc dies (SIGKILL) right after storing
//                              its n-th group of commits, before publishing.
import { CommitWriter } from '../command-svc/commit-writer';

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
