// Redis connections and the start-up checks BullMQ depends on (DEVICES.md, "Redis and BullMQ").
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

/** Fail fast on a Redis that BullMQ cannot run on safely. */
export async function checkRedis(redis: Redis): Promise<{ version: string; warnings: string[] }> {
  const info = await redis.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '0';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 6 || (major === 6 && minor < 2)) {
    throw new InfraError(`REDIS_URL: Redis ${version} is too old; unknot and BullMQ need Redis 6.2 or newer`);
  }
  const warnings: string[] = [];
  try {
    const policy = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (policy[1] && policy[1] !== 'noeviction') {
      throw new InfraError(
        `REDIS_URL: maxmemory-policy is ${policy[1]}; BullMQ and unknot need noeviction (CONFIG SET maxmemory-policy noeviction)`,
      );
    }
  } catch (err) {
    if (err instanceof InfraError) throw err;
    warnings.push(`could not read maxmemory-policy (${(err as Error).message}); make sure it is noeviction`);
  }
  return { version, warnings };
}
