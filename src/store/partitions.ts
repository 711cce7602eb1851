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
