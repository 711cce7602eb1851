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

  it('zigbee2mqtt, channel 2 with a Tuya countdown: {"state_l2":"ON","countdown_l2":<s>}, then {"state_l2":"OFF"}', async () => {
    // A two-gang Tuya plug (TS011F/TS0002 style, endpoints l1/l2) that ignores on_time: autoOff "countdown".
    await userWithPad('cara', { protocol: 'zigbee2mqtt', topic: 'office/two-gang', channel: 2, autoOff: 'countdown' });
    const set = `${z2m}/office/two-gang/set`;
    const s = await startHeat(svc, 'cara', { minutes: 10 });
    const on = await h.mqtt.waitFor(set);
    // Key order matters: Z2M sends the ON first, then the countdown (an ON cancels a running countdown).
    expect(on.payload).toMatch(/^\{"state_l2":"ON","countdown_l2":\d+\}$/);
    checkAutoOff((on.json as { countdown_l2: number }).countdown_l2, 10, s.offAt, on.receivedAt, 600);
    const off = await waitPayload(h.mqtt, set, (j) => (j as { state_l2?: string }).state_l2 === 'OFF');
    expect(off.payload).toBe('{"state_l2":"OFF"}');
    checkOffTiming(off, s.offAt, 'zigbee2mqtt channel 2');
    await onlyOnce(set, 2);
  });

  it('zigbee2mqtt, autoOff none: a plain {"state":"ON"} (the OFF timer still switches it off)', async () => {
    await userWithPad('nia', { protocol: 'zigbee2mqtt', topic: 'office/plain-plug', autoOff: 'none' });
    const set = `${z2m}/office/plain-plug/set`;
    const s = await startHeat(svc, 'nia', { minutes: 10 });
    expect((await h.mqtt.waitFor(set)).payload).toBe('{"state":"ON"}');
    const off = await waitPayload(h.mqtt, set, (j) => (j as { state?: string }).state === 'OFF');
    expect(off.payload).toBe('{"state":"OFF"}');
    checkOffTiming(off, s.offAt, 'zigbee2mqtt autoOff none');
  });

  it('zigbee2mqtt, channel 2: the watchdog reads state_l2 only, and switches l2 off when it reports ON unasked', async () => {
    await userWithPad('wes', { protocol: 'zigbee2mqtt', topic: 'office/two-gang-wd', channel: 2 });
    const plug = `${z2m}/office/two-gang-wd`;
    // Relay 1 on, relay 2 off, as a TS0002 reports both: nothing of this pad's business is on.
    await h.mqtt.publish(plug, { state_l1: 'ON', state_l2: 'OFF', linkquality: 120 });
    await h.mqtt.publish(plug, { state: 'ON', linkquality: 120 });
    // A refused report after them: once its error is out, the two above were handled, and switched nothing off.
    await h.mqtt.publish(plug, 'not json');
    await h.mqtt.waitFor(`${base}/devices/wes-pad/error`);
    expect(h.mqtt.messages(`${plug}/set`)).toEqual([]);
    await h.mqtt.publish(plug, { state_l2: 'ON', linkquality: 120 });
    const off = await h.mqtt.waitFor(`${plug}/set`);
    expect(off.payload).toBe('{"state_l2":"OFF"}');
    await onlyOnce(`${plug}/set`, 1);
  });

  it('tasmota, channel 2: Backlog PulseTime2 <s+100>; Power2 ON, then OFF on cmnd/{topic}/POWER2', async () => {
    const tas = `${base}-tas3`;
    await h.mqtt.subscribe(`cmnd/${tas}/#`);
    await userWithPad('tia', { protocol: 'tasmota', topic: tas, channel: 2 });
    const s = await startHeat(svc, 'tia', { minutes: 10 });
    const on = await h.mqtt.waitFor(`cmnd/${tas}/Backlog`);
    expect(on.payload).toBe('PulseTime2 112; Power2 ON');
    const off = await h.mqtt.waitFor(`cmnd/${tas}/POWER2`);
    expect(off.payload).toBe('OFF');
    checkOffTiming(off, s.offAt, 'tasmota channel 2');
    await onlyOnce(`cmnd/${tas}/#`, 2);
  });

  it('shelly, channel 2 with autoOff none: Switch.Set id 1 without toggle_after, then on:false', async () => {
    const prefix = `${base}-shelly2pm`;
    await h.mqtt.subscribe(`${prefix}/#`);
    await userWithPad('sid', { protocol: 'shelly', topic: prefix, channel: 2, autoOff: 'none' });
    const s = await startHeat(svc, 'sid', { minutes: 10 });
    const on = await h.mqtt.waitFor(`${prefix}/rpc`);
    expect(on.json).toMatchObject({ method: 'Switch.Set', params: { id: 1, on: true } });
    expect((on.json as { params: object }).params).toEqual({ id: 1, on: true });
    const off = await waitPayload(
      h.mqtt,
      `${prefix}/rpc`,
      (j) => (j as { params?: { on?: boolean } }).params?.on === false,
    );
    expect((off.json as { params: object }).params).toEqual({ id: 1, on: false });
    checkOffTiming(off, s.offAt, 'shelly channel 2');
  });

  it('moving a pad to another channel mid-session ends the session and switches the old relay off at once', async () => {
    // On `slow`: 20 minutes are 8 s, so the re-registration comes long before the timer's OFF.
    await userWithPad('mo', { protocol: 'zigbee2mqtt', topic: 'office/move-plug' }, slowSvc);
    const set = `${slow.env.Z2M_BASE_TOPIC}/office/move-plug/set`;
    const s = await startHeat(slowSvc, 'mo', { minutes: 20 });
    expect((await slow.mqtt.waitFor(set)).payload).toMatch(/^\{"state":"ON","on_time":\d+\}$/);
    await putDevice(slowSvc, 'mo-pad', {
      userId: 'mo',
      role: 'heatpad',
      protocol: 'zigbee2mqtt',
      topic: 'office/move-plug',
      channel: 2,
    });
    const off = await slow.mqtt.waitFor(set, (m) => m.payload !== slow.mqtt.messages(set)[0]?.payload);
    expect(off.payload).toBe('{"state":"OFF"}');
    expect(off.receivedAt).toBeLessThan(Date.parse(s.offAt));
    expect((await slowSvc.fetchJson('/api/users/mo/heat')).body).toMatchObject({ on: false });
  });

  it('channel and autoOff are refused where they do not fit (400 invalid_device), and nothing is stored', async () => {
    await putUser(svc, 'val', {});
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ role: 'heatpad', protocol: 'unknot', channel: 2 }, 'channel'],
      [{ role: 'desk', protocol: 'zigbee2mqtt', topic: 'val-fp1', channel: 2 }, 'channel'],
      [{ role: 'heatpad', protocol: 'shelly', topic: 'val-shelly', channel: 5 }, 'channel'],
      [{ role: 'heatpad', protocol: 'tasmota', topic: 'val-tas', channel: 'l2' }, 'channel'],
      [{ role: 'heatpad', protocol: 'tasmota', topic: 'val-tas', autoOff: 'countdown' }, 'autoOff'],
      [{ role: 'heatpad', protocol: 'zigbee2mqtt', topic: 'val-plug', autoOff: 'toggle_after' }, 'autoOff'],
      [{ role: 'chair', protocol: 'shelly', topic: 'val-shelly', autoOff: 'none' }, 'autoOff'],
      [{ role: 'heatpad', protocol: 'unknot', autoOff: 'none' }, 'autoOff'],
      [{ role: 'heatpad', protocol: 'zigbee2mqtt', topic: 'val-plug', channel: 'L-2' }, 'channel'],
    ];
    for (const [body, field] of bad) {
      const r = await svc.fetchJson('/api/devices/val-dev', { method: 'PUT', json: { userId: 'val', ...body } });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body, JSON.stringify(body)).toMatchObject({
        error: 'invalid_device',
        detail: expect.stringContaining(field),
      });
    }
    expect((await svc.fetchJson('/api/devices/val-dev')).status).toBe(404);
    // The endpoint name of a left/right two-gang switch is a channel too.
    const ok = await svc.fetchJson('/api/devices/val-dev', {
      method: 'PUT',
      json: { userId: 'val', role: 'heatpad', protocol: 'zigbee2mqtt', topic: 'val-plug', channel: 'right' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ channel: 'right' });
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
