// Redis connections and the start-up checks BullMQ depends on (docs/configuration.md, "What Redis and the broker must provide").
import { Redis, type RedisOptions } from 'ioredis';

export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, {
    // Commands wait while Redis reconnects instead of failing; callers decide how long to wait.
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    connectionName: 'unknot',
    lazyConnect: true,
    ...opts,
  });
}

export class InfraError extends Error {
  override name = 'InfraError';
}

/**
 * Fail fast on a Redis that BullMQ cannot run on safely: older than 6.2, or able to evict keys (a `maxmemory`
 * with a policy other than noeviction would one day drop a nudge or a heat-pad OFF job). A policy other than
 * noeviction without a `maxmemory` evicts nothing yet: a warning. So is a Redis that keeps nothing on disk.
 */
export async function checkRedis(redis: Redis): Promise<{ version: string; warnings: string[] }> {
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
    const pairs = (await redis.config('GET', 'maxmemory*')) as string[];
    const persistence = (await redis.config('GET', 'appendonly')) as string[];
    const save = (await redis.config('GET', 'save')) as string[];
    settings = Object.fromEntries(
      [...pairs, ...persistence, ...save].flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1] ?? '']] : [])),
    );
  } catch (err) {
    warnings.push(`could not read the Redis configuration (${(err as Error).message}); make sure maxmemory-policy is noeviction and persistence is on`);
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
    warnings.push('Redis keeps nothing on disk (appendonly no, no save points): a Redis restart loses every session, nudge and heat timer; run it with --appendonly yes --appendfsync everysec');
  }
  return { version, warnings };
}
