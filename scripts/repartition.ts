// `npm run repartition -- --to <P>`: lay the data of one deployment (REDIS_URL, UNKNOT_REDIS_PREFIX) out in P
// partitions instead of the P it has now (docs/operations/partitions.md). Run it with every unknot process stopped.
// It moves every person's keys (state, log, person record, due entry, heat index entries) and every device's
// keys (device, protocol address), one key at a time with DUMP/RESTORE (works across Redis Cluster slots), then
// records the new count. Stopped half-way, it is run again with the same --to and carries on: a key already moved
// is skipped, a key moved twice cannot happen (the old key is deleted right after the new one is written).
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from '../src/config.js';
import { Keys } from '../src/store/keys.js';
import { DEFAULT_PARTITIONS } from '../src/store/partitions.js';
import { createRedisClient, type RedisClient } from '../src/store/redis.js';
import { decodeDevice } from '../src/store/registry.js';

export class RepartitionError extends Error {
  readonly code = 'repartition_refused';
}

export interface RepartitionReport {
  from: number;
  to: number;
  users: number;
  devices: number;
  keysMoved: number;
}

/** One key from `from` to `to`: written first, deleted after, so a stop in between is finished by the next run. */
async function moveKey(redis: RedisClient, from: string, to: string): Promise<boolean> {
  if (from === to) return false;
  const dump = await redis.dumpBuffer(from);
  if (dump === null) return false; // moved already (or never there)
  const ttl = await redis.pttl(from);
  await redis.restore(to, ttl > 0 ? ttl : 0, dump, 'REPLACE');
  await redis.del(from);
  return true;
}

/** One member of a set to the same set of another partition (the per-partition user and device lists). */
async function moveSetMember(redis: RedisClient, from: string, to: string, member: string): Promise<boolean> {
  if (from === to || !(await redis.sismember(from, member))) return false;
  await redis.sadd(to, member);
  await redis.srem(from, member);
  return true;
}

/** One field of a hash to the same hash of another partition (a nudge's publishing mark). */
async function moveHashField(redis: RedisClient, from: string, to: string, field: string): Promise<boolean> {
  if (from === to) return false;
  const value = await redis.hget(from, field);
  if (value === null) return false;
  await redis.hset(to, field, value);
  await redis.hdel(from, field);
  return true;
}

/** Every id in partitioned sets of `partitions` partitions and in the one set earlier versions kept. */
async function allMembers(
  redis: RedisClient,
  legacy: string,
  ofPartition: (n: number) => string,
  partitions: number,
): Promise<string[]> {
  const sets = await Promise.all(
    [legacy, ...Array.from({ length: partitions }, (_, n) => ofPartition(n))].map((k) => redis.smembers(k)),
  );
  return [...new Set(sets.flat())].sort();
}

/** One member of a sorted set to the same set of another partition (due, claims → due, heat index). */
async function moveMember(redis: RedisClient, from: string, to: string, member: string, toSet = to): Promise<boolean> {
  if (from === toSet) return false;
  const score = await redis.zscore(from, member);
  if (score === null) return false;
  await redis.zadd(toSet, 'LT', score, member);
  await redis.zrem(from, member);
  return true;
}

export async function repartition(
  redis: RedisClient,
  prefix: string,
  to: number,
  log: (line: string) => void = () => undefined,
): Promise<RepartitionReport> {
  if (!Number.isInteger(to) || to < 1 || to > 16384)
    throw new RepartitionError(`--to must be a whole number of partitions from 1 to 16384, not ${to}`);
  const meta = new Keys(prefix).meta();
  const from = Number((await redis.hget(meta, 'partitions')) ?? DEFAULT_PARTITIONS);
  const running = await redis.hget(meta, 'repartition-to');
  if (running !== null && Number(running) !== to) {
    throw new RepartitionError(
      `a move to ${running} partitions was started and not finished: run it again with --to ${running} first`,
    );
  }
  const report: RepartitionReport = { from, to, users: 0, devices: 0, keysMoved: 0 };
  if (from === to) return report;
  await redis.hset(meta, 'repartition-to', String(to));
  const a = new Keys(prefix, from);
  const b = new Keys(prefix, to);
  const count = (moved: boolean) => void (moved && (report.keysMoved += 1));

  for (const userId of await allMembers(redis, `${prefix}:users`, a.usersIn, from)) {
    // The profile and device set of the layout before the person hash, too: moved as they are (the service
    // migrates them at its next start).
    for (const k of ['state', 'log', 'person', 'legacyProfile', 'legacyUserDevices'] as const)
      count(await moveKey(redis, a[k](userId), b[k](userId)));
    const [pa, pb] = [a.partitionOf(userId), b.partitionOf(userId)];
    count(await moveSetMember(redis, a.usersIn(pa), b.usersIn(pb), userId));
    count(await moveMember(redis, a.due(pa), b.due(pb), userId));
    // No process runs, so no claim is live: a claimed person is due at once in the new layout.
    count(await moveMember(redis, a.claims(pa), b.claims(pb), userId, b.due(pb)));
    // A nudge whose publish was never confirmed stays so: the next sweep finds out whether it went out.
    count(await moveHashField(redis, a.publishing(pa), b.publishing(pb), userId));
    report.users += 1;
  }
  // Heat index members are `userId.sessionId`, in the partition of the user id.
  for (let n = 0; n < from; n++) {
    for (const member of await redis.zrange(a.heatDue(n), '0', '-1')) {
      const userId = member.slice(0, member.indexOf('.'));
      count(await moveMember(redis, a.heatDue(n), b.heatDue(b.partitionOf(userId)), member));
    }
  }
  for (const deviceId of await allMembers(redis, `${prefix}:devices`, a.devicesIn, from)) {
    count(await moveKey(redis, a.device(deviceId), b.device(deviceId)));
    count(
      await moveSetMember(redis, a.devicesIn(a.partitionOf(deviceId)), b.devicesIn(b.partitionOf(deviceId)), deviceId),
    );
    const raw = await redis.get(b.device(deviceId));
    const device = raw ? decodeDevice(deviceId, raw) : null;
    if (device?.topic && device.protocol !== 'unknot') {
      count(
        await moveKey(
          redis,
          a.deviceTopic(device.protocol, device.topic),
          b.deviceTopic(device.protocol, device.topic),
        ),
      );
    }
    report.devices += 1;
  }
  await redis.multi().hset(meta, 'partitions', String(to)).hdel(meta, 'repartition-to').exec();
  // Processes still running would keep cached registry entries under the old keys: they must be restarted anyway.
  log(
    `moved ${report.keysMoved} keys and entries of ${report.users} users and ${report.devices} devices from ${from} to ${to} partitions`,
  );
  return report;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--to');
  const to = i > 0 ? Number(process.argv[i + 1]) : NaN;
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`repartition: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const redis = createRedisClient(config.redis);
  try {
    await redis.connect();
    await repartition(redis, config.redis.prefix, to, (line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`done: start unknot with UNKNOT_PARTITIONS=${to}\n`);
  } catch (err) {
    process.stderr.write(`repartition: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof RepartitionError ? 2 : 1;
  } finally {
    redis.disconnect();
  }
}
