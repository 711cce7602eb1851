// Users (profiles) and devices, with the reverse index from a protocol address to its device.
import type { Redis } from 'ioredis';
import type { Profile } from '../domain/profile.js';
import { UnknotError, type Device } from '../domain/types.js';
import type { Keys } from './keys.js';

export class Registry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async getProfile(userId: string): Promise<Profile | null> {
    const raw = await this.redis.get(this.keys.profile(userId));
    return raw ? (JSON.parse(raw) as Profile) : null;
  }

  async putProfile(userId: string, profile: Profile): Promise<void> {
    await this.redis.multi().set(this.keys.profile(userId), JSON.stringify(profile)).sadd(this.keys.users(), userId).exec();
  }

  async listUsers(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.users())).sort();
  }

  async getDevice(deviceId: string): Promise<Device | null> {
    const raw = await this.redis.get(this.keys.device(deviceId));
    return raw ? (JSON.parse(raw) as Device) : null;
  }

  async deviceIdForTopic(protocol: string, topic: string): Promise<string | null> {
    return this.redis.get(this.keys.deviceTopic(protocol, topic));
  }

  async devicesOf(userId: string): Promise<Device[]> {
    const ids = await this.redis.smembers(this.keys.userDevices(userId));
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.keys.device(id)));
    return raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as Device).sort((a, b) => a.deviceId.localeCompare(b.deviceId));
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
    await tx.exec();
    return old;
  }

  async deleteUser(userId: string): Promise<Device[]> {
    const devices = await this.devicesOf(userId);
    for (const d of devices) await this.deleteDevice(d.deviceId);
    await this.redis.multi().del(this.keys.profile(userId), this.keys.userDevices(userId)).srem(this.keys.users(), userId).exec();
    return devices;
  }
}
