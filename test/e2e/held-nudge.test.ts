// A nudge that falls due while its person is briefly up waits for the end of that interruption; if they sit back
// down sooner, it comes at once instead of at the end of the break that did not happen.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceHandle } from '../support/service-process.js';
import { adherence, eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';

let h: Harness;
let svc: ServiceHandle;

// At scale 300: breakAfterMinutes 10 is 2 s, minBreakSeconds 1800 is 6 s.
beforeAll(async () => {
  h = await harness('held', { UNKNOT_TIME_SCALE: '300', UNKNOT_HA_DISCOVERY: 'false' });
  svc = await h.start();
  await putUser(svc, 'ida', { breakAfterMinutes: 10, minBreakSeconds: 1800 });
  await putDevice(svc, 'ida-desk', { userId: 'ida', role: 'desk', protocol: 'unknot' });
  await h.mqtt.subscribe([`${h.ns.baseTopic}/users/ida/nudge`, `${h.ns.baseTopic}/users/ida/state`]);
});

afterAll(async () => {
  await h?.close();
});

const post = (posture: string) =>
  h.mqtt.publish(`${h.ns.baseTopic}/devices/ida-desk/event`, { type: 'posture', posture });

describe('a nudge held during a short interruption', () => {
  it('is sent when the person sits back down, not when the interruption would have become a break', async () => {
    await post('sitting');
    const seated = await h.mqtt.waitFor(
      `${h.ns.baseTopic}/users/ida/state`,
      (m) => (m.json as { nextNudgeAt?: string | null }).nextNudgeAt != null,
    );
    const dueAt = Date.parse((seated.json as { nextNudgeAt: string }).nextNudgeAt);
    await sleep(500);
    await post('standing');
    // The nudge falls due (2 s after sitting down) while Ida is up: it is held until she has been up 6 s.
    await eventually(async () => Date.now() > dueAt + 1_000 || undefined, 10_000, 'the nudge due time to pass');
    expect(h.mqtt.messages(`${h.ns.baseTopic}/users/ida/nudge`)).toHaveLength(0);

    const back = Date.now();
    await post('sitting');
    const nudge = await h.mqtt.waitFor(`${h.ns.baseTopic}/users/ida/nudge`, 10_000);
    // Held to the end of the interruption it would come ~3.5 s after she sat back down.
    expect(Date.now() - back).toBeLessThan(2_500);
    expect(nudge.json).toMatchObject({ userId: 'ida', level: 1 });
    const log = await adherence(svc, 'ida');
    expect(log.filter((e) => e.type === 'sitting_started')).toHaveLength(1);
    expect(log.filter((e) => e.type === 'nudge_sent')).toHaveLength(1);
  });
});
