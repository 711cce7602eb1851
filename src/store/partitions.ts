// People are spread over a fixed number of partitions; every Redis key of one partition carries the same hash tag,
// so a Redis Cluster keeps a partition on one shard and spreads partitions over shards (docs/operations/scaling.md).

/** 64 tags `{p0}`…`{p63}` land 31 / 31 / 38 % on the three masters of a default 3-master cluster. */
export const DEFAULT_PARTITIONS = 64;

/** FNV-1a (32 bit) of the id, modulo the partition count: stable across processes, releases and platforms. */
export function partitionOf(id: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}

/**
 * `<prefix>:meta` field `registry`: the registry is in the person-hash layout (docs/operations/partitions.md).
 * Recorded by the first start of a new deployment, or by Registry.migrate once it has moved an older one.
 */
export const REGISTRY_LAYOUT = 'person-hash';

/** The data in Redis was laid out for another partition count than this process was started with. */
export class PartitionMismatchError extends Error {
  readonly code = 'partitions_changed';
}

/**
 * Record the partition count at first start; refuse another one later: every person's keys would be looked for in
 * the wrong partition. A first start also records that the registry is in the current layout (nothing older to
 * migrate: the people a bulk load wrote before it are in the current layout too).
 */
export async function checkPartitions(
  redis: {
    hsetnx(key: string, field: string, value: string): Promise<number>;
    hget(key: string, field: string): Promise<string | null>;
    hset(key: string, field: string, value: string): Promise<number>;
  },
  metaKey: string,
  partitions: number,
): Promise<void> {
  if ((await redis.hsetnx(metaKey, 'partitions', String(partitions))) === 1)
    await redis.hset(metaKey, 'registry', REGISTRY_LAYOUT);
  const stored = Number(await redis.hget(metaKey, 'partitions'));
  if (stored !== partitions) {
    throw new PartitionMismatchError(
      `UNKNOT_PARTITIONS=${partitions}, but the data in Redis is laid out in ${stored} partitions. ` +
        `Start with UNKNOT_PARTITIONS=${stored}, or stop every unknot process and run \`npm run repartition -- --to ${partitions}\` first (docs/operations/partitions.md).`,
    );
  }
}
