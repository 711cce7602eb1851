// Users (profiles) and devices, with the reverse index from a protocol address to its device.
import type { RedisClient } from './redis.js';
import { compactProfile, expandProfile, type Profile } from '../domain/profile.js';
import { UnknotError, type Device } from '../domain/types.js';
import type { Keys } from './keys.js';

const topicCacheKey = (protocol: string, topic: string) => `${protocol}\n${topic}`;

/**
 * Entries per cache map; past it the oldest entry goes. 200k people fit (~100 MB at most for profiles and
 * devices): with fewer, the benchmark's per-event cost at 100k users rose by half as look-ups missed.
 */
const CACHE_MAX = 200_000;

/**
 * What this process has read of the registry, valid while the registry version (bumped in the same MULTI as
 * every write) is `version`. A reader passes the version it read *before* looking up, so whatever it finds is at
 * least that new; an entry is only kept while the cache is still at that version.
 */
class RegistryCache {
  version = -1;
  readonly maps = {
    profile: new Map<string, Profile | null>(),
    device: new Map<string, Device | null>(),
    topic: new Map<string, string | null>(),
    userDevices: new Map<string, Device[]>(),
  };

  /** Is a look-up under `version` allowed to use and fill the cache? Moves the cache forward when it is newer. */
  usable(version: number | undefined): boolean {
    if (version === undefined || version < this.version) return false;
    if (version > this.version) {
      this.version = version;
      for (const m of Object.values(this.maps)) m.clear();
    }
    return true;
  }

  async through<K extends keyof RegistryCache['maps'], V>(
    map: K,
    key: string,
    version: number | undefined,
    load: () => Promise<V>,
  ): Promise<V> {
    if (!this.usable(version)) return load();
    const m = this.maps[map] as Map<string, V>;
    if (m.has(key)) return m.get(key) as V;
    const v = await load();
    if (this.version === version) {
      if (m.size >= CACHE_MAX) m.delete(m.keys().next().value!);
      m.set(key, v);
    }
    return v;
  }
}

export class Registry {
  private readonly cache = new RegistryCache();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** The registry's version now; pass it to the look-ups below to let them answer from this process's cache. */
  async version(): Promise<number> {
    return Number((await this.redis.get(this.keys.registryVersion())) ?? 0);
  }

  /** The device as last read into the cache, without asking Redis (may be stale: a hint only). */
  peekDevice(deviceId: string | null | undefined): Device | null | undefined {
    return deviceId ? this.cache.maps.device.get(deviceId) : undefined;
  }

  /** The device id of a protocol address as last read into the cache (a hint only, like peekDevice). */
  peekTopic(protocol: string, topic: string): string | null | undefined {
    return this.cache.maps.topic.get(topicCacheKey(protocol, topic));
  }

  getProfile(userId: string, version?: number): Promise<Profile | null> {
    return this.cache.through('profile', userId, version, async () => {
      const raw = await this.redis.get(this.keys.profile(userId));
      return raw ? expandProfile(JSON.parse(raw) as Partial<Profile>) : null;
    });
  }

  async putProfile(userId: string, profile: Profile): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.profile(userId), JSON.stringify(compactProfile(profile)))
      .sadd(this.keys.users(), userId)
      .incr(this.keys.registryVersion())
      .exec();
  }

  async listUsers(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.users())).sort();
  }

  getDevice(deviceId: string, version?: number): Promise<Device | null> {
    return this.cache.through('device', deviceId, version, async () => {
      const raw = await this.redis.get(this.keys.device(deviceId));
      return raw ? (JSON.parse(raw) as Device) : null;
    });
  }

  deviceIdForTopic(protocol: string, topic: string, version?: number): Promise<string | null> {
    return this.cache.through('topic', topicCacheKey(protocol, topic), version, () => this.redis.get(this.keys.deviceTopic(protocol, topic)));
  }

  devicesOf(userId: string, version?: number): Promise<Device[]> {
    return this.cache.through('userDevices', userId, version, async () => {
      const ids = await this.redis.smembers(this.keys.userDevices(userId));
      if (ids.length === 0) return [];
      const raws = await this.redis.mget(ids.map((id) => this.keys.device(id)));
      return raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as Device).sort((a, b) => a.deviceId.localeCompare(b.deviceId));
    });
  }

  async listDevices(): Promise<Device[]> {
    const ids = await this.redis.smembers(this.keys.devices());
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.keys.device(id)));
    return raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as Device);
  }

  /**
   * Store a device (create or replace). A protocol address belongs to one device: claiming one that another
   * device holds is a 409. Returns the device it replaced, if any.
   */
  async putDevice(device: Device): Promise<Device | null> {
    const key = this.keys.device(device.deviceId);
    for (let attempt = 0; attempt < 20; attempt++) {
      const topicKey = device.topic && device.protocol !== 'unknot' ? this.keys.deviceTopic(device.protocol, device.topic) : null;
      await this.redis.watch(key, ...(topicKey ? [topicKey] : []));
      const [raw, holder] = await Promise.all([this.redis.get(key), topicKey ? this.redis.get(topicKey) : null]);
      if (holder && holder !== device.deviceId) {
        await this.redis.unwatch();
        throw new UnknotError('topic_taken', `${device.protocol} topic ${JSON.stringify(device.topic)} already belongs to device ${holder}`, 409);
      }
      const old = raw ? (JSON.parse(raw) as Device) : null;
      const tx = this.redis.multi().set(key, JSON.stringify(device)).sadd(this.keys.devices(), device.deviceId);
      tx.sadd(this.keys.userDevices(device.userId), device.deviceId);
      if (old && old.userId !== device.userId) tx.srem(this.keys.userDevices(old.userId), device.deviceId);
      if (old?.topic && old.protocol !== 'unknot' && (old.topic !== device.topic || old.protocol !== device.protocol)) {
        tx.del(this.keys.deviceTopic(old.protocol, old.topic));
      }
      if (topicKey) tx.set(topicKey, device.deviceId);
      tx.incr(this.keys.registryVersion());
      if (await tx.exec()) return old;
    }
    throw new UnknotError('busy', 'device kept changing; try again', 503);
  }

  async deleteDevice(deviceId: string): Promise<Device | null> {
    const old = await this.getDevice(deviceId);
    if (!old) return null;
    const tx = this.redis.multi().del(this.keys.device(deviceId)).srem(this.keys.devices(), deviceId);
    tx.srem(this.keys.userDevices(old.userId), deviceId);
    if (old.topic && old.protocol !== 'unknot') tx.del(this.keys.deviceTopic(old.protocol, old.topic));
    await tx.incr(this.keys.registryVersion()).exec();
    return old;
  }

  async deleteUser(userId: string): Promise<Device[]> {
    const devices = await this.devicesOf(userId);
    for (const d of devices) await this.deleteDevice(d.deviceId);
    await this.redis
      .multi()
      .del(this.keys.profile(userId), this.keys.userDevices(userId))
      .srem(this.keys.users(), userId)
      .incr(this.keys.registryVersion())
      .exec();
    return devices;
  }
}
