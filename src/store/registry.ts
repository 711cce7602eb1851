// Users (profiles) and devices, with the reverse index from a protocol address to its device. Every write touches
// keys of one hash slot at a time (a Redis Cluster refuses anything else), and names what it changed on a pub/sub
// channel, so each process drops just those entries from its cache (docs/operations/redis-cluster.md).
import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from './redis.js';
import { compactProfile, expandProfile, type Profile } from '../domain/profile.js';
import { ConflictError, type Device, type Protocol, type Role, UnavailableError } from '../domain/types.js';
import type { Keys } from './keys.js';
import { REGISTRY_LAYOUT } from './partitions.js';

const topicCacheKey = (protocol: string, topic: string) => `${protocol}\n${topic}`;

/**
 * Entries per cache map; past it the oldest entry goes. 200k people fit (~100 MB at most for profiles and
 * devices): with fewer, the benchmark's per-event cost at 100k users rose by half as look-ups missed.
 */
const CACHE_MAX = 200_000;

/** What a registry write changed, as published on the registry channel. */
export interface RegistryChange {
  users?: string[];
  devices?: string[];
  /** `protocol\ntopic` of protocol addresses. */
  topics?: string[];
}

/**
 * What this process has read of the registry. It is used only while this process is subscribed to the registry
 * channel (a change made elsewhere would go unnoticed otherwise); every message drops the entries it names, and a
 * (re)subscription drops everything, since messages may have been missed while the subscriber was away. `epoch`
 * counts the drops: a value loaded across one is not kept (the load may have raced the write).
 */
class RegistryCache {
  live = false;
  epoch = 0;
  /** Told of every change this process hears of (its own writes and the channel's); `null`: possibly anything. */
  readonly listeners: Array<(change: RegistryChange | null) => void> = [];
  readonly maps = {
    profile: new Map<string, Profile | null>(),
    device: new Map<string, Device | null>(),
    topic: new Map<string, string | null>(),
    userDevices: new Map<string, Device[]>(),
  };

  async through<K extends keyof RegistryCache['maps'], V>(map: K, key: string, load: () => Promise<V>): Promise<V> {
    if (!this.live) return load();
    const m = this.maps[map] as Map<string, V>;
    const hit = m.get(key);
    if (hit !== undefined || m.has(key)) return hit as V;
    const epoch = this.epoch;
    const v = await load();
    if (this.live && this.epoch === epoch) {
      if (m.size >= CACHE_MAX) m.delete(m.keys().next().value!);
      m.set(key, v);
    }
    return v;
  }

  /** Keep a value loaded alongside another (e.g. the profile read with a device list), unless a drop came between. */
  offer<K extends keyof RegistryCache['maps']>(
    map: K,
    key: string,
    value: RegistryCache['maps'][K] extends Map<string, infer V> ? V : never,
    epoch: number,
  ): void {
    if (!this.live || this.epoch !== epoch) return;
    const m = this.maps[map] as Map<string, unknown>;
    if (m.has(key)) return;
    if (m.size >= CACHE_MAX) m.delete(m.keys().next().value!);
    m.set(key, value);
  }

  drop(change: RegistryChange): void {
    this.epoch += 1;
    for (const u of change.users ?? []) {
      this.maps.profile.delete(u);
      this.maps.userDevices.delete(u);
    }
    for (const d of change.devices ?? []) this.maps.device.delete(d);
    for (const t of change.topics ?? []) this.maps.topic.delete(t);
    for (const l of this.listeners) l(change);
  }

  clear(): void {
    this.epoch += 1;
    for (const m of Object.values(this.maps)) m.clear();
    for (const l of this.listeners) l(null);
  }
}

/**
 * A device record as stored under its key: `[userId, role]` for an `unknot` device with nothing more, else
 * `[userId, role, protocol, {topic, invert, channel, autoOff}]`. The id is the key's. ~120 B of Redis where the
 * device's JSON object (what earlier releases stored, still read) took ~170 B: the value fits Redis's embedded string.
 */
export function encodeDevice(d: Device): string {
  const extra: Partial<Device> = {};
  if (d.topic !== undefined) extra.topic = d.topic;
  if (d.invert !== undefined) extra.invert = d.invert;
  if (d.channel !== undefined) extra.channel = d.channel;
  if (d.autoOff !== undefined) extra.autoOff = d.autoOff;
  const plain = d.protocol === 'unknot' && Object.keys(extra).length === 0;
  return JSON.stringify(plain ? [d.userId, d.role] : [d.userId, d.role, d.protocol, extra]);
}

/** The inverse of encodeDevice; also reads the JSON object earlier releases stored. */
export function decodeDevice(deviceId: string, raw: string): Device {
  if (raw.startsWith('{')) return JSON.parse(raw) as Device;
  const [userId, role, protocol = 'unknot', extra] = JSON.parse(raw) as [string, Role, Protocol?, Partial<Device>?];
  return { deviceId, userId, role, protocol, ...extra };
}

/** A person's registry record (Keys.person): their profile, and the ids of their devices. */
interface Person {
  profile: Profile | null;
  deviceIds: string[];
}

function personOf(h: Record<string, string>): Person {
  const deviceIds: string[] = [];
  for (const f of Object.keys(h)) if (f.startsWith('d:')) deviceIds.push(f.slice(2));
  return { profile: h.p ? expandProfile(JSON.parse(h.p) as Partial<Profile>) : null, deviceIds };
}

/**
 * Every write of a person's record, and the migration of one person from the layout before it (a profile string and
 * a device-id set) folded into each: KEYS person hash, legacy profile, legacy device set, the partition's user list;
 * ARGV[1] the operation, ARGV[2..] its arguments. Atomic, and harmless to repeat, so any number of processes may
 * migrate the same person at once. Legacy data found next to an existing hash is merged: device ids are added (a
 * reader filters ids whose record names someone else), a profile only where the hash has none.
 */
const PERSON_LUA = `
local p = redis.call('GET', KEYS[2])
if p then redis.call('HSETNX', KEYS[1], 'p', p) end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do redis.call('HSET', KEYS[1], 'd:' .. id, '') end
local migrated = 0
if p or redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('DEL', KEYS[2], KEYS[3])
  migrated = 1
end
local op = ARGV[1]
if op == 'read' then return redis.call('HGETALL', KEYS[1]) end
if op == 'profile' then
  redis.call('HSET', KEYS[1], 'p', ARGV[2])
  redis.call('SADD', KEYS[4], ARGV[3])
elseif op == 'add' then redis.call('HSET', KEYS[1], 'd:' .. ARGV[2], '')
elseif op == 'remove' then redis.call('HDEL', KEYS[1], 'd:' .. ARGV[2])
elseif op == 'delete' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[4], ARGV[2])
end
return migrated
`;

/** KEYS[1] a protocol address → device id. Claims it for ARGV[1] unless another device holds it; returns the holder. */
const CLAIM_TOPIC_LUA = `
local h = redis.call('GET', KEYS[1])
if h and h ~= ARGV[1] then return h end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`;
/** KEYS[1] set to ARGV[2] only while it still holds ARGV[1] (or deleted when ARGV[2] is empty); 1 if done. */
const SWAP_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
`;

type RegistryRedis = RedisClient & {
  unknotClaimTopic(key: string, deviceId: string): Promise<string>;
  unknotSwap(key: string, expected: string, value: string): Promise<number>;
  unknotPerson(
    person: string,
    legacyProfile: string,
    legacyDevices: string,
    usersIn: string,
    op: 'read' | 'migrate' | 'profile' | 'add' | 'remove' | 'delete',
    ...args: string[]
  ): Promise<unknown>;
};

/** The Redis Cluster slot of a key or channel name: CRC16 (XMODEM) of its hash tag, or of the whole name, mod 16384. */
function keySlot(name: string): number {
  const open = name.indexOf('{');
  const close = open >= 0 ? name.indexOf('}', open + 1) : -1;
  const part = Buffer.from(close > open + 1 ? name.slice(open + 1, close) : name);
  let crc = 0;
  for (const byte of part) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

export class Registry {
  private readonly cache = new RegistryCache();
  private readonly redis: RegistryRedis;
  private subscriber?: Redis;
  private stopped = false;
  /**
   * Whether a person without a person hash may still be in the layout before it, and is looked for there (a second
   * round trip for every unknown id). Yes until migrate() has found the migration gone through (and no people it
   * cannot see, unlistedOldLayout): from then on only an earlier release could write that layout, and none may run
   * next to this one (docs/operations/partitions.md).
   */
  private oldLayout = true;

  constructor(
    redis: RedisClient,
    private readonly keys: Keys,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    if (!('unknotClaimTopic' in redis)) {
      redis.defineCommand('unknotClaimTopic', { numberOfKeys: 1, lua: CLAIM_TOPIC_LUA });
      redis.defineCommand('unknotSwap', { numberOfKeys: 1, lua: SWAP_LUA });
      redis.defineCommand('unknotPerson', { numberOfKeys: 4, lua: PERSON_LUA });
    }
    this.redis = redis as RegistryRedis;
  }

  /**
   * Subscribe to the registry channel and use the in-process cache from then on. Without it (scripts, tests)
   * every look-up asks Redis. A connection of its own, re-opened after any loss (on a cluster, to any node: a
   * cluster delivers PUBLISH everywhere); the cache is cleared at every (re)subscription.
   */
  async startCache(): Promise<void> {
    this.stopped = false;
    await this.subscribe();
  }

  async stopCache(): Promise<void> {
    this.stopped = true;
    this.cache.live = false;
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  private async subscribe(): Promise<void> {
    const channel = this.keys.registryChannel();
    let sub: Redis;
    if (this.redis instanceof Cluster) {
      const node = this.channelNode();
      if (!node) throw new Error('no Redis Cluster node to subscribe on');
      sub = node.duplicate({
        lazyConnect: true,
        autoResubscribe: false,
        retryStrategy: () => null,
        connectionName: 'unknot-registry',
      });
    } else {
      sub = this.redis.duplicate({ lazyConnect: true, autoResubscribe: false, connectionName: 'unknot-registry' });
    }
    this.subscriber = sub;
    sub.on('error', (err) => this.onError(err));
    sub.on('message', (ch: string, msg: string) => {
      if (ch !== channel) return;
      try {
        this.cache.drop(JSON.parse(msg) as RegistryChange);
      } catch {
        this.cache.clear(); // not ours to understand: forget everything rather than keep something stale
      }
    });
    sub.on('close', () => {
      // From now on a change could be missed: stop using the cache until subscribed again.
      this.cache.live = false;
    });
    const subscribed = async () => {
      await sub.subscribe(channel);
      this.cache.clear();
      this.cache.live = true;
    };
    sub.on('ready', () => {
      if (this.subscriber === sub && !this.stopped) subscribed().catch((err: Error) => this.onError(err));
    });
    if (this.redis instanceof Cluster) {
      // A cluster node connection is not retried (the node may be gone for good): pick a node again.
      sub.once('end', () => {
        if (this.subscriber !== sub || this.stopped) return;
        setTimeout(() => void this.subscribe().catch((err: Error) => this.onError(err)), 200).unref();
      });
    }
    await sub.connect();
  }

  /** Call `fn` with what changed whenever this process hears of a registry change (`null`: anything may have). */
  onChange(fn: (change: RegistryChange | null) => void): void {
    this.cache.listeners.push(fn);
  }

  /**
   * On a cluster, the master that serves the channel name's slot: every process subscribes there and every write
   * publishes there, so a change is in every subscriber's socket when the write returns, as on a single Redis (a
   * message published on another node reaches them later, over the cluster bus, and an event could beat it).
   */
  private channelNode(): Redis | undefined {
    if (!(this.redis instanceof Cluster)) return undefined;
    const masters = this.redis.nodes('master');
    const owner = this.redis.slots[keySlot(this.keys.registryChannel())]?.[0];
    return masters.find((n) => `${n.options.host}:${n.options.port}` === owner) ?? masters[0];
  }

  /** Tell every process (this one first) what changed. */
  private async changed(change: RegistryChange): Promise<void> {
    this.cache.drop(change);
    await (this.channelNode() ?? this.redis).publish(this.keys.registryChannel(), JSON.stringify(change));
  }

  /** The device as last read into the cache, without asking Redis (may be stale: a hint only). */
  peekDevice(deviceId: string | null | undefined): Device | null | undefined {
    return deviceId && this.cache.live ? this.cache.maps.device.get(deviceId) : undefined;
  }

  /** The device id of a protocol address as last read into the cache (a hint only, like peekDevice). */
  peekTopic(protocol: string, topic: string): string | null | undefined {
    return this.cache.live ? this.cache.maps.topic.get(topicCacheKey(protocol, topic)) : undefined;
  }

  /** The user's devices as last read into the cache (their device list, or devices read one by one): a hint only. */
  peekDevicesOf(userId: string): Device[] {
    const found = new Map<string, Device>();
    for (const d of this.cache.maps.userDevices.get(userId) ?? []) found.set(d.deviceId, d);
    for (const d of this.cache.maps.device.values()) if (d?.userId === userId) found.set(d.deviceId, d);
    return [...found.values()];
  }

  getProfile(userId: string): Promise<Profile | null> {
    return this.cache.through('profile', userId, async () => (await this.readPerson(userId)).profile);
  }

  /**
   * One person's record: one HGETALL (until the migration is known to have gone through, a person not found there is
   * looked for in the layout before it, and moved).
   */
  private async readPerson(userId: string): Promise<Person> {
    const h = await this.redis.hgetall(this.keys.person(userId));
    if (Object.keys(h).length > 0 || !this.oldLayout) return personOf(h);
    const flat = (await this.person(userId, 'read')) as string[];
    const rec: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) rec[flat[i]!] = flat[i + 1]!;
    return personOf(rec);
  }

  private person(userId: string, op: Parameters<RegistryRedis['unknotPerson']>[4], ...args: string[]) {
    const k = this.keys;
    return this.redis.unknotPerson(
      k.person(userId),
      k.legacyProfile(userId),
      k.legacyUserDevices(userId),
      k.usersIn(k.partitionOf(userId)),
      op,
      ...args,
    );
  }

  async putProfile(userId: string, profile: Profile): Promise<void> {
    await this.person(userId, 'profile', JSON.stringify(compactProfile(profile)), userId);
    await this.changed({ users: [userId] });
  }

  /**
   * Move the registry written by releases before the person hash (docs/operations/partitions.md) to it: every
   * person's profile and device list, and every device record to its compact form. Run at every start until it has
   * once gone through (`<prefix>:meta` field `registry`); several processes may run it at once (each step is atomic
   * and harmless to repeat). Returns how many people and devices it changed. Once it has gone through, reads no
   * longer look for a person in the layout before the person hash, unless the data is older than per-partition
   * listings (see unlistedOldLayout).
   */
  async migrate(): Promise<number> {
    const meta = this.keys.meta();
    if ((await this.redis.hget(meta, 'registry')) === REGISTRY_LAYOUT) {
      this.oldLayout = await this.unlistedOldLayout();
      return 0;
    }
    let changed = 0;
    const users = await this.listed((n) => this.keys.usersIn(n));
    const devices = await this.listed((n) => this.keys.devicesIn(n));
    for (let i = 0; i < devices.length; i += 1000) {
      const ids = devices.slice(i, i + 1000);
      const raws = await Promise.all(ids.map((id) => this.redis.get(this.keys.device(id))));
      await Promise.all(
        ids.map(async (id, j) => {
          const raw = raws[j];
          if (!raw?.startsWith('{')) return;
          const d = decodeDevice(id, raw);
          const swapped = await this.redis.unknotSwap(this.keys.device(id), raw, encodeDevice(d));
          changed += swapped;
          // Its owner may have no profile (and so be in no user list): their device list moves here.
          users.push(d.userId);
        }),
      );
    }
    const people = [...new Set(users)];
    for (let i = 0; i < people.length; i += 1000) {
      const done = await Promise.all(people.slice(i, i + 1000).map((u) => this.person(u, 'migrate')));
      changed += done.filter((m) => m === 1).length;
    }
    await this.redis.hset(meta, 'registry', REGISTRY_LAYOUT);
    this.oldLayout = await this.unlistedOldLayout();
    if (changed > 0) this.cache.clear();
    return changed;
  }

  /**
   * Whether the data holds people this migration cannot see: those written before per-partition listings are listed
   * only in the single `<prefix>:users` / `<prefix>:devices` sets, which it does not read, and data from before
   * `<prefix>:meta` had its layout recorded as current at its first start. Found only by a read of each, as before.
   * Two EXISTS, not one: on a Redis Cluster the two keys are in different slots.
   */
  private async unlistedOldLayout(): Promise<boolean> {
    const p = this.keys.prefix;
    const found = await Promise.all([this.redis.exists(`${p}:users`), this.redis.exists(`${p}:devices`)]);
    return found.some((n) => n > 0);
  }

  /** Every person's id, from all partitions. */
  async listUsers(): Promise<string[]> {
    return this.listed((n) => this.keys.usersIn(n));
  }

  private async listed(ofPartition: (n: number) => string): Promise<string[]> {
    const sets = await Promise.all(
      Array.from({ length: this.keys.partitions }, (_, n) => this.redis.smembers(ofPartition(n))),
    );
    return [...new Set(sets.flat())].sort();
  }

  getDevice(deviceId: string): Promise<Device | null> {
    return this.cache.through('device', deviceId, async () => {
      const raw = await this.redis.get(this.keys.device(deviceId));
      return raw ? decodeDevice(deviceId, raw) : null;
    });
  }

  deviceIdForTopic(protocol: string, topic: string): Promise<string | null> {
    return this.cache.through('topic', topicCacheKey(protocol, topic), () =>
      this.redis.get(this.keys.deviceTopic(protocol, topic)),
    );
  }

  /** A person's devices. Devices live in their own partitions: one GET each (pipelined), not an MGET across slots. */
  devicesOf(userId: string): Promise<Device[]> {
    return this.cache.through('userDevices', userId, async () => {
      const epoch = this.cache.epoch;
      const person = await this.readPerson(userId);
      this.cache.offer('profile', userId, person.profile, epoch);
      const devices = await this.read(person.deviceIds);
      // A write that stopped half-way may leave an id in the set of a person it no longer belongs to.
      return devices.filter((d) => d.userId === userId).sort((a, b) => a.deviceId.localeCompare(b.deviceId));
    });
  }

  private async read(ids: string[]): Promise<Device[]> {
    const raws = await Promise.all(ids.map((id) => this.redis.get(this.keys.device(id))));
    return ids.flatMap((id, i) => {
      const r = raws[i];
      return r ? [decodeDevice(id, r)] : [];
    });
  }

  async listDevices(): Promise<Device[]> {
    return this.read(await this.listed((n) => this.keys.devicesIn(n)));
  }

  /**
   * Store a device (create or replace). A protocol address belongs to one device: claiming one that another
   * device holds is a 409. Returns the device it replaced, if any.
   *
   * The keys involved sit in up to five hash slots, so this is a sequence of single-slot steps, ordered so that a
   * write cut short leaves nothing a reader would act on wrongly, and repeating the PUT completes it: the address is
   * claimed first (a claim whose device does not name that address is stale and may be taken over), the new
   * owner's set gets the id before the record names them (readers filter ids whose record names someone else),
   * then the record, then the old owner's set and the old address are cleaned up.
   */
  async putDevice(device: Device): Promise<Device | null> {
    const topicKey =
      device.topic && device.protocol !== 'unknot' ? this.keys.deviceTopic(device.protocol, device.topic) : null;
    if (topicKey) await this.claimTopic(topicKey, device);
    await this.person(device.userId, 'add', device.deviceId);
    const [[, oldRaw] = []] = ((await this.redis
      .multi()
      .set(this.keys.device(device.deviceId), encodeDevice(device), 'GET')
      .sadd(this.keys.devicesIn(this.keys.partitionOf(device.deviceId)), device.deviceId)
      .exec()) ?? []) as Array<[Error | null, unknown]>;
    const old = typeof oldRaw === 'string' ? decodeDevice(device.deviceId, oldRaw) : null;
    const change: Required<RegistryChange> = { users: [device.userId], devices: [device.deviceId], topics: [] };
    if (device.topic && device.protocol !== 'unknot') change.topics.push(topicCacheKey(device.protocol, device.topic));
    if (old && old.userId !== device.userId) {
      await this.person(old.userId, 'remove', device.deviceId);
      change.users.push(old.userId);
    }
    if (old?.topic && old.protocol !== 'unknot' && (old.topic !== device.topic || old.protocol !== device.protocol)) {
      await this.redis.unknotSwap(this.keys.deviceTopic(old.protocol, old.topic), device.deviceId, '');
      change.topics.push(topicCacheKey(old.protocol, old.topic));
    }
    await this.changed(change);
    return old;
  }

  private async claimTopic(topicKey: string, device: Device): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const holder = await this.redis.unknotClaimTopic(topicKey, device.deviceId);
      if (holder === device.deviceId) return;
      // Held by a device whose record no longer names this address (a write cut short): take it over.
      const raw = await this.redis.get(this.keys.device(holder));
      const held = raw ? decodeDevice(holder, raw) : null;
      if (held && held.protocol === device.protocol && held.topic === device.topic) {
        throw new ConflictError(
          'topic_taken',
          `${device.protocol} topic ${JSON.stringify(device.topic)} already belongs to device ${holder}`,
        );
      }
      if ((await this.redis.unknotSwap(topicKey, holder, device.deviceId)) === 1) return;
    }
    throw new UnavailableError('busy', 'device kept changing; try again');
  }

  async deleteDevice(deviceId: string): Promise<Device | null> {
    const raw = await this.redis.get(this.keys.device(deviceId));
    if (!raw) return null;
    const old = decodeDevice(deviceId, raw);
    // The record first: from then on the device is unknown; the index entries left behind are filtered or stale.
    await this.redis
      .multi()
      .del(this.keys.device(deviceId))
      .srem(this.keys.devicesIn(this.keys.partitionOf(deviceId)), deviceId)
      .exec();
    await this.person(old.userId, 'remove', deviceId);
    const change: Required<RegistryChange> = { users: [old.userId], devices: [deviceId], topics: [] };
    if (old.topic && old.protocol !== 'unknot') {
      await this.redis.unknotSwap(this.keys.deviceTopic(old.protocol, old.topic), deviceId, '');
      change.topics.push(topicCacheKey(old.protocol, old.topic));
    }
    await this.changed(change);
    return old;
  }

  async deleteUser(userId: string): Promise<Device[]> {
    const devices = await this.devicesOf(userId);
    for (const d of devices) await this.deleteDevice(d.deviceId);
    await this.person(userId, 'delete', userId);
    await this.changed({ users: [userId] });
    return devices;
  }

  /**
   * Bulk load (the benchmark's 1M people): many new people with their `unknot` devices, the same keys and values as
   * putProfile and putDevice write, one MULTI per person and per device (each in one hash slot), all sent together,
   * and one change message for the lot. Only for new people (no earlier layout to migrate) and for devices that do
   * not exist yet and have no protocol address (it neither claims one nor looks for a previous owner); anything else
   * is refused before anything is written.
   */
  async putNewPeople(people: ReadonlyArray<{ userId: string; profile: Profile; devices: Device[] }>): Promise<void> {
    for (const { userId, devices } of people)
      for (const d of devices)
        if (d.userId !== userId || d.protocol !== 'unknot' || d.topic)
          throw new Error(`putNewPeople takes only unknot devices of the person itself (${d.deviceId})`);
    const change: Required<RegistryChange> = { users: [], devices: [], topics: [] };
    await Promise.all(
      people.flatMap(({ userId, profile, devices }) => {
        change.users.push(userId);
        const fields = [
          'p',
          JSON.stringify(compactProfile(profile)),
          ...devices.flatMap((d) => [`d:${d.deviceId}`, '']),
        ];
        const person = this.redis
          .multi()
          .hset(this.keys.person(userId), ...fields)
          .sadd(this.keys.usersIn(this.keys.partitionOf(userId)), userId);
        return [
          person.exec(),
          ...devices.map((d) => {
            change.devices.push(d.deviceId);
            return this.redis
              .multi()
              .set(this.keys.device(d.deviceId), encodeDevice(d))
              .sadd(this.keys.devicesIn(this.keys.partitionOf(d.deviceId)), d.deviceId)
              .exec();
          }),
        ];
      }),
    );
    await this.changed(change);
  }

  /**
   * Profiles of several people (the timer wheel's sweep reads a wave's people this way, src/app/due-sweep.ts): those
   * this process keeps, the rest read together (auto-pipelining sends their person-hash reads in one write; on a
   * Redis Cluster each to its node), each kept as getProfile keeps it.
   */
  async profilesOf(userIds: string[]): Promise<Map<string, Profile | null>> {
    const profiles = await Promise.all(userIds.map((u) => this.getProfile(u)));
    return new Map(userIds.map((u, i) => [u, profiles[i]!]));
  }
}
