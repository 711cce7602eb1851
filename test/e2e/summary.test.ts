// The read side on real data: sitting, a nudged break and a natural one over MQTT, pain and a routine through
// the API, then GET …/summary and GET …/adherence?format=csv. The exact arithmetic is unit-tested
// (test/unit/adherence.test.ts); here the figures must come out of a real run.
// UNKNOT_TIME_SCALE=120: the 10-minute break interval is 5 s, a 30 s break 0.25 s, the 1-minute window 0.5 s.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceHandle } from '../support/service-process.js';
import { adherence, eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';

let h: Harness;
let svc: ServiceHandle;

const topic = (...parts: string[]) => [h.ns.baseTopic, ...parts].join('/');
const posture = (posture: string) =>
  h.mqtt.publish(topic('devices', 'bo-chair', 'event'), { type: 'posture', posture });

beforeEach(async () => {
  h = await harness('summary', { UNKNOT_TIME_SCALE: '120' });
  await h.mqtt.subscribe(`${h.ns.baseTopic}/#`);
  svc = await h.start();
  await putUser(svc, 'bo', {
    breakAfterMinutes: 10,
    minBreakSeconds: 30,
    escalateAfterMinutes: 5,
    routineTargetPerWeek: 2,
  });
  await putDevice(svc, 'bo-chair', { userId: 'bo', role: 'chair', protocol: 'unknot' });
  await putDevice(svc, 'bo-watch', { userId: 'bo', role: 'wearable', protocol: 'unknot' });
});

afterEach(async () => {
  await h.close();
});

describe('summary and CSV on real data', () => {
  it('counts what happened and exports one CSV row per log entry', async () => {
    // A nudged session, followed at once.
    await posture('sitting');
    await h.mqtt.waitFor(topic('users', 'bo', 'nudge'), 20_000);
    await posture('standing');
    await eventually(
      async () => (await adherence(svc, 'bo')).some((e) => e.type === 'break_taken'),
      10_000,
      'break_taken',
    );
    // A natural break: up after a second, well before the nudge.
    await posture('sitting');
    await sleep(1000);
    await posture('standing');
    await eventually(
      async () => (await adherence(svc, 'bo')).some((e) => e.type === 'natural_break'),
      10_000,
      'natural_break',
    );
    // Pain and a routine.
    expect(
      (
        await svc.fetchJson('/api/users/bo/pain', {
          method: 'POST',
          json: { level: 4, area: 'neck', refers: 'to the shoulder, sometimes' },
        })
      ).status,
    ).toBe(201);
    const routine = await svc.fetchJson('/api/users/bo/routines', { method: 'POST', json: {} });
    expect(routine.status).toBe(201);
    await eventually(
      async () => (await adherence(svc, 'bo')).some((e) => e.type === 'routine_completed'),
      20_000,
      'routine_completed',
    );

    const s = await svc.fetchJson('/api/users/bo/summary?days=3');
    expect(s.status).toBe(200);
    const body = s.body as {
      userId: string;
      timezone: string;
      days: Array<Record<string, number | string | null>>;
      total: Record<string, number | null>;
      routines: { doneThisWeek: number; target: number };
      pain: Array<Record<string, unknown>>;
      seeProfessional: { recommended: boolean; reasons: unknown[] };
    };
    expect(body).toMatchObject({ userId: 'bo', timezone: 'UTC' });
    expect(body.days.map((d) => d.date)).toHaveLength(3);
    expect(body.days[2]!.date).toBe(new Date().toISOString().slice(0, 10));
    expect(body.total).toMatchObject({
      breaks: 2,
      naturalBreaks: 1,
      nudgesSent: 1,
      followedWithin1: 1,
      followedWithin3: 1,
      followedWithin5: 1,
      compliance: 1,
      snoozes: 0,
      ignored: 0,
      routinesStarted: 1,
      routinesCompleted: 1,
    });
    // Measured time is real: about 5 s and 1 s of sitting.
    expect(body.total.sittingMinutes).toBeGreaterThanOrEqual(0.1);
    expect(body.total.sittingMinutes).toBeLessThan(1);
    expect(body.total.longestSittingMinutes).toBeGreaterThanOrEqual(0.1);
    expect(body.days[2]).toMatchObject({ breaks: 2, naturalBreaks: 1, nudgesSent: 1 });
    expect(body.days[0]).toMatchObject({ breaks: 0, sittingMinutes: 0 });
    expect(body.routines).toMatchObject({ doneThisWeek: 1, target: 2 });
    expect(body.pain).toEqual([
      expect.objectContaining({ area: 'neck', trend: 'same', latest: expect.objectContaining({ level: 4 }) }),
    ]);
    expect(body.seeProfessional).toEqual({ recommended: false, reasons: [] });
    expect((await svc.fetchJson('/api/users/bo/summary?days=0')).status).toBe(400);

    const json = await adherence(svc, 'bo');
    const csv = await svc.fetchJson('/api/users/bo/adherence?format=csv');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = String(csv.body)
      .split('\r\n')
      .filter((l) => l !== '');
    const header = lines[0]!.split(',');
    expect(header.slice(0, 2)).toEqual(['at', 'type']);
    for (const col of [
      'sessionId',
      'nudgeId',
      'level',
      'sittingSeconds',
      'latencySeconds',
      'routineId',
      'area',
      'refers',
    ]) {
      expect(header).toContain(col);
    }
    expect(lines).toHaveLength(json.length + 1);
    expect(lines.slice(1).map((l) => l.split(',')[1])).toEqual(json.map((e) => e.type));
    // A field with a comma is quoted, not split.
    expect(String(csv.body)).toContain('"to the shoulder, sometimes"');
    expect((await svc.fetchJson('/api/users/bo/adherence?format=xml')).status).toBe(400);
  });
});
