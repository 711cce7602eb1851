// `--cluster`: where people land on a real 3-master Redis Cluster (the test support's). People are registered
// through the service's own Registry on a Cluster client, then each master's share of them is counted (profiles
// per master: every key of a person carries their partition's hash tag, so the profile stands for all of them).
import { Cluster } from 'ioredis';
import { Keys } from '../src/store/keys.js';
import { Registry } from '../src/store/registry.js';
import { startRedisCluster } from '../test/support/redis-cluster.js';
import { PROFILE, deviceId, userId } from './population.js';

export interface ClusterShare {
  users: number;
  masters: number;
  /** Share of the people per master, highest first (0..1). */
  peoplePerShard: number[];
  maxShare: number;
  keysPerShard: number[];
  setupSeconds: number;
}

/** The target: no shard holds more than this share of the people. */
export const SHARD_SHARE_TARGET = 0.4;

export async function clusterShare(prefix: string, users: number, deadline: number): Promise<ClusterShare> {
  const t0 = Date.now();
  const cluster = await startRedisCluster();
  const client = new Cluster(
    cluster.nodesSpec.split(',').map((hp) => ({ host: '127.0.0.1', port: Number(hp.split(':')[1]) })),
    { enableAutoPipelining: true, redisOptions: { maxRetriesPerRequest: 3 } },
  );
  client.on('error', () => undefined);
  try {
    const setupSeconds = (Date.now() - t0) / 1000;
    const keys = new Keys(prefix);
    const registry = new Registry(client, keys);
    const tag = 'c';
    let written = 0;
    const lanes = 32;
    await Promise.all(
      Array.from({ length: lanes }, async (_, k) => {
        for (let i = k; i < users; i += lanes) {
          if (Date.now() > deadline) return;
          await registry.putProfile(userId(tag, i), PROFILE);
          await registry.putDevice({
            deviceId: deviceId(tag, i),
            userId: userId(tag, i),
            role: 'desk',
            protocol: 'unknot',
          });
          written++;
        }
      }),
    );
    const masters = client.nodes('master');
    const counts = await Promise.all(
      masters.map(async (node) => {
        let people = 0;
        let cursor = '0';
        do {
          const [next, found] = await node.scan(cursor, 'MATCH', `${prefix}:*:u:*`, 'COUNT', 1000);
          cursor = next;
          people += found.length;
        } while (cursor !== '0');
        return { people, keys: await node.dbsize() };
      }),
    );
    const total = Math.max(
      1,
      counts.reduce((a, c) => a + c.people, 0),
    );
    const shares = counts.map((c) => c.people / total).sort((a, b) => b - a);
    return {
      users: written,
      masters: masters.length,
      peoplePerShard: shares.map((s) => Math.round(s * 1000) / 1000),
      maxShare: Math.round((shares[0] ?? 0) * 1000) / 1000,
      keysPerShard: counts.map((c) => c.keys).sort((a, b) => b - a),
      setupSeconds,
    };
  } finally {
    client.disconnect();
    await cluster.stop();
  }
}
