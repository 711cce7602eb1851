// The core loop as a hub sees it: sitting events in over MQTT, nudges out, breaks in the adherence log.
// UNKNOT_TIME_SCALE=600: 30 minutes are 3 s, a 120 s break 0.2 s, 20 minutes of escalation 2 s.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceHandle } from '../support/service-process.js';
import { adherence, eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';

const PROFILE = {
  breakAfterMinutes: 30,
  escalateAfterMinutes: 20,
  minBreakSeconds: 120,
  maxNudges: 3,
  snoozeMinutes: 30,
};

let h: Harness;
let svc: ServiceHandle;

const topic = (...parts: string[]) => [h.ns.baseTopic, ...parts].join('/');
const sit = (deviceId: string, posture: string, extra: Record<string, unknown> = {}) =>
  h.mqtt.publish(topic('devices', deviceId, 'event'), { type: 'posture', posture, ...extra });
const types = (entries: Array<Record<string, unknown>>) => entries.map((e) => e.type);

beforeEach(async () => {
  h = await harness('core');
  await h.mqtt.subscribe(`${h.ns.baseTopic}/#`);
  svc = await h.start();
  await putUser(svc, 'ana', PROFILE);
  await putDevice(svc, 'ana-desk', { userId: 'ana', role: 'desk', protocol: 'unknot' });
  await putDevice(svc, 'ana-watch', { userId: 'ana', role: 'wearable', protocol: 'unknot' });
});

afterEach(async () => {
  await h.close();
});

describe('sit → nudge → escalate → break', () => {
  it('sends level 1 after the scaled break interval, level 2 after escalation, and logs the break', async () => {
    const satAt = Date.now();
    await sit('ana-desk', 'sitting');
    const l1 = await h.mqtt.waitFor(
      topic('users', 'ana', 'nudge'),
      (m) => (m.json as { level: number }).level === 1,
      15_000,
    );
    const elapsed = l1.receivedAt - satAt;
    // 30 min / 600 = 3 s; generous upper bound for a loaded machine.
    expect(elapsed).toBeGreaterThanOrEqual(2900);
    expect(elapsed).toBeLessThan(8000);
    expect(l1.json).toMatchObject({
      userId: 'ana',
      level: 1,
      nudgeId: expect.any(String),
      message: expect.stringContaining('sitting'),
    });
    // The wearable gets the nudge as a command.
    const cmd = await h.mqtt.waitFor(topic('devices', 'ana-watch', 'command'));
    expect(cmd.json).toMatchObject({ command: 'nudge', level: 1, nudgeId: (l1.json as { nudgeId: string }).nudgeId });
    // The desk sensor (role desk) gets no nudge command.
    expect(h.mqtt.messages(topic('devices', 'ana-desk', 'command'))).toHaveLength(0);

    const l2 = await h.mqtt.waitFor(
      topic('users', 'ana', 'nudge'),
      (m) => (m.json as { level: number }).level === 2,
      15_000,
    );
    expect(l2.receivedAt - l1.receivedAt).toBeGreaterThanOrEqual(1900);

    await sit('ana-desk', 'standing');
    const entries = await eventually(
      async () => {
        const e = await adherence(svc, 'ana');
        return e.some((x) => x.type === 'break_taken') ? e : undefined;
      },
      10_000,
      'break_taken',
    );
    expect(types(entries)).toEqual(['sitting_started', 'nudge_sent', 'nudge_sent', 'break_taken']);
    const brk = entries.find((e) => e.type === 'break_taken')!;
    expect(brk).toMatchObject({ nudged: true, snoozes: 0 });
    // Measured values are real time: about 5 s of sitting, about 2 s from the first nudge to standing up.
    expect(brk.sittingSeconds as number).toBeGreaterThan(4);
    expect(brk.latencySeconds as number).toBeGreaterThan(1.5);
    // Exactly one nudge per level.
    const levels = h.mqtt.messages(topic('users', 'ana', 'nudge')).map((m) => (m.json as { level: number }).level);
    expect(levels).toEqual([1, 2]);
    // The retained state shows the session over.
    const state = await h.mqtt.waitFor(
      topic('users', 'ana', 'state'),
      (m) =>
        (m.json as { sessionId: unknown }).sessionId === null && (m.json as { posture: string }).posture === 'standing',
    );
    expect(state.json).toMatchObject({
      posture: 'standing',
      sittingSeconds: 0,
      nextNudgeAt: null,
      heat: { on: false },
    });
  });

  it('standing up before the nudge is a natural break and no nudge comes', async () => {
    await sit('ana-desk', 'sitting');
    await sleep(1000);
    await sit('ana-desk', 'standing');
    const entries = await eventually(
      async () => {
        const e = await adherence(svc, 'ana');
        return e.some((x) => x.type === 'natural_break') ? e : undefined;
      },
      10_000,
      'natural_break',
    );
    expect(types(entries)).toEqual(['sitting_started', 'natural_break']);
    // Past the time level 1 would have been due.
    await sleep(3000);
    expect(h.mqtt.messages(topic('users', 'ana', 'nudge'))).toHaveLength(0);
    expect(types(await adherence(svc, 'ana'))).toEqual(['sitting_started', 'natural_break']);
  });

  it('a too-short interruption keeps the session going with its original start', async () => {
    const startedAt = Date.now();
    await sit('ana-desk', 'sitting', { at: startedAt });
    await sleep(500);
    await sit('ana-desk', 'standing', { at: Date.now() });
    const backAt = Date.now();
    await sit('ana-desk', 'sitting', { at: backAt }); // well under the 0.2 s scaled minimum break
    const l1 = await h.mqtt.waitFor(topic('users', 'ana', 'nudge'), 15_000);
    expect(l1.json).toMatchObject({ level: 1 });
    // Counted from the first sitting evidence, not from sitting back down (the events carry their own times).
    expect((l1.json as { sittingSeconds: number }).sittingSeconds).toBeGreaterThanOrEqual((backAt - startedAt) / 1000);
    const entries = await adherence(svc, 'ana');
    expect(types(entries)).toEqual(['sitting_started', 'nudge_sent']);
    expect(entries[0]).toMatchObject({ at: new Date(startedAt).toISOString() });
    const state = await svc.fetchJson('/api/users/ana');
    expect(state.body).toMatchObject({ state: { sittingSince: new Date(startedAt).toISOString() } });
  });

  it('logs ignored once after the last level and sends nothing more', async () => {
    await svc.fetchJson('/api/users/ana', {
      method: 'PUT',
      json: { ...PROFILE, escalateAfterMinutes: 5, maxNudges: 2 },
    });
    await sit('ana-desk', 'sitting');
    await eventually(
      async () => {
        const e = await adherence(svc, 'ana');
        return e.some((x) => x.type === 'nudge_ignored') ? e : undefined;
      },
      15_000,
      'nudge_ignored',
    );
    await sleep(1500);
    const entries = await adherence(svc, 'ana');
    expect(types(entries)).toEqual(['sitting_started', 'nudge_sent', 'nudge_sent', 'nudge_ignored']);
    expect(h.mqtt.messages(topic('users', 'ana', 'nudge'))).toHaveLength(2);
  });

  it('the same event twice (same id) starts one session', async () => {
    await sit('ana-desk', 'sitting', { id: 'evt-1' });
    await sit('ana-desk', 'sitting', { id: 'evt-1' });
    await h.mqtt.waitFor(topic('users', 'ana', 'state'), (m) => (m.json as { posture: string }).posture === 'sitting');
    await sleep(300);
    expect(types(await adherence(svc, 'ana'))).toEqual(['sitting_started']);
  });
});

describe('snooze', () => {
  it('moves the next nudge by snoozeMinutes, from the API and the wearable button, up to maxSnoozes', async () => {
    const none = await svc.fetchJson('/api/users/ana/snooze', { method: 'POST', json: {} });
    expect(none.status).toBe(409);
    expect(none.body).toMatchObject({ error: 'nothing_to_snooze' });

    await sit('ana-desk', 'sitting');
    await h.mqtt.waitFor(topic('users', 'ana', 'nudge'), 15_000);
    const before = Date.now();
    const r = await svc.fetchJson('/api/users/ana/snooze', { method: 'POST', json: {} });
    expect(r.status).toBe(200);
    const next = Date.parse((r.body as { nextNudgeAt: string }).nextNudgeAt);
    // 30 snooze minutes / 600 = 3 s from now (escalation alone would have been 2 s after level 1).
    expect(next - before).toBeGreaterThanOrEqual(2900);
    expect(next - before).toBeLessThan(4000);

    // The button on the watch is the second snooze.
    await h.mqtt.publish(topic('devices', 'ana-watch', 'event'), { type: 'action', action: 'snooze' });
    await eventually(
      async () => {
        const e = await adherence(svc, 'ana');
        return e.filter((x) => x.type === 'nudge_snoozed').length === 2 || undefined;
      },
      5000,
      'second snooze',
    );
    const third = await svc.fetchJson('/api/users/ana/snooze', { method: 'POST', json: {} });
    expect(third.status).toBe(409);
    expect(third.body).toMatchObject({ error: 'snooze_limit' });

    // Level 2 comes once, after the snooze.
    const l2 = await h.mqtt.waitFor(
      topic('users', 'ana', 'nudge'),
      (m) => (m.json as { level: number }).level === 2,
      15_000,
    );
    expect(l2.receivedAt).toBeGreaterThanOrEqual(next - 50);
    await sit('ana-desk', 'away');
    const entries = await eventually(
      async () => {
        const e = await adherence(svc, 'ana');
        return e.find((x) => x.type === 'break_taken');
      },
      10_000,
      'break_taken',
    );
    expect(entries).toMatchObject({ snoozes: 2, nudged: true });
  });

  it('rejects a bad snooze body with the zod issues', async () => {
    const r = await svc.fetchJson('/api/users/ana/snooze', { method: 'POST', json: { minutes: 'soon' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'invalid_snooze', issues: [expect.objectContaining({ path: 'minutes' })] });
  });
});

describe('active hours', () => {
  it('holds a nudge outside the window and sends it once the window includes now', async () => {
    // A window 6–7 hours from now in UTC never includes the next few seconds.
    const hh = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:00`;
    const later = new Date(Date.now() + 6 * 3600_000);
    const end = new Date(Date.now() + 7 * 3600_000);
    await putUser(svc, 'ana', {
      ...PROFILE,
      activeHours: { days: [1, 2, 3, 4, 5, 6, 7], start: hh(later), end: hh(end) },
    });
    await sit('ana-desk', 'sitting');
    const state = await eventually(
      async () => {
        const r = await svc.fetchJson('/api/users/ana');
        const s = (r.body as { state: { nextNudgeAt: string | null } }).state;
        return s.nextNudgeAt ? s : undefined;
      },
      5000,
      'nextNudgeAt',
    );
    expect(Date.parse(state.nextNudgeAt!)).toBeGreaterThan(Date.now() + 5 * 3600_000);
    await sleep(4000);
    expect(h.mqtt.messages(topic('users', 'ana', 'nudge'))).toHaveLength(0);
    // Sessions are still tracked outside the window.
    expect(types(await adherence(svc, 'ana'))).toEqual(['sitting_started']);
    // Widen the window: the pending nudge is due now.
    await putUser(svc, 'ana', PROFILE);
    const l1 = await h.mqtt.waitFor(topic('users', 'ana', 'nudge'), 10_000);
    expect(l1.json).toMatchObject({ level: 1 });
  });
});

describe('crash and restart', () => {
  it('a nudge pending at kill -9 still fires after a restart, once', async () => {
    await sit('ana-desk', 'sitting');
    await h.mqtt.waitFor(topic('users', 'ana', 'state'), (m) => (m.json as { posture: string }).posture === 'sitting');
    await svc.kill9();
    await sleep(3500); // past the due time while nothing runs
    const again = await h.start({}, 'core-restarted');
    const l1 = await h.mqtt.waitFor(
      topic('users', 'ana', 'nudge'),
      (m) => (m.json as { level: number }).level === 1,
      15_000,
    );
    expect(l1.json).toMatchObject({ level: 1 });
    await sleep(1000);
    const level1 = h.mqtt
      .messages(topic('users', 'ana', 'nudge'))
      .filter((m) => (m.json as { level: number }).level === 1);
    expect(level1).toHaveLength(1);
    expect(types(await adherence(again, 'ana')).filter((t) => t === 'nudge_sent')).toHaveLength(1);
  });
});
