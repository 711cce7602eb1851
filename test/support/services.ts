// Finds a real Redis and a real MQTT broker for the tests (docs/development/testing.md): REDIS_URL / MQTT_URL
// when set, else containers when a Docker engine answers, else redis-server and mosquitto from the PATH.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { connectAsync } from 'mqtt';

export interface TestServices {
  redisUrl: string;
  mqttUrl: string;
  /** One line saying where each service came from, for the test log. */
  source: string;
  stop(): Promise<void>;
}

interface Started {
  url: string;
  source: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const DOCKER_PROBE_TIMEOUT_MS = 3_000;

// The settings docs/configuration.md asks for: BullMQ needs noeviction; hz 100 makes delayed jobs fire on time. As in
// docker-compose.yml, hash-max-listpack-value 256 keeps a BullMQ job hash compact (~470 B instead of ~850 B).
export const REDIS_ARGS = [
  '--appendonly',
  'no',
  '--hz',
  '100',
  '--maxmemory-policy',
  'noeviction',
  '--hash-max-listpack-value',
  '256',
];

// max_queued_messages: Mosquitto silently drops messages of a slow subscriber past 1000 (0, no limit, is broken in
// some 2.0.x releases; config/mosquitto.conf says which).
// set_tcp_nodelay: Nagle adds ~30 ms to the p99 of small messages.
export function mosquittoConf(listener: string, extra: string[] = []): string {
  return [
    listener,
    'allow_anonymous true',
    'max_queued_messages 1000000',
    'set_tcp_nodelay true',
    // unknot's ingest handles up to 64 messages at once (config/mosquitto.conf says the same).
    'max_inflight_messages 64',
    'persistence false',
    ...extra,
    '',
  ].join('\n');
}

export async function startServices(): Promise<TestServices> {
  const envRedis = nonEmpty(process.env.REDIS_URL);
  const envMqtt = nonEmpty(process.env.MQTT_URL);
  const started: Started[] = [];
  const stopAll = async (): Promise<void> => {
    // Reverse order of start; keep going when one fails so nothing is left running.
    const errors: unknown[] = [];
    for (const s of started.splice(0).reverse()) {
      try {
        await s.stop();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'stopping the test services failed');
  };

  try {
    let redis: Started | undefined = envRedis ? fromEnv('REDIS_URL', envRedis) : undefined;
    let mqtt: Started | undefined = envMqtt ? fromEnv('MQTT_URL', envMqtt) : undefined;
    let containerFailure = '';

    if ((!redis || !mqtt) && (await dockerAnswers())) {
      try {
        if (!redis) started.push((redis = await startRedisContainer()));
        if (!mqtt) started.push((mqtt = await startMosquittoContainer()));
      } catch (err) {
        // No registry access or a broken engine: the binaries on the PATH are still a real Redis and broker.
        containerFailure = ` (containers failed: ${errorMessage(err)})`;
        await stopAll();
        redis = envRedis ? redis : undefined;
        mqtt = envMqtt ? mqtt : undefined;
      }
    }
    if (!redis) started.push((redis = await spawnRedis()));
    if (!mqtt) started.push((mqtt = await spawnMosquitto()));

    // Fail here, once and clearly, rather than in every test: the env URLs are checked too.
    const [r, m] = [redis, mqtt];
    await Promise.all([
      waitUntil(`Redis (${r.source})`, READY_TIMEOUT_MS, () => pingRedis(r.url)),
      waitUntil(`MQTT broker (${m.source})`, READY_TIMEOUT_MS, () => pingMqtt(m.url)),
    ]);

    return {
      redisUrl: r.url,
      mqttUrl: m.url,
      source: `redis: ${r.source}; mqtt: ${m.source}${containerFailure}`,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}

function fromEnv(name: string, url: string): Started {
  return { url, source: `${name} ${url}`, stop: async () => undefined };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

export function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(errorMessage).join('; ');
  return err instanceof Error ? err.message || err.name : String(err);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------- readiness

async function waitUntil(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<void>,
  gaveUp?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    const reason = gaveUp?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    try {
      await attempt();
      return;
    } catch (err) {
      last = errorMessage(err);
    }
    if (Date.now() >= deadline) throw new Error(`${what} did not answer within ${timeoutMs} ms (last error: ${last})`);
    await sleep(100);
  }
}

export async function pingRedis(url: string): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // ioredis rejects with "Connection is closed."; the 'error' event has the reason (ECONNREFUSED, …).
  let cause: Error | undefined;
  client.on('error', (err: Error) => {
    cause ??= err;
  });
  try {
    await client.connect();
    const answer = await client.ping();
    if (answer !== 'PONG') throw new Error(`PING answered ${JSON.stringify(answer)}`);
  } catch (err) {
    throw cause ?? err;
  } finally {
    client.disconnect();
  }
}

export async function pingMqtt(url: string): Promise<void> {
  const client = await withTimeout(
    connectAsync(url, { reconnectPeriod: 0, connectTimeout: 1_000, clean: true }, false),
    2_000,
    `an MQTT CONNACK from ${url}`,
  );
  await client.endAsync(true);
}

function waitForRedis(url: string, timeoutMs: number, gaveUp?: () => string | undefined): Promise<void> {
  return waitUntil(`Redis at ${url} (PING)`, timeoutMs, () => pingRedis(url), gaveUp);
}

function waitForMqtt(url: string, timeoutMs: number, gaveUp?: () => string | undefined): Promise<void> {
  return waitUntil(`MQTT broker at ${url} (CONNECT)`, timeoutMs, () => pingMqtt(url), gaveUp);
}

// ---------------------------------------------------------------------------------------------- containers

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await withTimeout(getContainerRuntimeClient(), DOCKER_PROBE_TIMEOUT_MS, 'a Docker engine');
    return true;
  } catch {
    return false;
  }
}

async function startRedisContainer(): Promise<Started> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('redis:7-alpine')
    .withCommand(['redis-server', ...REDIS_ARGS])
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  return { url, source: `container redis:7-alpine ${url}`, stop: async () => void (await container.stop()) };
}

async function startMosquittoContainer(): Promise<Started> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('eclipse-mosquitto:2')
    .withCopyContentToContainer([
      { content: mosquittoConf('listener 1883', ['log_dest stdout']), target: '/mosquitto/config/mosquitto.conf' },
    ])
    .withExposedPorts(1883)
    .withWaitStrategy(Wait.forListeningPorts())
    .start();
  const url = `mqtt://${container.getHost()}:${container.getMappedPort(1883)}`;
  return { url, source: `container eclipse-mosquitto:2 ${url}`, stop: async () => void (await container.stop()) };
}

// ---------------------------------------------------------------------------------------------- spawned

const liveChildren = new Set<ChildProcess>();
let reaperInstalled = false;

/**
 * Kills `child` with SIGKILL if this process exits or is ended by SIGINT/SIGTERM/SIGHUP first, so a crashed or
 * interrupted test run never leaves a server or a service behind. Used for every child the test support starts.
 */
export function killOnExit(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (reaperInstalled) return;
  reaperInstalled = true;
  const killAll = (): void => {
    for (const c of liveChildren) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAll();
      // Alone, our listener would swallow the signal: die of it as the process would have without us.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

interface SpawnedServer {
  child: ChildProcess;
  output(): string;
  /** Why the process can no longer become ready, or undefined while it runs. */
  gaveUp(): string | undefined;
  stop(): Promise<void>;
}

function spawnServer(command: string, args: string[]): SpawnedServer {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    lines.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== ''),
    );
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let spawnError: Error | undefined;
  let exitStatus: string | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const exited = new Promise<void>((resolve) => {
    child.once('close', (code, signal) => {
      exitStatus = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
    child.once('error', () => resolve());
  });

  return {
    child,
    output: () => lines.slice(-40).join('\n'),
    gaveUp: () => {
      if (spawnError) {
        const hint = (spawnError as NodeJS.ErrnoException).code === 'ENOENT' ? ` (is ${command} on the PATH?)` : '';
        return `could not start ${command}: ${spawnError.message}${hint}`;
      }
      return exitStatus ? `${command} exited with ${exitStatus}` : undefined;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null || spawnError) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts a server on a free port, retrying with another port when it dies at once (a port race). */
async function spawnOnFreePort(
  name: string,
  start: (port: number) => Promise<{ server: SpawnedServer; cleanup?: () => Promise<void> }>,
  waitReady: (url: string, gaveUp: () => string | undefined) => Promise<void>,
  scheme: string,
): Promise<Started> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `${scheme}://127.0.0.1:${port}`;
    const { server, cleanup } = await start(port);
    const stop = async (): Promise<void> => {
      await server.stop();
      await cleanup?.();
    };
    try {
      await waitReady(url, () => server.gaveUp());
      return { url, source: `spawned ${name} (pid ${server.child.pid}) ${url}`, stop };
    } catch (err) {
      await stop();
      lastError = new Error(`${errorMessage(err)}\n--- ${name} output ---\n${server.output() || '(none)'}`);
      if (server.child.pid === undefined) break; // not installed: another port will not help
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

async function spawnRedis(): Promise<Started> {
  return spawnOnFreePort(
    'redis-server',
    async (port) => {
      const dir = await mkdtemp(join(tmpdir(), 'unknot-redis-'));
      const server = spawnServer('redis-server', [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        ...REDIS_ARGS,
        '--dir',
        dir,
        '--daemonize',
        'no',
      ]);
      return { server, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
    (url, gaveUp) => waitForRedis(url, READY_TIMEOUT_MS, gaveUp),
    'redis',
  );
}

async function spawnMosquitto(): Promise<Started> {
  return spawnOnFreePort(
    'mosquitto',
    async (port) => {
      const dir = await mkdtemp(join(tmpdir(), 'unknot-mosquitto-'));
      const conf = join(dir, 'mosquitto.conf');
      await writeFile(conf, mosquittoConf(`listener ${port} 127.0.0.1`, ['log_dest stderr']));
      const server = spawnServer('mosquitto', ['-c', conf]);
      return { server, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
    (url, gaveUp) => waitForMqtt(url, READY_TIMEOUT_MS, gaveUp),
    'mqtt',
  );
}
