// The native protocol. Payloads are the canonical events of docs/reference/mqtt.md as written there.
import { describe, expect, it } from 'vitest';
import { unknotAdapter as adapter } from '../../../src/adapters/unknot.js';
import type { Command } from '../../../src/domain/types.js';
import { Topics } from '../../../src/mqtt/topics.js';
import { GARBAGE, NOW, bytes, ctx, device, json, observations, rejection, topics } from './fixtures.js';

const wearable = device('unknot', 'wearable');
const match = { protocol: 'unknot' as const, key: wearable.deviceId, kind: 'event' };
const parse = (payload: Buffer) => adapter.parse(wearable, match, payload, ctx);

describe('unknot adapter: topics', () => {
  it('subscribes to every device event topic under the base topic', () => {
    expect(adapter.subscriptions(topics)).toEqual(['unknot/devices/+/event']);
  });

  it('matches {base}/devices/{deviceId}/event with the deviceId as key', () => {
    expect(adapter.match('unknot/devices/desk-1/event', topics)).toEqual({
      protocol: 'unknot',
      key: 'desk-1',
      kind: 'event',
    });
  });

  it('follows a multi-level base topic', () => {
    const home = new Topics({ base: 'home/unknot', z2m: 'zigbee2mqtt', haPrefix: 'homeassistant' });
    expect(adapter.match('home/unknot/devices/w1/event', home)?.key).toBe('w1');
    expect(adapter.match('unknot/devices/w1/event', home)).toBeNull();
  });

  it('ignores our own command and error topics and other depths', () => {
    for (const topic of [
      'unknot/devices/w1/command',
      'unknot/devices/w1/error',
      'unknot/devices/w1/event/extra',
      'unknot/devices/event',
      'unknot/users/alice/state',
      'other/devices/w1/event',
    ]) {
      expect(adapter.match(topic, topics), topic).toBeNull();
    }
  });

  it('leaves the id rule to the caller, so a bad deviceId can be counted as a rejection', () => {
    expect(adapter.match('unknot/devices/not valid!/event', topics)?.key).toBe('not valid!');
  });
});

describe('unknot adapter: posture events', () => {
  it('reads {"type":"posture","posture":"sitting"} at the time of receipt', () => {
    expect(observations(parse(bytes('{"type":"posture","posture":"sitting"}')))).toEqual([
      { type: 'posture', posture: 'sitting', at: NOW },
    ]);
  });

  it.each(['sitting', 'standing', 'moving', 'away'] as const)('accepts posture %s', (posture) => {
    expect(observations(parse(json({ type: 'posture', posture })))[0]).toMatchObject({ posture });
  });

  it('keeps the device event id for de-duplication', () => {
    expect(observations(parse(json({ type: 'posture', posture: 'standing', id: 'evt-0001' })))).toEqual([
      { type: 'posture', posture: 'standing', at: NOW, id: 'evt-0001' },
    ]);
  });

  it('ignores unknown extra fields', () => {
    const result = parse(json({ type: 'posture', posture: 'away', battery: 80, fw: '1.2.3', nested: { a: [1] } }));
    expect(observations(result)).toEqual([{ type: 'posture', posture: 'away', at: NOW }]);
  });

  it('rejects an unknown posture, naming the field', () => {
    const { code, detail } = rejection(parse(json({ type: 'posture', posture: 'lying' })));
    expect(code).toBe('invalid_event');
    expect(detail).toMatch(/^posture: /);
    expect(detail).toContain('sitting');
  });

  it('rejects a missing or unknown type', () => {
    expect(rejection(parse(json({ posture: 'sitting' }))).code).toBe('invalid_event');
    const { code, detail } = rejection(parse(json({ type: 'battery', level: 3 })));
    expect(code).toBe('invalid_event');
    expect(detail).toMatch(/^type: /);
  });
});

describe('unknot adapter: at', () => {
  const at = (value: unknown) => parse(json({ type: 'posture', posture: 'sitting', at: value }));

  it('reads ISO 8601 with Z or an offset', () => {
    expect(observations(at('2025-01-31T09:00:00Z'))[0]?.at).toBe(Date.parse('2025-01-31T09:00:00Z'));
    expect(observations(at('2025-01-31T10:00:00+01:00'))[0]?.at).toBe(Date.parse('2025-01-31T09:00:00Z'));
    expect(observations(at('2025-01-31T09:15:30.250Z'))[0]?.at).toBe(Date.parse('2025-01-31T09:15:30.250Z'));
    expect(observations(at('2025-01-31T09:15:30.123456Z'))[0]?.at).toBe(Date.parse('2025-01-31T09:15:30.123Z'));
  });

  it('reads epoch milliseconds', () => {
    expect(observations(at(NOW - 60_000))[0]?.at).toBe(NOW - 60_000);
  });

  it('clamps a time later than receipt to the time of receipt', () => {
    expect(observations(at(NOW + 3_600_000))[0]?.at).toBe(NOW);
    expect(observations(at('2030-01-01T00:00:00Z'))[0]?.at).toBe(NOW);
  });

  it.each([
    ['garbage text', 'yesterday'],
    ['an impossible date', '2025-02-30T10:00:00Z'],
    ['a time without offset (would depend on the server TZ)', '2025-01-31T09:00:00'],
    ['a date only', '2025-01-31'],
    ['epoch seconds', 1738315800],
    ['a negative number', -1],
    ['a boolean', true],
    ['null', null],
    ['an object', { ms: NOW }],
  ])('rejects %s as invalid_event', (_what, value) => {
    const { code, detail } = rejection(at(value));
    expect(code).toBe('invalid_event');
    expect(detail).toMatch(/at/);
  });
});

describe('unknot adapter: id', () => {
  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(129)],
    ['a number', 42],
    ['null', null],
    ['an object', { id: 'a' }],
  ])('rejects an id that is %s with invalid_id', (_what, id) => {
    expect(rejection(parse(json({ type: 'posture', posture: 'sitting', id }))).code).toBe('invalid_id');
  });

  it('accepts ids of 1 and 128 characters', () => {
    expect(observations(parse(json({ type: 'posture', posture: 'sitting', id: 'a' }))).length).toBe(1);
    expect(observations(parse(json({ type: 'posture', posture: 'sitting', id: 'b'.repeat(128) }))).length).toBe(1);
  });
});

describe('unknot adapter: activity events', () => {
  // Home Assistant companion app activity sensor values (docs/integrations/wearables.md): iOS and Android spellings.
  it.each([
    ['Walking', 'moving'],
    ['Running', 'moving'],
    ['Cycling', 'moving'],
    ['Automotive', 'away'],
    ['walking', 'moving'],
    ['running', 'moving'],
    ['on_foot', 'moving'],
    ['on_bicycle', 'moving'],
    ['in_vehicle', 'away'],
  ])('%s → %s', (activity, posture) => {
    expect(observations(parse(json({ type: 'activity', activity, id: 'a1' })))).toEqual([
      { type: 'posture', posture, at: NOW, id: 'a1' },
    ]);
  });

  it.each(['Stationary', 'Unknown', 'still', 'tilting', 'unknown', 'skateboarding', ''])(
    '%s says nothing about sitting: ok, no observations',
    (activity) => {
      expect(observations(parse(json({ type: 'activity', activity })))).toEqual([]);
    },
  );

  it('rejects a non-string activity', () => {
    expect(rejection(parse(json({ type: 'activity', activity: 3 }))).code).toBe('invalid_event');
  });
});

describe('unknot adapter: steps events', () => {
  it('counts a brisk period as moving', () => {
    expect(observations(parse(json({ type: 'steps', count: 120, periodSeconds: 120 })))).toEqual([
      { type: 'posture', posture: 'moving', at: NOW },
    ]);
  });

  it('says nothing about a slow trickle of steps', () => {
    expect(observations(parse(json({ type: 'steps', count: 30, periodSeconds: 3600 })))).toEqual([]);
    expect(observations(parse(json({ type: 'steps', count: 0, periodSeconds: 60 })))).toEqual([]);
  });

  it.each([
    [{ count: -1, periodSeconds: 60 }, 'count'],
    [{ count: 1.5, periodSeconds: 60 }, 'count'],
    [{ count: 10, periodSeconds: 0 }, 'periodSeconds'],
    [{ count: 10, periodSeconds: 86_401 }, 'periodSeconds'],
    [{ count: 10 }, 'periodSeconds'],
    [{ count: '10', periodSeconds: 60 }, 'count'],
  ])('rejects %j, naming %s', (fields, field) => {
    const { code, detail } = rejection(parse(json({ type: 'steps', ...fields })));
    expect(code).toBe('invalid_event');
    expect(detail).toContain(field);
  });
});

describe('unknot adapter: action and heat events', () => {
  it.each(['snooze', 'ack', 'heat_on', 'heat_off', 'routine_stop'] as const)('reads action %s', (action) => {
    expect(observations(parse(json({ type: 'action', action })))).toEqual([{ type: 'action', action, at: NOW }]);
  });

  it('keeps minutes and id of an action', () => {
    expect(observations(parse(json({ type: 'action', action: 'snooze', minutes: 15, id: 'btn-7' })))).toEqual([
      { type: 'action', action: 'snooze', minutes: 15, at: NOW, id: 'btn-7' },
    ]);
  });

  it('rejects an unknown action and non-positive minutes', () => {
    expect(rejection(parse(json({ type: 'action', action: 'dance' }))).code).toBe('invalid_event');
    expect(rejection(parse(json({ type: 'action', action: 'snooze', minutes: 0 }))).code).toBe('invalid_event');
    expect(rejection(parse(json({ type: 'action', action: 'snooze', minutes: '5' }))).code).toBe('invalid_event');
  });

  it('reads a heat pad reporting its own state', () => {
    const pad = device('unknot', 'heatpad');
    const result = adapter.parse(pad, { ...match, key: pad.deviceId }, bytes('{"type":"heat","state":"on"}'), ctx);
    expect(observations(result)).toEqual([{ type: 'heat', state: 'on', at: NOW }]);
    expect(observations(parse(json({ type: 'heat', state: 'off', at: NOW - 5000 })))).toEqual([
      { type: 'heat', state: 'off', at: NOW - 5000 },
    ]);
    expect(rejection(parse(json({ type: 'heat', state: 'ON' }))).code).toBe('invalid_event');
  });
});

describe('unknot adapter: bad input', () => {
  it('accepts exactly 16 KiB and rejects one byte more with too_large', () => {
    const event = '{"type":"posture","posture":"sitting","pad":""}';
    const at16k = event.replace('""', `"${'x'.repeat(16 * 1024 - event.length)}"`);
    expect(Buffer.byteLength(at16k)).toBe(16 * 1024);
    expect(observations(parse(bytes(at16k))).length).toBe(1);
    expect(rejection(parse(bytes(at16k.replace('"x', '"xx')))).code).toBe('too_large');
  });

  it('rejects text that is not JSON with not_json', () => {
    expect(rejection(parse(bytes('sitting'))).code).toBe('not_json');
    expect(rejection(parse(bytes('{"type":"posture",'))).code).toBe('not_json');
  });

  it('rejects JSON that is not an object with invalid_event', () => {
    for (const text of ['null', '[]', '42', '"posture"', 'true']) {
      expect(rejection(parse(bytes(text))).code, text).toBe('invalid_event');
    }
  });

  it.each(GARBAGE)('never throws on %s', (_what, payload) => {
    for (const role of ['desk', 'chair', 'wearable', 'hub', 'heatpad'] as const) {
      const result = adapter.parse(device('unknot', role), match, payload, ctx);
      expect(typeof result.ok).toBe('boolean');
      if (!result.ok) expect(['too_large', 'not_json', 'invalid_event', 'invalid_id']).toContain(result.code);
    }
  });
});

describe('unknot adapter: format', () => {
  const nudge: Command = { command: 'nudge', nudgeId: 'n-1', level: 2, message: 'Time to stand up' };
  const step: Command = {
    command: 'routine_step',
    routineId: 'r-1',
    index: 0,
    of: 4,
    step: 'pressure',
    seconds: 60,
    message: 'Press the knot steadily for 60 s',
  };
  const heatOn: Command = { command: 'heat', state: 'on', sessionId: 's-1', autoOffSeconds: 600 };
  const heatOff: Command = { command: 'heat', state: 'off', sessionId: 's-1', reason: 'timer' };

  it.each(['wearable', 'hub'] as const)('sends nudges and routine steps to a %s as-is, QoS 1', (role) => {
    const d = device('unknot', role);
    for (const command of [nudge, step]) {
      expect(adapter.format(d, command, topics)).toEqual([
        { topic: `unknot/devices/${d.deviceId}/command`, payload: JSON.stringify(command), qos: 1 },
      ]);
    }
    expect(adapter.format(d, heatOn, topics)).toEqual([]);
  });

  it('sends heat on and off to a heat pad (docs/reference/mqtt.md payloads)', () => {
    const pad = device('unknot', 'heatpad');
    const [on] = adapter.format(pad, heatOn, topics);
    expect(on?.topic).toBe('unknot/devices/heatpad-1/command');
    expect(on?.qos).toBe(1);
    expect(JSON.parse(on?.payload ?? '')).toEqual({
      command: 'heat',
      state: 'on',
      sessionId: 's-1',
      autoOffSeconds: 600,
    });
    const [off] = adapter.format(pad, heatOff, topics);
    expect(JSON.parse(off?.payload ?? '')).toEqual({
      command: 'heat',
      state: 'off',
      sessionId: 's-1',
      reason: 'timer',
    });
    expect(adapter.format(pad, nudge, topics)).toEqual([]);
  });

  it('sends nothing to desk and chair sensors', () => {
    for (const role of ['desk', 'chair'] as const) {
      for (const command of [nudge, step, heatOn, heatOff]) {
        expect(adapter.format(device('unknot', role), command, topics)).toEqual([]);
      }
    }
  });
});
