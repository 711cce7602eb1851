// Runs unknot's main() inside the test process against the suite's real Redis and broker, in a namespace of its
// own: the same helpers as test/support/unknot.ts (fetchJson, an MQTT client) without spawning `tsx` (seconds per
// start on a busy machine). Use the whole-process harness only for what needs a process: exit codes, the one-line
// start-up error, signals, kill -9.
import { inject } from 'vitest';
import type { AppContext } from '../../src/app/context.js';
import { main, type MainOptions } from '../../src/main.js';
import { fetchJsonFrom, type FetchJsonInit, type FetchJsonResult } from './fetch-json.js';
import { connectClient, type TestMqttClient } from './mqtt-client.js';
import { cleanupRedisPrefix, uniqueNamespace, type TestNamespace } from './namespace.js';

/**
 * The application's clock (ctx.now): real time plus an offset the test moves. Time keeps flowing, so BullMQ's
 * delays (wall-clock) still line up; `advance` makes "16 days ago" or "tomorrow" without waiting.
 */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
  /**
   * From now on every read of the clock moves it on by `ms` (0 stops it): two reads in one request never agree, so
   * code that reads the clock twice where it means one instant fails every run, not when a millisecond happens to
   * tick in between.
   */
  stepPerRead(ms: number): void;
}

export function testClock(): TestClock {
  let offset = 0;
  let step = 0;
  return {
    now: () => {
      const t = Date.now() + offset;
      offset += step;
      return t;
    },
    advance: (ms) => {
      offset += ms;
    },
    stepPerRead: (ms) => {
      step = ms;
    },
  };
}

export interface InProcessService {
  readonly label: string;
  /** 0 for an instance without the api role. */
  readonly httpPort: number;
  /** http://127.0.0.1:<port>, or '' without the api role. */
  readonly baseUrl: string;
  /** The running application's context (config, Redis, queues, metrics …). */
  readonly ctx: AppContext;
  /** fetch() against baseUrl; sends the API token of the env as a bearer token unless told otherwise. */
  fetchJson(path: string, init?: FetchJsonInit): Promise<FetchJsonResult>;
  /** Stops every unit in reverse order, like SIGTERM does for the process (idempotent). */
  stop(): Promise<void>;
}

export interface InProcessHarness {
  ns: TestNamespace;
  env: Record<string, string>;
  mqtt: TestMqttClient;
  clock: TestClock;
  start(
    extraEnv?: Record<string, string | undefined>,
    label?: string,
    opts?: Omit<MainOptions, 'env' | 'now'>,
  ): Promise<InProcessService>;
  close(): Promise<void>;
}

/** Same env as the whole-process harness; logs off unless UNKNOT_TEST_ECHO_LOGS=1 (they would go to the runner's stdout). */
export async function inProcessHarness(
  label: string,
  env: Record<string, string> = {},
  servers?: { redisUrl: string; mqttUrl: string },
): Promise<InProcessHarness> {
  const ns = uniqueNamespace(label);
  const redisUrl = servers?.redisUrl ?? inject('redisUrl');
  const mqttUrl = servers?.mqttUrl ?? inject('mqttUrl');
  const baseEnv: Record<string, string> = {
    REDIS_URL: redisUrl,
    MQTT_URL: mqttUrl,
    UNKNOT_REDIS_PREFIX: ns.prefix,
    UNKNOT_BASE_TOPIC: ns.baseTopic,
    Z2M_BASE_TOPIC: `${ns.baseTopic}-z2m`,
    HA_DISCOVERY_PREFIX: `${ns.baseTopic}-ha`,
    HA_STATUS_TOPIC: `${ns.baseTopic}-ha-status`,
    UNKNOT_TIME_SCALE: '600',
    UNKNOT_API_RATE_LIMIT: '0',
    HTTP_PORT: '0',
    LOG_LEVEL: process.env.UNKNOT_TEST_ECHO_LOGS === '1' ? 'info' : 'silent',
    ...env,
  };
  const clock = testClock();
  const mqtt = await connectClient(mqttUrl);
  const services: InProcessService[] = [];
  return {
    ns,
    env: baseEnv,
    mqtt,
    clock,
    async start(extraEnv = {}, name = label, opts = {}) {
      const merged = { ...baseEnv, ...extraEnv };
      const s = await startInProcess(merged, name, { ...opts, now: () => clock.now() });
      services.push(s);
      return s;
    },
    async close() {
      await Promise.all(services.map((s) => s.stop().catch(() => undefined)));
      await mqtt.end();
      await cleanupRedisPrefix(redisUrl, ns.prefix);
    },
  };
}

/** main() with exactly `env` (process.env is not read), wrapped as an InProcessService. */
export async function startInProcess(
  env: Record<string, string | undefined>,
  label = 'unknot',
  opts: Omit<MainOptions, 'env'> = {},
): Promise<InProcessService> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  const { stop, ctx, httpPort } = await main({ ...opts, env: clean });
  const baseUrl = httpPort ? `http://127.0.0.1:${httpPort}` : '';
  let stopped: Promise<void> | undefined;
  return {
    label,
    httpPort: httpPort ?? 0,
    baseUrl,
    ctx,
    fetchJson: (path, init) => fetchJsonFrom(baseUrl, clean.UNKNOT_API_TOKEN, path, init),
    stop: () => (stopped ??= stop()),
  };
}
