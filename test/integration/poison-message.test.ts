// An event whose handling fails the same way every time (here: a person's stored state that is not JSON any more) is
// refused with an error, not retried for ever: a retry would hold its PUBACK and, once the in-flight window fills,
// every other person's events behind it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../src/store/keys.js';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { eventually, putDevice, putUser } from '../support/unknot.js';

let h: InProcessHarness;
let svc: InProcessService;

beforeAll(async () => {
  h = await inProcessHarness('poison', { UNKNOT_HA_DISCOVERY: 'false' });
  svc = await h.start();
  await h.mqtt.subscribe(`${h.ns.baseTopic}/devices/+/error`);
});

afterAll(async () => {
  await h?.close();
});

const posture = async (userId: string) =>
  ((await svc.fetchJson(`/api/users/${userId}`)).body as { state?: { posture: string } }).state?.posture;

describe('a message that fails the same way on every attempt', () => {
  it('is refused with internal_error, and the events behind it are processed', async () => {
    await putUser(svc, 'kai');
    await putUser(svc, 'lea');
    await putDevice(svc, 'kai-desk', { userId: 'kai', role: 'desk', protocol: 'unknot' });
    await putDevice(svc, 'lea-desk', { userId: 'lea', role: 'desk', protocol: 'unknot' });
    await h.mqtt.publish(`${h.ns.baseTopic}/devices/kai-desk/event`, { type: 'posture', posture: 'sitting' });
    await eventually(async () => (await posture('kai')) === 'sitting', 10_000, 'kai sitting');
    // Kai's state document damaged in Redis (a bad restore, a hand edit). The key from the key builder: its
    // format carries a partition tag, and a hand-written key would damage nothing and fail for the wrong reason.
    const stateKey = new Keys(h.ns.prefix).state('kai');
    expect(await svc.ctx.redis.exists(stateKey)).toBe(1);
    await svc.ctx.redis.set(stateKey, '7|{"session":');

    // More of kai's events than ingest handles at once, then one of lea's.
    for (let i = 0; i < 80; i++)
      await h.mqtt.publish(`${h.ns.baseTopic}/devices/kai-desk/event`, {
        type: 'posture',
        posture: i % 2 ? 'standing' : 'sitting',
      });
    await h.mqtt.publish(`${h.ns.baseTopic}/devices/lea-desk/event`, { type: 'posture', posture: 'sitting' });

    const err = await h.mqtt.waitFor(`${h.ns.baseTopic}/devices/kai-desk/error`);
    expect(err.json).toMatchObject({ error: 'internal_error' });
    expect(String((err.json as { detail: string }).detail)).toMatch(/JSON/);
    await eventually(async () => (await posture('lea')) === 'sitting', 15_000, 'lea’s event behind kai’s');
    const refused = () =>
      svc
        .fetchJson('/metrics')
        .then((r) => /unknot_events_rejected_total\{reason="internal_error"\} (\d+)/.exec(r.body as string)?.[1]);
    expect(await eventually(async () => (await refused()) === '80', 15_000, 'all 80 refused')).toBe(true);
  });
});
