// Runs the real service (`node --import tsx src/main.ts`) for the benchmark and reads its /metrics.
//
// test/support/service-process.ts waits for the "unknot ready" log line, but that line is logged at info and the
// benchmark runs the service at LOG_LEVEL=warn (one info line per nudge would be measured along with it). So the
// benchmark picks the HTTP port itself (freePort from test/support/services.ts) and waits for /readyz, which
// answers only once every role, ingest's subscription included, has started.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../test/support/service-process.js';
import { freePort, killOnExit } from '../test/support/services.js';
import { parseProm, type Scrape } from './prom.js';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const TAIL_LINES = 30;

export interface UnknotProcess {
  label: string;
  pid: number;
  baseUrl: string;
  scrape(timeoutMs?: number): Promise<Scrape>;
  /** Why the process is gone, or undefined while it runs. */
  gone(): string | undefined;
  tail(): string;
  /** SIGTERM, SIGKILL after 10 s. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  label: string;
  env: Record<string, string | undefined>;
  /** Extra node options before `--import tsx` (e.g. --cpu-prof, which NODE_OPTIONS does not allow). */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}

export async function spawnUnknot(opts: SpawnOptions): Promise<UnknotProcess> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await spawnOnce(opts, await freePort());
    } catch (err) {
      lastError = err as Error;
      // Another process took the port between freePort() and listen(): try another one.
      if (!/HTTP_PORT: port \d+ .* is taken/.test(lastError.message)) break;
    }
  }
  throw lastError ?? new Error(`${opts.label}: could not start`);
}

async function spawnOnce(opts: SpawnOptions, httpPort: number): Promise<UnknotProcess> {
  const env: NodeJS.ProcessEnv = {};
  const given: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'warn',
    HTTP_HOST: '127.0.0.1',
    ...opts.env,
    HTTP_PORT: String(httpPort),
  };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) env[k] = v;
  const args = [...(opts.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts'];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  const lines: string[] = [];
  const keep = (stream: string) => (line: string) => {
    if (line === '') return;
    lines.push(stream === 'stderr' ? `[stderr] ${line}` : line);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  createInterface({ input: child.stdout }).on('line', keep('stdout'));
  createInterface({ input: child.stderr }).on('line', keep('stderr'));
  let goneWhy: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      goneWhy = `could not be started: ${err.message}`;
      resolve();
    });
    child.once('exit', (code, signal) => {
      goneWhy = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      resolve();
    });
  });
  const tail = () => lines.slice(-TAIL_LINES).join('\n') || '(no output)';
  const baseUrl = `http://127.0.0.1:${httpPort}`;

  const stop = async () => {
    if (goneWhy) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? READY_TIMEOUT_MS);
  for (;;) {
    if (goneWhy) {
      // Let the last lines of output arrive before quoting them.
      await new Promise((r) => setTimeout(r, 200));
      throw new Error(`${opts.label} ${goneWhy} before it was ready; last lines:\n${tail()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${opts.label} did not answer 200 on /readyz within ${opts.readyTimeoutMs ?? READY_TIMEOUT_MS} ms; last lines:\n${tail()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    label: opts.label,
    pid: child.pid ?? -1,
    baseUrl,
    gone: () => goneWhy,
    tail,
    stop,
    async scrape(timeoutMs = 5_000) {
      if (goneWhy) throw new Error(`${opts.label} ${goneWhy}; last lines:\n${tail()}`);
      const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${opts.label}: /metrics answered ${res.status}`);
      return parseProm(text);
    },
  };
}

/**
 * A short hash of the service's code (src/ and workers/) as it is now. Each process compiles the sources when it
 * starts, so a run that spans an edit measures two versions; comparing fingerprints says so.
 */
export async function codeFingerprint(): Promise<string> {
  const hash = createHash('sha1');
  const walk = async (dir: string): Promise<string[]> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    const files = await Promise.all(
      entries.map((e) => (e.isDirectory() ? walk(join(dir, e.name)) : Promise.resolve([join(dir, e.name)]))),
    );
    return files.flat();
  };
  const files = (await Promise.all(['src', 'workers'].map((d) => walk(join(REPO_ROOT, d))))).flat().sort();
  for (const f of files)
    hash
      .update(relative(REPO_ROOT, f))
      .update('\0')
      .update(await readFile(f))
      .update('\0');
  return hash.digest('hex').slice(0, 10);
}

/** Events the service has taken in and committed (the histogram counts a handled message at its end). */
export function progressOf(s: Scrape): {
  received: number;
  committed: number;
  rejected: number;
  cpuSeconds: number;
  gcSeconds: number;
} {
  return {
    // prom-client's default metrics time every garbage collection.
    gcSeconds: s.sum('nodejs_gc_duration_seconds_sum'),
    received: s.sum('unknot_events_received_total'),
    committed: s.sum('unknot_event_to_commit_seconds_count'),
    rejected: s.sum('unknot_events_rejected_total'),
    cpuSeconds: s.sum('process_cpu_user_seconds_total') + s.sum('process_cpu_system_seconds_total'),
  };
}
