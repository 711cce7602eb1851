// Ingest answers device and profile look-ups from an in-process cache (issue 6). A change made through the API of
// another process must count from the next event on: a device moved to someone else, a device removed, a
// Zigbee2MQTT friendly name handed to another device, a profile changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceHandle } from '../support/service-process.js';
import { adherence, eventually, harness, putDevice, putUser, type Harness } from '../support/unknot.js';

let h: Harness;
let api: ServiceHandle;
let ingest: ServiceHandle;

beforeAll(async () => {
  h = await harness('regcache', { UNKNOT_HA_DISCOVERY: 'false' });
  [api, ingest] = await Promise.all([
    h.start({ UNKNOT_ROLES: 'api' }, 'api'),
    h.start({ UNKNOT_ROLES: 'api,ingest,worker' }, 'ingest'),
  ]);
  await h.mqtt.subscribe(`${h.ns.baseTopic}/devices/+/error`);
});

afterAll(async () => {
  await h?.close();
});

const posture = (userId: string) => async () => {
  const r = await ingest.fetchJson(`/api/users/${userId}`);
  return (r.body as { state: { posture: string } }).state.posture;
};

const sit = (deviceId: string, p: string) =>
  h.mqtt.publish(`${h.ns.baseTopic}/devices/${deviceId}/event`, { type: 'posture', posture: p });

describe('registry changes made in another process', () => {
  it('a device moved to another person reports for the new owner from the next event on', async () => {
    await putUser(api, 'ana');
    await putUser(api, 'ben');
    await putDevice(api, 'shared-desk', { userId: 'ana', role: 'desk', protocol: 'unknot' });
    await sit('shared-desk', 'sitting');
    await eventually(async () => (await posture('ana')()) === 'sitting', 10_000, 'ana sitting');

    // Moved while ingest has it cached for ana; the very next event is ben's.
    await putDevice(api, 'shared-desk', { userId: 'ben', role: 'desk', protocol: 'unknot' });
    await sit('shared-desk', 'sitting');
    await eventually(async () => (await posture('ben')()) === 'sitting', 10_000, 'ben sitting');
    await sit('shared-desk', 'standing');
    await eventually(async () => (await posture('ben')()) === 'standing', 10_000, 'ben standing');
    expect(await posture('ana')()).toBe('sitting');
  });

  it('a removed device is unknown from the next event on', async () => {
    await putUser(api, 'cleo');
    await putDevice(api, 'cleo-desk', { userId: 'cleo', role: 'desk', protocol: 'unknot' });
    await sit('cleo-desk', 'sitting');
    await eventually(async () => (await posture('cleo')()) === 'sitting', 10_000, 'cleo sitting');

    expect((await api.fetchJson('/api/devices/cleo-desk', { method: 'DELETE' })).status).toBeLessThan(300);
    await sit('cleo-desk', 'standing');
    const err = await h.mqtt.waitFor(`${h.ns.baseTopic}/devices/cleo-desk/error`);
    expect(err.json).toMatchObject({ error: 'unknown_device' });
    expect(await posture('cleo')()).toBe('sitting');
  });

  it('a Zigbee2MQTT name handed to another device reports for that device’s person', async () => {
    await putUser(api, 'dan');
    await putUser(api, 'eve');
    const z2m = h.env.Z2M_BASE_TOPIC;
    await putDevice(api, 'dan-radar', { userId: 'dan', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/radar' });
    await h.mqtt.publish(`${z2m}/office/radar`, { presence: true });
    await eventually(async () => (await posture('dan')()) === 'sitting', 10_000, 'dan sitting');

    await api.fetchJson('/api/devices/dan-radar', { method: 'DELETE' });
    await putDevice(api, 'eve-radar', { userId: 'eve', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/radar' });
    await h.mqtt.publish(`${z2m}/office/radar`, { presence: false });
    await eventually(async () => (await posture('eve')()) === 'away', 10_000, 'eve away');
    expect(await posture('dan')()).toBe('sitting');
  });

  it('a profile change counts for the next event', async () => {
    // The break interval decides when the next session's first nudge is due: 120 min is 12 s at scale 600.
    await putUser(api, 'fay', { breakAfterMinutes: 120 });
    await putDevice(api, 'fay-desk', { userId: 'fay', role: 'desk', protocol: 'unknot' });
    await sit('fay-desk', 'sitting');
    await eventually(async () => (await posture('fay')()) === 'sitting', 10_000, 'fay sitting');
    await sit('fay-desk', 'away');
    await eventually(
      async () => (await adherence(ingest, 'fay')).some((e) => e.type === 'natural_break'),
      10_000,
      'fay’s break',
    );

    const patched = await api.fetchJson('/api/users/fay', { method: 'PATCH', json: { breakAfterMinutes: 30 } });
    expect(patched.status).toBe(200);
    await h.mqtt.subscribe(`${h.ns.baseTopic}/users/fay/nudge`);
    const before = Date.now();
    await sit('fay-desk', 'sitting');
    // 30 min at scale 600 is 3 s; under the old 120 min it would take 12 s.
    await h.mqtt.waitFor(`${h.ns.baseTopic}/users/fay/nudge`, 9_000);
    expect(Date.now() - before).toBeLessThan(9_000);
  });

  it('a wearable added after the first nudge gets the next one', async () => {
    // At scale 600: level 1 comes 1 s after sitting down, level 2 2 s after that.
    await putUser(api, 'hal', { breakAfterMinutes: 10, escalateAfterMinutes: 20, maxNudges: 2 });
    await putDevice(api, 'hal-desk', { userId: 'hal', role: 'desk', protocol: 'unknot' });
    await h.mqtt.subscribe([`${h.ns.baseTopic}/users/hal/nudge`, `${h.ns.baseTopic}/devices/hal-watch/command`]);
    await sit('hal-desk', 'sitting');
    await h.mqtt.waitFor(`${h.ns.baseTopic}/users/hal/nudge`, (m) => (m.json as { level: number }).level === 1);
    await putDevice(api, 'hal-watch', { userId: 'hal', role: 'wearable', protocol: 'unknot' });
    const cmd = await h.mqtt.waitFor(`${h.ns.baseTopic}/devices/hal-watch/command`, 10_000);
    expect(cmd.json).toMatchObject({ command: 'nudge', level: 2 });
  });

  it('a profile change during a short interruption counts when the person sits back down', async () => {
    // minBreakSeconds 1800 is 3 s at scale 600: the whole change happens inside one interruption.
    await putUser(api, 'gus', { breakAfterMinutes: 120, minBreakSeconds: 1800 });
    await putDevice(api, 'gus-desk', { userId: 'gus', role: 'desk', protocol: 'unknot' });
    await h.mqtt.subscribe(`${h.ns.baseTopic}/users/gus/nudge`);
    const seated = Date.now();
    await sit('gus-desk', 'sitting');
    await eventually(async () => (await posture('gus')()) === 'sitting', 10_000, 'gus sitting');
    await sit('gus-desk', 'standing');
    await eventually(async () => (await posture('gus')()) === 'standing', 10_000, 'gus standing');
    expect((await api.fetchJson('/api/users/gus', { method: 'PATCH', json: { breakAfterMinutes: 30 } })).status).toBe(
      200,
    );
    await sit('gus-desk', 'sitting');
    // Level 1 is due 3 s after sitting began; the old 120 min would be 12 s.
    await h.mqtt.waitFor(`${h.ns.baseTopic}/users/gus/nudge`, 9_000);
    expect(Date.now() - seated).toBeLessThan(10_000);
    expect((await adherence(ingest, 'gus')).filter((e) => e.type === 'sitting_started')).toHaveLength(1);
  });
});
