// Tasmota. Payloads follow tasmota.github.io (MQTT page: stat/RESULT, stat/POWER, tele/LWT, tele/STATE;
// Commands page: Backlog, Power, PulseTime), as summarised in docs/integrations/tasmota.md.
import { describe, expect, it } from 'vitest';
import { pulseTimeFor, tasmotaAdapter as adapter } from '../../../src/adapters/tasmota.js';
import type { Command, Device } from '../../../src/domain/types.js';
import { GARBAGE, NOW, bytes, ctx, device, json, observations, rejection, topics } from './fixtures.js';

const pad = device('tasmota', 'heatpad', { topic: 'heatpad' });
const chair = device('tasmota', 'chair', { topic: 'chair_switch' });

const parse = (d: Device, kind: string, payload: Buffer) =>
  adapter.parse(d, { protocol: 'tasmota', key: d.topic ?? '', kind }, payload, ctx);

describe('tasmota adapter: topics', () => {
  it('subscribes to the power, result, state and LWT topics of every Tasmota topic', () => {
    expect(adapter.subscriptions(topics).sort()).toEqual(
      [
        'stat/+/POWER',
        ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => `stat/+/POWER${n}`),
        'stat/+/RESULT',
        'tele/+/STATE',
        'tele/+/LWT',
        'tele/+/SENSOR',
      ].sort(),
    );
  });

  it.each([
    ['stat/heatpad/POWER', 'POWER'],
    ['stat/heatpad/POWER1', 'POWER1'],
    ['stat/heatpad/RESULT', 'RESULT'],
    ['tele/heatpad/STATE', 'STATE'],
    ['tele/heatpad/LWT', 'LWT'],
    ['stat/heatpad/POWER2', 'POWER2'],
    ['tele/heatpad/SENSOR', 'SENSOR'],
  ])('matches %s as kind %s, keyed by the Tasmota topic', (topic, kind) => {
    expect(adapter.match(topic, topics)).toEqual({ protocol: 'tasmota', key: 'heatpad', kind });
  });

  it('ignores commands (ours included), other telemetry and other depths', () => {
    for (const topic of [
      'cmnd/heatpad/POWER',
      'cmnd/heatpad/Backlog',
      topics.tasmotaCommand('heatpad', 'Backlog'),
      'stat/heatpad/STATUS',
      'stat/heatpad/POWER9',
      'tele/heatpad/STATUS',
      'stat/heatpad/power',
      'tele/heatpad/POWER',
      'stat/POWER',
      'stat/a/b/POWER',
      'stat//POWER',
      'stat/+/POWER',
      '__proto__/heatpad/POWER',
      'constructor/heatpad/LWT',
    ]) {
      expect(adapter.match(topic, topics), topic).toBeNull();
    }
  });
});

describe('tasmota adapter: heat pad relay', () => {
  it('stat/…/POWER ON / OFF → heat on / off', () => {
    expect(observations(parse(pad, 'POWER', bytes('ON')))).toEqual([{ type: 'heat', state: 'on', at: NOW }]);
    expect(observations(parse(pad, 'POWER', bytes('OFF')))).toEqual([{ type: 'heat', state: 'off', at: NOW }]);
    expect(observations(parse(pad, 'POWER1', bytes('ON')))).toEqual([{ type: 'heat', state: 'on', at: NOW }]);
  });

  it('stat/…/RESULT {"POWER":"ON"} and {"POWER1":"OFF"}', () => {
    expect(observations(parse(pad, 'RESULT', bytes('{"POWER":"ON"}')))).toEqual([
      { type: 'heat', state: 'on', at: NOW },
    ]);
    expect(observations(parse(pad, 'RESULT', bytes('{"POWER1":"OFF"}')))).toEqual([
      { type: 'heat', state: 'off', at: NOW },
    ]);
  });

  it('a RESULT without POWER (the answer to PulseTime) says nothing', () => {
    expect(observations(parse(pad, 'RESULT', bytes('{"PulseTime1":{"Set":700,"Remaining":700}}')))).toEqual([]);
  });

  it('tele/…/STATE carries POWER among Wi-Fi and uptime fields', () => {
    // tasmota.github.io MQTT page: periodic tele/<topic>/STATE.
    const telemetry = bytes(
      '{"Time":"2025-01-31T10:30:00","Uptime":"0T01:00:12","UptimeSec":3612,"Heap":26,"SleepMode":"Dynamic",' +
        '"Sleep":50,"LoadAvg":19,"MqttCount":1,"POWER":"ON","Wifi":{"AP":1,"SSId":"home","RSSI":70,"Signal":-65}}',
    );
    expect(observations(parse(pad, 'STATE', telemetry))).toEqual([{ type: 'heat', state: 'on', at: NOW }]);
  });

  it('rejects a plain POWER that is neither ON nor OFF', () => {
    expect(rejection(parse(pad, 'POWER', bytes('TOGGLE'))).code).toBe('invalid_event');
    expect(rejection(parse(pad, 'POWER', bytes(' '))).code).toBe('invalid_event');
  });

  it('a RESULT or STATE that is not a JSON object is rejected', () => {
    expect(rejection(parse(pad, 'RESULT', bytes('ON'))).code).toBe('not_json');
    expect(rejection(parse(pad, 'STATE', bytes('[]'))).code).toBe('invalid_event');
  });
});

describe('tasmota adapter: chair switch', () => {
  it('POWER ON → sitting, OFF → away', () => {
    expect(observations(parse(chair, 'POWER', bytes('ON')))).toEqual([
      { type: 'posture', posture: 'sitting', at: NOW },
    ]);
    expect(observations(parse(chair, 'RESULT', bytes('{"POWER":"OFF"}')))).toEqual([
      { type: 'posture', posture: 'away', at: NOW },
    ]);
  });

  it('device.invert flips a normally-closed switch', () => {
    expect(observations(parse({ ...chair, invert: true }, 'POWER', bytes('ON')))[0]).toMatchObject({ posture: 'away' });
  });

  it('a wearable or hub on Tasmota gets nothing from POWER', () => {
    expect(observations(parse(device('tasmota', 'hub', { topic: 'hub' }), 'POWER', bytes('ON')))).toEqual([]);
  });
});

describe('tasmota adapter: LWT', () => {
  it('Online / Offline → availability', () => {
    expect(observations(parse(pad, 'LWT', bytes('Online')))).toEqual([{ type: 'availability', online: true, at: NOW }]);
    expect(observations(parse(pad, 'LWT', bytes('Offline')))).toEqual([
      { type: 'availability', online: false, at: NOW },
    ]);
  });

  it('rejects anything else', () => {
    expect(rejection(parse(pad, 'LWT', bytes('{"state":"online"}'))).code).toBe('invalid_event');
  });
});

describe('tasmota adapter: bad input', () => {
  it.each(GARBAGE)('never throws on %s', (_what, payload) => {
    for (const d of [pad, chair]) {
      for (const kind of ['POWER', 'POWER1', 'RESULT', 'STATE', 'LWT', 'bogus']) {
        const result = parse(d, kind, payload);
        expect(typeof result.ok).toBe('boolean');
        if (!result.ok) expect(['too_large', 'not_json', 'invalid_event']).toContain(result.code);
      }
    }
  });
});

describe('tasmota adapter: format', () => {
  const heatOn: Command = { command: 'heat', state: 'on', sessionId: 's-1', autoOffSeconds: 600 };
  const heatOff: Command = { command: 'heat', state: 'off', sessionId: 's-1', reason: 'timer' };

  it('heat on: Backlog PulseTime1 <s+100>; Power1 ON (600 s → PulseTime1 700), QoS 1', () => {
    expect(adapter.format(pad, heatOn, topics)).toEqual([
      { topic: 'cmnd/heatpad/Backlog', payload: 'PulseTime1 700; Power1 ON', qos: 1 },
    ]);
  });

  it('heat off: cmnd/…/POWER OFF', () => {
    expect(adapter.format(pad, heatOff, topics)).toEqual([{ topic: 'cmnd/heatpad/POWER', payload: 'OFF', qos: 1 }]);
  });

  it('clamps PulseTime to the seconds range 12–64800 and rounds to whole seconds', () => {
    expect(pulseTimeFor(600)).toBe(700);
    expect(pulseTimeFor(1)).toBe(112);
    expect(pulseTimeFor(12)).toBe(112);
    expect(pulseTimeFor(90.4)).toBe(190);
    expect(pulseTimeFor(64_800)).toBe(64_900);
    expect(pulseTimeFor(100_000)).toBe(64_900);
  });

  it('never switches a chair switch, and sends nothing for nudges', () => {
    expect(adapter.format(chair, heatOn, topics)).toEqual([]);
    expect(adapter.format(pad, { command: 'nudge', nudgeId: 'n', level: 1, message: 'up' }, topics)).toEqual([]);
  });

  it('refuses a device without a topic or with a multi-level one', () => {
    expect(() => adapter.format({ ...pad, topic: undefined }, heatOn, topics)).toThrow(/no topic/);
    expect(() => adapter.format({ ...pad, topic: 'a/b' }, heatOn, topics)).toThrow(/single topic level/);
  });
});

describe('tasmota adapter: inputs and channels (issue 14)', () => {
  const chairSw = device('tasmota', 'chair', { topic: 'desk-io' });
  const p = (d: Device, kind: string, payload: Buffer) =>
    adapter.parse(d, { protocol: 'tasmota', key: d.topic ?? '', kind }, payload, ctx);

  it('SwitchMode 15: {"Switch1":"ON"} in tele/…/SENSOR is sitting, OFF away; invert flips it', () => {
    expect(observations(p(chairSw, 'SENSOR', json({ Time: '2021-01-01T00:00:00', Switch1: 'ON' })))).toEqual([
      { type: 'posture', posture: 'sitting', at: NOW },
    ]);
    expect(observations(p(chairSw, 'SENSOR', json({ Time: '2021-01-01T00:00:00', Switch1: 'OFF' })))[0]).toMatchObject({
      posture: 'away',
    });
    expect(observations(p({ ...chairSw, invert: true }, 'SENSOR', json({ Switch1: 'ON' })))[0]).toMatchObject({
      posture: 'away',
    });
    // Other sensors in the report, or another switch, say nothing; a heat pad ignores switches.
    expect(observations(p(chairSw, 'SENSOR', json({ Time: 'x', ANALOG: { A0: 12 }, Switch2: 'ON' })))).toEqual([]);
    expect(observations(p(device('tasmota', 'heatpad', { topic: 'x' }), 'SENSOR', json({ Switch1: 'ON' })))).toEqual(
      [],
    );
  });

  it('SetOption114: {"Switch2":{"Action":"ON"}} in RESULT for channel 2; other actions say nothing', () => {
    const ch2 = { ...chairSw, channel: 2 };
    expect(observations(p(ch2, 'RESULT', json({ Switch2: { Action: 'ON' } })))).toEqual([
      { type: 'posture', posture: 'sitting', at: NOW },
    ]);
    expect(observations(p(ch2, 'RESULT', json({ Switch1: { Action: 'ON' } })))).toEqual([]);
    expect(observations(p(ch2, 'RESULT', json({ Switch2: { Action: 'TOGGLE' } })))).toEqual([]);
  });

  it('relay n: POWER<n> counts for channel n only; POWER is relay 1', () => {
    const pad2 = device('tasmota', 'heatpad', { topic: 'two', channel: 2 });
    expect(observations(p(pad2, 'POWER2', bytes('ON')))).toEqual([{ type: 'heat', state: 'on', at: NOW }]);
    expect(observations(p(pad2, 'POWER', bytes('ON')))).toEqual([]);
    expect(observations(p(pad2, 'POWER1', bytes('ON')))).toEqual([]);
    expect(observations(p(pad2, 'RESULT', json({ POWER: 'ON', POWER1: 'ON' })))).toEqual([]);
    expect(observations(p(pad2, 'STATE', json({ POWER1: 'ON', POWER2: 'OFF' })))).toEqual([
      { type: 'heat', state: 'off', at: NOW },
    ]);
  });

  it('an empty payload (a cleared retained topic) on any Tasmota topic says nothing', () => {
    for (const kind of ['POWER', 'POWER1', 'RESULT', 'STATE', 'SENSOR', 'LWT']) {
      expect(observations(p(chairSw, kind, Buffer.alloc(0))), kind).toEqual([]);
    }
  });

  it('formats relay n and autoOff none', () => {
    const fmt = (d: Device, state: 'on' | 'off') =>
      adapter.format(
        d,
        state === 'on'
          ? { command: 'heat', state: 'on', sessionId: 's', autoOffSeconds: 600 }
          : { command: 'heat', state: 'off', sessionId: 's', reason: 'timer' },
        topics,
      );
    const pad2 = device('tasmota', 'heatpad', { topic: 'two', channel: 2 });
    expect(fmt(pad2, 'on')).toEqual([{ topic: 'cmnd/two/Backlog', payload: 'PulseTime2 700; Power2 ON', qos: 1 }]);
    expect(fmt(pad2, 'off')).toEqual([{ topic: 'cmnd/two/POWER2', payload: 'OFF', qos: 1 }]);
    expect(fmt({ ...pad2, autoOff: 'none' }, 'on')).toEqual([{ topic: 'cmnd/two/POWER2', payload: 'ON', qos: 1 }]);
    const pad1 = device('tasmota', 'heatpad', { topic: 'one', autoOff: 'none' });
    expect(fmt(pad1, 'on')).toEqual([{ topic: 'cmnd/one/POWER', payload: 'ON', qos: 1 }]);
    expect(fmt(pad1, 'off')).toEqual([{ topic: 'cmnd/one/POWER', payload: 'OFF', qos: 1 }]);
  });
});
