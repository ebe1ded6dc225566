// The layout's rules, read from the code's own imports: services never import
// each other, the shared folders never import a service, the domain knows no
// request message, and no module imports itself round a cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const SERVICES = ['command-svc', 'query-svc', 'projector-svc', 'edge'];
const SHARED = ['lib', 'domain', 'read-models'];
const SOURCES = [...SERVICES, ...SHARED, 'kit', 'scripts', 'bench'];

function files(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(ROOT, dir));
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    if (statSync(join(ROOT, p)).isDirectory()) return files(p);
    return /\.ts$/.test(n) && !n.endsWith('.d.ts') ? [p] : [];
  });
}

/**
 * Repository-relative file → the repository files it imports (relative
 * imports only). With `benchValuesOnly`, the type-only imports between two
 * bench files are left out.
 */
function graph(benchValuesOnly = false): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of SOURCES.flatMap(files)) {
    const text = readFileSync(join(ROOT, f), 'utf8');
    const imports = [...text.matchAll(/(?:^|\n)\s*((?:import|export)\b[^'"]*?)from\s+'(\.[^']+)'/g)]
      .filter((m) => !(benchValuesOnly && f.startsWith('bench/') && m[2].startsWith('.') && !m[2].startsWith('../../') && /^(?:import|export)\s+type\b/.test(m[1])))
      .map((m) => m[2]);
    const targets = [...imports, ...[...text.matchAll(/require\('(\.[^']+)'\)/g)].map((m) => m[1])].map((spec) => {
      const abs = resolve(ROOT, dirname(f), spec);
      for (const candidate of [`${abs}.ts`, join(abs, 'index.ts'), abs]) {
        try {
          if (statSync(candidate).isFile()) return relative(ROOT, candidate);
        } catch {
          /* next candidate */
        }
      }
      return relative(ROOT, abs);
    });
    g.set(f, targets);
  }
  return g;
}

const top = (f: string) => f.split('/')[0];
const g = graph();
const edges = [...g].flatMap(([from, tos]) => tos.map((to) => ({ from, to })));

test('no service imports another service', () => {
  const bad = edges.filter((e) => SERVICES.includes(top(e.from)) && SERVICES.includes(top(e.to)) && top(e.from) !== top(e.to));
  expect(bad).toEqual([]);
});

test('nothing but the tests imports from test/', () => {
  const bad = edges.filter((e) => top(e.to) === 'test');
  expect(bad).toEqual([]);
});

test('lib/, domain/ and read-models/ import no service, no kit and no script', () => {
  const bad = edges.filter((e) => SHARED.includes(top(e.from)) && [...SERVICES, 'kit', 'scripts', 'bench', 'test'].includes(top(e.to)));
  expect(bad).toEqual([]);
});

test('the services import no test kit', () => {
  const bad = edges.filter((e) => SERVICES.includes(top(e.from)) && ['kit', 'scripts', 'bench', 'test'].includes(top(e.to)));
  expect(bad).toEqual([]);
});

test('read-models/ imports only itself; domain/ imports only itself and generated messages', () => {
  const bad = edges.filter(
    (e) => (top(e.from) === 'read-models' && top(e.to) !== 'read-models') || (top(e.from) === 'domain' && !['domain', 'gen'].includes(top(e.to))),
  );
  expect(bad).toEqual([]);
});

test('the domain imports no generated request or service type', () => {
  const bad = edges.filter((e) => top(e.from) === 'domain' && /gen\/ts\/cqrs\/v1\/(command|query)_service/.test(e.to));
  expect(bad).toEqual([]);
});

// bench/context.ts and the bench workloads still name each other's types
// (what a workload reports): type-only, erased at run time, and left to the
// bench's own clean-up. Everywhere else a type import counts too.
test('no import cycle', () => {
  const g = graph(true);
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    path.push(f);
    for (const to of g.get(f) ?? []) {
      if (state.get(to) === 'open') cycles.push([...path.slice(path.indexOf(to)), to].join(' → '));
      else if (!state.has(to) && g.has(to)) visit(to);
    }
    path.pop();
    state.set(f, 'done');
  };
  for (const f of g.keys()) if (!state.has(f)) visit(f);
  expect(cycles).toEqual([]);
});
