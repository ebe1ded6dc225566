// `npm run bench`: the command line of runBench.
//   npm run bench                     full run (under ~18 minutes)
//   npm run bench -- --quick          about a minute or two
//   npm run bench -- --only=commands,queries
//   npm run bench -- --quick --only=overhead   (metrics and tracing off vs on, side by side)
//   npm run bench -- --profile=projector-svc,query-svc   (V8 CPU profiles, summarized in RESULTS.md)
//   npm run bench -- --render=bench/results/<date>.json  (rewrite RESULTS.md from a run, e.g. after editing bench/analysis.md)
import type { ServiceName } from '../kit/mesh';
import { renderResults, runBench } from './bench';
import { WORKLOADS, type Mode, type Workload } from './config';

const USAGE = `usage: npm run bench -- [--quick | --smoke] [--only=${WORKLOADS.join(',')}] [--profile=command-svc,projector-svc,query-svc,edge] [--out=DIR] | --render=RESULTS.json`;
const SERVICES: ServiceName[] = ['command-svc', 'query-svc', 'projector-svc', 'edge'];

function parse(argv: string[]) {
  let mode: Mode = 'full';
  let only: Workload[] | undefined;
  let cpuProfile: ServiceName[] | undefined;
  let outDir: string | undefined;
  let render: string | undefined;
  for (const a of argv) {
    if (a === '--quick') mode = 'quick';
    else if (a === '--smoke') mode = 'smoke';
    else if (a === '--full') mode = 'full';
    else if (a.startsWith('--only=')) {
      only = a.slice(7).split(',').filter(Boolean) as Workload[];
      const bad = only.filter((w) => !WORKLOADS.includes(w));
      if (bad.length) throw new Error(`unknown workload(s): ${bad.join(', ')}\n${USAGE}`);
    } else if (a.startsWith('--profile=')) {
      cpuProfile = a.slice(10).split(',').filter(Boolean) as ServiceName[];
      const bad = cpuProfile.filter((s) => !SERVICES.includes(s));
      if (bad.length) throw new Error(`unknown service(s): ${bad.join(', ')}\n${USAGE}`);
    } else if (a.startsWith('--out=')) outDir = a.slice(6);
    else if (a.startsWith('--render=')) render = a.slice(9);
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return { mode, only, cpuProfile, outDir, render };
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  if (opts.render) {
    process.stdout.write(`report: ${renderResults(opts.render)}\n`);
    return;
  }
  const out = await runBench(opts);
  const t = out.results.targets;
  process.stdout.write(
    [
      `results: ${out.jsonPath}`,
      `report:  ${out.resultsMdPath}`,
      ...t.map((x) => `  ${x.pass === null ? 'n/a ' : x.pass ? 'PASS' : 'FAIL'}  ${x.title}: ${x.measured}`),
      '',
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`\nbench failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
