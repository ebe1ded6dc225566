// Loaded with `NODE_OPTIONS=--require .../cpu-profile-preload.js` (Node
// refuses --cpu-prof in NODE_OPTIONS): profiles the whole process through
// the in-process inspector and writes a .cpuprofile on exit, whatever ends
// it (SIGTERM's graceful shutdown calls process.exit).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  let written = false;
  process.on('exit', () => {
    if (written) return;
    written = true;
    // In-process inspector sessions answer synchronously, so this runs to completion in 'exit'.
    session.post('Profiler.stop', (err, res) => {
      if (!err && res?.profile) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
