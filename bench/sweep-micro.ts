// `tsx bench/sweep-micro.ts [N]`: the timer wheel's sweep on its own, in this process, for comparing the cost of
// code changes on a busy machine: N people registered and seated straight into Redis (bench/bulk.ts), all due at
// once; one sweep of every partition (waves as under a backlog). Prints this process's CPU and Redis's CPU per
// nudge and Redis commands per nudge.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Redis } from 'ioredis';
import { DueSweep } from '../src/app/due-sweep.js';
import { NudgeDelivery } from '../src/app/nudge-delivery.js';
import { Sessions } from '../src/app/sessions.js';
import { createAppContext } from '../src/app/context.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { MqttGateway } from '../src/mqtt/gateway.js';
import { Topics } from '../src/mqtt/topics.js';
import { createRedis } from '../src/store/redis.js';
import { startServices } from '../test/support/services.js';
import { registerBulk, seatBulk } from './bulk.js';
import { BREAK_AFTER_MINUTES, PROFILE } from './population.js';
import { commandsPerEvent, redisCounters } from './phases.js';

const N = Number(process.argv[2] ?? 5000);
const say = (m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`);
const services = await startServices();
say(`services ${services.redisUrl}`);
const prefix = 'micro';
try {
  const seatedAt = Date.now() - BREAK_AFTER_MINUTES * 60_000 - 1000;
  await registerBulk(services.redisUrl, prefix, 'p', N, () => PROFILE);
  say('registered');
  await seatBulk(
    services.redisUrl,
    prefix,
    'p',
    N,
    () => seatedAt,
    () => PROFILE,
  );
  say('seated');
  const config = loadConfig({
    REDIS_URL: services.redisUrl,
    MQTT_URL: services.mqttUrl,
    UNKNOT_REDIS_PREFIX: prefix,
    UNKNOT_BASE_TOPIC: prefix,
    UNKNOT_HA_DISCOVERY: 'false',
    LOG_LEVEL: 'warn',
  });
  const redis = createRedis(services.redisUrl);
  await redis.connect();
  const topics = new Topics(config.topics);
  const gateway = new MqttGateway(
    { url: config.mqtt.url!, clientIdPrefix: `${prefix}-svc`, maxInFlight: 64, ingestClientId: `${prefix}-ingest` },
    topics,
    createLogger('warn'),
  );
  await gateway.start();
  const ctx = createAppContext({
    config,
    log: createLogger('warn'),
    metrics: createMetrics(),
    redis,
    mqtt: gateway,
    topics,
    now: Date.now,
  });
  await ctx.registry.startCache();
  await ctx.store.cache.start(() => undefined);
  const sessions = new Sessions(ctx);
  const sweep = new DueSweep(ctx, sessions, new NudgeDelivery(ctx, sessions));
  say('sweeping');
  const admin = new Redis(services.redisUrl);
  const r0 = await redisCounters(admin);
  // SWEEP_PROF=<file>: a V8 CPU profile of the sweep alone (not the set-up), for Chrome DevTools.
  const profile = process.env.SWEEP_PROF ? new Session() : undefined;
  if (profile) {
    profile.connect();
    await profile.post('Profiler.enable');
    await profile.post('Profiler.start');
  }
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await sweep.sweepAll();
  const ms = performance.now() - t0;
  const c1 = process.cpuUsage(c0);
  const r1 = await redisCounters(admin);
  if (profile) {
    const { profile: cpu } = await profile.post('Profiler.stop');
    writeFileSync(process.env.SWEEP_PROF!, JSON.stringify(cpu));
  }
  const n = Math.max(1, r.processed);
  console.log(
    JSON.stringify({
      processed: r.processed,
      failed: r.failed,
      perSec: Math.round(n / (ms / 1000)),
      serviceCpuMsPerNudge: +((c1.user + c1.system) / 1000 / n).toFixed(3),
      redisCpuMsPerNudge: +(((r1.cpuSeconds - r0.cpuSeconds) * 1000) / n).toFixed(3),
      claimCalls: sweep.claimCalls,
      commands: Object.fromEntries(commandsPerEvent(r0, r1, n).map(([k, v]) => [k, +v.toFixed(2)])),
    }),
  );
  await admin.quit();
  await ctx.queues.close();
  await gateway.stop();
  await redis.quit();
} finally {
  await services.stop();
}
process.exit(0);
