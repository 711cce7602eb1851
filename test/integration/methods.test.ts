// The methods log through the API, MQTT and Home Assistant (docs/concepts/methods.md): methods and outcomes, what
// helps, the automatic entries of routines and heat sessions, "that helped" from a wearable or HA, the desk setup
// check, and numbness refusing heat until a clearance. Real Redis and broker; UNKNOT_TIME_SCALE=600.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { adherence, eventually, putDevice, putUser } from '../support/unknot.js';
import { heatOff, heatOn } from '../e2e/heat-support.js';
import type { LogEntry } from '../../src/domain/types.js';

const DAY = 86_400_000;

let h: InProcessHarness;
let svc: InProcessService;
let base: string;

beforeAll(async () => {
  h = await inProcessHarness('methods', { UNKNOT_TIME_SCALE: '600' });
  base = h.ns.baseTopic;
  await h.mqtt.subscribe(`${base}/#`);
  svc = await h.start();
});

afterAll(async () => {
  await h?.close();
});

const post = (path: string, json: unknown) => svc.fetchJson(path, { method: 'POST', json });
const entriesOf = async (userId: string, type: string) => (await adherence(svc, userId)).filter((e) => e.type === type);

describe('the methods log over HTTP', () => {
  it('logs a method, its outcome afterwards (POST, then PUT replaces it) and lists them', async () => {
    await putUser(svc, 'mia');
    const r = await post('/api/users/mia/methods', {
      method: 'foam_roller',
      area: 'upper_back',
      minutes: 10,
      painBefore: 6,
      note: 'after work',
    });
    expect(r.status).toBe(201);
    const { methodId } = r.body as { methodId: string };
    expect(r.body).toMatchObject({
      method: { methodId, method: 'foam_roller', name: 'foam roller', area: 'upper_back', source: 'manual' },
    });
    const o = await post(`/api/users/mia/methods/${methodId}/outcome`, { feeling: 'same', painAfter: 6 });
    expect(o.status).toBe(201);
    expect(o.body).toMatchObject({ outcome: { feeling: 'same', painAfter: 6 } });
    const p = await svc.fetchJson(`/api/users/mia/methods/${methodId}/outcome`, {
      method: 'PUT',
      json: { feeling: 'better', painBefore: 6, painAfter: 3 },
    });
    expect(p.status).toBe(201);
    const list = (await svc.fetchJson('/api/users/mia/methods')).body as { methods: Array<Record<string, unknown>> };
    expect(list.methods).toEqual([
      expect.objectContaining({
        methodId,
        minutes: 10,
        painBefore: 6,
        outcome: expect.objectContaining({ feeling: 'better', painAfter: 3 }),
      }),
    ]);
    // In the adherence log: one method_tried, two outcomes.
    expect(await entriesOf('mia', 'method_tried')).toHaveLength(1);
    expect(await entriesOf('mia', 'method_outcome')).toHaveLength(2);
  });

  it('logs a method with no time given even when the clock moves between two reads of it', async () => {
    // A method without `at` happens "now": one instant for the entry and the record built from it. Here every read
    // of the service's clock moves it on a millisecond, so a second read would put the entry after its own record's
    // "now" (that answered 500 once, ~1 run in 6, when a real millisecond ticked in between).
    await putUser(svc, 'tick');
    h.clock.stepPerRead(1);
    try {
      for (const method of ['heat', 'stretching', 'foam_roller'] as const) {
        const r = await post('/api/users/tick/methods', { method, area: 'neck' });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        expect(r.body).toMatchObject({ method: { method, area: 'neck' } });
      }
    } finally {
      h.clock.stepPerRead(0);
    }
    expect(await entriesOf('tick', 'method_tried')).toHaveLength(3);
  });

  it('answers bad input with a clear 4xx and logs nothing', async () => {
    await putUser(svc, 'bad');
    const cases: Array<[unknown, string, string]> = [
      [{ method: 'yoga', area: 'neck' }, 'invalid_method', 'method'],
      [{ method: 'other', area: 'neck' }, 'invalid_method', 'name'],
      [{ method: 'heat', area: 'knee' }, 'invalid_method', 'area'],
      [{ method: 'heat', area: 'neck', painBefore: 11 }, 'invalid_method', 'painBefore'],
      [{ method: 'heat', area: 'neck', minutes: -1 }, 'invalid_method', 'minutes'],
      [{ method: 'heat', area: 'neck', at: '2999-01-01T00:00:00Z' }, 'invalid_method', 'future'],
      [{ method: 'heat', area: 'neck', extra: 1 }, 'invalid_method', 'extra'],
      [{ method: 'heat', area: 'neck', outcome: { feeling: 'great' } }, 'invalid_method', 'outcome.feeling'],
    ];
    for (const [body, error, mentions] of cases) {
      const r = await post('/api/users/bad/methods', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body).toMatchObject({ error, detail: expect.stringContaining(mentions) });
    }
    expect(await post('/api/users/bad/methods/nope/outcome', { feeling: 'better' })).toMatchObject({
      status: 404,
      body: { error: 'unknown_method' },
    });
    expect(await post('/api/users/bad/methods/bad.id/outcome', { feeling: 'better' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_method_id' },
    });
    expect(await post('/api/users/nobody/methods', { method: 'heat', area: 'neck' })).toMatchObject({
      status: 404,
      body: { error: 'unknown_user' },
    });
    expect(await svc.fetchJson('/api/users/bad/what-helps?days=0')).toMatchObject({
      status: 400,
      body: { error: 'invalid_query' },
    });
    expect(await post('/api/users/bad/desk-check', { screenAtEyeLevel: 'yes' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_desk_check' },
    });
    expect(await adherence(svc, 'bad')).toEqual([]);
  });

  it('shows what helps per method and area with plain labels, and the four-weeks note and advice', async () => {
    await putUser(svc, 'lea');
    const ago = (d: number) => new Date(Date.now() - d * DAY).toISOString();
    // Pressure with a ball on the neck: 6 → 3 and 5 → 3, helped a lot.
    for (const [d, before, after] of [
      [20, 6, 3],
      [10, 5, 3],
    ] as const) {
      const r = await post('/api/users/lea/methods', {
        method: 'trigger_point_ball',
        area: 'neck',
        at: ago(d),
        painBefore: before,
        outcome: { feeling: 'better', painAfter: after },
      });
      expect(r.status).toBe(201);
    }
    // Stretching the lower back every week for four weeks, pain stuck at 5.
    for (const d of [27, 20, 13, 5]) {
      await post('/api/users/lea/methods', {
        method: 'stretching',
        area: 'lower_back',
        at: ago(d),
        painBefore: 5,
        outcome: { feeling: 'same', painAfter: 5 },
      });
    }
    await post('/api/users/lea/methods', { method: 'other', name: 'Gua sha', area: 'neck' });
    const w = (await svc.fetchJson('/api/users/lea/what-helps')).body as {
      methods: Array<Record<string, unknown>>;
      noImprovement: Array<Record<string, unknown>>;
      note: string | null;
    };
    const row = (method: string, area: string) => w.methods.find((m) => m.method === method && m.area === area);
    expect(row('trigger_point_ball', 'neck')).toMatchObject({
      count: 2,
      withOutcome: 2,
      averagePainChange: -2.5,
      label: 'helped a lot',
    });
    expect(row('stretching', 'lower_back')).toMatchObject({ count: 4, averagePainChange: 0, label: 'no change' });
    expect(row('other', 'neck')).toMatchObject({ name: 'Gua sha', count: 1, label: 'not enough data' });
    expect(w.noImprovement).toEqual([expect.objectContaining({ area: 'lower_back', weeks: 4 })]);
    expect(w.note).toContain('after 4 weeks of regular care');
    const summary = (await svc.fetchJson('/api/users/lea/summary')).body as {
      seeProfessional: { reasons: Array<{ code: string; area?: string }> };
    };
    expect(summary.seeProfessional.reasons).toContainEqual(
      expect.objectContaining({ code: 'no_improvement', area: 'lower_back' }),
    );
  });
});

describe('automatic entries and "that helped"', () => {
  it('enters a heat session that ended, for the area asked for', async () => {
    await putUser(svc, 'hal');
    await putDevice(svc, 'hal-pad', { userId: 'hal', role: 'heatpad', protocol: 'unknot' });
    const on = await heatOn(svc, 'hal', { minutes: 10, area: 'shoulders' });
    expect(on.status).toBe(201);
    const { sessionId } = on.body as { sessionId: string };
    expect(await entriesOf('hal', 'method_tried')).toEqual([]);
    // Stopped by hand, or ended by its timer (1 s at 600×): either way one entry, in the same commit as heat_off.
    await heatOff(svc, 'hal');
    const [tried] = await eventually(async () => {
      const t = await entriesOf('hal', 'method_tried');
      return t.length > 0 ? t : undefined;
    });
    expect(tried).toMatchObject({
      method: 'heat',
      area: 'shoulders',
      source: 'heat',
      heatSessionId: sessionId,
      methodId: `heat-${sessionId}`,
    });
    expect(tried?.minutes).toBeGreaterThan(0);
    expect(tried?.minutes).toBeLessThanOrEqual(10);
    const offs = await entriesOf('hal', 'heat_off');
    expect(offs.filter((e) => e.sessionId === sessionId)).toHaveLength(1);
    expect(await entriesOf('hal', 'method_tried')).toHaveLength(1);
  });

  it('enters a completed routine for the latest pain area; a wearable and Home Assistant say how it went', async () => {
    await putUser(svc, 'rob');
    await putDevice(svc, 'rob-watch', { userId: 'rob', role: 'wearable', protocol: 'unknot' });
    expect((await post('/api/users/rob/pain', { level: 5, area: 'neck' })).status).toBe(201);
    const r = await post('/api/users/rob/routines', {});
    expect(r.status).toBe(201);
    const { routineId } = r.body as { routineId: string };
    const [tried] = await eventually(
      async () => {
        const t = await entriesOf('rob', 'method_tried');
        return t.length > 0 ? t : undefined;
      },
      20_000,
      'the routine entered in the methods log',
    );
    expect(tried).toMatchObject({
      method: 'routine',
      area: 'neck',
      source: 'routine',
      routineId,
      methodId: `routine-${routineId}`,
    });
    // The heat step was skipped (no pad): 60 s pressure + 4 × 30 s stretches = 3 minutes.
    expect(tried?.minutes).toBe(3);
    const log = await adherence(svc, 'rob');
    const completed = log.find((e) => e.type === 'routine_completed');
    expect(completed?.at).toBe(tried?.at);

    // The wearable's button: {"type":"action","action":"helped"}.
    await h.mqtt.publish(`${base}/devices/rob-watch/event`, JSON.stringify({ type: 'action', action: 'helped' }), {
      qos: 1,
    });
    await eventually(async () => (await entriesOf('rob', 'method_outcome')).length === 1, 10_000, 'outcome');
    expect((await entriesOf('rob', 'method_outcome'))[0]).toMatchObject({
      methodId: tried?.methodId,
      feeling: 'better',
      via: 'action',
    });
    // Home Assistant's "Did not help" button replaces it.
    await h.mqtt.publish(`${base}/users/rob/not_helped/set`, 'PRESS', { qos: 1 });
    await eventually(async () => (await entriesOf('rob', 'method_outcome')).length === 2, 10_000, 'HA outcome');
    const list = (await svc.fetchJson('/api/users/rob/methods')).body as {
      methods: Array<{ outcome?: { feeling: string } }>;
    };
    expect(list.methods[0]?.outcome?.feeling).toBe('same');
  });

  it('answers "helped" with nothing recent on the device error topic, and logs nothing', async () => {
    await putUser(svc, 'ned');
    await putDevice(svc, 'ned-watch', { userId: 'ned', role: 'wearable', protocol: 'unknot' });
    const error = h.mqtt.waitFor(`${base}/devices/ned-watch/error`);
    await h.mqtt.publish(`${base}/devices/ned-watch/event`, JSON.stringify({ type: 'action', action: 'helped' }), {
      qos: 1,
    });
    const m = await error;
    expect(JSON.parse(m.payload.toString())).toMatchObject({ error: 'no_recent_method' });
    expect(await adherence(svc, 'ned')).toEqual([]);
  });
});

describe('the desk setup check', () => {
  it('is offered after a week of long sitting, and its answers go into the log', async () => {
    await putUser(svc, 'dee');
    const before = (await svc.fetchJson('/api/users/dee/desk-check')).body as { offered: boolean };
    expect(before.offered).toBe(false);
    // Five days with a 75-minute sitting stretch ending in a break, committed like the session reducer does.
    const now = h.clock.now();
    const breaks: LogEntry[] = [0, 1, 2, 3, 4].map((d) => ({
      type: 'natural_break',
      at: now - d * DAY - 3_600_000,
      sessionId: `s${d}`,
      sittingSeconds: 75 * 60,
      breakStartedAt: now - d * DAY - 3_600_000,
    }));
    await svc.ctx.store.transact('dee', (st) => ({ state: st, logs: breaks, changed: false, result: undefined }));
    const offer = (await svc.fetchJson('/api/users/dee/desk-check')).body as {
      offered: boolean;
      longSittingDays: number;
      message: string;
    };
    expect(offer).toMatchObject({ offered: true, longSittingDays: 5 });
    expect(offer.message).toContain('screen at eye level');
    const answers = {
      screenAtEyeLevel: false,
      shouldersRelaxed: true,
      feetFlat: false,
      chairSupportsBack: true,
      keyboardAtElbowHeight: true,
    };
    const a = await post('/api/users/dee/desk-check', { ...answers, note: 'laptop on the table' });
    expect(a.status).toBe(201);
    expect((a.body as { fixes: string[] }).fixes).toHaveLength(2);
    expect(await entriesOf('dee', 'desk_check')).toEqual([
      expect.objectContaining({ answers, note: 'laptop on the table' }),
    ]);
    const after = (await svc.fetchJson('/api/users/dee/desk-check')).body as {
      offered: boolean;
      lastCheck: { answers: unknown };
    };
    expect(after).toMatchObject({ offered: false, lastCheck: { answers } });
    // Through Home Assistant: the same answers as JSON on …/desk_check/set.
    await h.mqtt.publish(`${base}/users/dee/desk_check/set`, JSON.stringify({ ...answers, feetFlat: true }), {
      qos: 1,
    });
    await eventually(async () => (await entriesOf('dee', 'desk_check')).length === 2, 10_000, 'HA desk check');
  });
});

describe('numbness and tingling refuse heat until a clearance', () => {
  it('409 contraindicated with the reason, then 201 after a clearance', async () => {
    await putUser(svc, 'nora');
    await putDevice(svc, 'nora-pad', { userId: 'nora', role: 'heatpad', protocol: 'unknot' });
    const pain = await post('/api/users/nora/pain', { level: 4, area: 'shoulders', symptoms: ['numbness'] });
    expect(pain.body).toMatchObject({ heatBlocked: true });
    const refused = await heatOn(svc, 'nora', { minutes: 5 });
    expect(refused).toMatchObject({
      status: 409,
      body: { error: 'contraindicated', detail: expect.stringContaining('numbness in your shoulders') },
    });
    expect((refused.body as { detail: string }).detail).toContain('cannot feel a burn');
    expect((await entriesOf('nora', 'heat_refused')).map((e) => e.reason)).toEqual(['contraindicated']);
    // A routine skips its heat step for the same reason.
    const routine = await post('/api/users/nora/routines', {});
    const steps = (routine.body as { steps: Array<Record<string, unknown>> }).steps;
    expect(steps.find((s) => s.kind === 'heat')).toMatchObject({ expectSkip: 'contraindicated' });
    await svc.fetchJson(`/api/users/nora/routines/${(routine.body as { routineId: string }).routineId}`, {
      method: 'DELETE',
    });
    const cleared = await post('/api/users/nora/clearance', { note: 'seen by the physio' });
    expect(cleared.body).toMatchObject({ heatBlocked: false });
    expect(await heatOn(svc, 'nora', { minutes: 5 })).toMatchObject({ status: 201 });
    await heatOff(svc, 'nora');
    // Tingling logged after the clearance refuses heat again.
    await post('/api/users/nora/pain', { level: 3, area: 'neck', symptoms: ['tingling'] });
    await eventually(async () => {
      const r = await heatOn(svc, 'nora', { minutes: 5 });
      // The cool-down after the last session (3 s at 600×) answers first; wait it out.
      return r.status === 409 && (r.body as { error: string }).error === 'contraindicated' ? r : undefined;
    });
  });
});
