// A Redis prefix and an MQTT base topic of its own for every test, so tests can share one Redis and one broker.
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';

export interface TestNamespace {
  /** Redis key prefix / BullMQ prefix (UNKNOT_REDIS_PREFIX), e.g. `t-heat-3f9a0c1b7d`. */
  prefix: string;
  /** MQTT base topic (UNKNOT_BASE_TOPIC); one topic level, same text as the prefix. */
  baseTopic: string;
}

const SAFE = /^[A-Za-z0-9_-]+$/;

/** `t-<label>-<random>`: only [A-Za-z0-9_-], so it is a valid key prefix, topic level and HA object id. */
export function uniqueNamespace(label = 'test'): TestNamespace {
  const cleaned =
    label
      .replace(/[^A-Za-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 32) || 'test';
  const id = `t-${cleaned}-${randomBytes(5).toString('hex')}`;
  return { prefix: id, baseTopic: id };
}

/**
 * Deletes every key that starts with `prefix` (or with `{prefix}`, the Redis Cluster hash-tag form) using SCAN, so
 * a big shared Redis is never blocked by KEYS. Returns how many keys were deleted.
 */
export async function cleanupRedisPrefix(redisUrl: string, prefix: string, clusterNodes?: string): Promise<number> {
  // A short or odd prefix could match other people's keys on a shared server: refuse rather than guess.
  if (!SAFE.test(prefix) || prefix.length < 6) {
    throw new Error(`cleanupRedisPrefix refuses prefix ${JSON.stringify(prefix)}: use one from uniqueNamespace()`);
  }
  const client = clusterNodes
    ? new Cluster(
        clusterNodes.split(',').map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) })),
        { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 3 } },
      )
    : new Redis(redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true });
  client.on('error', () => undefined); // commands below reject with the error
  let deleted = 0;
  try {
    await client.connect();
    // On a cluster SCAN runs on each master, and keys are removed one by one (they sit in different slots).
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    for (const node of nodes) {
      for (const pattern of [`${prefix}*`, `{${prefix}}*`]) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          if (keys.length === 0) continue;
          if (client instanceof Cluster)
            deleted += (await Promise.all(keys.map((k) => client.unlink(k)))).reduce((a, b) => a + b, 0);
          else deleted += await client.unlink(...keys);
        } while (cursor !== '0');
      }
    }
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
  return deleted;
}
