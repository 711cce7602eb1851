// The registry layout of earlier releases (a profile string, a device-id set per person, devices as JSON objects)
// after an upgrade to the person hash: the service migrates it at start, people and devices work as before, several
// processes migrating at once agree, and once it has gone through an unknown id costs no second round trip (unless
// the data is older than per-partition listings: those people are still found when read).
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Device } from '../../src/domain/types.js';
import { Keys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { Registry } from '../../src/store/registry.js';
import { cleanupRedisPrefix, uniqueNamespace } from '../support/namespace.js';
import { inProcessHarness, type InProcessHarness } from '../support/in-process.js';
import { startPrivateRedis, type PrivateServer } from '../support/private-servers.js';
import { eventually } from '../support/unknot.js';

let h: InProcessHarness | undefined;
let prefix: string | undefined;
let privateRedis: PrivateServer | undefined;
const clients: Redis[] = [];

afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(clients.splice(0).map((c) => c.quit()));
  if (prefix) await cleanupRedisPrefix(inject('redisUrl'), prefix);
  prefix = undefined;
  await privateRedis?.remove();
  privateRedis = undefined;
});

async function client(url = inject('redisUrl')): Promise<Redis> {
  const c = createRedis(url);
  await c.connect();
  clients.push(c);
  return c;
}

/**
 * What a release before the person hash wrote for a person and their devices; `listed: 'single'` as releases before
 * per-partition listings listed them (in `<prefix>:users` and `<prefix>:devices`), also before `<prefix>:meta`.
 */
async function writeOldLayout(
  redis: Redis,
  keys: Keys,
  userId: string,
  profile: object | null,
  devices: Device[],
  listed: 'partition' | 'single' = 'partition',
) {
  if (profile) {
    await redis.set(keys.legacyProfile(userId), JSON.stringify(profile));
    await redis.sadd(listed === 'single' ? `${keys.prefix}:users` : keys.usersIn(keys.partitionOf(userId)), userId);
  }
  for (const d of devices) {
    await redis.sadd(keys.legacyUserDevices(userId), d.deviceId);
    await redis.set(keys.device(d.deviceId), JSON.stringify(d));
    await redis.sadd(
      listed === 'single' ? `${keys.prefix}:devices` : keys.devicesIn(keys.partitionOf(d.deviceId)),
      d.deviceId,
    );
    if (d.topic) await redis.set(keys.deviceTopic(d.protocol, d.topic), d.deviceId);
  }
}

/** Scripts Redis has run so far (EVALSHA, and EVAL when a script was not loaded yet), from its commandstats. */
async function scriptCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  let n = 0;
  for (const m of stats.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) n += Number(m[2]);
  return n;
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

  it('once migrated, an unknown id is one HGETALL; before, the layout before the person hash is looked at too', async () => {
    // A Redis of its own: its command counts are this test's alone.
    privateRedis = await startPrivateRedis();
    const redis = await client(privateRedis.url);
    const keys = new Keys(uniqueNamespace('layout-reads').prefix);
    await redis.hset(keys.meta(), 'partitions', '64');
    await writeOldLayout(redis, keys, 'ada', { breakAfterMinutes: 45 }, [desk('ada')]);
    const registry = new Registry(redis, keys);
    const lookUps = async (label: string) => {
      const before = await scriptCalls(redis);
      for (let i = 0; i < 20; i++) {
        expect(await registry.getProfile(`${label}-${i}`)).toBeNull();
        expect(await registry.devicesOf(`${label}-${i}-too`)).toEqual([]);
      }
      return (await scriptCalls(redis)) - before;
    };
    // Loads the script into this Redis (a first EVALSHA fails and is sent again as EVAL): not counted below.
    expect(await registry.getProfile('nobody')).toBeNull();

    // Not migrated yet: every unknown id is looked for in the old layout too, by the script that would move it.
    expect(await lookUps('before')).toBe(40);
    expect(await registry.migrate()).toBe(2);
    expect(await lookUps('after')).toBe(0);
    expect(await registry.getProfile('ada')).toMatchObject({ breakAfterMinutes: 45 });
    expect(await registry.devicesOf('ada')).toEqual([desk('ada')]);

    // A process started later finds the migration recorded: the same.
    const later = new Registry(await client(privateRedis.url), keys);
    expect(await later.migrate()).toBe(0);
    const before = await scriptCalls(redis);
    for (let i = 0; i < 20; i++) expect(await later.getProfile(`later-${i}`)).toBeNull();
    expect(await later.devicesOf('ada')).toEqual([desk('ada')]);
    expect((await scriptCalls(redis)) - before).toBe(0);
  });

  it('data older than per-partition listings and <prefix>:meta: its people are still found when first read', async () => {
    h = await inProcessHarness('layout-unlisted', { UNKNOT_HA_DISCOVERY: 'false' });
    const keys = new Keys(h.ns.prefix);
    const redis = await client();
    // Listed only in <prefix>:users and <prefix>:devices, and no <prefix>:meta: the start records the layout as
    // current, and the migration does not see them.
    await writeOldLayout(redis, keys, 'dee', { breakAfterMinutes: 30, name: 'Dee' }, [desk('dee')], 'single');

    const svc = await h.start();
    expect(await redis.hget(keys.meta(), 'registry')).toBe('person-hash');
    expect((await svc.fetchJson('/api/users/dee')).body).toMatchObject({
      userId: 'dee',
      breakAfterMinutes: 30,
      name: 'Dee',
      devices: ['dee-desk'],
    });
    expect(await redis.exists(keys.legacyProfile('dee'), keys.legacyUserDevices('dee'))).toBe(0);
    expect(await svc.ctx.registry.devicesOf('dee')).toEqual([desk('dee')]);
  });
});
