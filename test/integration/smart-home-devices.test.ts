// Smart-home sensors end to end, with payloads as Zigbee2MQTT and the Home Assistant companion app document them
// (docs/integrations/): Aqara FP1 presence, a Tuya pressure strap, an inverted contact mat, Z2M availability 1.x and 2.x,
// wearables (activity, steps) and the fusion rules of src/domain/fusion.ts.
// UNKNOT_TIME_SCALE=600 (the harness): 10 minutes are 1 s, a 120 s break 0.2 s.
import { afterEach, describe, expect, it } from 'vitest';
import type { ReceivedMessage } from '../support/mqtt-client.js';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { adherence, eventually, putDevice, putUser } from '../support/unknot.js';

interface UserState {
  posture: string;
  sessionId: string | null;
  sittingSeconds: number;
  nextNudgeAt: string | null;
  breakDue: boolean;
}

let h: InProcessHarness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A service in a namespace of its own, with user `ana` and everything under the base topic watched. */
async function setup(
  label: string,
  profile: Record<string, unknown> = {},
): Promise<{ h: InProcessHarness; svc: InProcessService }> {
  h = await inProcessHarness(label);
  await h.mqtt.subscribe(`${h.ns.baseTopic}/#`);
  const svc = await h.start();
  await putUser(svc, 'ana', { breakAfterMinutes: 30, minBreakSeconds: 120, ...profile });
  return { h, svc };
}

const z2m = (hh: InProcessHarness, friendlyName: string) => `${hh.env.Z2M_BASE_TOPIC}/${friendlyName}`;
const event = (hh: InProcessHarness, deviceId: string) => `${hh.ns.baseTopic}/devices/${deviceId}/event`;
const stateTopic = (hh: InProcessHarness, userId = 'ana') => `${hh.ns.baseTopic}/users/${userId}/state`;

/** The first retained-state message (already received or still to come) that satisfies `check`. */
function state(hh: InProcessHarness, check: (s: UserState) => boolean, timeoutMs = 10_000): Promise<UserState> {
  return hh.mqtt
    .waitFor(stateTopic(hh), (m: ReceivedMessage) => m.json !== undefined && check(m.json as UserState), timeoutMs)
    .then((m) => m.json as UserState);
}

const sittingSession = (s: UserState) => s.posture === 'sitting' && s.sessionId !== null;
/** Up long enough for a break: the session is over. */
const sessionOver = (posture: string) => (s: UserState) => s.posture === posture && s.sessionId === null;

async function logTypes(svc: InProcessService, until: string): Promise<string[]> {
  const entries = await eventually(
    async () => {
      const e = await adherence(svc, 'ana');
      return e.some((x) => x.type === until) ? e : undefined;
    },
    10_000,
    until,
  );
  return entries.map((e) => String(e.type));
}

describe('Zigbee2MQTT seat sensors', () => {
  it('an Aqara FP1 presence sensor whose friendly name has a slash produces a nudge, and leaving is the break', async () => {
    const { h, svc } = await setup('z2m-fp1', { breakAfterMinutes: 10 });
    await putDevice(svc, 'ana-fp1', { userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/desk fp1' });

    // As Z2M publishes it for the RTCZCGQ11LM: presence plus fields unknot ignores.
    await h.mqtt.publish(z2m(h, 'office/desk fp1'), {
      presence: true,
      presence_event: 'enter',
      battery: 100,
      linkquality: 87,
      device_temperature: 31,
      power_outage_count: 2,
      monitoring_mode: 'undirected',
      approach_distance: 'near',
      motion_sensitivity: 'medium',
    });
    await state(h, sittingSession);
    const nudge = await h.mqtt.waitFor(`${h.ns.baseTopic}/users/ana/nudge`, 15_000);
    expect(nudge.json).toMatchObject({ userId: 'ana', level: 1, event_type: 'nudge', nudgeId: expect.any(String) });
    expect(nudge.retain).toBe(false);
    await state(h, (s) => s.breakDue);

    // An approach event without `presence` says nothing; `presence: false` with `leave` is the break.
    await h.mqtt.publish(z2m(h, 'office/desk fp1'), { presence_event: 'approach', linkquality: 90 });
    await h.mqtt.publish(z2m(h, 'office/desk fp1'), { presence: false, presence_event: 'leave', linkquality: 90 });
    await state(h, sessionOver('away'));
    expect(await logTypes(svc, 'break_taken')).toEqual(['sitting_started', 'nudge_sent', 'break_taken']);
  });

  it('a Tuya pressure strap (occupancy) starts and ends a session', async () => {
    const { h, svc } = await setup('z2m-strap');
    await putDevice(svc, 'ana-strap', {
      userId: 'ana',
      role: 'chair',
      protocol: 'zigbee2mqtt',
      topic: 'study/chair strap',
    });

    await h.mqtt.publish(z2m(h, 'study/chair strap'), {
      occupancy: true,
      illuminance: 312,
      presence_delay: 2,
      presence_time: 0,
      linkquality: 105,
    });
    await state(h, sittingSession);
    await h.mqtt.publish(z2m(h, 'study/chair strap'), {
      occupancy: false,
      illuminance: 4,
      presence_delay: 2,
      presence_time: 0,
      linkquality: 105,
    });
    await state(h, sessionOver('away'));
    expect(await logTypes(svc, 'natural_break')).toEqual(['sitting_started', 'natural_break']);
  });

  it('a contact sensor under a pressure mat with invert: open (contact false) is sitting, closed is away', async () => {
    const { h, svc } = await setup('z2m-mat');
    await putDevice(svc, 'ana-mat', {
      userId: 'ana',
      role: 'chair',
      protocol: 'zigbee2mqtt',
      topic: 'chair_mat',
      invert: true,
    });

    const mcc = { battery: 91, voltage: 2995, device_temperature: 24, power_outage_count: 5, linkquality: 132 };
    await h.mqtt.publish(z2m(h, 'chair_mat'), { ...mcc, contact: false });
    await state(h, sittingSession);
    await h.mqtt.publish(z2m(h, 'chair_mat'), { ...mcc, contact: true });
    await state(h, sessionOver('away'));
    expect(await logTypes(svc, 'natural_break')).toEqual(['sitting_started', 'natural_break']);
  });

  it.each([
    ['1.x', 'offline'],
    ['2.x', '{"state":"offline"}'],
  ])('availability %s (%s) of a seat sensor ends the session as a break', async (_version, payload) => {
    const { h, svc } = await setup('z2m-avail');
    await putDevice(svc, 'ana-seat', { userId: 'ana', role: 'chair', protocol: 'zigbee2mqtt', topic: 'office/seat' });

    await h.mqtt.publish(z2m(h, 'office/seat'), { occupancy: true, battery: 100, linkquality: 60 });
    await state(h, sittingSession);
    // Z2M publishes availability retained.
    await h.mqtt.publish(`${z2m(h, 'office/seat')}/availability`, payload, { retain: true });
    await state(h, sessionOver('away'));
    expect(await logTypes(svc, 'natural_break')).toEqual(['sitting_started', 'natural_break']);
    // Clear the retained message so it cannot leak into anything else on this broker.
    await h.mqtt.publish(`${z2m(h, 'office/seat')}/availability`, '', { retain: true });
  });
});

describe('cleared retained topics and sensors with enum or input payloads', () => {
  /** The device's error topic; every refusal of an inbound message is published there. */
  const errorTopic = (hh: InProcessHarness, deviceId: string) => `${hh.ns.baseTopic}/devices/${deviceId}/error`;

  it('an empty retained payload on a Zigbee2MQTT state or availability topic is no error and changes nothing', async () => {
    const { h, svc } = await setup('z2m-cleared');
    await putDevice(svc, 'ana-seat', { userId: 'ana', role: 'chair', protocol: 'zigbee2mqtt', topic: 'office/seat' });
    await h.mqtt.publish(z2m(h, 'office/seat'), { occupancy: true, battery: 100, linkquality: 60 });
    const sitting = await state(h, sittingSession);

    // What Zigbee2MQTT publishes when a device is renamed or removed: an empty retained message on each topic.
    await h.mqtt.publish(z2m(h, 'office/seat'), '', { retain: true });
    await h.mqtt.publish(`${z2m(h, 'office/seat')}/availability`, '', { retain: true });
    // A refused report after them, on the same connection: once its error is out, the two empty ones were handled.
    await h.mqtt.publish(z2m(h, 'office/seat'), { occupancy: 'yes' });
    const err = await h.mqtt.waitFor(errorTopic(h, 'ana-seat'));
    expect(err.json).toMatchObject({ error: 'invalid_event', topic: z2m(h, 'office/seat') });
    expect(h.mqtt.messages(errorTopic(h, 'ana-seat'))).toHaveLength(1);
    // Still the same sitting session.
    const now = (await svc.fetchJson('/api/users/ana')).body as { state: UserState };
    expect(now.state).toMatchObject({ posture: 'sitting', sessionId: sitting.sessionId });
    expect(await adherence(svc, 'ana')).toEqual([expect.objectContaining({ type: 'sitting_started' })]);
  });

  it('a Tuya mmWave radar with only presence_state (RD24G01: none/motion/stationary) starts and ends a session', async () => {
    const { h, svc } = await setup('z2m-presence-state');
    await putDevice(svc, 'ana-radar', { userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/radar' });
    // Fields as zigbee-herdsman-converters src/devices/tuya.ts defines them for RD24G01 (_TZE204_no6qtgtl).
    const radar = { near_detection: 0.5, far_detection: 4, static_sensitivity: 7, motion_sensitivity: 6 };
    await h.mqtt.publish(z2m(h, 'office/radar'), { ...radar, presence_state: 'motion', target_distance_closest: 1.2 });
    await state(h, sittingSession);
    // Sitting still is `stationary`: still someone there, the same session.
    await h.mqtt.publish(z2m(h, 'office/radar'), {
      ...radar,
      presence_state: 'stationary',
      target_distance_closest: 0.8,
    });
    await h.mqtt.publish(z2m(h, 'office/radar'), { ...radar, presence_state: 'none', target_distance_closest: 0 });
    await state(h, sessionOver('away'));
    expect(await logTypes(svc, 'natural_break')).toEqual(['sitting_started', 'natural_break']);
    expect(h.mqtt.messages(errorTopic(h, 'ana-radar'))).toHaveLength(0);
  });

  it('a Tasmota input without a relay (SwitchMode 15: Switch1 in tele/…/SENSOR) is a chair switch', async () => {
    const { h, svc } = await setup('tasmota-switchmode15');
    const t = `${h.ns.baseTopic.replace(/\//g, '-')}-chairsw`;
    await putDevice(svc, 'ana-chair', { userId: 'ana', role: 'chair', protocol: 'tasmota', topic: t });
    await h.mqtt.publish(`tele/${t}/SENSOR`, { Time: '2026-11-24T09:30:00', Switch1: 'ON' });
    await state(h, sittingSession);
    await h.mqtt.publish(`tele/${t}/SENSOR`, { Time: '2026-11-24T09:41:00', Switch1: 'OFF' });
    await state(h, sessionOver('away'));
    expect(await logTypes(svc, 'natural_break')).toEqual(['sitting_started', 'natural_break']);
  });

  it('a detached Tasmota input (SetOption114: {"Switch2":{"Action":…}} in stat/…/RESULT) on channel 2, inverted', async () => {
    const { h, svc } = await setup('tasmota-so114');
    const t = `${h.ns.baseTopic.replace(/\//g, '-')}-chairsw2`;
    await putDevice(svc, 'ana-chair', {
      userId: 'ana',
      role: 'chair',
      protocol: 'tasmota',
      topic: t,
      channel: 2,
      invert: true,
    });
    // Switch1 and relay 1 belong to something else: they say nothing about this chair (read as channel 1 with
    // invert, these OFFs would be sitting). A refused payload after them: once its error is out, they were handled.
    await h.mqtt.publish(`stat/${t}/RESULT`, { Switch1: { Action: 'OFF' } });
    await h.mqtt.publish(`stat/${t}/POWER1`, 'OFF');
    await h.mqtt.publish(`tele/${t}/SENSOR`, { Time: '2026-11-24T09:30:00', Switch1: 'OFF' });
    await h.mqtt.publish(`stat/${t}/RESULT`, 'not json');
    await h.mqtt.waitFor(errorTopic(h, 'ana-chair'));
    expect(h.mqtt.messages(stateTopic(h)).filter((m) => (m.json as UserState).posture === 'sitting')).toEqual([]);
    // invert: the mat opens (OFF) when someone sits.
    await h.mqtt.publish(`stat/${t}/RESULT`, { Switch2: { Action: 'OFF' } });
    await state(h, sittingSession);
    await h.mqtt.publish(`stat/${t}/RESULT`, { Switch2: { Action: 'ON' } });
    await state(h, sessionOver('away'));
    expect(await logTypes(svc, 'natural_break')).toEqual(['sitting_started', 'natural_break']);
  });

  it('a Shelly Plus i4 input as a chair: status/input:0, then a NotifyStatus for input:2 on channel 3', async () => {
    const { h, svc } = await setup('shelly-i4');
    const prefix = `${h.ns.baseTopic.replace(/\//g, '-')}-i4`;
    await putDevice(svc, 'ana-chair', { userId: 'ana', role: 'chair', protocol: 'shelly', topic: prefix });
    // Input.GetStatus of an input of type switch: {"id":0,"state":true} (Shelly Gen2 API, Input component).
    await h.mqtt.publish(`${prefix}/status/input:0`, { id: 0, state: true });
    await state(h, sittingSession);
    await h.mqtt.publish(`${prefix}/status/input:0`, { id: 0, state: false });
    await state(h, sessionOver('away'));

    // The same i4, re-registered to read its third input; NotifyStatus carries only what changed.
    await putDevice(svc, 'ana-chair', { userId: 'ana', role: 'chair', protocol: 'shelly', topic: prefix, channel: 3 });
    h.mqtt.clear();
    const notify = (input: string, on: boolean) => ({
      src: prefix,
      dst: `${prefix}/events`,
      method: 'NotifyStatus',
      params: { ts: 1764581400.25, [input]: { id: Number(input.slice(6)), state: on } },
    });
    await h.mqtt.publish(`${prefix}/events/rpc`, notify('input:0', true));
    // A refused payload after it: once its error is out, input:0 was handled, and said nothing about channel 3.
    await h.mqtt.publish(`${prefix}/status/input:2`, 'not json');
    await h.mqtt.waitFor(errorTopic(h, 'ana-chair'));
    expect(h.mqtt.messages(stateTopic(h)).filter((m) => (m.json as UserState).posture === 'sitting')).toEqual([]);
    await h.mqtt.publish(`${prefix}/events/rpc`, notify('input:2', true));
    await state(h, sittingSession);
    expect(h.mqtt.messages(errorTopic(h, 'ana-chair'))).toHaveLength(1);
  });
});

describe('wearables and fusion', () => {
  it.each([
    ['iOS', 'Walking'],
    ['Android', 'walking'],
  ])(
    'companion app activity (%s %s) ends the session while the desk sensor still says present',
    async (_os, activity) => {
      const { h, svc } = await setup('wearable-activity');
      await putDevice(svc, 'ana-desk', { userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/fp1' });
      await putDevice(svc, 'ana-phone', { userId: 'ana', role: 'wearable', protocol: 'unknot' });

      await h.mqtt.publish(z2m(h, 'office/fp1'), { presence: true, presence_event: 'enter', linkquality: 80 });
      const first = await state(h, sittingSession);
      // `still`/`Stationary` say nothing about sitting.
      await h.mqtt.publish(event(h, 'ana-phone'), {
        type: 'activity',
        activity: activity === 'Walking' ? 'Stationary' : 'still',
      });
      // What the HA automation of docs/integrations/wearables.md publishes.
      await h.mqtt.publish(event(h, 'ana-phone'), { type: 'activity', activity });
      await state(h, sessionOver('moving'));
      expect(await logTypes(svc, 'natural_break')).toEqual(['sitting_started', 'natural_break']);
      // The desk sensor never said otherwise; a new desk report after the walk is a new session.
      h.mqtt.clear();
      await h.mqtt.publish(z2m(h, 'office/fp1'), { presence: true, presence_event: 'enter', linkquality: 80 });
      const again = await state(h, sittingSession);
      expect(again.sessionId).not.toBe(first.sessionId);
    },
  );

  it('every activity state the companion apps send is accepted: none is refused, and a vehicle is away', async () => {
    // iOS (home-assistant/iOS, CMMotionActivity+Types): Walking, Running, Automotive, Cycling, Stationary, Unknown.
    // Android (home-assistant/android, ActivitySensorManager.kt): in_vehicle, on_bicycle, on_foot, running, still,
    // tilting, walking, unknown.
    const IOS = ['Stationary', 'Unknown', 'Walking', 'Running', 'Cycling', 'Automotive'];
    const ANDROID = ['still', 'tilting', 'unknown', 'walking', 'running', 'on_foot', 'on_bicycle', 'in_vehicle'];
    const { h, svc } = await setup('wearable-all-states');
    await putDevice(svc, 'ana-desk', { userId: 'ana', role: 'desk', protocol: 'unknot' });
    await putDevice(svc, 'ana-phone', { userId: 'ana', role: 'wearable', protocol: 'unknot' });
    await h.mqtt.publish(event(h, 'ana-desk'), { type: 'posture', posture: 'sitting' });
    await state(h, sittingSession);
    for (const activity of [...IOS, ...ANDROID]) {
      await h.mqtt.publish(event(h, 'ana-phone'), { type: 'activity', activity });
    }
    // The last one, Android's in_vehicle: away.
    await state(h, (s) => s.posture === 'away');
    // A refused event after them: once its error is out, all of the above were handled, and none was refused.
    await h.mqtt.publish(event(h, 'ana-phone'), { type: 'activity' });
    const err = await h.mqtt.waitFor(`${h.ns.baseTopic}/devices/ana-phone/error`);
    expect(err.json).toMatchObject({ error: 'invalid_event' });
    expect(h.mqtt.messages(`${h.ns.baseTopic}/devices/ana-phone/error`)).toHaveLength(1);
  });

  it('enough steps over a period count as moving; a few steps over an hour do not', async () => {
    const { h, svc } = await setup('wearable-steps');
    await putDevice(svc, 'ana-desk', { userId: 'ana', role: 'desk', protocol: 'unknot' });
    await putDevice(svc, 'ana-watch', { userId: 'ana', role: 'wearable', protocol: 'unknot' });

    await h.mqtt.publish(event(h, 'ana-desk'), { type: 'posture', posture: 'sitting' });
    const sitting = await state(h, sittingSession);
    await h.mqtt.publish(event(h, 'ana-watch'), { type: 'steps', count: 15, periodSeconds: 3600 });
    await h.mqtt.publish(event(h, 'ana-watch'), { type: 'steps', count: 120, periodSeconds: 60 });
    await state(h, sessionOver('moving'));
    const types = await logTypes(svc, 'natural_break');
    expect(types).toEqual(['sitting_started', 'natural_break']);
    // The slow-steps report changed nothing: no state between sitting and moving.
    const postures = h.mqtt
      .messages(stateTopic(h))
      .map((m) => (m.json as UserState).posture)
      .filter((p, i, all) => i === 0 || p !== all[i - 1]);
    expect(postures.slice(postures.indexOf('sitting'))).toEqual(['sitting', 'moving']);
    expect(sitting.sessionId).not.toBeNull();
  });

  it('chair empty + desk present is not sitting (standing at the desk); the chair decides', async () => {
    const { h, svc } = await setup('fusion-chair-desk');
    await putDevice(svc, 'ana-desk', { userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/fp1' });
    await putDevice(svc, 'ana-chair', { userId: 'ana', role: 'chair', protocol: 'zigbee2mqtt', topic: 'office/chair' });

    await h.mqtt.publish(z2m(h, 'office/chair'), { occupancy: false, linkquality: 70 });
    await state(h, (s) => s.posture === 'away');
    await h.mqtt.publish(z2m(h, 'office/fp1'), { presence: true, presence_event: 'enter', linkquality: 80 });
    const standing = await state(h, (s) => s.posture === 'standing');
    expect(standing).toMatchObject({ sessionId: null, sittingSeconds: 0, nextNudgeAt: null });

    await h.mqtt.publish(z2m(h, 'office/chair'), { occupancy: true, linkquality: 70 });
    await state(h, sittingSession);
    // Chair empty again while the desk still sees someone: standing, and long enough is a break.
    h.mqtt.clear();
    await h.mqtt.publish(z2m(h, 'office/chair'), { occupancy: false, linkquality: 70 });
    await state(h, sessionOver('standing'));
    expect(await logTypes(svc, 'natural_break')).toEqual(['sitting_started', 'natural_break']);
  });
});
