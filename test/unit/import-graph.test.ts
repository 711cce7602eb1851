// The layers of docs/development/architecture.md, checked on the real import graph of src/ and workers/: every
// relative import (type-only ones included) points down a layer or stays inside its own folder, and no files
// import each other round in a cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

const ENTRY_POINTS = ['workers/nudges.ts', 'workers/heat.ts', 'workers/routines.ts', 'workers/standalone.ts'];

/** Lower layers first. A file may import from a lower layer, or from its own folder. */
const LAYERS: Array<{ name: string; rank: number; match: (f: string) => boolean }> = [
  { name: 'domain', rank: 0, match: (f) => f.startsWith('src/domain/') },
  {
    name: 'base',
    rank: 1,
    match: (f) =>
      ['src/config.ts', 'src/logger.ts', 'src/metrics.ts', 'src/errors.ts', 'src/dependencies.ts'].includes(f),
  },
  { name: 'store', rank: 2, match: (f) => f.startsWith('src/store/') },
  // Queues take the store's client type.
  { name: 'queues', rank: 3, match: (f) => f.startsWith('src/queues/') },
  { name: 'mqtt', rank: 2, match: (f) => f.startsWith('src/mqtt/') },
  { name: 'adapters', rank: 3, match: (f) => f.startsWith('src/adapters/') },
  { name: 'app', rank: 4, match: (f) => f.startsWith('src/app/') },
  { name: 'http', rank: 5, match: (f) => f.startsWith('src/http/') },
  { name: 'ingest', rank: 5, match: (f) => f.startsWith('src/ingest/') },
  { name: 'workers', rank: 5, match: (f) => f.startsWith('workers/') && !ENTRY_POINTS.includes(f) },
  // Composition roots: the service, and each worker run on its own (which starts the service with one worker).
  { name: 'main', rank: 6, match: (f) => f === 'src/main.ts' || ENTRY_POINTS.includes(f) },
];

const layerOf = (file: string) => {
  const l = LAYERS.find((x) => x.match(file));
  if (!l) throw new Error(`${file} belongs to no layer: add it to LAYERS in test/unit/import-graph.test.ts`);
  return l;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(join(ROOT, rel)).isDirectory()) return sourceFiles(rel);
    return /\.ts$/.test(name) && !name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Relative imports and re-exports of a file, as repository paths (`.js` suffixes mapped back to `.ts`). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g),
  ].map((m) => m[1] ?? m[2]!);
  return specs.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)).replace(/\.js$/, '.ts'));
}

const files = [...sourceFiles('src'), ...sourceFiles('workers')];
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.endsWith('.ts'))]));

describe('the import graph', () => {
  it('finds the source files and their imports', () => {
    // Guards the parser itself: a regex that matched nothing would make the checks below pass vacuously.
    expect(files.length).toBeGreaterThan(40);
    expect(graph.get('src/main.ts')?.length).toBeGreaterThan(5);
    for (const [f, targets] of graph)
      for (const t of targets) expect(files, `${f} imports ${t}, which does not exist`).toContain(t);
  });

  it('has no import that points up a layer or sideways into another folder of the same layer', () => {
    const wrong: string[] = [];
    for (const [from, targets] of graph) {
      const a = layerOf(from);
      for (const to of targets) {
        const b = layerOf(to);
        if (b.rank < a.rank || b.name === a.name) continue;
        wrong.push(`${from} (${a.name}) → ${to} (${b.name})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no cycle between files', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of graph.get(f) ?? []) {
        if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].join(' → '));
        else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
