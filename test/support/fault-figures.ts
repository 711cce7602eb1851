// What the fault tests measured (events sent and applied, duplicates, losses, commands expected and sent), kept in
// test-artifacts/faults.json (one entry per test, merged) and printed as one line per test for the closing note.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './service-process.js';
import type { ServiceHandle } from './service-process.js';

export type Figures = Record<string, number | string | boolean | null>;

const FILE = join(REPO_ROOT, 'test-artifacts', 'faults.json');

export async function recordFigures(test: string, figures: Figures): Promise<void> {
  console.log(
    `[faults] ${test}: ${Object.entries(figures)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  await mkdir(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
  // Two test files may record at once: a lock directory (mkdir is atomic) around read-merge-write, and the file
  // written whole and renamed. A lock left by a crashed run is taken over after a second.
  const lock = `${FILE}.lock`;
  for (let i = 0; i < 50; i++) {
    try {
      await mkdir(lock);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    let all: Record<string, unknown> = {};
    try {
      all = JSON.parse(await readFile(FILE, 'utf8')) as Record<string, unknown>;
    } catch {
      all = {};
    }
    all[test] = { ...figures, recordedAt: new Date().toISOString() };
    const tmp = `${FILE}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`);
    await rename(tmp, FILE);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Sum of a Prometheus counter over all its label sets, optionally only those whose labels contain `labels`. */
export function counter(metrics: string, name: string, labels = ''): number {
  let sum = 0;
  for (const m of metrics.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)$`, 'gm'))) {
    if (labels && !(m[1] ?? '').includes(labels)) continue;
    sum += Number(m[2]);
  }
  return sum;
}

export async function metricsOf(svc: ServiceHandle): Promise<string> {
  const r = await svc.fetchJson('/metrics');
  if (r.status !== 200) throw new Error(`${svc.label} /metrics answered ${r.status}`);
  return r.body as string;
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function inBatches<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return results;
}
