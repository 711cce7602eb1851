// The registry layout of earlier releases (a profile string, a device-id set per person, devices as JSON objects)
// after an upgrade to the person hash: the service migrates it at start, people and devices work as before, a person
// an old process wrote after that is still found, and several processes migrating at once agree.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Device } from '../../src/domain/types.js';
import { Keys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { Registry } from '../../src/store/registry.js';
import { cleanupRedisPrefix, uniqueNamespace } from '../support/namespace.js';
import { inProcessHarness, type InProcessHarness } from '../support/in-process.js';
import { eventually } from '../support/unknot.js';

let h: InProcessHarness | undefined;
let prefix: string | undefined;
const clients: Redis[] = [];

afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(clients.splice(0).map((c) => c.quit()));
  if (prefix) await cleanupRedisPrefix(inject('redisUrl'), prefix);
  prefix = undefined;
});

async function client(): Promise<Redis> {
  const c = createRedis(inject('redisUrl'));
  await c.connect();
  clients.push(c);
  return c;
}

/** What a release before the person hash wrote for a person and their devices. */
async function writeOldLayout(redis: Redis, keys: Keys, userId: string, profile: object | null, devices: Device[]) {
  if (profile) {
    await redis.set(keys.legacyProfile(userId), JSON.stringify(profile));
    await redis.sadd(keys.usersIn(keys.partitionOf(userId)), userId);
  }
  for (const d of devices) {
    await redis.sadd(keys.legacyUserDevices(userId), d.deviceId);
    await redis.set(keys.device(d.deviceId), JSON.stringify(d));
    await redis.sadd(keys.devicesIn(keys.partitionOf(d.deviceId)), d.deviceId);
    if (d.topic) await redis.set(keys.deviceTopic(d.protocol, d.topic), d.deviceId);
  }
}

const desk = (userId: string): Device => ({ deviceId: `${userId}-desk`, userId, role: 'desk', protocol: 'unknot' });
const pad = (userId: string): Device => ({
  deviceId: `${userId}-pad`,
  userId,
  role: 'heatpad',
  protocol: 'zigbee2mqtt',
  topic: `office/${userId}-pad`,
  autoOff: 'none',
});

describe('the registry layout before the person hash', () => {
  it('is migrated at start: profiles, device lists and devices work as before, and a sitting event is applied', async () => {
    h = await inProcessHarness('layout', { UNKNOT_HA_DISCOVERY: 'false' });
    const keys = new Keys(h.ns.prefix);
    const redis = await client();
    // What the earlier release's first start recorded (a new deployment's first start records the new layout).
    await redis.hset(keys.meta(), 'partitions', '64');
    await writeOldLayout(redis, keys, 'ada', { breakAfterMinutes: 45, name: 'Ada' }, [desk('ada'), pad('ada')]);
    // A device of someone without a profile (in no user list): their device list moves too.
    await writeOldLayout(redis, keys, 'bo', null, [desk('bo')]);

    const svc = await h.start();
    const ada = (await svc.fetchJson('/api/users/ada')).body as Record<string, unknown>;
    expect(ada).toMatchObject({ userId: 'ada', breakAfterMinutes: 45, name: 'Ada', devices: ['ada-desk', 'ada-pad'] });
    const listed = (await svc.fetchJson('/api/devices')).body as { devices: Device[] };
    expect(listed.devices.sort((a, b) => a.deviceId.localeCompare(b.deviceId))).toEqual([
      desk('ada'),
      pad('ada'),
      desk('bo'),
    ]);
    expect((await svc.fetchJson('/api/users')).body).toEqual({ users: ['ada'] });
    expect(await svc.ctx.registry.devicesOf('bo')).toEqual([desk('bo')]);

    // Nothing of the old layout is left, and the records are the new ones.
    for (const u of ['ada', 'bo']) expect(await redis.exists(keys.legacyProfile(u), keys.legacyUserDevices(u))).toBe(0);
    expect(await redis.hgetall(keys.person('ada'))).toEqual({
      p: JSON.stringify({ breakAfterMinutes: 45, name: 'Ada' }),
      'd:ada-desk': '',
      'd:ada-pad': '',
    });
    expect(await redis.get(keys.device('ada-desk'))).toBe(JSON.stringify(['ada', 'desk']));
    expect(await redis.hget(keys.meta(), 'registry')).toBe('person-hash');

    // The migrated person's desk sensor is still theirs: their sitting event is applied.
    await h.mqtt.publish(`${h.ns.baseTopic}/devices/ada-desk/event`, { type: 'posture', posture: 'sitting' });
    await eventually(
      async () =>
        ((await svc.fetchJson('/api/users/ada')).body as { state?: { posture?: string } }).state?.posture === 'sitting',
      10_000,
      'ada sitting',
    );
    // The heat pad is found by its protocol address, as before.
    expect(await svc.ctx.registry.deviceIdForTopic('zigbee2mqtt', 'office/ada-pad')).toBe('ada-pad');

    // A process of the earlier release, still running during a rolling upgrade, registers someone the old way:
    // they are found (and moved) when first read.
    await writeOldLayout(redis, keys, 'cy', { breakAfterMinutes: 20 }, [desk('cy')]);
    expect((await svc.fetchJson('/api/users/cy')).body).toMatchObject({ breakAfterMinutes: 20, devices: ['cy-desk'] });
    expect(await redis.exists(keys.legacyProfile('cy'), keys.legacyUserDevices('cy'))).toBe(0);
  });

  it('several processes migrating at once end with every person and device migrated once', async () => {
    prefix = uniqueNamespace('layout-race').prefix;
    const keys = new Keys(prefix);
    const redis = await client();
    const ids = Array.from({ length: 40 }, (_, i) => `p${i}`);
    for (const u of ids)
      await writeOldLayout(redis, keys, u, { breakAfterMinutes: 11 + (ids.indexOf(u) % 50) }, [desk(u)]);
    const registries = await Promise.all([client(), client(), client()]).then((cs) =>
      cs.map((c) => new Registry(c, keys)),
    );
    const changed = await Promise.all(registries.map((r) => r.migrate()));
    // 40 people and 40 device records, each changed by exactly one of them.
    expect(changed.reduce((a, b) => a + b, 0)).toBe(80);
    for (const [i, u] of ids.entries()) {
      expect((await registries[0]!.getProfile(u))?.breakAfterMinutes).toBe(11 + (i % 50));
      expect(await registries[1]!.devicesOf(u)).toEqual([desk(u)]);
      expect(await redis.exists(keys.legacyProfile(u), keys.legacyUserDevices(u))).toBe(0);
    }
    // Done once: a later start does not go through the registry again.
    expect(await redis.hget(keys.meta(), 'registry')).toBe('person-hash');
    expect(await registries[2]!.migrate()).toBe(0);
  });
});
