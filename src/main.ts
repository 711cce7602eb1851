// Composition root: reads the validated config, creates the clients and starts the roles UNKNOT_ROLES names.
// Everything else receives what it needs as arguments. Units start in order and stop in reverse.
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { createAppContext, type AppContext } from './app/context.js';
import { Sessions } from './app/sessions.js';
import { Users } from './app/users.js';
import { ConfigError, entryLabel, loadConfig, type Config, type ProcessRole } from './config.js';
import { UnknotError } from './domain/types.js';
import type { Express, Router } from 'express';
import { createHttpApp, type HttpExtensions } from './http/app.js';
import { Ingest, type ObservationHandlers } from './ingest/ingest.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { DependencyHealth } from './dependencies.js';
import { EmbeddedBroker } from './mqtt/embedded-broker.js';
import { HaDiscovery } from './app/ha-discovery.js';
import { MqttGateway } from './mqtt/gateway.js';
import { Topics } from './mqtt/topics.js';
import { Keys } from './store/keys.js';
import { checkPartitions, PartitionMismatchError } from './store/partitions.js';
import { checkRedis, createRedisClient, type RedisClient } from './store/redis.js';
import { InfraError, isRedisUnavailable } from './errors.js';
import { NudgeWorker } from '../workers/nudge-worker.js';
import { Heat } from './app/heat.js';
import { heatRoutes } from './http/heat-routes.js';
import { HeatWorker } from '../workers/heat-worker.js';
import { RoutineWorker } from '../workers/routine-worker.js';
import { PainLog } from './app/pain.js';
import { TherapistReport } from './app/report.js';
import { Methods } from './app/methods.js';
import { methodsRouter } from './http/methods-routes.js';
import { Routines } from './app/routines.js';
import type { HeatControl } from './domain/heat.js';
import { bullBoardRouter, BULL_BOARD_PATH, dashboardRouter } from './http/dashboard.js';
import { routinesRouter } from './http/routines-routes.js';
import { reportRouter } from './http/report-routes.js';
import { apiDocsRouter } from './http/api-docs-routes.js';
import { packageVersion } from './http/api-docs/json-schema.js';

const UNIT_STOP_TIMEOUT_MS = 3000;

export interface Unit {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface MainOptions {
  roles?: ProcessRole[];
  workers?: Array<'nudges' | 'heat' | 'routines'>;
  env?: Record<string, string | undefined>;
  /** The clock the application reads (ctx.now); in-process tests pass one they can move. Date.now by default. */
  now?: () => number;
}

/** A one-line, stack-free start-up failure (docs/configuration.md: exit code 2 for configuration). */
function die(line: string, code: number): never {
  process.stderr.write(`unknot: ${line}\n`);
  process.exit(code);
}

async function connectRedis(cfg: Config['redis'], health: DependencyHealth): Promise<RedisClient> {
  const redis = createRedisClient(cfg);
  // One line when Redis goes away and one when it is back (it reconnects every 250 ms at most in between).
  redis.on('error', (err) => health.failed('redis', err, 'connection'));
  redis.on('ready', () => health.recovered('redis'));
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await redis.connect();
      return redis;
    } catch (err) {
      if (Date.now() > deadline) {
        const where = cfg.clusterNodes
          ? `REDIS_CLUSTER_NODES: cannot reach the Redis Cluster at ${cfg.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`
          : `REDIS_URL: cannot reach Redis at ${cfg.url}`;
        throw new InfraError(`${where} (${(err as Error).message})`);
      }
      redis.disconnect();
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export async function main(
  opts: MainOptions = {},
): Promise<{ stop: () => Promise<void>; ctx: AppContext; httpPort: number | null; httpApp: Express | null }> {
  let config;
  try {
    config = loadConfig(opts.env ?? process.env);
  } catch (err) {
    if (err instanceof ConfigError) die(`invalid configuration: ${err.message}`, 2);
    throw err;
  }
  const roles = new Set(opts.roles ?? config.roles);
  const log = createLogger(config.logLevel);
  if (config.timeScale !== 1) {
    log.warn(
      { timeScale: config.timeScale },
      `UNKNOT_TIME_SCALE=${config.timeScale}: every policy duration is ${config.timeScale} times shorter`,
    );
  }
  const metrics = createMetrics();
  const health = new DependencyHealth(log, metrics);
  const units: Unit[] = [];
  const stopAll = async () => {
    for (const u of [...units].reverse()) {
      // A unit waiting on a dependency that is gone (Redis down) must not hold the whole shutdown.
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), UNIT_STOP_TIMEOUT_MS)));
      try {
        if ((await Promise.race([u.stop(), limit])) === 'timeout')
          log.warn({ unit: u.name }, 'stop timed out; going on');
      } catch (err) {
        log.warn({ err, unit: u.name }, 'stop failed');
      } finally {
        clearTimeout(timer);
      }
    }
  };

  try {
    const redis = await connectRedis(config.redis, health);
    health.probe('redis', () => redis.status === 'ready');
    units.push({
      name: 'redis',
      start: async () => undefined,
      stop: async () => {
        if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
        else redis.disconnect();
      },
    });
    const info = await checkRedis(redis);
    for (const w of info.warnings) log.warn(w);

    let mqttUrl = config.mqtt.url;
    if (!mqttUrl) {
      const broker = new EmbeddedBroker('127.0.0.1', config.mqtt.embeddedPort, log);
      try {
        await broker.start();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          die(
            `MQTT_URL is not set and port ${config.mqtt.embeddedPort} on 127.0.0.1 is taken, so the embedded broker cannot start. ` +
              `If a broker already runs there, point unknot at it: MQTT_URL=mqtt://127.0.0.1:${config.mqtt.embeddedPort}; ` +
              `or choose another port with MQTT_EMBEDDED_PORT.`,
            2,
          );
        }
        throw err;
      }
      units.push({ name: 'embedded-broker', start: async () => undefined, stop: () => broker.stop() });
      mqttUrl = broker.url;
    }

    const topics = new Topics(config.topics);
    const mqtt = new MqttGateway(
      {
        url: mqttUrl,
        username: config.mqtt.username,
        password: config.mqtt.password,
        tls: config.mqtt.tls,
        sharedGroup: config.mqtt.sharedGroup,
        clientIdPrefix: 'unknot',
        maxInFlight: 64,
        ingestClientId:
          config.mqtt.clientId ??
          `unknot-${config.redis.prefix}-${config.topics.base}-ingest`.replace(/[^A-Za-z0-9_-]/g, '_'),
        health,
        trace: /mqttjs/.test((opts.env ?? process.env).DEBUG ?? ''),
      },
      topics,
      log,
    );
    await mqtt.start();
    health.probe('mqtt', () => mqtt.connected);
    units.push({ name: 'mqtt', start: async () => undefined, stop: () => mqtt.stop() });

    const keys = new Keys(config.redis.prefix, config.redis.partitions);
    try {
      await checkPartitions(redis, keys.meta(), keys.partitions);
    } catch (err) {
      if (err instanceof PartitionMismatchError) die(err.message, 2);
      throw err;
    }
    const ctx = createAppContext({
      config,
      log,
      metrics,
      health,
      redis,
      keys,
      mqtt,
      topics,
      now: opts.now ?? Date.now,
      onRegistryError: (err) => health.failed('redis', err, 'registry change subscription'),
    });
    for (const q of ctx.queues.all()) q.on('error', (err) => health.failed('redis', err, `queue ${q.name}`));
    units.push({ name: 'queues', start: async () => undefined, stop: () => ctx.queues.close() });
    // People and devices stored by a release before the person hash move to it, once (docs/operations/partitions.md).
    const migrated = await ctx.registry.migrate();
    if (migrated > 0) log.info({ migrated }, 'registry moved to the person-hash layout');
    // The registry cache is kept current by pub/sub (a change made by another process drops its entries).
    await ctx.registry.startCache();
    units.push({ name: 'registry-cache', start: async () => undefined, stop: () => ctx.registry.stopCache() });
    // The states this process reads and commits are kept exact by client-side tracking (a single Redis only):
    // an unchanged posture event then needs no Redis round trip at all (docs/development/benchmarks.md).
    await ctx.store.cache.start((err) => {
      // Redis away: its reconnect attempts are the outage's, one line for all of it (DependencyHealth).
      if (isRedisUnavailable(err) || health.isDown('redis')) health.failed('redis', err, 'state cache tracking');
      else log.warn({ err }, 'state cache: client tracking failed; reading instead');
    });
    units.push({ name: 'state-cache', start: async () => undefined, stop: () => ctx.store.cache.stop() });
    const sessions = new Sessions(ctx);
    const users = new Users(ctx, sessions);

    // Extension points the feature units below fill in before the roles start.
    const handlers: ObservationHandlers = { actions: {} };
    const apiRouters: Router[] = [];
    const protectedRouters: NonNullable<HttpExtensions['protectedRouters']> = [];
    apiRouters.push(apiDocsRouter(config.topics));
    // --- feature wiring: heat ---
    const heat = new Heat(ctx, sessions);
    handlers.actions.heat_on = (device, obs) => heat.button(device, 'heat_on', obs.minutes);
    handlers.actions.heat_off = (device) => heat.button(device, 'heat_off');
    handlers.heat = (device, obs) => heat.padReport(device, obs.state, obs.at);
    apiRouters.push(heatRoutes(heat, redis));
    users.hooks.push(heat.userHooks());
    if (roles.has('worker') && (opts.workers ?? ['nudges', 'heat', 'routines']).includes('heat')) {
      const w = new HeatWorker(ctx, heat);
      await w.start();
      units.push({ name: 'heat-worker', start: () => w.start(), stop: () => w.stop() });
    }
    // --- feature wiring: the therapist report ---
    apiRouters.push(reportRouter(new TherapistReport(ctx, sessions, users), config.http.frameAncestors));
    // --- feature wiring: routines, pain, dashboard ---
    const publicRouters: NonNullable<HttpExtensions['publicRouters']> = [];
    let haRoutines: Routines | undefined;
    let methods: Methods | undefined;
    {
      // The heat step of a routine uses the heat-pad sessions when this instance has them.
      const routineHeat: HeatControl | null = heat;
      const routines = new Routines(ctx, sessions, routineHeat);
      haRoutines = routines;
      const pain = new PainLog(ctx, sessions);
      handlers.actions.routine_stop = async (device) => {
        await routines.stop(device.userId, undefined, 'stopped_on_device');
      };
      apiRouters.push(routinesRouter(routines, pain));
      // The methods log (docs/concepts/methods.md): a wearable's "that helped" comes in as an action.
      const methodsLog = new Methods(ctx, sessions);
      handlers.actions.helped = (device) => methodsLog.action(device, true);
      handlers.actions.not_helped = (device) => methodsLog.action(device, false);
      apiRouters.push(methodsRouter(methodsLog));
      methods = methodsLog;
      publicRouters.push({ path: '/', router: dashboardRouter(ctx) });
      protectedRouters.push({ path: BULL_BOARD_PATH, router: bullBoardRouter(ctx) });
      if (roles.has('worker') && (opts.workers ?? ['nudges', 'heat', 'routines']).includes('routines')) {
        const w = new RoutineWorker(ctx, routines);
        await w.start();
        units.push({ name: 'routine-worker', start: () => w.start(), stop: () => w.stop() });
      }
    }
    // --- feature wiring: Home Assistant discovery ---
    if (config.haDiscovery) {
      // Every role keeps discovery and the adherence topic current (hooks fire in the API, log entries are
      // committed by ingest and workers); only ingest processes handle HA's button and switch commands.
      const ha = new HaDiscovery(ctx, sessions, users, {
        heat,
        routines: haRoutines,
        swVersion: packageVersion(),
        ...(methods ? { methods } : {}),
      });
      // Its button and switch commands go through ingest (acknowledged after commit), so only ingest handles them.
      if (roles.has('ingest')) handlers.commands = ha.commandRoutes();
      users.hooks.push(ha);
      await ha.start();
      units.push({ name: 'ha-discovery', start: () => ha.start(), stop: () => ha.stop() });
    }

    await applyStaticConfig(ctx, users);

    if (roles.has('worker')) {
      const which = new Set(opts.workers ?? ['nudges', 'heat', 'routines']);
      if (which.has('nudges')) {
        const w = new NudgeWorker(ctx, sessions);
        await w.start();
        units.push({ name: 'nudge-worker', start: () => w.start(), stop: () => w.stop() });
      }
      void indexDueTimes(ctx, sessions);
    }
    if (roles.has('ingest')) {
      const ingest = new Ingest(ctx, sessions, handlers);
      await ingest.start();
      // Stopped before the workers, queues and connections it commits through (units stop in reverse order).
      units.push({ name: 'ingest', start: () => ingest.start(), stop: () => ingest.stop() });
    }
    let httpPort: number | null = null;
    // Returned for tests that walk the routes it really serves (the API documents' coverage check).
    let httpApp: Express | null = null;
    if (roles.has('api')) {
      const app = (httpApp = createHttpApp(ctx, users, {
        ready: async () => ({ redis: redis.status === 'ready', mqtt: mqtt.connected }),
        apiRouters,
        protectedRouters,
        publicRouters,
      }));
      const server = await new Promise<Server>((resolve, reject) => {
        const s = app.listen(config.http.port, config.http.host, (err?: Error) => (err ? reject(err) : resolve(s)));
      }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE')
          die(
            `HTTP_PORT: port ${config.http.port} on ${config.http.host} is taken; choose another (HTTP_PORT=0 picks a free one)`,
            2,
          );
        throw err;
      });
      const addr = server.address();
      httpPort = typeof addr === 'object' && addr ? addr.port : config.http.port;
      units.push({
        name: 'http',
        start: async () => undefined,
        stop: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    }
    log.info(
      { httpPort, roles: [...roles], mqtt: mqttUrl, redisPrefix: config.redis.prefix, baseTopic: config.topics.base },
      'unknot ready',
    );
    return { stop: stopAll, ctx, httpPort, httpApp };
  } catch (err) {
    await stopAll();
    if (err instanceof InfraError) die(err.message, 1);
    throw err;
  }
}

/** Users and devices declared in UNKNOT_CONFIG, for hubs that never call the API. Applied at every start. */
async function applyStaticConfig(ctx: AppContext, users: Users) {
  // Each user entry is already its own fields over `defaults` over the built-in defaults (src/config.ts).
  for (const { userId, ...profile } of ctx.config.file.users) await users.storeProfile(userId, profile);
  for (const [i, { deviceId, ...device }] of ctx.config.file.devices.entries()) {
    try {
      await users.putDevice(deviceId, device);
    } catch (err) {
      // Rules only the device registry checks (topic syntax, a topic another device already holds): still a
      // configuration error, reported like the others.
      if (err instanceof UnknotError) {
        die(
          `invalid configuration: UNKNOT_CONFIG (${ctx.config.configFile}): ${entryLabel('devices', i, deviceId)}: ${err.message}`,
          2,
        );
      }
      throw err;
    }
  }
  if (ctx.config.file.users.length + ctx.config.file.devices.length > 0) {
    ctx.log.info(
      { users: ctx.config.file.users.length, devices: ctx.config.file.devices.length },
      'static configuration applied',
    );
  }
}

/**
 * Data written before the timer wheel has no due entries (its timers were one BullMQ job per person): put every
 * user's due time in place once, then remember that it is done. Commits keep the entries current from then on.
 */
async function indexDueTimes(ctx: AppContext, sessions: Sessions) {
  try {
    if (await ctx.redis.hget(ctx.keys.meta(), 'timers')) return;
    for (const userId of await ctx.registry.listUsers()) await sessions.reconcile(userId);
    await ctx.redis.hset(ctx.keys.meta(), 'timers', 'wheel');
  } catch (err) {
    ctx.log.warn({ err }, 'start-up indexing of due times failed; the next start tries again');
  }
}

/** SIGTERM/SIGINT stop every unit in reverse order, then exit 0; a shutdown that hangs exits 1 after 15 s. */
export function stopOnSignals(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), 15_000).unref();
    void stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { stop, ctx } = await main();
  stopOnSignals(stop, ctx.log);
}
