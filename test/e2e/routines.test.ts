// Guided routines as a wearable sees them: steps over MQTT in order and on time, heat skipped without a pad,
// stopping from the watch or the API, stale step jobs dropped.
// UNKNOT_TIME_SCALE=60: pressure 60 s → 1 s, each stretch 30 s → 0.5 s, heat 10 min → 10 s.
import type { Command } from '../../src/domain/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReceivedMessage } from '../support/mqtt-client.js';
import { startService, type ServiceHandle } from '../support/service-process.js';
import { adherence, eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';

const SCALE = 60;

/** The routine_step command as it arrives on a device's command topic. */
type StepCommand = Extract<Command, { command: 'routine_step' }>;

let h: Harness;
let svc: ServiceHandle;

const topic = (...parts: string[]) => [h.ns.baseTopic, ...parts].join('/');
const stepsOn = (deviceId: string, routineId?: string) =>
  h.mqtt
    .messages(topic('devices', deviceId, 'command'))
    .filter(
      (m) =>
        (m.json as StepCommand).command === 'routine_step' &&
        (!routineId || (m.json as StepCommand).routineId === routineId),
    );
const waitSteps = (
  deviceId: string,
  routineId: string,
  count: number,
  timeoutMs = 15_000,
): Promise<ReceivedMessage[]> =>
  h.mqtt.waitForCount(
    topic('devices', deviceId, 'command'),
    count,
    (m) => (m.json as StepCommand).command === 'routine_step' && (m.json as StepCommand).routineId === routineId,
    timeoutMs,
  );
const startRoutine = async (userId = 'ana', body: unknown = {}) => {
  const r = await svc.fetchJson(`/api/users/${userId}/routines`, { method: 'POST', json: body });
  return r as {
    status: number;
    body: Record<string, unknown> & { routineId: string; steps: Array<Record<string, unknown>> };
  };
};
const routines = async (userId = 'ana') =>
  (await svc.fetchJson(`/api/users/${userId}/routines`)).body as {
    current: Record<string, unknown> | null;
    last: Record<string, unknown> | null;
    week: { doneThisWeek: number; target: number; remaining: number; weekStart: string };
    recent: Array<{ routineId: string; outcome: string }>;
  };

beforeEach(async () => {
  h = await harness('routines', { UNKNOT_TIME_SCALE: String(SCALE) });
  await h.mqtt.subscribe(`${h.ns.baseTopic}/#`);
  svc = await h.start();
  await putUser(svc, 'ana', { routineTargetPerWeek: 3 });
  await putDevice(svc, 'ana-watch', { userId: 'ana', role: 'wearable', protocol: 'unknot' });
  await putDevice(svc, 'ana-hub', { userId: 'ana', role: 'hub', protocol: 'unknot' });
  await putDevice(svc, 'ana-chair', { userId: 'ana', role: 'chair', protocol: 'unknot' });
});

afterEach(async () => {
  await h.close();
});

describe('a guided routine over MQTT', () => {
  it('sends every step in order, each after the previous one has run, skipping heat without a pad', async () => {
    const started = await startRoutine('ana', { routine: 'daily_checklist' });
    expect(started.status).toBe(201);
    const { routineId, steps } = started.body;
    expect(routineId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(steps.map((s) => s.step)).toEqual([
      'pressure',
      'heat',
      'neck_side_stretch',
      'neck_side_stretch',
      'doorway_chest_stretch',
      'doorway_chest_stretch',
    ]);
    expect(steps.map((s) => s.seconds)).toEqual([60, 600, 30, 30, 30, 30]);
    // The plan already says the heat step will be skipped, and why.
    expect(steps[1]).toMatchObject({ kind: 'heat', expectSkip: 'no_heat_pad' });

    const got = await waitSteps('ana-watch', routineId, 6);
    const cmds = got.map((m) => m.json as StepCommand);
    expect(cmds.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const c of cmds)
      expect(c).toMatchObject({ command: 'routine_step', routineId, of: 6, message: expect.any(String) });
    expect(cmds[0]).toMatchObject({ step: 'pressure', seconds: 1 });
    expect(cmds[0]!.message).toContain('60 seconds');
    expect(cmds[1]).toMatchObject({ step: 'heat', skipped: true, reason: 'no_heat_pad', seconds: 0 });
    expect(cmds[1]!.message).toContain('Heat skipped');
    expect(cmds[2]).toMatchObject({ step: 'neck_side_stretch', seconds: 0.5 });
    expect(cmds[4]).toMatchObject({ step: 'doorway_chest_stretch', seconds: 0.5 });

    // Each step arrives once the previous one has run its scaled length. Lower bounds only, with room for this
    // test process noticing a message late on a loaded machine; a step that did not wait would come in ~0 ms.
    // The skipped heat step does not wait.
    const gap = (i: number) => got[i]!.receivedAt - got[i - 1]!.receivedAt;
    expect(gap(1)).toBeGreaterThanOrEqual(700);
    expect(gap(3)).toBeGreaterThanOrEqual(350);
    expect(gap(4)).toBeGreaterThanOrEqual(350);
    expect(gap(5)).toBeGreaterThanOrEqual(350);
    expect(got[5]!.receivedAt - got[0]!.receivedAt).toBeGreaterThanOrEqual(2000);

    // The hub gets the same steps; the chair none.
    const hub = await waitSteps('ana-hub', routineId, 6);
    expect(hub.map((m) => (m.json as StepCommand).index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(stepsOn('ana-chair')).toHaveLength(0);

    const done = await eventually(
      async () => {
        const r = await routines();
        return r.last?.status === 'completed' ? r : undefined;
      },
      10_000,
      'routine completed',
    );
    expect(done.current).toBeNull();
    expect(done.week).toMatchObject({ doneThisWeek: 1, target: 3, remaining: 2 });
    expect(done.recent).toEqual([expect.objectContaining({ routineId, outcome: 'completed' })]);

    const log = (await adherence(svc, 'ana')).filter((e) => String(e.type).startsWith('routine_'));
    expect(log.map((e) => e.type)).toEqual([
      'routine_started',
      'routine_step',
      'routine_step',
      'routine_step',
      'routine_step',
      'routine_step',
      'routine_step',
      'routine_completed',
    ]);
    expect(log[2]).toMatchObject({ index: 1, step: 'heat', skipped: true, reason: 'no_heat_pad' });
    // The service's own clock: each step began no earlier than the previous one's length after it (50 ms of
    // tolerance for clock skew between processes, as the worker allows).
    const began = log.slice(1, 7).map((e) => Date.parse(String(e.at)));
    const lengths = [1000, 0, 500, 500, 500, 500];
    for (let i = 1; i < 6; i++)
      expect(began[i]! - began[i - 1]!, `step ${i}`).toBeGreaterThanOrEqual(lengths[i - 1]! - 50);
    expect(Date.parse(String(log[7]!.at)) - began[5]!).toBeGreaterThanOrEqual(450);
    // No step was sent twice.
    expect(stepsOn('ana-watch', routineId)).toHaveLength(6);

    // The summary counts it against the weekly target.
    const summary = (await svc.fetchJson('/api/users/ana/summary')).body as {
      routines: { doneThisWeek: number; target: number };
    };
    expect(summary.routines).toMatchObject({ doneThisWeek: 1, target: 3 });
  });

  it('refuses a second routine while one runs, an unknown user, an unknown routine and a bad body', async () => {
    const first = await startRoutine();
    expect(first.status).toBe(201);
    const again = await startRoutine();
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      error: 'routine_running',
      detail: expect.stringContaining(first.body.routineId),
    });

    expect((await startRoutine('nobody')).body).toMatchObject({ error: 'unknown_user' });
    expect((await startRoutine('nobody')).status).toBe(404);
    const unknown = await startRoutine('ana', { routine: 'yoga_marathon' });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({
      error: 'unknown_routine',
      detail: expect.stringContaining('daily_checklist'),
    });
    expect((await startRoutine('ana', { routine: 7 })).status).toBe(400);
    expect((await startRoutine('ana', { routine: 'daily_checklist', extra: true })).status).toBe(400);
    expect((await startRoutine('ana', [1, 2])).status).toBe(400);
    const badJson = await svc.fetchJson('/api/users/ana/routines', {
      method: 'POST',
      body: '{"routine":',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    expect((await svc.fetchJson('/api/users/ana/routines/bad.id', { method: 'DELETE' })).status).toBe(400);
    expect((await svc.fetchJson('/api/users/ana/routines/doesnotexist', { method: 'DELETE' })).body).toMatchObject({
      error: 'unknown_routine',
    });
    // The service is still fine.
    expect((await svc.fetchJson('/healthz')).status).toBe(200);
  });
});

describe('stopping a routine', () => {
  it('stops on DELETE, drops the stale step jobs, and lets a new routine start', async () => {
    const a = await startRoutine();
    const routineA = a.body.routineId;
    await waitSteps('ana-watch', routineA, 1);
    const del = await svc.fetchJson(`/api/users/ana/routines/${routineA}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({
      routineId: routineA,
      index: 0,
      heatStopped: false,
      stoppedAt: expect.any(String),
    });
    expect((await svc.fetchJson(`/api/users/ana/routines/${routineA}`, { method: 'DELETE' })).status).toBe(404);

    const r = await routines();
    expect(r.current).toBeNull();
    expect(r.last).toMatchObject({ routineId: routineA, status: 'abandoned', reason: 'stopped_via_api' });

    // A new routine right away: the old routine's step job (due 1 s after it began) must not touch it.
    const b = await startRoutine();
    expect(b.status).toBe(201);
    const routineB = b.body.routineId;
    expect(routineB).not.toBe(routineA);
    await waitSteps('ana-watch', routineB, 6);
    expect(stepsOn('ana-watch', routineA)).toHaveLength(1);
    const log = await adherence(svc, 'ana');
    expect(log.filter((e) => e.routineId === routineA).map((e) => e.type)).toEqual([
      'routine_started',
      'routine_step',
      'routine_abandoned',
    ]);
    expect(log.find((e) => e.type === 'routine_abandoned')).toMatchObject({ reason: 'stopped_via_api' });
  });

  it('stops when the wearable sends routine_stop, and answers on the error topic when nothing runs', async () => {
    const a = await startRoutine();
    const routineId = a.body.routineId;
    await waitSteps('ana-watch', routineId, 1);
    await h.mqtt.publish(topic('devices', 'ana-watch', 'event'), { type: 'action', action: 'routine_stop' });
    const stopped = await eventually(
      async () => {
        const r = await routines();
        return r.last?.status === 'abandoned' ? r : undefined;
      },
      10_000,
      'routine abandoned',
    );
    expect(stopped.last).toMatchObject({ routineId, reason: 'stopped_on_device' });
    // Past the time step 1 would have come: nothing more for this routine.
    await sleep(1500);
    expect(stepsOn('ana-watch', routineId)).toHaveLength(1);
    const log = await adherence(svc, 'ana');
    expect(log.filter((e) => e.type === 'routine_abandoned')).toEqual([
      expect.objectContaining({ routineId, reason: 'stopped_on_device' }),
    ]);

    await h.mqtt.publish(topic('devices', 'ana-watch', 'event'), { type: 'action', action: 'routine_stop' });
    const err = await h.mqtt.waitFor(topic('devices', 'ana-watch', 'error'));
    expect(err.json).toMatchObject({ error: 'no_routine' });
    // A bad action is rejected the same way and the next good event still works.
    await h.mqtt.publish(topic('devices', 'ana-watch', 'event'), { type: 'action', action: 'routine_go' });
    const b = await startRoutine();
    expect(b.status).toBe(201);
  });
});

describe('the heat step with a heat pad', () => {
  // At scale 60 a 2-minute heat session (the profile's limit) is 2 s.
  const withPad = async () => {
    await putUser(svc, 'ana', { heat: { defaultMinutes: 2, maxMinutes: 2 } });
    await putDevice(svc, 'ana-pad', { userId: 'ana', role: 'heatpad', protocol: 'unknot' });
  };
  const padCommands = () =>
    h.mqtt.messages(topic('devices', 'ana-pad', 'command')).map((m) => m.json as Record<string, unknown>);

  it('runs a real heat session for as long as the step, then goes on', async () => {
    await withPad();
    const { body } = await startRoutine();
    expect(body.steps[1]).toMatchObject({ kind: 'heat' });
    expect(body.steps[1]).not.toHaveProperty('expectSkip');
    const got = await waitSteps('ana-watch', body.routineId, 6, 20_000);
    const heatStep = got[1]!.json as StepCommand;
    expect(heatStep).toMatchObject({ index: 1, step: 'heat', seconds: 2 });
    expect(heatStep.skipped).toBeUndefined();
    expect(heatStep.message).toContain('2 minutes');
    // The next step waits for the heat session to end (2 s after the pad went on; the heat step's own message
    // may go out a little after that on a loaded machine).
    expect(got[2]!.receivedAt - got[1]!.receivedAt).toBeGreaterThanOrEqual(1200);
    const on = padCommands().find((c) => c.state === 'on');
    expect(on).toMatchObject({ command: 'heat', state: 'on', sessionId: expect.any(String) });
    const log = await eventually(
      async () => {
        const e = await adherence(svc, 'ana');
        return e.some((x) => x.type === 'routine_completed') && e.some((x) => x.type === 'heat_off') ? e : undefined;
      },
      10_000,
      'routine completed and heat off',
    );
    expect(log.find((e) => e.type === 'routine_step' && e.index === 1)).toMatchObject({
      step: 'heat',
      heatSessionId: on!.sessionId,
    });
    expect(log.find((e) => e.type === 'heat_on')).toMatchObject({ sessionId: on!.sessionId, minutes: 2 });
    // On the service's clock the stretches began once the 2-minute (2 s) heat session was over.
    const heatOnAt = Date.parse(String(log.find((e) => e.type === 'heat_on')!.at));
    const stretchAt = Date.parse(String(log.find((e) => e.type === 'routine_step' && e.index === 2)!.at));
    expect(stretchAt - heatOnAt).toBeGreaterThanOrEqual(1950);
    expect(log.find((e) => e.type === 'heat_off')).toMatchObject({ sessionId: on!.sessionId, reason: 'timer' });
  });

  it('switches the pad off when the routine is stopped during the heat step', async () => {
    await withPad();
    const { body } = await startRoutine();
    await waitSteps('ana-watch', body.routineId, 2);
    const on = await h.mqtt.waitFor(
      topic('devices', 'ana-pad', 'command'),
      (m) => (m.json as { state?: string }).state === 'on',
    );
    const sessionId = (on.json as { sessionId: string }).sessionId;
    const del = await svc.fetchJson(`/api/users/ana/routines/${body.routineId}`, { method: 'DELETE' });
    expect(del).toMatchObject({ status: 200, body: { index: 1, heatStopped: true } });
    const off = await h.mqtt.waitFor(
      topic('devices', 'ana-pad', 'command'),
      (m) => (m.json as { state?: string }).state === 'off',
    );
    expect(off.json).toMatchObject({ command: 'heat', state: 'off', sessionId, reason: 'manual' });
    const log = await adherence(svc, 'ana');
    expect(log.find((e) => e.type === 'heat_off')).toMatchObject({ sessionId, reason: 'manual' });
    expect(log.find((e) => e.type === 'routine_abandoned')).toMatchObject({ routineId: body.routineId });
    // No stretch comes after a stopped heat step.
    await sleep(2500);
    expect(stepsOn('ana-watch', body.routineId)).toHaveLength(2);
    const user = (await svc.fetchJson('/api/users/ana')).body as { state: { heat: { on: boolean }; routine: unknown } };
    expect(user.state).toMatchObject({ heat: { on: false }, routine: null });
  });
});

describe('split roles', () => {
  it('times the steps from workers/routines.ts running alone, next to an API-and-ingest instance', async () => {
    await svc.stop();
    svc = await h.start({ UNKNOT_ROLES: 'api,ingest' }, 'routines-api');
    const worker = await startService({ entry: 'workers/routines.ts', env: h.env, label: 'workers/routines.ts' });
    try {
      const { body } = await startRoutine();
      const got = await waitSteps('ana-watch', body.routineId, 6);
      expect(got.map((m) => (m.json as StepCommand).index)).toEqual([0, 1, 2, 3, 4, 5]);
      await eventually(async () => (await routines()).last?.status === 'completed', 10_000, 'routine completed');
      expect(worker.logs().some((l) => l.line.includes('"msg":"routine completed"'))).toBe(true);
    } finally {
      await worker.stop();
    }
  });
});
