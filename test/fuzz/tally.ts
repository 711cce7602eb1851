// What every fuzz file shares: the count of generated cases each target really ran (printed, and written under
// test-artifacts/fuzz/, git-ignored, with a merged total in summary.json for the CI note), seeds and FUZZ_SCALE.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { REPO_ROOT } from '../support/service-process.js';

// fast-check picks a fresh seed per property and prints it (with the path) when one fails; FUZZ_SEED=<seed>
// replays that seed in every property of the file.
if (process.env.FUZZ_SEED) fc.configureGlobal({ seed: Number(process.env.FUZZ_SEED) | 0 });

const DIR = join(REPO_ROOT, 'test-artifacts', 'fuzz');

export interface Tally {
  /** Adds `n` cases to `target`. */
  add(target: string, n?: number): void;
  /** Counts something about the cases (how many were accepted, …): printed, not added to the total. */
  note(what: string, n?: number): void;
  count(target: string): number;
  /** Prints the counts and writes `<file>.json` and the merged summary. */
  flush(extra?: Record<string, unknown>): void;
}

export function tally(file: string): Tally {
  const counts = new Map<string, number>();
  const notes = new Map<string, number>();
  const started = Date.now();
  return {
    add(target, n = 1) {
      counts.set(target, (counts.get(target) ?? 0) + n);
    },
    note(what, n = 1) {
      notes.set(what, (notes.get(what) ?? 0) + n);
    },
    count: (target) => counts.get(target) ?? 0,
    flush(extra = {}) {
      const targets = Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `[fuzz] ${file}: ${total} cases in ${seconds.toFixed(1)} s\n` +
          Object.entries(targets)
            .map(([t, n]) => `[fuzz]   ${t}: ${n}`)
            .join('\n') +
          [...notes].map(([w, n]) => `\n[fuzz]   (of which ${w}: ${n})`).join(''),
      );
      try {
        mkdirSync(DIR, { recursive: true });
        writeFileSync(
          join(DIR, `${file}.json`),
          `${JSON.stringify({ file, total, seconds, scale: FUZZ_SCALE, targets, notes: Object.fromEntries(notes), at: new Date().toISOString(), ...extra }, null, 2)}\n`,
        );
        // Whichever fuzz file finishes last leaves the merged figures of this run behind.
        const files = readdirSync(DIR).filter((f) => f.endsWith('.json') && f !== 'summary.json');
        const all = files
          .map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as { file?: unknown; total?: unknown })
          // Only count files (not failure artifacts such as the MQTT cases kept for a replay).
          .filter(
            (r): r is { file: string; total: number } => typeof r?.file === 'string' && typeof r.total === 'number',
          );
        const summary = {
          total: all.reduce((a, r) => a + r.total, 0),
          files: Object.fromEntries(all.map((r) => [r.file, r.total])),
          at: new Date().toISOString(),
        };
        writeFileSync(join(DIR, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
        console.log(
          `[fuzz] all fuzz files so far: ${summary.total} cases (${join('test-artifacts', 'fuzz', 'summary.json')})`,
        );
      } catch (err) {
        console.log(`[fuzz] could not write the case counts: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
}

/**
 * A seed for runs that sample cases up front (end-to-end batches): FUZZ_SEED to replay one, else a fresh one.
 * fc.assert prints its own seed on failure; these runs put the seed in every failure message instead.
 */
export function fuzzSeed(): number {
  const given = process.env.FUZZ_SEED;
  if (given !== undefined && given !== '') return Number(given) | 0;
  return (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
}

/** FUZZ_SCALE multiplies every run count (e.g. FUZZ_SCALE=10 for a longer hunt on a quiet machine); CI uses 1. */
export const FUZZ_SCALE = Math.max(0.1, Number(process.env.FUZZ_SCALE ?? '1') || 1);
export const scaled = (n: number): number => Math.max(1, Math.round(n * FUZZ_SCALE));
