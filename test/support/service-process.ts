// Runs the real unknot process (`node --import tsx src/main.ts`) as a child, the way a user starts it, for
// end-to-end tests: waits for its "unknot ready" log line, exposes its logs, HTTP address and a clean stop.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fetchJsonFrom, type FetchJsonInit, type FetchJsonResult } from './fetch-json.js';
import { killOnExit } from './services.js';

/** The repository root: two levels up from test/support/. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ExitResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a TypeScript entry point of the repository (`node --import tsx <script> …args`) to its end, with only PATH,
 * HOME and `env` in its environment (undefined values left out), killed after `timeoutMs`.
 */
export function runToExit(
  script: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs: number,
): Promise<ExitResult> {
  return new Promise((resolve) => {
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, ...env })) {
      if (v !== undefined) clean[k] = v;
    }
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, env: clean });
    killOnExit(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs unknot expecting it to exit during start-up; returns its exit code and output. */
export const runExpectingExit = (env: Record<string, string | undefined>, timeoutMs = 25_000): Promise<ExitResult> =>
  runToExit('src/main.ts', [], { HTTP_PORT: '0', ...env }, timeoutMs);

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const TAIL_LINES = 40;
const MAX_KEPT_LINES = 100_000;

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** The raw line. */
  line: string;
  /** The line parsed as JSON (pino), or undefined when it is not a JSON object. */
  json: Record<string, unknown> | undefined;
  /** `json.msg` when it is a string, for short predicates. */
  msg: string | undefined;
}

export type LogPredicate = (entry: LogEntry) => boolean;

export type { FetchJsonResult } from './fetch-json.js';

export interface StartServiceOptions {
  /** Merged over the minimal env; a value of undefined removes the variable. */
  env?: Record<string, string | undefined>;
  /** Names the process in errors and in echoed logs. */
  label?: string;
  readyTimeoutMs?: number;
  /** The script to run, relative to the repository root; src/main.ts unless given (e.g. a file under workers/). */
  entry?: string;
}

export interface ServiceHandle {
  readonly label: string;
  readonly pid: number;
  /** 0 for a process without the api role. */
  readonly httpPort: number;
  /** http://127.0.0.1:<port>, or '' without the api role */
  readonly baseUrl: string;
  /** Resolves with the exit code (null when a signal ended it) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Every line logged so far on stdout and stderr, in order of arrival. */
  logs(): LogEntry[];
  /** The first log line, already logged or still to come, that matches. */
  waitForLog(predicate: LogPredicate, timeoutMs?: number): Promise<LogEntry>;
  /** SIGTERM, then SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash); resolves once the process has exited. */
  kill9(): Promise<number | null>;
  /** fetch() against baseUrl; sends the API token of the env as a bearer token unless told otherwise. */
  fetchJson(path: string, init?: FetchJsonInit): Promise<FetchJsonResult>;
}

function parseLine(stream: LogEntry['stream'], line: string): LogEntry {
  let json: Record<string, unknown> | undefined;
  if (line.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
        json = parsed as Record<string, unknown>;
    } catch {
      json = undefined;
    }
  }
  return { stream, line, json, msg: typeof json?.msg === 'string' ? json.msg : undefined };
}

function buildEnv(given: Record<string, string | undefined>): NodeJS.ProcessEnv {
  // Minimal on purpose: the service must not depend on what the test runner happens to have in its env.
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'info',
    HTTP_PORT: '0',
    ...given,
  };
  const result: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) result[key] = value;
  return result;
}

export async function startService(options: StartServiceOptions = {}): Promise<ServiceHandle> {
  const label = options.label ?? 'unknot';
  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const env = buildEnv(options.env ?? {});
  const echo = process.env.UNKNOT_TEST_ECHO_LOGS === '1';

  const entry = options.entry ?? 'src/main.ts';
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);

  const entries: LogEntry[] = [];
  const listeners = new Set<(entry: LogEntry) => void>();
  const onLine = (stream: LogEntry['stream']) => (line: string) => {
    if (line === '') return;
    const entry = parseLine(stream, line);
    entries.push(entry);
    if (entries.length > MAX_KEPT_LINES) entries.splice(0, entries.length - MAX_KEPT_LINES);
    if (echo) process.stderr.write(`[${label} ${stream}] ${line}\n`);
    for (const listener of [...listeners]) listener(entry);
  };
  // readline keeps a line that arrives in two chunks whole.
  const stdoutDone = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', onLine('stdout')).on('close', resolve);
  });
  const stderrDone = new Promise<void>((resolve) => {
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', onLine('stderr')).on('close', resolve);
  });

  let spawnError: Error | undefined;
  let exitDescription: string | undefined;
  const exitedRaw = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      exitDescription = `could not be started: ${err.message}`;
      resolve(null);
    });
    child.once('exit', (code, signal) => {
      exitDescription = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      resolve(code);
    });
  });
  // Let the last lines of output in before anyone reads the logs of an exited process (bounded: a grandchild
  // holding the pipes open must not stall us).
  const exited = exitedRaw.then(async (code) => {
    await Promise.race([Promise.all([stdoutDone, stderrDone]), new Promise((r) => setTimeout(r, 1_000).unref())]);
    return code;
  });

  const tail = (): string => {
    const lines = entries.slice(-TAIL_LINES).map((e) => (e.stream === 'stderr' ? `[stderr] ${e.line}` : e.line));
    return lines.length > 0 ? lines.join('\n') : '(no output)';
  };

  const waitForLog = (predicate: LogPredicate, timeoutMs = 10_000): Promise<LogEntry> => {
    const already = entries.find(predicate);
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        listeners.delete(listener);
        fn();
      };
      const listener = (entry: LogEntry): void => {
        if (predicate(entry)) finish(() => resolve(entry));
      };
      const what = predicate.name || predicate.toString().slice(0, 200);
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new Error(
                `${label}: no log line matching ${what} within ${timeoutMs} ms; last ${TAIL_LINES} lines:\n${tail()}`,
              ),
            ),
          ),
        timeoutMs,
      );
      listeners.add(listener);
      void exited.then(() =>
        finish(() =>
          reject(
            new Error(
              `${label} ${exitDescription} while waiting for a log line matching ${what}; last ${TAIL_LINES} lines:\n${tail()}`,
            ),
          ),
        ),
      );
    });
  };

  const kill = async (signal: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null && !spawnError) child.kill(signal);
    return exited;
  };

  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null || spawnError) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  let ready: LogEntry;
  try {
    ready = await waitForLog(function unknotReady(e) {
      // A worker-only process (workers/*.ts) has no HTTP listener: its httpPort is null.
      return e.msg === 'unknot ready' && (typeof e.json?.httpPort === 'number' || e.json?.httpPort === null);
    }, readyTimeoutMs);
  } catch (err) {
    const stillRunning = child.exitCode === null && child.signalCode === null && !spawnError;
    await kill('SIGKILL');
    const why = stillRunning
      ? `did not log "unknot ready" within ${readyTimeoutMs} ms`
      : `${exitDescription} before it was ready`;
    throw new Error(
      `${label} (node --import tsx ${entry} in ${REPO_ROOT}) ${why}; last ${TAIL_LINES} lines of stdout/stderr:\n${tail()}`,
      { cause: err },
    );
  }

  const httpPort = (ready.json?.httpPort as number | null) ?? 0;
  const baseUrl = httpPort ? `http://127.0.0.1:${httpPort}` : '';
  const token = env.UNKNOT_API_TOKEN;

  return {
    label,
    pid: child.pid as number,
    httpPort,
    baseUrl,
    exited,
    logs: () => [...entries],
    waitForLog,
    stop,
    kill9: () => kill('SIGKILL'),

    fetchJson: (path, init = {}) => fetchJsonFrom(baseUrl, token, path, init),
  };
}
