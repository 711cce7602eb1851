// A redis-server or mosquitto of a test's own, on a free port and in a temp directory, that the test may kill
// and start again on the same port and data (fault tests). Same settings as the suite-wide servers of
// services.ts; never touches those, nor the shared ones on 6379/1883.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { errorMessage, freePort, killOnExit, mosquittoConf, pingMqtt, pingRedis, REDIS_ARGS } from './services.js';

const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

export interface ServerLine {
  /** Date.now() when the line reached this process. */
  at: number;
  line: string;
}

export interface PrivateServer {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** Where the server keeps its data (AOF, persistence file); survives restarts, removed by remove(). */
  readonly dir: string;
  /** True between a successful start and the process exiting. */
  running(): boolean;
  /** Every line the server printed, all runs, oldest first. */
  lines(): ServerLine[];
  /** SIGKILL (a crash) or SIGTERM (an orderly stop: Mosquitto saves its persistence file); resolves once it exited. */
  kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts it again on the same port with the same data, and waits until it answers. */
  start(): Promise<void>;
  /** Stops it (if running) and deletes its directory. */
  remove(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function privateServer(
  name: string,
  scheme: string,
  command: string,
  prepare: (port: number, dir: string) => Promise<string[]>,
  ping: (url: string) => Promise<void>,
): Promise<PrivateServer> {
  const dir = await mkdtemp(join(tmpdir(), `unknot-fault-${name}-`));
  const lines: ServerLine[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;

  const launch = async (): Promise<void> => {
    const args = await prepare(port, dir);
    const c = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(c);
    child = c;
    let exitStatus: string | undefined;
    exited = new Promise((resolve) => {
      c.once('exit', (code, signal) => {
        exitStatus = signal ? `signal ${signal}` : `code ${code}`;
        resolve();
      });
      c.once('error', (err) => {
        exitStatus = `could not start ${command}: ${err.message}`;
        resolve();
      });
    });
    for (const stream of [c.stdout, c.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        lines.push({ at: Date.now(), line });
        if (lines.length > 5_000) lines.splice(0, lines.length - 5_000);
      });
    }
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last: string | undefined;
    for (;;) {
      if (exitStatus) throw new Error(`${name} on port ${port} exited (${exitStatus}):\n${tail()}`);
      try {
        await ping(url());
        return;
      } catch (err) {
        last = errorMessage(err);
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`${name} on port ${port} did not answer within ${READY_TIMEOUT_MS} ms (${last}):\n${tail()}`);
      }
      await sleep(50);
    }
  };
  const url = () => `${scheme}://127.0.0.1:${port}`;
  const tail = () =>
    lines
      .slice(-20)
      .map((l) => l.line)
      .join('\n') || '(no output)';
  const isRunning = () => !!child && child.exitCode === null && child.signalCode === null;

  const kill = async (signal: 'SIGKILL' | 'SIGTERM'): Promise<void> => {
    if (!isRunning()) return;
    child!.kill(signal);
    const timer = setTimeout(() => child?.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  // A port race (someone took the free port before the server bound it): try another port, at first start only.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    port = await freePort();
    try {
      await launch();
      lastError = undefined;
      break;
    } catch (err) {
      lastError = err;
      await kill('SIGKILL');
    }
  }
  if (lastError) {
    await rm(dir, { recursive: true, force: true });
    throw lastError instanceof Error ? lastError : new Error(JSON.stringify(lastError));
  }

  return {
    name,
    port,
    url: url(),
    dir,
    running: isRunning,
    lines: () => [...lines],
    kill,
    async start() {
      if (isRunning()) throw new Error(`${name} is already running`);
      await launch();
    },
    async remove() {
      await kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * redis-server with the suite's settings plus AOF on every write (`appendfsync always`), so that whatever it
 * acknowledged before a SIGKILL is there again after start().
 */
export function startPrivateRedis(): Promise<PrivateServer> {
  return privateServer(
    'redis',
    'redis',
    'redis-server',
    async (port, dir) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      ...REDIS_ARGS,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      dir,
      '--daemonize',
      'no',
    ],
    pingRedis,
  );
}

/**
 * Mosquitto with the suite's settings plus persistence in its directory: an orderly stop (SIGTERM) saves the
 * persistent sessions, their subscriptions and the QoS 1 messages queued for them, and start() loads them again.
 */
export function startPrivateMosquitto(): Promise<PrivateServer> {
  return privateServer(
    'mosquitto',
    'mqtt',
    'mosquitto',
    async (port, dir) => {
      // Started as root, Mosquitto drops to the `mosquitto` user before it saves: let it write here.
      await chmod(dir, 0o777);
      const conf = join(dir, 'mosquitto.conf');
      await writeFile(
        conf,
        mosquittoConf(`listener ${port} 127.0.0.1`, [
          'log_dest stderr',
          'log_type error',
          'log_type warning',
          'log_type notice',
          'log_type information',
          'connection_messages true',
          'persistence true',
          `persistence_location ${dir}/`,
          'persistence_file mosquitto.db',
        ]),
      );
      return ['-c', conf];
    },
    pingMqtt,
  );
}
