// Heat-pad sessions on the wire, for each protocol: the exact ON (with the device's own auto-off) when the session
// starts and the exact OFF at offAt; the retained user state, GET /api/users/{id}, the adherence log and the
// summary. UNKNOT_TIME_SCALE=600: 10 minutes of heat last 1 s (auto-off 1 s), 15 minutes 1.5 s (auto-off 2 s).
// Tests that race a person's action against the timer, or count heat time, use a slower instance (`slow`, 150×) so
// that load on the machine cannot decide the outcome.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectClient } from '../support/mqtt-client.js';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { adherence, eventually, putDevice, putUser, sleep } from '../support/unknot.js';
import { heatOff, lateness, report, startHeat, waitPayload } from '../e2e/heat-support.js';

let h: InProcessHarness;
let svc: InProcessService;
/** UNKNOT_TIME_SCALE=150: 20 minutes of heat last 8 s, 15 minutes 6 s, 10 minutes 4 s. */
let slow: InProcessHarness;
let slowSvc: InProcessService;
let z2m: string;
let base: string;

beforeAll(async () => {
  h = await inProcessHarness('heat-wire', { UNKNOT_TIME_SCALE: '600' });
  base = h.ns.baseTopic;
  z2m = h.env.Z2M_BASE_TOPIC!;
  // Tasmota and Shelly topics are not under our base topic: every device address below starts with the namespace.
  await h.mqtt.subscribe([`${base}/#`, `${z2m}/#`, `cmnd/${base}-tas/#`, `cmnd/${base}-tas2/#`, `${base}-shelly/#`]);
  svc = await h.start();
  slow = await inProcessHarness('heat-wire-slow', { UNKNOT_TIME_SCALE: '150' });
  await slow.mqtt.subscribe([`${slow.ns.baseTopic}/#`, `${slow.env.Z2M_BASE_TOPIC}/#`]);
  slowSvc = await slow.start();
});

afterAll(async () => {
  await h?.close();
  await slow?.close();
});

/**
 * The auto-off a pad is sent is the session's length in seconds, rounded up, but never more than what is left
 * when the ON goes out (src/domain/heat.ts): under load the ON can leave a little after the session started.
 */
function checkAutoOff(seconds: number, minutes: number, offAt: string, receivedAt: number, timeScale: number) {
  const full = Math.ceil((minutes * 60_000) / timeScale / 1000);
  const leftAtArrival = Math.max(1, Math.ceil((Date.parse(offAt) - receivedAt) / 1000));
  expect(Number.isInteger(seconds)).toBe(true);
  expect(seconds).toBeLessThanOrEqual(full);
  expect(seconds).toBeGreaterThanOrEqual(Math.min(full, leftAtArrival));
}

/** A user with one heat pad; the cool-down off so that tests may run several sessions. */
async function userWithPad(userId: string, pad: Record<string, unknown>, on: InProcessService = svc) {
  await putUser(on, userId, { heatCooldownMinutes: 0, heat: { defaultMinutes: 10, maxMinutes: 20 } });
  await putDevice(on, `${userId}-pad`, { userId, role: 'heatpad', ...pad });
}

/** After the OFF, nothing else for this session comes (no second ON or OFF). */
async function onlyOnce(topicFilter: string, count: number) {
  await sleep(400);
  expect(h.mqtt.messages(topicFilter)).toHaveLength(count);
}

function checkOffTiming(off: { receivedAt: number }, offAt: string, what: string) {
  const late = lateness(off as never, offAt);
  report(`${what}: OFF after offAt`, late);
  // The timer job may fire up to 50 ms early (clock skew tolerance); late only by load on a 2-core machine.
  expect(late).toBeGreaterThanOrEqual(-60);
  expect(late).toBeLessThan(3000);
}

describe('heat on the wire', () => {
  it('zigbee2mqtt: {"state":"ON","on_time":1} on {z2m}/{name}/set, then {"state":"OFF"} at offAt', async () => {
    await userWithPad('zoe', { protocol: 'zigbee2mqtt', topic: 'office/heat-pad' });
    const set = `${z2m}/office/heat-pad/set`;
    const s = await startHeat(svc, 'zoe', { minutes: 10 });
    expect(s).toMatchObject({ deviceId: 'zoe-pad', minutes: 10, sessionId: expect.any(String) });
    expect(Date.parse(s.offAt) - Date.parse(s.startedAt)).toBe(1000);

    const on = await h.mqtt.waitFor(set);
    expect(on.payload).toBe('{"state":"ON","on_time":1}');
    expect(on.qos).toBe(1);
    report('zigbee2mqtt: ON after the request', on.receivedAt - Date.parse(s.startedAt));
    const off = await waitPayload(h.mqtt, set, (j) => (j as { state?: string }).state === 'OFF');
    expect(off.payload).toBe('{"state":"OFF"}');
    checkOffTiming(off, s.offAt, 'zigbee2mqtt');
    await onlyOnce(set, 2);

    const entries = await eventually(
      async () => {
        const e = await adherence(svc, 'zoe');
        return e.some((x) => x.type === 'heat_off') ? e : undefined;
      },
      5000,
      'heat_off',
    );
    expect(entries.filter((e) => String(e.type).startsWith('heat'))).toEqual([
      {
        type: 'heat_on',
        at: s.startedAt,
        sessionId: s.sessionId,
        minutes: 10,
        deviceId: 'zoe-pad',
        offAt: s.offAt,
        source: 'api',
      },
      { type: 'heat_off', at: expect.any(String), sessionId: s.sessionId, reason: 'timer', deviceId: 'zoe-pad' },
    ]);
  });

  it('tasmota: Backlog PulseTime1 <s+100>; Power1 ON on cmnd/{topic}/Backlog, then OFF on cmnd/{topic}/POWER', async () => {
    const tas = `${base}-tas`;
    await userWithPad('tim', { protocol: 'tasmota', topic: tas });
    const s = await startHeat(svc, 'tim', { minutes: 10 });
    const on = await h.mqtt.waitFor(`cmnd/${tas}/Backlog`);
    // A 1 s auto-off is below Tasmota's 12 s minimum for seconds (values 1–111 are tenths): raised to 12 s.
    expect(on.payload).toBe('PulseTime1 112; Power1 ON');
    const off = await h.mqtt.waitFor(`cmnd/${tas}/POWER`);
    expect(off.payload).toBe('OFF');
    expect(off.receivedAt).toBeGreaterThan(on.receivedAt);
    checkOffTiming(off, s.offAt, 'tasmota');
    await onlyOnce(`cmnd/${tas}/#`, 2);
  });

  it('shelly: Switch.Set with toggle_after on {prefix}/rpc, then Switch.Set on:false', async () => {
    const prefix = `${base}-shelly`;
    await userWithPad('sam', { protocol: 'shelly', topic: prefix });
    const s = await startHeat(svc, 'sam', { minutes: 15 });
    const on = await h.mqtt.waitFor(`${prefix}/rpc`);
    expect(on.json).toEqual({
      id: expect.any(Number),
      src: `${base}/shelly`,
      method: 'Switch.Set',
      params: { id: 0, on: true, toggle_after: expect.any(Number) },
    });
    // 1.5 s: toggle_after 2, or 1 when the ON left more than half a second after the start (a loaded machine).
    checkAutoOff(
      (on.json as { params: { toggle_after: number } }).params.toggle_after,
      15,
      s.offAt,
      on.receivedAt,
      600,
    );
    const off = await waitPayload(
      h.mqtt,
      `${prefix}/rpc`,
      (j) => (j as { params?: { on?: boolean } }).params?.on === false,
    );
    expect(off.json).toEqual({
      id: expect.any(Number),
      src: `${base}/shelly`,
      method: 'Switch.Set',
      params: { id: 0, on: false },
    });
    expect((off.json as { id: number }).id).not.toBe((on.json as { id: number }).id);
    checkOffTiming(off, s.offAt, 'shelly');
    await onlyOnce(`${prefix}/rpc`, 2);
    // The device answers on {src}/rpc: read, logged, never an error or a crash.
    await h.mqtt.publish(`${base}/shelly/rpc`, {
      id: (off.json as { id: number }).id,
      src: prefix,
      dst: `${base}/shelly`,
      result: { was_on: true },
    });
    await h.mqtt.publish(`${base}/shelly/rpc`, 'not json');
    expect((await svc.fetchJson('/healthz')).status).toBe(200);
  });

  it('unknot: {"command":"heat","state":"on",…,"autoOffSeconds"} then "off" with the reason, on {base}/devices/{id}/command', async () => {
    await userWithPad('uma', { protocol: 'unknot' });
    const cmd = `${base}/devices/uma-pad/command`;
    const s = await startHeat(svc, 'uma', {});
    const on = await h.mqtt.waitFor(cmd);
    expect(on.json).toEqual({ command: 'heat', state: 'on', sessionId: s.sessionId, autoOffSeconds: 1 });
    expect(s.minutes).toBe(10); // the profile's default
    const off = await waitPayload(h.mqtt, cmd, (j) => (j as { state?: string }).state === 'off');
    expect(off.json).toEqual({ command: 'heat', state: 'off', sessionId: s.sessionId, reason: 'timer' });
    checkOffTiming(off, s.offAt, 'unknot');
    await onlyOnce(cmd, 2);
  });

  it('DELETE sends OFF at once (reason manual) and no OFF comes at offAt', async () => {
    // On `slow`: 20 minutes are 8 s, so the DELETE cannot lose a race against the timer on a loaded machine.
    await userWithPad('dan', { protocol: 'unknot' }, slowSvc);
    const cmd = `${slow.ns.baseTopic}/devices/dan-pad/command`;
    const s = await startHeat(slowSvc, 'dan', { minutes: 20 });
    await slow.mqtt.waitFor(cmd);
    const asked = Date.now();
    const r = await heatOff(slowSvc, 'dan');
    expect(r).toMatchObject({
      status: 200,
      body: { sessionId: s.sessionId, stoppedAt: expect.any(String), offSent: true },
    });
    const off = await slow.mqtt.waitFor(cmd, (m) => (m.json as { state: string }).state === 'off');
    expect(off.json).toEqual({ command: 'heat', state: 'off', sessionId: s.sessionId, reason: 'manual' });
    report('DELETE → OFF on the wire', off.receivedAt - asked);
    expect(off.receivedAt).toBeLessThan(Date.parse(s.offAt));
    // Past offAt: the timer job finds the OFF already sent.
    await sleep(Math.max(0, Date.parse(s.offAt) - Date.now()) + 500);
    expect(slow.mqtt.messages(cmd)).toHaveLength(2);
    expect((await heatOff(slowSvc, 'dan')).body).toMatchObject({ error: 'not_on' });
    const log = (await adherence(slowSvc, 'dan')).filter((e) => e.type === 'heat_off');
    expect(log).toEqual([
      { type: 'heat_off', at: expect.any(String), sessionId: s.sessionId, reason: 'manual', deviceId: 'dan-pad' },
    ]);
  });

  it('buttons: heat_on with minutes and heat_off over MQTT', async () => {
    // On `slow`: 15 minutes are 6 s, so the button's OFF (reason manual, checked below) comes long before the timer's.
    const sb = slow.ns.baseTopic;
    await userWithPad('ben', { protocol: 'zigbee2mqtt', topic: 'ben-plug' }, slowSvc);
    await putDevice(slowSvc, 'ben-hub', { userId: 'ben', role: 'hub', protocol: 'unknot' });
    const set = `${slow.env.Z2M_BASE_TOPIC}/ben-plug/set`;
    await slow.mqtt.publish(`${sb}/devices/ben-hub/event`, { type: 'action', action: 'heat_on', minutes: 15 });
    const on = await slow.mqtt.waitFor(set);
    expect(on.payload).toMatch(/^\{"state":"ON","on_time":\d+\}$/);
    const status = (await slowSvc.fetchJson('/api/users/ben/heat')).body as {
      on: boolean;
      minutes: number;
      offAt: string;
    };
    expect(status).toMatchObject({ on: true, minutes: 15 });
    checkAutoOff((on.json as { on_time: number }).on_time, 15, status.offAt, on.receivedAt, 150);
    await slow.mqtt.publish(`${sb}/devices/ben-hub/event`, { type: 'action', action: 'heat_off' });
    const off = await slow.mqtt.waitFor(set, (m) => m.payload === '{"state":"OFF"}');
    expect(off.receivedAt).toBeLessThan(Date.parse(status.offAt));
    const log = await eventually(
      async () => {
        const e = (await adherence(slowSvc, 'ben')).filter((x) => String(x.type).startsWith('heat'));
        return e.length >= 2 ? e : undefined;
      },
      10_000,
      'heat entries',
    );
    expect(log).toMatchObject([
      { type: 'heat_on', minutes: 15, deviceId: 'ben-pad', source: 'button' },
      { type: 'heat_off', reason: 'manual', deviceId: 'ben-pad' },
    ]);
    // A heat_off with nothing on is answered on the device's error topic.
    await slow.mqtt.publish(`${sb}/devices/ben-hub/event`, { type: 'action', action: 'heat_off' });
    const err = await slow.mqtt.waitFor(`${sb}/devices/ben-hub/error`);
    expect(err.json).toMatchObject({ error: 'not_on' });
  });

  it('heat shows in the retained user state, in GET /api/users/{id} and in the summary', async () => {
    // On `slow`: 10 minutes are 4 s of real heat, enough for the summary's minutes (one decimal) to be above 0.
    await userWithPad('sue', { protocol: 'unknot' }, slowSvc);
    const stateTopic = `${slow.ns.baseTopic}/users/sue/state`;
    const s = await startHeat(slowSvc, 'sue', { minutes: 10 });
    const onState = await slow.mqtt.waitFor(
      stateTopic,
      (m) => (m.json as { heat?: { on: boolean } }).heat?.on === true,
    );
    expect(onState.json).toMatchObject({ heat: { on: true, offAt: s.offAt } });
    // Retained: a client that subscribes now gets it at once.
    const late = await connectClient(inject('mqttUrl'));
    try {
      await late.subscribe(stateTopic);
      const retained = await late.waitFor(stateTopic, 3000);
      expect(retained).toMatchObject({ retain: true, json: { heat: { on: true, offAt: s.offAt } } });
    } finally {
      await late.end();
    }
    const got = await slowSvc.fetchJson('/api/users/sue');
    expect(got.body).toMatchObject({ state: { heat: { on: true, offAt: s.offAt } } });
    const status = await slowSvc.fetchJson('/api/users/sue/heat');
    expect(status.body).toMatchObject({ on: true, sessionId: s.sessionId, minutes: 10, offAt: s.offAt });

    const offState = await slow.mqtt.waitFor(
      stateTopic,
      (m) => m.receivedAt >= onState.receivedAt && (m.json as { heat?: { on: boolean } }).heat?.on === false,
      20_000,
    );
    expect(offState.receivedAt).toBeGreaterThanOrEqual(Date.parse(s.offAt) - 60);
    expect(offState.json).toMatchObject({ heat: { on: false, offAt: null } });
    expect((await slowSvc.fetchJson('/api/users/sue')).body).toMatchObject({
      state: { heat: { on: false, offAt: null } },
    });

    // The log holds the real on and off times; the summary counts exactly that span.
    const entries = await eventually(
      async () => {
        const e = await adherence(slowSvc, 'sue');
        return e.some((x) => x.type === 'heat_off') ? e : undefined;
      },
      10_000,
      'heat_off',
    );
    const onAt = Date.parse(String(entries.find((e) => e.type === 'heat_on')?.at));
    const offAt = Date.parse(String(entries.find((e) => e.type === 'heat_off')?.at));
    expect(offAt - onAt).toBeGreaterThanOrEqual(Date.parse(s.offAt) - Date.parse(s.startedAt) - 60);
    const summary = await eventually(
      async () => {
        const r = await slowSvc.fetchJson('/api/users/sue/summary?days=1');
        const total = (r.body as { total: { heatSessions: number; heatMinutes: number; heatSeconds: number } }).total;
        return total.heatSessions === 1 ? total : undefined;
      },
      5000,
      'heat in the summary',
    );
    // About 4 s of heat: 0.07 minutes, and 4 s. Fails when heat is not counted (0).
    expect(summary.heatMinutes).toBeGreaterThan(0);
    expect(summary.heatMinutes).toBe(Math.round((offAt - onAt) / 600) / 100);
    expect(summary.heatSeconds).toBe(Math.round((offAt - onAt) / 1000));
    const metrics = await slowSvc.fetchJson('/metrics');
    expect(metrics.body).toMatch(/unknot_heat_sessions_total [1-9]/);
    expect(metrics.body).toMatch(/unknot_heat_commands_total\{state="off",reason="timer"\} [1-9]/);
  });
});
