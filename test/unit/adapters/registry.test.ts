// The adapter registry and the protocol-independent helpers: matchTopic, activity and steps mapping, parseAt,
// and property tests that no adapter throws on any topic or payload.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  activityToPosture,
  adapters,
  allSubscriptions,
  matchTopic,
  parseAt,
  stepsToPosture,
} from '../../../src/adapters/index.js';
import { PROTOCOLS, ROLES } from '../../../src/domain/types.js';
import { GARBAGE_TOPICS, NOW, ctx, device, topics } from './fixtures.js';

describe('adapters registry', () => {
  it('has one adapter per protocol, each under its own name', () => {
    expect(Object.keys(adapters).sort()).toEqual([...PROTOCOLS].sort());
    for (const protocol of PROTOCOLS) expect(adapters[protocol].protocol).toBe(protocol);
  });

  it.each([
    ['unknot/devices/w1/event', 'unknot', 'w1', 'event'],
    ['zigbee2mqtt/office/desk radar', 'zigbee2mqtt', 'office/desk radar', 'state'],
    ['zigbee2mqtt/office/desk radar/availability', 'zigbee2mqtt', 'office/desk radar', 'availability'],
    ['stat/heatpad/RESULT', 'tasmota', 'heatpad', 'RESULT'],
    ['tele/heatpad/LWT', 'tasmota', 'heatpad', 'LWT'],
    ['shellyplus1-abc/status/switch:0', 'shelly', 'shellyplus1-abc', 'status/switch:0'],
    ['unknot/shelly/rpc', 'shelly', 'unknot/shelly', 'rpc_reply'],
  ])('matchTopic(%s) → %s', (topic, protocol, key, kind) => {
    const found = matchTopic(topic, topics);
    expect(found?.adapter.protocol).toBe(protocol);
    expect(found?.match).toEqual({ protocol, key, kind });
  });

  it('matchTopic ignores our own outbound topics', () => {
    for (const topic of [
      topics.deviceCommand('w1'),
      topics.deviceError('w1'),
      topics.bridgeState(),
      topics.userState('alice'),
      topics.userNudge('alice'),
      topics.z2mSet('plug'),
      topics.tasmotaCommand('heatpad', 'Backlog'),
      topics.tasmotaCommand('heatpad', 'POWER'),
      topics.shellyRpc('shellyplus1-abc'),
    ]) {
      expect(matchTopic(topic, topics), topic).toBeNull();
    }
  });

  it('every topic an adapter matches is covered by its subscriptions', () => {
    const covers = (filter: string, topic: string): boolean => {
      const f = filter.split('/');
      const t = topic.split('/');
      for (let i = 0; i < f.length; i++) {
        if (f[i] === '#') return true;
        if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
      }
      return f.length === t.length;
    };
    for (const topic of [
      'unknot/devices/w1/event',
      'zigbee2mqtt/a/b/availability',
      'stat/x/POWER1',
      'tele/x/STATE',
      'a/b/status/switch:0',
      'a/online',
      'a/b/events/rpc',
      'unknot/shelly/rpc',
    ]) {
      const found = matchTopic(topic, topics);
      expect(found, topic).not.toBeNull();
      expect(
        found?.adapter.subscriptions(topics).some((f) => covers(f, topic)),
        topic,
      ).toBe(true);
    }
    expect(allSubscriptions(topics).length).toBe(new Set(allSubscriptions(topics)).size);
  });

  it.each(GARBAGE_TOPICS.map((t) => [JSON.stringify(t.slice(0, 40)), t]))(
    'never throws on topic %s',
    (_label, topic) => {
      expect(() => matchTopic(topic, topics)).not.toThrow();
      for (const protocol of PROTOCOLS) expect(() => adapters[protocol].match(topic, topics)).not.toThrow();
    },
  );

  it('match never throws on any string (property)', () => {
    // Any code point, lone surrogates included, built from integers: fast-check's `unit: 'binary'` strings cost
    // ~7 s to generate on a loaded machine for the same inputs.
    const anyString = fc
      .array(fc.integer({ min: 0, max: 0x10ffff }), { maxLength: 200 })
      .map((cps) => String.fromCodePoint(...cps));
    fc.assert(
      fc.property(anyString, (topic) => {
        for (const protocol of PROTOCOLS) adapters[protocol].match(topic, topics);
        matchTopic(topic, topics);
      }),
      { numRuns: 2000 },
    );
  });

  it('parse never throws on any bytes, for any protocol, role and kind (property)', () => {
    const kinds = [
      'event',
      'state',
      'availability',
      'POWER',
      'POWER1',
      'RESULT',
      'STATE',
      'LWT',
      'status',
      'online',
      'events',
      'rpc_reply',
      '',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...PROTOCOLS),
        fc.constantFrom(...ROLES),
        fc.constantFrom(...kinds),
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.json().map((j) => new TextEncoder().encode(j)),
        ),
        fc.boolean(),
        (protocol, role, kind, data, invert) => {
          const d = device(protocol, role, { topic: 'x', invert });
          const result = adapters[protocol].parse(d, { protocol, key: 'x', kind }, Buffer.from(data), ctx);
          expect(typeof result.ok).toBe('boolean');
          if (!result.ok) expect(result.code).toMatch(/^(too_large|not_json|invalid_event|invalid_id)$/);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('activityToPosture', () => {
  it.each([
    // Home Assistant companion app, iOS.
    ['Stationary', null],
    ['Walking', 'moving'],
    ['Running', 'moving'],
    ['Cycling', 'moving'],
    ['Automotive', 'away'],
    ['Unknown', null],
    // Home Assistant companion app, Android.
    ['still', null],
    ['walking', 'moving'],
    ['running', 'moving'],
    ['on_foot', 'moving'],
    ['on_bicycle', 'moving'],
    ['in_vehicle', 'away'],
    ['tilting', null],
    ['unknown', null],
    // Case, blanks and spelling variants.
    ['  WALKING ', 'moving'],
    ['On Foot', 'moving'],
    ['in-vehicle', 'away'],
    // Anything else says nothing.
    ['swimming', null],
    ['', null],
    ['constructor', null],
    ['__proto__', null],
  ])('%j → %s', (activity, posture) => {
    expect(activityToPosture(activity)).toBe(posture);
  });
});

describe('stepsToPosture', () => {
  it('moving at 10+ steps and 20+ steps per minute', () => {
    expect(stepsToPosture(10, 30)).toBe('moving');
    expect(stepsToPosture(20, 60)).toBe('moving');
    expect(stepsToPosture(1200, 3600)).toBe('moving');
    expect(stepsToPosture(100, 60)).toBe('moving');
  });

  it('nothing below either threshold', () => {
    expect(stepsToPosture(9, 1)).toBeNull();
    expect(stepsToPosture(19, 60)).toBeNull();
    expect(stepsToPosture(1199, 3600)).toBeNull();
    expect(stepsToPosture(0, 60)).toBeNull();
  });

  it('nothing for nonsense input', () => {
    expect(stepsToPosture(100, 0)).toBeNull();
    expect(stepsToPosture(Number.NaN, 60)).toBeNull();
    expect(stepsToPosture(100, Number.POSITIVE_INFINITY)).toBeNull();
  });
});

describe('parseAt', () => {
  it('defaults to now and clamps the future', () => {
    expect(parseAt(undefined, NOW)).toEqual({ ok: true, at: NOW });
    expect(parseAt(NOW + 1, NOW)).toEqual({ ok: true, at: NOW });
    expect(parseAt('2025-01-31T09:30:00.001Z', NOW)).toEqual({ ok: true, at: NOW });
  });

  it('reads offsets in both ISO spellings and a space separator', () => {
    const expected = Date.parse('2025-01-31T08:00:00Z');
    for (const text of [
      '2025-01-31T09:00:00+01:00',
      '2025-01-31T09:00:00+0100',
      '2025-01-31 03:00:00-05:00',
      '2025-01-31T08:00Z',
    ]) {
      expect(parseAt(text, NOW), text).toEqual({ ok: true, at: expected });
    }
  });

  it('refuses invalid calendar dates and times', () => {
    for (const text of [
      '2025-02-29T00:00:00Z',
      '2025-01-31T24:00:00Z',
      '2025-01-31T23:60:00Z',
      '2025-01-31T23:59:60Z',
      '0099-01-01T00:00:00Z',
    ]) {
      expect(parseAt(text, NOW).ok, text).toBe(false);
    }
    const leapDay = Date.parse('2024-02-29T00:00:00Z');
    expect(parseAt('2024-02-29T00:00:00Z', leapDay + 60_000)).toEqual({ ok: true, at: leapDay });
  });

  it('refuses times more than 24 hours before receipt with too_old, saying how old', () => {
    const day = 24 * 3_600_000;
    expect(parseAt(NOW - day, NOW)).toEqual({ ok: true, at: NOW - day });
    expect(parseAt(NOW - day - 1, NOW)).toMatchObject({
      ok: false,
      code: 'too_old',
      detail: expect.stringMatching(/^at is 24 hours before .*more than 24 hours old are refused/),
    });
    // A clock off by a year (the case that started year-long sessions).
    expect(parseAt('2024-01-31T09:30:00Z', NOW)).toMatchObject({
      ok: false,
      code: 'too_old',
      detail: expect.stringContaining('366 days'),
    });
  });

  it('refuses non-finite numbers and epoch seconds', () => {
    expect(parseAt(Number.NaN, NOW).ok).toBe(false);
    expect(parseAt(Number.POSITIVE_INFINITY, NOW).ok).toBe(false);
    expect(parseAt(1_738_315_800, NOW).ok).toBe(false);
  });
});
