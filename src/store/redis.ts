// Redis connections and the start-up checks BullMQ depends on (docs/configuration.md, "What Redis and the broker must provide").
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { InfraError } from '../errors.js';

/** A single Redis or a Redis Cluster (REDIS_CLUSTER_NODES): every store and queue works on either. */
export type RedisClient = Redis | Cluster;

/** Longest pause between two reconnect attempts: a Redis that is back is in use again within about this long. */
export const REDIS_RECONNECT_MAX_MS = 250;

/**
 * The process's shared connection fails fast while Redis is away: no offline queue, and a command in flight when
 * the connection drops is rejected, never resent on reconnect. So whoever gets an error (an HTTP 503, an ingest
 * retry, a failed job attempt) knows the command did not run later behind their back. BullMQ's own connections
 * (workers) wait instead: see `blockingRedisOptions`.
 */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // Local reconnects are cheap; a long back-off only delays recovery (it was up to 2 s, /readyz took ~5 s).
    retryStrategy: (times) => Math.min(times * 50, REDIS_RECONNECT_MAX_MS),
    enableAutoPipelining: true,
    connectionName: 'unknot',
    lazyConnect: true,
    ...opts,
  });
}

/** For connections BullMQ blocks on (workers): commands wait while Redis reconnects, as BullMQ requires. */
export const blockingRedisOptions: RedisOptions = {
  maxRetriesPerRequest: null,
  enableOfflineQueue: true,
  autoResendUnfulfilledCommands: true,
};

/**
 * A Redis Cluster client from seed nodes. Unlike the single Redis of createRedis, a command whose master went away
 * is retried while a replica takes over (every ~200 ms, up to ~13 s) instead of failing at once: a failover is
 * seconds, and failing fast then would refuse every event of a third of the people (docs/operations/outages.md).
 */
export function createRedisCluster(nodes: Array<{ host: string; port: number }>, opts: RedisOptions = {}): Cluster {
  return new Cluster(nodes, {
    redisOptions: { maxRetriesPerRequest: null, connectionName: 'unknot', ...opts },
    enableAutoPipelining: true,
    lazyConnect: true,
    // Reads go to masters: a replica may lag behind a compare-and-set the caller just made.
    scaleReads: 'master',
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    maxRedirections: 64,
    // A lost seed must not end the client: keep trying to reach the cluster, as a single Redis does.
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
  });
}

/** The client REDIS_CLUSTER_NODES or REDIS_URL asks for (lazy: call connect()). */
export function createRedisClient(
  cfg: { url: string; clusterNodes?: Array<{ host: string; port: number }> },
  opts: RedisOptions = {},
): RedisClient {
  return cfg.clusterNodes ? createRedisCluster(cfg.clusterNodes, opts) : createRedis(cfg.url, opts);
}

/** The connections INFO and CONFIG must be asked on: every master of a cluster, or the one Redis. */
export function mastersOf(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** A second connection (or cluster client) like `redis` with `opts` over its options, e.g. for a BullMQ worker. */
export function duplicateClient(redis: RedisClient, opts: RedisOptions = {}): RedisClient {
  return redis instanceof Cluster
    ? redis.duplicate([], { redisOptions: { ...redis.options.redisOptions, ...opts } })
    : redis.duplicate(opts);
}

/**
 * Fail fast on a Redis that BullMQ cannot run on safely: older than 6.2, or able to evict keys (a `maxmemory`
 * with a policy other than noeviction would one day drop a nudge or a heat-pad OFF job). A policy other than
 * noeviction without a `maxmemory` evicts nothing yet: a warning. So is a Redis that keeps nothing on disk.
 */
export async function checkRedis(redis: RedisClient): Promise<{ version: string; warnings: string[] }> {
  const masters = mastersOf(redis);
  if (masters.length === 0) throw new InfraError('REDIS_CLUSTER_NODES: the cluster reports no master node');
  // On a cluster every master must pass; the first refusal or the oldest version is the one reported.
  const results = await Promise.all(masters.map((node) => checkOne(node)));
  const failed = results.find((r) => r instanceof InfraError);
  if (failed) throw failed;
  const ok = results as Array<{ version: string; warnings: string[] }>;
  // One line per warning, naming the masters it applies to when there are several.
  const byText = new Map<string, string[]>();
  ok.forEach((r, i) =>
    r.warnings.forEach((w) =>
      byText.set(w, [...(byText.get(w) ?? []), `${masters[i]!.options.host}:${masters[i]!.options.port}`]),
    ),
  );
  return {
    version: ok.map((r) => r.version).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))[0]!,
    warnings: [...byText].map(([w, where]) => (masters.length > 1 ? `${w} (masters ${where.join(', ')})` : w)),
  };
}

async function checkOne(redis: Redis): Promise<{ version: string; warnings: string[] } | InfraError> {
  try {
    return await checkNode(redis);
  } catch (err) {
    if (err instanceof InfraError) return err;
    throw err;
  }
}

async function checkNode(redis: Redis): Promise<{ version: string; warnings: string[] }> {
  const info = await redis.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '0';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 6 || (major === 6 && minor < 2)) {
    throw new InfraError(`REDIS_URL: Redis ${version} is too old; unknot and BullMQ need Redis 6.2 or newer`);
  }
  const warnings: string[] = [];
  let settings: Record<string, string>;
  try {
    // Managed Redis services often refuse CONFIG: then we cannot tell, and say so.
    const pairs = await redis.config('GET', 'maxmemory*');
    const persistence = await redis.config('GET', 'appendonly');
    const save = await redis.config('GET', 'save');
    settings = Object.fromEntries(
      [...pairs, ...persistence, ...save].flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1] ?? '']] : [])),
    );
  } catch (err) {
    warnings.push(
      `could not read the Redis configuration (${(err as Error).message}); make sure maxmemory-policy is noeviction and persistence is on`,
    );
    return { version, warnings };
  }
  const policy = settings['maxmemory-policy'];
  const maxmemory = Number(settings.maxmemory ?? 0);
  if (policy && policy !== 'noeviction') {
    if (maxmemory > 0) {
      throw new InfraError(
        `REDIS_URL: maxmemory-policy is ${policy} with maxmemory ${maxmemory}, so Redis may evict unknot's timers and state; BullMQ and unknot need noeviction (CONFIG SET maxmemory-policy noeviction)`,
      );
    }
    warnings.push(
      `Redis maxmemory-policy is ${policy}; nothing is evicted while maxmemory is 0, but set noeviction before giving Redis a memory limit (CONFIG SET maxmemory-policy noeviction)`,
    );
  }
  if (settings.appendonly === 'no' && !settings.save) {
    warnings.push(
      'Redis keeps nothing on disk (appendonly no, no save points): a Redis restart loses every session, nudge and heat timer; run it with --appendonly yes --appendfsync everysec',
    );
  }
  return { version, warnings };
}
