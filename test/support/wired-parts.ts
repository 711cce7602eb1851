// In-process parts (not the whole main()): see test/support/in-process.ts for the whole service in this process.
// The service's parts wired in this process against the tests' real Redis and broker, with a clock the test moves
// (ctx.now): timed transitions are driven by calling the sweep, not by waiting.
import type { Redis } from 'ioredis';
import { inject } from 'vitest';
import { createAppContext, type AppContext } from '../../src/app/context.js';
import { DueSweep } from '../../src/app/due-sweep.js';
import { NudgeDelivery } from '../../src/app/nudge-delivery.js';
import { Sessions } from '../../src/app/sessions.js';
import { Users } from '../../src/app/users.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { MqttGateway } from '../../src/mqtt/gateway.js';
import { Topics } from '../../src/mqtt/topics.js';
import { createRedis } from '../../src/store/redis.js';
import { connectClient, type TestMqttClient } from './mqtt-client.js';
import { cleanupRedisPrefix, uniqueNamespace } from './namespace.js';

export interface InProcess {
  ctx: AppContext;
  clock: { t: number };
  sessions: Sessions;
  users: Users;
  sweep: DueSweep;
  mqtt: TestMqttClient;
  close(): Promise<void>;
}

export async function inProcess(
  label: string,
  opts: { batch?: number; env?: Record<string, string> } = {},
): Promise<InProcess> {
  const ns = uniqueNamespace(label);
  const redisUrl = inject('redisUrl');
  const config = loadConfig({
    REDIS_URL: redisUrl,
    MQTT_URL: inject('mqttUrl'),
    UNKNOT_REDIS_PREFIX: ns.prefix,
    UNKNOT_BASE_TOPIC: ns.baseTopic,
    UNKNOT_HA_DISCOVERY: 'false',
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const log = createLogger(config.logLevel);
  const redis: Redis = createRedis(redisUrl);
  await redis.connect();
  const topics = new Topics(config.topics);
  const gateway = new MqttGateway(
    {
      url: config.mqtt.url!,
      clientIdPrefix: `${ns.prefix}-svc`,
      maxInFlight: 64,
      ingestClientId: `${ns.prefix}-ingest`,
    },
    topics,
    log,
  );
  await gateway.start();
  const clock = { t: Date.UTC(2026, 0, 5, 9, 0, 0) };
  const ctx = createAppContext({
    config,
    log,
    metrics: createMetrics(),
    redis,
    mqtt: gateway,
    topics,
    now: () => clock.t,
  });
  const sessions = new Sessions(ctx);
  const users = new Users(ctx, sessions);
  const sweep = new DueSweep(ctx, sessions, new NudgeDelivery(ctx, sessions), opts.batch);
  const mqtt = await connectClient(config.mqtt.url!);
  await mqtt.subscribe(`${ns.baseTopic}/#`);
  return {
    ctx,
    clock,
    sessions,
    users,
    sweep,
    mqtt,
    async close() {
      await mqtt.end();
      await ctx.queues.close();
      await gateway.stop();
      await redis.quit();
      await cleanupRedisPrefix(redisUrl, ns.prefix);
    },
  };
}
