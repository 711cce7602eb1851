// Zigbee2MQTT. Payloads follow the device pages on zigbee2mqtt.io (Koenkk/zigbee2mqtt.io, docs/devices/*.md
// "Exposes") and its MQTT topics and messages guide, as summarised in docs/integrations/zigbee2mqtt.md.
import { describe, expect, it } from 'vitest';
import { zigbee2mqttAdapter as adapter } from '../../../src/adapters/zigbee2mqtt.js';
import type { Command, Device } from '../../../src/domain/types.js';
import { Topics } from '../../../src/mqtt/topics.js';
import { GARBAGE, NOW, bytes, ctx, device, json, observations, rejection, topics } from './fixtures.js';

const chair = device('zigbee2mqtt', 'chair', { topic: 'office/chair mat' });
const desk = device('zigbee2mqtt', 'desk', { topic: 'office/desk radar' });
const plug = device('zigbee2mqtt', 'heatpad', { topic: 'heat pad plug' });

const state = (d: Device) => ({ protocol: 'zigbee2mqtt' as const, key: d.topic ?? '', kind: 'state' });
const availability = (d: Device) => ({ protocol: 'zigbee2mqtt' as const, key: d.topic ?? '', kind: 'availability' });
const parseState = (d: Device, payload: Buffer) => adapter.parse(d, state(d), payload, ctx);

describe('zigbee2mqtt adapter: topics', () => {
  it('subscribes to everything under the Z2M base topic', () => {
    expect(adapter.subscriptions(topics)).toEqual(['zigbee2mqtt/#']);
  });

  it('matches a state topic; the friendly name may contain /', () => {
    expect(adapter.match('zigbee2mqtt/desk radar', topics)).toEqual({
      protocol: 'zigbee2mqtt',
      key: 'desk radar',
      kind: 'state',
    });
    expect(adapter.match('zigbee2mqtt/office/desk radar', topics)?.key).toBe('office/desk radar');
  });

  it('matches the availability topic, keyed by the friendly name', () => {
    expect(adapter.match('zigbee2mqtt/office/desk radar/availability', topics)).toEqual({
      protocol: 'zigbee2mqtt',
      key: 'office/desk radar',
      kind: 'availability',
    });
  });

  it('ignores the bridge and every /set and /get topic, ours included', () => {
    for (const topic of [
      'zigbee2mqtt/bridge/state',
      'zigbee2mqtt/bridge/info',
      'zigbee2mqtt/bridge/request/permit_join',
      'zigbee2mqtt/bridge/response/device/rename',
      'zigbee2mqtt/bridge',
      'zigbee2mqtt/heat pad plug/set',
      'zigbee2mqtt/heat pad plug/get',
      'zigbee2mqtt/heat pad plug/set/state',
      'zigbee2mqtt/heat pad plug/get/state',
      'zigbee2mqtt/office/lamp/set/brightness',
      'zigbee2mqtt',
      'zigbee2mqtt/',
      'zigbee2mqtt//x',
      'zigbee2mqtt/a/+',
      'other/desk radar',
      topics.z2mSet('heat pad plug'),
    ]) {
      expect(adapter.match(topic, topics), topic).toBeNull();
    }
  });

  it('follows a configured base topic', () => {
    const custom = new Topics({ base: 'unknot', z2m: 'z2m/home', haPrefix: 'homeassistant' });
    expect(adapter.subscriptions(custom)).toEqual(['z2m/home/#']);
    expect(adapter.match('z2m/home/desk radar', custom)?.key).toBe('desk radar');
    expect(adapter.match('z2m/home/bridge/state', custom)).toBeNull();
  });
});

describe('zigbee2mqtt adapter: seat sensors (role desk or chair)', () => {
  it('Aqara FP1 (RTCZCGQ11LM) presence true → sitting; presence_event is not trusted', () => {
    // zigbee2mqtt.io RTCZCGQ11LM exposes presence (bool) and presence_event (enter, leave, away, approach, …).
    const payload = json({
      presence: true,
      presence_event: 'enter',
      device_temperature: 33,
      power_outage_count: 2,
      linkquality: 120,
    });
    expect(observations(parseState(desk, payload))).toEqual([{ type: 'posture', posture: 'sitting', at: NOW }]);
    const leaving = json({ presence: true, presence_event: 'leave', linkquality: 120 });
    expect(observations(parseState(desk, leaving))[0]).toMatchObject({ posture: 'sitting' });
  });

  it('FP1 presence false → away', () => {
    const payload = json({ presence: false, presence_event: 'away', linkquality: 120 });
    expect(observations(parseState(desk, payload))).toEqual([{ type: 'posture', posture: 'away', at: NOW }]);
  });

  it('Aqara FP1E and Tuya mmWave radars: presence with movement and target_distance', () => {
    // zigbee2mqtt.io Aqara FP1E exposes presence, movement, target_distance; TS0601_smart_human_presence_sensor_1
    // exposes presence and target_distance.
    expect(
      observations(parseState(desk, json({ presence: true, movement: 'no_movement', target_distance: 0.8 })))[0],
    ).toMatchObject({ posture: 'sitting' });
    expect(observations(parseState(desk, json({ presence: false, target_distance: 0 })))[0]).toMatchObject({
      posture: 'away',
    });
  });

  it('Aqara PIR (RTCGQ11LM) occupancy → sitting / away', () => {
    // zigbee2mqtt.io RTCGQ11LM exposes occupancy, illuminance, battery, voltage; occupancy_timeout 90 s.
    const occupied = json({
      occupancy: true,
      illuminance: 52,
      illuminance_lux: 52,
      battery: 100,
      voltage: 3005,
      linkquality: 87,
    });
    expect(observations(parseState(chair, occupied))).toEqual([{ type: 'posture', posture: 'sitting', at: NOW }]);
    const vacant = json({ occupancy: false, no_occupancy_since: 90, battery: 100, linkquality: 87 });
    expect(observations(parseState(chair, vacant))).toEqual([{ type: 'posture', posture: 'away', at: NOW }]);
  });

  it('Tuya pressure strap (TS0601_bed_presence_sensor) occupancy', () => {
    // zigbee2mqtt.io TS0601_bed_presence_sensor exposes occupancy; raw pressure comes as illuminance.
    const payload = json({
      occupancy: true,
      illuminance: 530,
      presence_delay: 5,
      presence_time: 120,
      work_state: 'working',
    });
    expect(observations(parseState(chair, payload))[0]).toMatchObject({ posture: 'sitting' });
  });

  it('contact sensor (MCCGQ11LM): contact true (closed) → sitting, false (open) → away', () => {
    // zigbee2mqtt.io MCCGQ11LM exposes contact (true = closed), battery, voltage.
    expect(
      observations(parseState(chair, json({ contact: true, battery: 100, voltage: 3015, linkquality: 120 }))),
    ).toEqual([{ type: 'posture', posture: 'sitting', at: NOW }]);
    expect(
      observations(parseState(chair, json({ contact: false, battery: 100, voltage: 3015, linkquality: 120 }))),
    ).toEqual([{ type: 'posture', posture: 'away', at: NOW }]);
  });

  it('device.invert flips a contact sensor (a pressure mat wired the other way round)', () => {
    const mat = { ...chair, invert: true };
    expect(observations(parseState(mat, json({ contact: false })))[0]).toMatchObject({ posture: 'sitting' });
    expect(observations(parseState(mat, json({ contact: true })))[0]).toMatchObject({ posture: 'away' });
  });

  it('device.invert does not flip presence or occupancy', () => {
    const inverted = { ...desk, invert: true };
    expect(observations(parseState(inverted, json({ presence: true })))[0]).toMatchObject({ posture: 'sitting' });
    expect(observations(parseState(inverted, json({ occupancy: false })))[0]).toMatchObject({ posture: 'away' });
  });

  it('presence wins over occupancy, which wins over contact', () => {
    expect(observations(parseState(desk, json({ presence: false, occupancy: true, contact: true })))).toEqual([
      { type: 'posture', posture: 'away', at: NOW },
    ]);
    expect(observations(parseState(desk, json({ occupancy: true, contact: false })))).toEqual([
      { type: 'posture', posture: 'sitting', at: NOW },
    ]);
  });

  it('a null value (Z2M has not seen it yet) counts as absent', () => {
    expect(observations(parseState(desk, json({ presence: null, occupancy: true })))[0]).toMatchObject({
      posture: 'sitting',
    });
    expect(observations(parseState(desk, json({ presence: null })))).toEqual([]);
  });

  it('a seat field of the wrong type is refused with invalid_event, naming the field (not silently ignored)', () => {
    expect(rejection(parseState(desk, json({ presence: 'yes' })))).toMatchObject({
      code: 'invalid_event',
      detail: expect.stringMatching(/^presence must be true or false.*"yes"/),
    });
    expect(rejection(parseState(chair, json({ occupancy: 1 })))).toMatchObject({
      code: 'invalid_event',
      detail: expect.stringContaining('occupancy'),
    });
    expect(rejection(parseState(chair, json({ contact: 'closed', occupancy: true })))).toMatchObject({
      code: 'invalid_event',
      detail: expect.stringContaining('contact'),
    });
    // A plug is not read for seat fields at all.
    expect(observations(parseState(plug, json({ presence: 'yes', state: 'ON' })))).toEqual([
      { type: 'heat', state: 'on', at: NOW },
    ]);
  });

  it('a battery-only report says nothing', () => {
    expect(observations(parseState(chair, json({ battery: 91, voltage: 2985, linkquality: 60 })))).toEqual([]);
    expect(observations(parseState(chair, json({})))).toEqual([]);
  });

  it('a seat sensor state ON/OFF is not heat', () => {
    expect(observations(parseState(chair, json({ state: 'ON' })))).toEqual([]);
  });
});

describe('zigbee2mqtt adapter: heat pad plugs', () => {
  it('state ON / OFF → heat on / off; power readings ignored', () => {
    expect(observations(parseState(plug, json({ state: 'ON', power: 52.3, energy: 1.2, linkquality: 90 })))).toEqual([
      { type: 'heat', state: 'on', at: NOW },
    ]);
    expect(observations(parseState(plug, json({ state: 'OFF', power: 0, linkquality: 90 })))).toEqual([
      { type: 'heat', state: 'off', at: NOW },
    ]);
  });

  it('presence on a plug is not posture, and a plug without state says nothing', () => {
    expect(observations(parseState(plug, json({ presence: true })))).toEqual([]);
    expect(observations(parseState(plug, json({ power: 3.1, linkquality: 90 })))).toEqual([]);
  });

  it('wearables and hubs get nothing from Z2M state', () => {
    expect(
      observations(parseState(device('zigbee2mqtt', 'hub', { topic: 'btn' }), json({ action: 'single', state: 'ON' }))),
    ).toEqual([]);
  });
});

describe('zigbee2mqtt adapter: availability', () => {
  const parse = (payload: Buffer) => adapter.parse(desk, availability(desk), payload, ctx);

  it('reads Z2M 2.x JSON availability', () => {
    expect(observations(parse(bytes('{"state":"online"}')))).toEqual([{ type: 'availability', online: true, at: NOW }]);
    expect(observations(parse(bytes('{"state":"offline"}')))).toEqual([
      { type: 'availability', online: false, at: NOW },
    ]);
  });

  it('reads Z2M 1.x plain availability', () => {
    expect(observations(parse(bytes('online')))).toEqual([{ type: 'availability', online: true, at: NOW }]);
    expect(observations(parse(bytes('offline')))).toEqual([{ type: 'availability', online: false, at: NOW }]);
  });

  it('rejects anything else with invalid_event', () => {
    for (const text of [' ', 'ONLINE?', '{"state":"unknown"}', '{"online":true}', '"online"', 'true', '[]']) {
      expect(rejection(parse(bytes(text))).code, text).toBe('invalid_event');
    }
  });
});

describe('zigbee2mqtt adapter: bad input', () => {
  it('a state payload that is not JSON is not_json; JSON that is not an object is invalid_event', () => {
    expect(rejection(parseState(chair, bytes('ON'))).code).toBe('not_json');
    for (const text of ['null', '[{"presence":true}]', '1', '"ON"']) {
      expect(rejection(parseState(chair, bytes(text))).code, text).toBe('invalid_event');
    }
  });

  it('rejects more than 16 KiB with too_large', () => {
    expect(rejection(parseState(chair, json({ presence: true, pad: 'x'.repeat(16 * 1024) }))).code).toBe('too_large');
  });

  it.each(GARBAGE)('never throws on %s', (_what, payload) => {
    for (const d of [chair, desk, plug, device('zigbee2mqtt', 'wearable')]) {
      for (const m of [state(d), availability(d), { protocol: 'zigbee2mqtt' as const, key: 'x', kind: 'bogus' }]) {
        const result = adapter.parse(d, m, payload, ctx);
        expect(typeof result.ok).toBe('boolean');
        if (!result.ok) expect(['too_large', 'not_json', 'invalid_event']).toContain(result.code);
      }
    }
  });
});

describe('zigbee2mqtt adapter: format', () => {
  const heatOn: Command = { command: 'heat', state: 'on', sessionId: 's-1', autoOffSeconds: 600 };
  const heatOff: Command = { command: 'heat', state: 'off', sessionId: 's-1', reason: 'manual' };

  it('switches a plug on with its own timer (on_time), QoS 1', () => {
    expect(adapter.format(plug, heatOn, topics)).toEqual([
      { topic: 'zigbee2mqtt/heat pad plug/set', payload: '{"state":"ON","on_time":600}', qos: 1 },
    ]);
  });

  it('switches a plug off on the same topic', () => {
    expect(adapter.format(plug, heatOff, topics)).toEqual([
      { topic: 'zigbee2mqtt/heat pad plug/set', payload: '{"state":"OFF"}', qos: 1 },
    ]);
  });

  it('rounds on_time to whole seconds, at least 1', () => {
    const [msg] = adapter.format(plug, { ...heatOn, autoOffSeconds: 0.2 }, topics);
    expect(JSON.parse(msg?.payload ?? '')).toEqual({ state: 'ON', on_time: 1 });
    const [msg2] = adapter.format(plug, { ...heatOn, autoOffSeconds: 59.6 }, topics);
    expect(JSON.parse(msg2?.payload ?? '')).toEqual({ state: 'ON', on_time: 60 });
  });

  it('sends nothing for nudges, and never switches a seat sensor', () => {
    expect(adapter.format(plug, { command: 'nudge', nudgeId: 'n', level: 1, message: 'up' }, topics)).toEqual([]);
    expect(adapter.format(chair, heatOn, topics)).toEqual([]);
  });

  it('refuses a heat pad without a friendly name', () => {
    expect(() => adapter.format({ ...plug, topic: undefined }, heatOn, topics)).toThrow(/no topic/);
  });
});

describe('zigbee2mqtt adapter: issue 14 payloads', () => {
  it('an empty payload (Z2M clearing a retained topic) on state or availability says nothing and is no error', () => {
    for (const d of [chair, desk, plug]) {
      expect(observations(parseState(d, Buffer.alloc(0)))).toEqual([]);
      expect(observations(adapter.parse(d, availability(d), Buffer.alloc(0), ctx))).toEqual([]);
    }
    // A blank that is not empty is still not a report.
    expect(rejection(parseState(chair, bytes(' '))).code).toBe('not_json');
  });

  // Vocabularies of zigbee-herdsman-converters src/devices/tuya.ts: RD24G01, ZG-301A, _TZE28C1000000_…, ZG-205Z.
  it.each([
    ['none', 'away'],
    ['NONE', 'away'],
    ['motion', 'sitting'],
    ['stationary', 'sitting'],
    ['presence', 'sitting'],
    ['PRESENCE', 'sitting'],
    ['peaceful', 'sitting'],
    ['small_movement', 'sitting'],
    ['large_movement', 'sitting'],
    ['move', 'sitting'],
  ])('presence_state %j → %s', (value, posture) => {
    expect(observations(parseState(desk, json({ presence_state: value, target_distance_closest: 1.1 })))).toEqual([
      { type: 'posture', posture, at: NOW },
    ]);
  });

  it('presence and occupancy outrank presence_state; an empty presence_state says nothing; a number is refused', () => {
    expect(observations(parseState(desk, json({ presence: false, presence_state: 'peaceful' })))[0]).toMatchObject({
      posture: 'away',
    });
    expect(observations(parseState(desk, json({ occupancy: true, presence_state: 'none' })))[0]).toMatchObject({
      posture: 'sitting',
    });
    expect(observations(parseState(desk, json({ presence_state: '' })))).toEqual([]);
    expect(observations(parseState(desk, json({ presence_state: null })))).toEqual([]);
    expect(rejection(parseState(desk, json({ presence_state: 1 }))).code).toBe('invalid_event');
    // invert is for contacts only.
    expect(observations(parseState({ ...desk, invert: true }, json({ presence_state: 'none' })))[0]).toMatchObject({
      posture: 'away',
    });
  });

  it('a heat pad on channel 2 reads state_l2 only; an endpoint name reads state_<name>', () => {
    const l2 = { ...plug, channel: 2 };
    expect(observations(parseState(l2, json({ state: 'ON', state_l1: 'ON', state_l2: 'OFF' })))).toEqual([
      { type: 'heat', state: 'off', at: NOW },
    ]);
    expect(observations(parseState(l2, json({ state: 'ON', state_l1: 'ON' })))).toEqual([]);
    const right = { ...plug, channel: 'right' };
    expect(observations(parseState(right, json({ state_left: 'OFF', state_right: 'ON' })))).toEqual([
      { type: 'heat', state: 'on', at: NOW },
    ]);
  });

  it('formats the ON per autoOff and channel; countdown is 1–43200 s', () => {
    const on = (d: Device, autoOffSeconds: number) =>
      adapter.format(d, { command: 'heat', state: 'on', sessionId: 's', autoOffSeconds }, topics)[0]?.payload;
    const off = (d: Device) =>
      adapter.format(d, { command: 'heat', state: 'off', sessionId: 's', reason: 'timer' }, topics)[0]?.payload;
    expect(on(plug, 600)).toBe('{"state":"ON","on_time":600}');
    expect(on({ ...plug, autoOff: 'on_time' }, 600)).toBe('{"state":"ON","on_time":600}');
    expect(on({ ...plug, autoOff: 'countdown' }, 600)).toBe('{"state":"ON","countdown":600}');
    expect(on({ ...plug, autoOff: 'countdown' }, 100_000)).toBe('{"state":"ON","countdown":43200}');
    expect(on({ ...plug, autoOff: 'countdown' }, 0.2)).toBe('{"state":"ON","countdown":1}');
    expect(on({ ...plug, autoOff: 'none' }, 600)).toBe('{"state":"ON"}');
    expect(on({ ...plug, channel: 2 }, 600)).toBe('{"state_l2":"ON","on_time_l2":600}');
    expect(on({ ...plug, channel: 'right', autoOff: 'countdown' }, 60)).toBe(
      '{"state_right":"ON","countdown_right":60}',
    );
    expect(off({ ...plug, channel: 2 })).toBe('{"state_l2":"OFF"}');
    expect(off(plug)).toBe('{"state":"OFF"}');
  });
});
