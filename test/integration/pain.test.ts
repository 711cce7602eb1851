// The pain log through the API: every advice rule of docs/concepts/pain-and-advice.md, medical clearance, and bad input.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { adherence, eventually, putDevice, putUser } from '../support/unknot.js';

const DAY = 86_400_000;
const THERAPIST = 'licensed massage, physical or sports therapist';

interface Advice {
  recommended: boolean;
  heatBlocked: boolean;
  reasons: Array<{ code: string; area?: string; detail: string }>;
  message: string;
  entry: Record<string, unknown>;
}

let h: InProcessHarness;
let svc: InProcessService;

const logPain = async (userId: string, body: unknown) =>
  svc.fetchJson(`/api/users/${userId}/pain`, { method: 'POST', json: body });
const advice = async (userId: string, body: Record<string, unknown>): Promise<Advice> => {
  const r = await logPain(userId, body);
  if (r.status !== 201) throw new Error(`POST pain: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Advice;
};
const daysAgo = (n: number) => new Date(Date.now() - n * DAY).toISOString();
const codes = (a: Advice) => a.reasons.map((r) => r.code);

beforeEach(async () => {
  h = await inProcessHarness('pain', { UNKNOT_TIME_SCALE: '60' });
  svc = await h.start();
  for (const u of ['mild', 'nerve', 'fever', 'injured', 'stuck', 'back', 'calm']) await putUser(svc, u);
});

afterEach(async () => {
  await h.close();
});

describe('POST /pain answers with the current advice', () => {
  it('gives self-care steps for mild pain and logs the entry', async () => {
    const a = await advice('mild', { level: 3, area: 'neck', refers: 'up into the head' });
    expect(a).toMatchObject({ recommended: false, heatBlocked: false, reasons: [] });
    expect(a.message).toContain('pain 3 of 10 in your neck');
    expect(a.message).toContain('60 seconds');
    expect(a.message).toContain('heat');
    expect(a.entry).toMatchObject({
      type: 'pain_logged',
      level: 3,
      area: 'neck',
      refers: 'up into the head',
      at: expect.any(String),
    });
    const log = await adherence(svc, 'mild');
    expect(log).toEqual([
      expect.objectContaining({ type: 'pain_logged', level: 3, area: 'neck', refers: 'up into the head' }),
    ]);

    const gone = await advice('calm', { level: 0, area: 'lower_back' });
    expect(gone.message).toContain('free of pain');
  });

  it('sends numbness, weakness or spreading pain to a therapist', async () => {
    for (const [i, symptom] of ['numbness', 'weakness', 'spreading pain', 'tingling'].entries()) {
      const a = await advice('nerve', {
        level: 4 + i,
        area: 'shoulders',
        symptoms: [symptom],
        refers: 'down the right arm',
      });
      expect(codes(a)).toEqual(['neurological_symptoms']);
      expect(a.recommended).toBe(true);
      // Numbness (logged first) refuses heat until a clearance, so every answer after it says heat is blocked.
      expect(a.heatBlocked).toBe(true);
      expect(a.message).toContain(THERAPIST);
      expect(a.message).toContain('down the right arm');
    }
    const summary = (await svc.fetchJson('/api/users/nerve/summary')).body as {
      seeProfessional: { recommended: boolean; reasons: unknown[] };
    };
    expect(summary.seeProfessional).toMatchObject({
      recommended: true,
      reasons: [expect.objectContaining({ code: 'neurological_symptoms' })],
    });
  });

  it('asks for medical attention first for fever, swelling or an injury, refuses heat in a routine, and clears', async () => {
    for (const symptom of ['fever', 'swelling', 'recent_injury']) {
      const a = await advice('fever', { level: 5, area: 'upper_back', symptoms: [symptom] });
      expect(codes(a)).toEqual(['medical_first']);
      expect(a.heatBlocked).toBe(true);
      expect(a.message).toContain('medical attention first');
      expect(a.message).not.toContain('heat for about 10 minutes');
    }
    // A routine now skips heat for that reason, whether or not a pad is there.
    await putDevice(svc, 'fever-watch', { userId: 'fever', role: 'wearable', protocol: 'unknot' });
    await putDevice(svc, 'fever-pad', { userId: 'fever', role: 'heatpad', protocol: 'unknot' });
    const started = await svc.fetchJson('/api/users/fever/routines', { method: 'POST', json: {} });
    expect(started.status).toBe(201);
    const { routineId, steps } = started.body as { routineId: string; steps: Array<Record<string, unknown>> };
    expect(steps[1]).toMatchObject({ kind: 'heat', expectSkip: 'contraindicated' });
    const skipped = await eventually(
      async () => {
        const e = await adherence(svc, 'fever');
        return e.find((x) => x.type === 'routine_step' && x.routineId === routineId && x.index === 1);
      },
      10_000,
      'heat step',
    );
    expect(skipped).toMatchObject({ step: 'heat', skipped: true, reason: 'contraindicated' });
    await svc.fetchJson(`/api/users/fever/routines/${routineId}`, { method: 'DELETE' });

    const cleared = await svc.fetchJson('/api/users/fever/clearance', {
      method: 'POST',
      json: { note: 'GP checked it: a cold, fine now' },
    });
    expect(cleared.status).toBe(201);
    expect(cleared.body).toMatchObject({
      heatBlocked: false,
      note: 'GP checked it: a cold, fine now',
      seeProfessional: { recommended: false },
    });
    const log = await adherence(svc, 'fever');
    expect(log.filter((e) => e.type === 'medical_cleared')).toEqual([
      expect.objectContaining({ type: 'medical_cleared', note: 'GP checked it: a cold, fine now' }),
    ]);
    const after = await advice('fever', { level: 3, area: 'upper_back' });
    expect(after).toMatchObject({ recommended: false, heatBlocked: false });
    expect(after.message).toContain('heat');
    // A new fever after the clearance asks again.
    expect(codes(await advice('fever', { level: 4, area: 'neck', symptoms: ['fever'] }))).toEqual(['medical_first']);
  });

  it('keeps a contraindication in the profile blocking until it is removed from the profile', async () => {
    await putUser(svc, 'injured', { contraindications: ['recent_injury'] });
    const a = await advice('injured', { level: 2, area: 'neck' });
    expect(codes(a)).toEqual(['medical_first']);
    expect(a.heatBlocked).toBe(true);
    expect(a.reasons[0]!.detail).toContain('Your profile lists a recent injury');
    const cleared = await svc.fetchJson('/api/users/injured/clearance', { method: 'POST', json: {} });
    expect(cleared.body).toMatchObject({
      heatBlocked: true,
      message: expect.stringContaining('profile still lists recent injury'),
    });
    await putUser(svc, 'injured', { contraindications: [] });
    expect(await advice('injured', { level: 2, area: 'neck' })).toMatchObject({
      recommended: false,
      heatBlocked: false,
    });
  });

  it('flags pain logged for more than 14 days without improvement', async () => {
    await advice('stuck', { level: 4, area: 'neck', at: daysAgo(16) });
    await advice('stuck', { level: 5, area: 'neck', at: daysAgo(8) });
    const a = await advice('stuck', { level: 4, area: 'neck', refers: 'into the shoulder blade' });
    expect(codes(a)).toEqual(['persistent_pain']);
    // 16 days and the seconds the test took: the advice rounds a started day up.
    expect(a.message).toMatch(/logged for 1[67] days without getting better/);
    expect(a.message).toContain(THERAPIST);
    expect(a.message).toContain('into the shoulder blade');
    // Improving pain is not persistent.
    expect(codes(await advice('stuck', { level: 2, area: 'neck' }))).toEqual([]);
  });

  it('flags persistent pain on the service’s own clock: 16 days and the test’s milliseconds are 17 started days', async () => {
    // The injected clock moves instead of back-dating entries: every "now" the service reads is 8 days later.
    await advice('stuck', { level: 4, area: 'neck' });
    h.clock.advance(8 * DAY);
    expect(codes(await advice('stuck', { level: 5, area: 'neck' }))).toEqual([]);
    h.clock.advance(8 * DAY);
    const a = await advice('stuck', { level: 4, area: 'neck' });
    expect(codes(a)).toEqual(['persistent_pain']);
    // The advice counts a started day: 16 days plus the milliseconds of real time the calls took.
    expect(a.message, a.message).toMatch(/logged for 17 days without getting better/);
    expect(Date.parse(String(a.entry.at)) - Date.now()).toBeGreaterThan(16 * DAY - 60_000);
  });

  it('flags pain that is back within a week after it had gone', async () => {
    await advice('back', { level: 3, area: 'lower_back', at: daysAgo(6) });
    await advice('back', { level: 0, area: 'lower_back', at: daysAgo(4) });
    const a = await advice('back', { level: 2, area: 'lower_back' });
    expect(codes(a)).toEqual(['recurring_pain']);
    expect(a.message).toContain('came back 4 days after it had gone');
    const summary = (await svc.fetchJson('/api/users/back/summary')).body as { pain: Array<Record<string, unknown>> };
    expect(summary.pain).toEqual([expect.objectContaining({ area: 'lower_back', trend: 'improving' })]);
  });
});

describe('bad pain input', () => {
  it('answers 4xx with a clear error and keeps going', async () => {
    const bad: Array<[unknown, string]> = [
      [{ level: 11, area: 'neck' }, 'level'],
      [{ level: -1, area: 'neck' }, 'level'],
      [{ level: 2.5, area: 'neck' }, 'level'],
      [{ level: '3', area: 'neck' }, 'level'],
      [{ level: 3, area: 'knee' }, 'area'],
      [{ level: 3 }, 'area'],
      [{ level: 3, area: 'neck', refers: 'x'.repeat(201) }, 'refers'],
      [{ level: 3, area: 'neck', symptoms: 'numbness' }, 'symptoms'],
      [{ level: 3, area: 'neck', mood: 'grumpy' }, 'mood'],
      [{ level: 3, area: 'neck', at: 'yesterday-ish' }, 'at'],
      [{ level: 3, area: 'neck', at: new Date(Date.now() + DAY).toISOString() }, 'future'],
      [[1, 2, 3], 'body'],
    ];
    for (const [body, mention] of bad) {
      const r = await logPain('mild', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body).toMatchObject({ error: 'invalid_pain' });
      expect(
        String((r.body as { detail: string }).detail + JSON.stringify((r.body as { issues?: unknown }).issues ?? '')),
      ).toContain(mention);
    }
    expect((await logPain('nobody', { level: 3, area: 'neck' })).status).toBe(404);
    expect((await logPain('bad.id', { level: 3, area: 'neck' })).status).toBe(400);
    const notJson = await svc.fetchJson('/api/users/mild/pain', {
      method: 'POST',
      body: 'level=3',
      headers: { 'content-type': 'text/plain' },
    });
    // Only JSON reaches a route (a web page could send text/plain cross-site): 415 before any parsing.
    expect(notJson).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
    const badJson = await svc.fetchJson('/api/users/mild/pain', {
      method: 'POST',
      body: '{"level":',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    expect((await svc.fetchJson('/api/users/mild/clearance', { method: 'POST', json: { note: 5 } })).status).toBe(400);
    expect((await svc.fetchJson('/api/users/nobody/clearance', { method: 'POST', json: {} })).status).toBe(404);
    expect(await adherence(svc, 'mild')).toEqual([]);
    expect((await logPain('mild', { level: 3, area: 'neck' })).status).toBe(201);
  });
});
