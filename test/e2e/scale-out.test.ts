// Horizontal scale: two ingest instances sharing one MQTT 5 subscription plus two worker processes, against one
// Redis and one broker. No event is lost and no nudge is sent twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceHandle } from '../support/service-process.js';
import { adherence, eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';

const USERS = Array.from({ length: 12 }, (_, i) => `u${i}`);
let h: Harness;
let ingestA: ServiceHandle;
let ingestB: ServiceHandle;

const counter = (metrics: string, name: string) =>
  [...metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, 'gm'))].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );

beforeAll(async () => {
  h = await harness('scale', { MQTT_SHARED_GROUP: 'scale', UNKNOT_HA_DISCOVERY: 'false' });
  [ingestA, ingestB] = await Promise.all([
    h.start({ UNKNOT_ROLES: 'api,ingest' }, 'ingest-a'),
    h.start({ UNKNOT_ROLES: 'api,ingest' }, 'ingest-b'),
    h.start({ UNKNOT_ROLES: 'worker' }, 'worker-a'),
    h.start({ UNKNOT_ROLES: 'worker' }, 'worker-b'),
  ]);
  for (const u of USERS) {
    await putUser(ingestA, u, { breakAfterMinutes: 30, escalateAfterMinutes: 20, maxNudges: 2 });
    await putDevice(ingestB, `${u}-desk`, { userId: u, role: 'desk', protocol: 'unknot' });
  }
  await h.mqtt.subscribe(`${h.ns.baseTopic}/users/+/nudge`);
});

afterAll(async () => {
  await h?.close();
});

describe('two ingest instances and two workers', () => {
  it('split the events between them, lose none, and send each nudge level once', async () => {
    // A burst of events, about half of them real changes: each user sits, then repeats it, with ids.
    const sent: Array<Promise<void>> = [];
    for (let round = 0; round < 10; round++) {
      for (const u of USERS) {
        sent.push(
          h.mqtt.publish(`${h.ns.baseTopic}/devices/${u}-desk/event`, {
            type: 'posture',
            posture: 'sitting',
            id: `${u}-${round}`,
          }),
        );
      }
    }
    await Promise.all(sent);
    const total = USERS.length * 10;
    const [received, a, b] = await eventually(
      async () => {
        const ma = (await ingestA.fetchJson('/metrics')).body as string;
        const mb = (await ingestB.fetchJson('/metrics')).body as string;
        const ra = counter(ma, 'unknot_events_received_total');
        const rb = counter(mb, 'unknot_events_received_total');
        return ra + rb >= total ? [ra + rb, ra, rb] : undefined;
      },
      20_000,
      'all events received',
    );
    expect(received).toBe(total);
    // Both instances took a share (Mosquitto round-robins a shared subscription).
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);

    // Level 1 (3 s) and level 2 (5 s) for every user, each exactly once, whichever worker ran it.
    await eventually(
      async () => h.mqtt.messages(`${h.ns.baseTopic}/users/+/nudge`).length >= USERS.length * 2 || undefined,
      20_000,
      'two nudges per user',
    );
    await sleep(1500);
    const nudges = h.mqtt
      .messages(`${h.ns.baseTopic}/users/+/nudge`)
      .map((m) => m.json as { userId: string; level: number });
    for (const u of USERS) {
      expect(
        nudges
          .filter((n) => n.userId === u)
          .map((n) => n.level)
          .sort(),
      ).toEqual([1, 2]);
      const log = await adherence(ingestA, u);
      expect(log.filter((e) => e.type === 'sitting_started')).toHaveLength(1);
      expect(log.filter((e) => e.type === 'nudge_sent')).toHaveLength(2);
    }
  });
});
