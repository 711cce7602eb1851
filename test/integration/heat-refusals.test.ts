// Heat refusals as a client sees them over HTTP and MQTT: every code of docs/concepts/heat-safety.md with its status, each logged as
// heat_refused; bad bodies; and concurrent requests (API and a button at the same instant) starting exactly one
// session. UNKNOT_TIME_SCALE=600: the default 30-minute cool-down is 3 s. Tests whose session must outlive a few
// requests run on `slow` (60×: 10 minutes of heat are 10 s), so a loaded machine cannot let the timer end it first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { adherence, eventually, putDevice, putUser, sleep } from '../support/unknot.js';
import { heatOff, heatOn, startHeat, type Started } from '../e2e/heat-support.js';

let h: InProcessHarness;
let svc: InProcessService;
let base: string;
let slow: InProcessHarness;
let slowSvc: InProcessService;

beforeAll(async () => {
  h = await inProcessHarness('heat-refusals', { UNKNOT_TIME_SCALE: '600' });
  base = h.ns.baseTopic;
  await h.mqtt.subscribe(`${base}/#`);
  svc = await h.start();
  slow = await inProcessHarness('heat-refusals-slow', { UNKNOT_TIME_SCALE: '60' });
  await slow.mqtt.subscribe(`${slow.ns.baseTopic}/#`);
  slowSvc = await slow.start();
});

afterAll(async () => {
  await h?.close();
  await slow?.close();
});

async function userWithPad(userId: string, profile: Record<string, unknown> = {}, on: InProcessService = svc) {
  await putUser(on, userId, profile);
  await putDevice(on, `${userId}-pad`, { userId, role: 'heatpad', protocol: 'unknot' });
}

const refusals = async (userId: string, on: InProcessService = svc) =>
  (await adherence(on, userId)).filter((e) => e.type === 'heat_refused').map((e) => e.reason);

describe('heat refusals over HTTP', () => {
  it('404 unknown_user for a user that does not exist; 400 for a bad user id', async () => {
    expect(await heatOn(svc, 'nobody', {})).toMatchObject({ status: 404, body: { error: 'unknown_user' } });
    expect(await heatOff(svc, 'nobody')).toMatchObject({ status: 404, body: { error: 'unknown_user' } });
    expect(await heatOn(svc, 'bad.id', {})).toMatchObject({ status: 400, body: { error: 'invalid_user_id' } });
  });

  it('404 no_heat_pad without a heat pad, or for a device that is not one of the user’s heat pads', async () => {
    await putUser(svc, 'nina');
    await putDevice(svc, 'nina-watch', { userId: 'nina', role: 'wearable', protocol: 'unknot' });
    const r = await heatOn(svc, 'nina', {});
    expect(r).toMatchObject({
      status: 404,
      body: { error: 'no_heat_pad', detail: expect.stringContaining('heat pad') },
    });
    await userWithPad('otto');
    expect(await heatOn(svc, 'nina', { deviceId: 'otto-pad' })).toMatchObject({
      status: 404,
      body: { error: 'no_heat_pad' },
    });
    expect(await heatOn(svc, 'otto', { deviceId: 'nina-watch' })).toMatchObject({
      status: 404,
      body: { error: 'no_heat_pad' },
    });
    expect(await refusals('nina')).toEqual(['no_heat_pad', 'no_heat_pad']);
  });

  it('409 contraindicated with a blocking contraindication, saying to get medical advice first', async () => {
    await userWithPad('fay', { contraindications: ['fever'] });
    const r = await heatOn(svc, 'fay', { minutes: 5 });
    expect(r).toMatchObject({ status: 409, body: { error: 'contraindicated' } });
    expect((r.body as { detail: string }).detail).toMatch(/get medical advice first/);
    // diabetes alone asks for care but does not block.
    await userWithPad('dia', { contraindications: ['diabetes'] });
    expect((await heatOn(svc, 'dia', { minutes: 1 })).status).toBe(201);
    expect(await refusals('fay')).toEqual(['contraindicated']);
  });

  it('409 contraindicated when the pain log asks for medical attention first', async () => {
    await userWithPad('pia');
    const pain = await svc.fetchJson('/api/users/pia/pain', {
      method: 'POST',
      json: { level: 6, area: 'neck', symptoms: ['fever'] },
    });
    expect(pain.status).toBe(201);
    const r = await heatOn(svc, 'pia', {});
    expect(r).toMatchObject({
      status: 409,
      body: { error: 'contraindicated', detail: expect.stringMatching(/get medical advice first/) },
    });
  });

  it('422 invalid_minutes for a non-number or non-positive minutes; 400 invalid_heat_request for a body of the wrong shape', async () => {
    await userWithPad('ivy');
    for (const minutes of [0, -5, '10', null, true, [10], { n: 1 }]) {
      const r = await heatOn(svc, 'ivy', { minutes });
      expect(r, JSON.stringify(minutes)).toMatchObject({
        status: 422,
        body: { error: 'invalid_minutes', detail: expect.any(String) },
      });
    }
    for (const body of [[], { minutes: 5, extra: 1 }, { deviceId: 5 }, { deviceId: 'no/slashes' }]) {
      const r = await heatOn(svc, 'ivy', body);
      expect(r, JSON.stringify(body)).toMatchObject({
        status: 400,
        body: { error: 'invalid_heat_request', issues: expect.any(Array) },
      });
    }
    const notJson = await svc.fetchJson('/api/users/ivy/heat', {
      method: 'POST',
      body: '{"minutes":',
      headers: { 'content-type': 'application/json' },
    });
    expect(notJson).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    expect(await refusals('ivy')).toEqual(Array(7).fill('invalid_minutes'));
    // Nothing was switched on.
    expect(h.mqtt.messages(`${base}/devices/ivy-pad/command`)).toHaveLength(0);
  });

  it('422 too_long above heat.maxMinutes', async () => {
    await userWithPad('tia', { heat: { defaultMinutes: 5, maxMinutes: 8 } });
    const r = await heatOn(svc, 'tia', { minutes: 9 });
    expect(r).toMatchObject({ status: 422, body: { error: 'too_long', detail: expect.stringContaining('8 minutes') } });
    await userWithPad('tom');
    expect((await heatOn(svc, 'tom', { minutes: 16 })).body).toMatchObject({ error: 'too_long' });
    expect((await heatOn(svc, 'tom', { minutes: 15 })).status).toBe(201);
  });

  it('409 already_on while a session is live; 404 not_on when nothing is on', async () => {
    await userWithPad('al', { heatCooldownMinutes: 0 }, slowSvc);
    expect(await heatOff(slowSvc, 'al')).toMatchObject({ status: 404, body: { error: 'not_on' } });
    await startHeat(slowSvc, 'al', { minutes: 10 });
    expect(await heatOn(slowSvc, 'al', { minutes: 5 })).toMatchObject({ status: 409, body: { error: 'already_on' } });
    expect((await heatOff(slowSvc, 'al')).status).toBe(200);
    expect(await refusals('al', slowSvc)).toEqual(['already_on']);
  });

  it('409 cooling_down after a session, saying when heat is available again; fine once it is over', async () => {
    // On `slow` with a 10-minute cool-down (10 s): the second request cannot miss the window on a loaded machine.
    // The service's clock is then moved past availableAt instead of sleeping (its own harness: the move is not
    // shared with other tests).
    const own = await inProcessHarness('heat-cooldown', { UNKNOT_TIME_SCALE: '60' });
    try {
      const osvc = await own.start();
      await userWithPad('cy', { heatCooldownMinutes: 10 }, osvc);
      await startHeat(osvc, 'cy', { minutes: 10 });
      const stopped = await heatOff(osvc, 'cy');
      const r = await heatOn(osvc, 'cy', {});
      expect(r).toMatchObject({ status: 409, body: { error: 'cooling_down' } });
      const availableAt = Date.parse((stopped.body as { stoppedAt: string }).stoppedAt) + 10_000;
      expect((r.body as { detail: string }).detail).toContain(new Date(availableAt).toISOString());
      expect((await osvc.fetchJson('/api/users/cy/heat')).body).toMatchObject({
        on: false,
        availableAt: new Date(availableAt).toISOString(),
      });
      // Five seconds before availableAt on the service's clock: still cooling down; then past it.
      own.clock.advance(availableAt - own.clock.now() - 5_000);
      expect(await heatOn(osvc, 'cy', {})).toMatchObject({ status: 409, body: { error: 'cooling_down' } });
      own.clock.advance(5_050);
      expect((await heatOn(osvc, 'cy', {})).status).toBe(201);
      expect(await refusals('cy', osvc)).toEqual(['cooling_down', 'cooling_down']);
    } finally {
      await own.close();
    }
  });
});

describe('concurrent requests and bad input over MQTT', () => {
  it('API and button at the same instant start exactly one session (several rounds)', async () => {
    // On `slow`: each round's session lasts 10 s, so the DELETE that ends it never meets a timer OFF first.
    const svc = slowSvc;
    const h = slow;
    const base = slow.ns.baseTopic;
    await userWithPad('kim', { heatCooldownMinutes: 0 }, svc);
    await putDevice(svc, 'kim-hub', { userId: 'kim', role: 'hub', protocol: 'unknot' });
    const cmd = `${base}/devices/kim-pad/command`;
    const sessions: string[] = [];
    for (let round = 0; round < 4; round++) {
      const [a, b] = await Promise.all([
        heatOn(svc, 'kim', { minutes: 10 }),
        heatOn(svc, 'kim', { minutes: 10 }),
        h.mqtt.publish(`${base}/devices/kim-hub/event`, { type: 'action', action: 'heat_on', minutes: 10 }),
      ]);
      const ok = [a, b].filter((r) => r.status === 201);
      // The button may win the race: then both requests are refused.
      expect(ok.length).toBeLessThanOrEqual(1);
      for (const r of [a, b].filter((x) => x.status !== 201)) expect(r.body).toMatchObject({ error: 'already_on' });
      // All three decided: one heat_on and two refusals per round.
      await eventually(
        async () => {
          const e = await adherence(svc, 'kim');
          const n = (t: string) => e.filter((x) => x.type === t).length;
          return n('heat_on') === round + 1 && n('heat_refused') === 2 * (round + 1);
        },
        5000,
        `round ${round} decided`,
      );
      const on = await h.mqtt.waitFor(
        cmd,
        (m) =>
          (m.json as { state: string }).state === 'on' &&
          !sessions.includes((m.json as { sessionId: string }).sessionId),
      );
      const id = (on.json as { sessionId: string }).sessionId;
      if (ok[0]) expect((ok[0].body as Started).sessionId).toBe(id);
      sessions.push(id);
      expect((await heatOff(svc, 'kim')).status).toBe(200);
      await h.mqtt.waitFor(
        cmd,
        (m) =>
          (m.json as { state: string; sessionId: string }).state === 'off' &&
          (m.json as { sessionId: string }).sessionId === id,
      );
    }
    await sleep(300);
    const commands = h.mqtt.messages(cmd).map((m) => m.json as { state: string; sessionId: string });
    for (const id of sessions) {
      expect(commands.filter((c) => c.sessionId === id).map((c) => c.state)).toEqual(['on', 'off']);
    }
    expect(commands).toHaveLength(sessions.length * 2);
    const log = await eventually(
      async () => {
        const e = await adherence(svc, 'kim');
        return e.filter((x) => x.type === 'heat_refused').length >= 2 * sessions.length ? e : undefined;
      },
      5000,
      'refusals logged',
    );
    expect(log.filter((e) => e.type === 'heat_on')).toHaveLength(sessions.length);
    expect(log.filter((e) => e.type === 'heat_refused').map((e) => e.reason)).toEqual(
      Array(2 * sessions.length).fill('already_on'),
    );
  });

  it('a refused button press is answered on the device error topic; garbage never stops the service', async () => {
    await userWithPad('gus', { contraindications: ['swelling'] });
    await putDevice(svc, 'gus-watch', { userId: 'gus', role: 'wearable', protocol: 'unknot' });
    const ev = `${base}/devices/gus-watch/event`;
    await h.mqtt.publish(ev, { type: 'action', action: 'heat_on', minutes: 5 });
    const err = await h.mqtt.waitFor(`${base}/devices/gus-watch/error`);
    expect(err.json).toMatchObject({ error: 'contraindicated', detail: expect.stringMatching(/medical advice/) });
    h.mqtt.clear();
    await sleep(1100); // the error topic is rate-limited per device
    await h.mqtt.publish(ev, { type: 'action', action: 'heat_on', minutes: -3 });
    expect((await h.mqtt.waitFor(`${base}/devices/gus-watch/error`)).json).toMatchObject({ error: 'invalid_event' });
    await h.mqtt.publish(ev, 'not json at all');
    await h.mqtt.publish(`${base}/devices/gus-watch/event`, { type: 'heat', state: 'on' }); // a watch is not a heat pad
    await h.mqtt.publish(`${base}/devices/gus-pad/event`, { type: 'heat', state: 'sideways' });
    await h.mqtt.publish(`${base}/devices/gus-pad/event`, { type: 'posture', posture: 'sitting' });
    await sleep(300);
    expect((await svc.fetchJson('/healthz')).status).toBe(200);
    expect((await heatOn(svc, 'gus', {})).body).toMatchObject({ error: 'contraindicated' });
    const metrics = (await svc.fetchJson('/metrics')).body as string;
    expect(metrics).toMatch(/unknot_events_rejected_total\{reason="contraindicated"\} [1-9]/);
  });
});
