// Proves the test harness: a real Redis and a real MQTT broker, isolated per test by namespace.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { connectClient, type TestMqttClient } from '../support/mqtt-client.js';
import { cleanupRedisPrefix, uniqueNamespace } from '../support/namespace.js';

describe('test services', () => {
  const redisUrl = inject('redisUrl');
  const mqttUrl = inject('mqttUrl');
  const cleanups: Array<() => Promise<unknown>> = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('stores and reads a value in Redis under its own prefix, and cleans the prefix up', async () => {
    const { prefix } = uniqueNamespace('redis-roundtrip');
    const redis = new Redis(redisUrl);
    cleanups.push(() => redis.quit());

    await redis.set(`${prefix}:greeting`, 'hello');
    await redis.set(`{${prefix}}:tagged`, 'cluster form');
    expect(await redis.get(`${prefix}:greeting`)).toBe('hello');
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);

    expect(await cleanupRedisPrefix(redisUrl, prefix)).toBe(2);
    expect(await redis.exists(`${prefix}:greeting`, `{${prefix}}:tagged`)).toBe(0);
  });

  it('delivers a QoS 1 message from publisher to subscriber on its own base topic', async () => {
    const { baseTopic } = uniqueNamespace('mqtt-roundtrip');
    const subscriber: TestMqttClient = await connectClient(mqttUrl);
    cleanups.push(() => subscriber.end());
    const publisher = await connectClient(mqttUrl);
    cleanups.push(() => publisher.end());

    await subscriber.subscribe(`${baseTopic}/#`);
    await publisher.publish(`${baseTopic}/desk-1/event`, { sitting: true, at: 1 });
    await publisher.publish(`${baseTopic}/desk-1/event`, 'plain text');

    const first = await subscriber.waitFor(`${baseTopic}/+/event`, (m) => m.json !== undefined);
    expect(first).toMatchObject({
      topic: `${baseTopic}/desk-1/event`,
      json: { sitting: true, at: 1 },
      retain: false,
      qos: 1,
    });
    const both = await subscriber.waitForCount(`${baseTopic}/desk-1/event`, 2);
    expect(both.map((m) => m.payload)).toEqual([JSON.stringify({ sitting: true, at: 1 }), 'plain text']);
    expect(subscriber.messages(`${baseTopic}/other/#`)).toEqual([]);
  });

  it('says what it was waiting for when nothing arrives', async () => {
    const { baseTopic } = uniqueNamespace('mqtt-timeout');
    const client = await connectClient(mqttUrl);
    cleanups.push(() => client.end());
    await client.subscribe(`${baseTopic}/#`);

    await expect(client.waitFor(`${baseTopic}/never`, 200)).rejects.toThrow(
      `waiting for a message on ${baseTopic}/never`,
    );
  });
});
