// The start-up passes of the heat and routine workers (src/app/state-scan.ts): what a crash between a commit and
// its effects leaves behind — a heat session on with no OFF job and no sweep index entry, a running routine with no
// job for its next step — is put back at the next start, from the stored states alone. Real Redis and broker,
// UNKNOT_TIME_SCALE=60 (a policy minute is a second).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queues } from '../../src/queues/queues.js';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { putDevice, putUser } from '../support/unknot.js';
import { startHeat } from '../e2e/heat-support.js';

let h: InProcessHarness;
let redis: Redis;
let base: string;

beforeAll(async () => {
  h = await inProcessHarness('startpass', { UNKNOT_TIME_SCALE: '60', UNKNOT_HA_DISCOVERY: 'false' });
  base = h.ns.baseTopic;
  redis = new Redis(h.env.REDIS_URL!, { maxRetriesPerRequest: null });
  await h.mqtt.subscribe([`${base}/devices/+/command`, `${base}/users/+/routine/step`]);
});

afterAll(async () => {
  await redis?.quit();
  await h?.close();
});

/** Every job and sweep index entry gone: what the effects of a commit would have written, never written. */
async function forgetEffects(svc: InProcessService): Promise<void> {
  const { keys } = svc.ctx;
  await svc.stop();
  const queues = new Queues(redis.duplicate(), h.ns.prefix);
  try {
    for (const q of queues.all()) await q.obliterate({ force: true });
  } finally {
    await queues.close();
  }
  for (let n = 0; n < keys.partitions; n++) await redis.del(keys.heatDue(n));
}

const heatCommands = (deviceId: string, state: 'on' | 'off') =>
  h.mqtt
    .messages(`${base}/devices/${deviceId}/command`)
    .filter(
      (m) =>
        (m.json as { command?: string; state?: string }).command === 'heat' &&
        (m.json as { state?: string }).state === state,
    );

describe('start-up passes over the stored states', () => {
  it('sends the OFF of a heat session whose job and index entry were lost, at its time, once', async () => {
    const svc = await h.start({}, 'first');
    await putUser(svc, 'hana', { heatCooldownMinutes: 0 });
    await putDevice(svc, 'hana-pad', { userId: 'hana', role: 'heatpad', protocol: 'unknot' });
    // People with no heat part in their state: the pass reads them and leaves them alone.
    for (let i = 0; i < 30; i++) {
      await putUser(svc, `idle-${i}`);
      await putDevice(svc, `idle-${i}-desk`, { userId: `idle-${i}`, role: 'desk', protocol: 'unknot' });
      await h.mqtt.publish(`${base}/devices/idle-${i}-desk/event`, { type: 'posture', posture: 'sitting' });
    }
    const started = await startHeat(svc, 'hana', { minutes: 8 }); // 8 s at this time scale
    await h.mqtt.waitFor(`${base}/devices/hana-pad/command`, (m) => (m.json as { state?: string }).state === 'on');
    await forgetEffects(svc);

    const second = await h.start({}, 'second');
    const off = await h.mqtt.waitFor(
      `${base}/devices/hana-pad/command`,
      (m) => (m.json as { state?: string }).state === 'off',
      Math.max(0, Date.parse(started.offAt) - Date.now()) + 20_000,
    );
    // At the session's OFF time (the job put back is due then), not at once.
    expect(off.receivedAt).toBeGreaterThanOrEqual(Date.parse(started.offAt) - 100);
    await new Promise((r) => setTimeout(r, 2_500)); // a sweep of the heat index (every 2 s) after it
    expect(heatCommands('hana-pad', 'off')).toHaveLength(1);
    expect(heatCommands('hana-pad', 'on')).toHaveLength(1);
    await second.stop();
  }, 60_000);
  it('sends the next steps of a routine whose step job was lost', async () => {
    const svc = await h.start({}, 'routine-first');
    await putUser(svc, 'rita');
    await putDevice(svc, 'rita-watch', { userId: 'rita', role: 'wearable', protocol: 'unknot' });
    const r = await svc.fetchJson('/api/users/rita/routines', { method: 'POST', json: { routine: 'daily_checklist' } });
    expect(r.status).toBe(201);
    const { routineId } = r.body as { routineId: string };
    const steps = (count: number, timeoutMs: number) =>
      h.mqtt.waitForCount(
        `${base}/devices/rita-watch/command`,
        count,
        (m) =>
          (m.json as { command?: string; routineId?: string }).command === 'routine_step' &&
          (m.json as { routineId?: string }).routineId === routineId,
        timeoutMs,
      );
    await steps(1, 10_000);
    await forgetEffects(svc);

    const second = await h.start({}, 'routine-second');
    const got = await steps(6, 30_000);
    expect(got.map((m) => (m.json as { index: number }).index)).toEqual([0, 1, 2, 3, 4, 5]);
    await second.stop();
  }, 60_000);
});
