// Fuzzing every protocol adapter's parse function directly (the cheap bulk of the fuzz cases): whatever bytes a
// device sends, parse never throws and answers either well-formed observations or a rejection with a code and a
// short human detail. Where the protocol is simple enough, an oracle written from the docs says which.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { adapters, matchTopic } from '../../src/adapters/index.js';
import type { ParseResult, TopicMatch } from '../../src/adapters/adapter.js';
import { MAX_PAYLOAD_BYTES, MIN_EPOCH_MS } from '../../src/adapters/common.js';
import { POSTURES, PROTOCOLS, type Device, type Protocol, type Role } from '../../src/domain/types.js';
import { Topics } from '../../src/mqtt/topics.js';
import {
  HOSTILE_KEYS,
  deviceJsonText,
  describePayload,
  hostilePayload,
  plainValue,
  unknotEventText,
  wearableEvent,
  z2mStateText,
} from './payloads.js';
import { scaled, tally } from './tally.js';

const topics = new Topics({ base: 'unknot', z2m: 'zigbee2mqtt', haPrefix: 'homeassistant' });
const NOW = Date.parse('2026-11-24T09:30:00.000Z');
const ctx = { topics, now: NOW };
const counts = tally('adapters');

afterAll(() => counts.flush());

const ACTIONS = ['snooze', 'ack', 'heat_on', 'heat_off', 'routine_stop'];
const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort().join(',');

const deviceArb = (protocol: Protocol, roles: readonly Role[]): fc.Arbitrary<Device> =>
  fc
    .record({
      role: fc.constantFrom(...roles),
      invert: fc.boolean(),
      // Tasmota and Shelly devices on their first or a later relay/input (`channel`), or without one.
      channel: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    })
    .map(({ role, invert, channel }) => ({
      deviceId: `${protocol}-${role}`,
      userId: 'ana',
      role,
      protocol,
      ...(protocol === 'unknot' ? {} : { topic: protocol === 'tasmota' ? 'pad' : 'office/seat' }),
      ...(invert ? { invert } : {}),
      ...(channel !== undefined && (protocol === 'tasmota' || protocol === 'shelly') ? { channel } : {}),
    }));

/**
 * An empty payload is how Zigbee2MQTT, Tasmota and Shelly clear a retained topic (device renamed or removed): on a
 * state or availability topic it is accepted and says nothing (docs/integrations/zigbee2mqtt.md).
 */
const cleared = (payload: Buffer) => payload.byteLength === 0;

const ALL_ROLES: Role[] = ['desk', 'chair', 'wearable', 'hub', 'heatpad'];

/** What every parse result must be, whatever came in. Returns the result for oracle checks. */
function checkResult(protocol: Protocol, device: Device, match: TopicMatch, payload: Buffer): ParseResult {
  let result: ParseResult;
  try {
    result = adapters[protocol].parse(device, match, payload, ctx);
  } catch (err) {
    throw new Error(`${protocol}/${match.kind} parse threw ${String(err)} on ${describePayload(payload)}`, {
      cause: err,
    });
  }
  const where = `${protocol}/${match.kind} (${device.role}) on ${describePayload(payload)}: ${JSON.stringify(result).slice(0, 300)}`;
  expect(result, where).toBeTypeOf('object');
  if (!result.ok) {
    expect(result.code, where).toMatch(/^[a-z][a-z_]*$/);
    expect(result.detail, where).toBeTypeOf('string');
    expect(result.detail.trim().length, where).toBeGreaterThan(0);
    // A detail is a sentence for a person, never the payload echoed back.
    expect(result.detail.length, where).toBeLessThanOrEqual(600);
    // The adapters' own last line of defence turns a throw into this: reaching it means a parser threw.
    expect(result.detail, where).not.toMatch(/^payload could not be read/);
    if (payload.byteLength > MAX_PAYLOAD_BYTES) expect(result.code, where).toBe('too_large');
  } else {
    expect(payload.byteLength, where).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expect(Array.isArray(result.observations), where).toBe(true);
    for (const o of result.observations) {
      expect(Number.isFinite(o.at), where).toBe(true);
      expect(o.at, where).toBeLessThanOrEqual(NOW);
      expect(o.at, where).toBeGreaterThanOrEqual(MIN_EPOCH_MS);
      switch (o.type) {
        case 'posture':
          expect(POSTURES, where).toContain(o.posture);
          if (protocol !== 'unknot') expect(['desk', 'chair'], where).toContain(device.role);
          break;
        case 'action':
          expect(protocol, where).toBe('unknot');
          expect(ACTIONS, where).toContain(o.action);
          if (o.minutes !== undefined) expect(Number.isFinite(o.minutes) && o.minutes > 0, where).toBe(true);
          // The API's snooze range; the domain has no other bound on it.
          if (o.action === 'snooze' && o.minutes !== undefined)
            expect(o.minutes >= 1 && o.minutes <= 60, where).toBe(true);
          break;
        case 'heat':
          expect(['on', 'off'], where).toContain(o.state);
          if (protocol !== 'unknot') expect(device.role, where).toBe('heatpad');
          break;
        case 'availability':
          expect(typeof o.online, where).toBe('boolean');
          break;
        default:
          expect.fail(`unknown observation ${JSON.stringify(o)} from ${where}`);
      }
      if ('id' in o && o.id !== undefined) {
        expect(typeof o.id === 'string' && o.id.length >= 1 && o.id.length <= 128, where).toBe(true);
      }
    }
  }
  // Prototype-pollution keys in a payload must stay data.
  expect(Object.getOwnPropertyNames(Object.prototype).sort().join(','), where).toBe(prototypeNames);
  expect(({} as Record<string, unknown>).output, where).toBeUndefined();
  return result;
}

/** The payload as the adapters must read it: at most 16 KiB of strict UTF-8, else null. */
function textOf(payload: Buffer): string | null {
  if (payload.byteLength > MAX_PAYLOAD_BYTES) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    return null;
  }
}

/** docs/integrations/: these kinds read a JSON object; anything else is refused, and any object is accepted. */
function isJsonObjectPayload(payload: Buffer): boolean {
  const text = textOf(payload);
  if (text === null) return false;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * README: a Z2M state is any JSON object, but a seat sensor's presence/occupancy/contact must be a boolean or null
 * and its presence_state a string or null. An empty payload (a cleared retained topic) is accepted.
 */
function z2mStateOracle(payload: Buffer, device: Device): boolean {
  if (cleared(payload)) return true;
  if (!isJsonObjectPayload(payload)) return false;
  if (device.role !== 'desk' && device.role !== 'chair') return true;
  const v = JSON.parse(textOf(payload)!) as Record<string, unknown>;
  const ps = v.presence_state;
  return (
    ['presence', 'occupancy', 'contact'].every(
      (f) => v[f] === undefined || v[f] === null || typeof v[f] === 'boolean',
    ) &&
    (ps === undefined || ps === null || typeof ps === 'string')
  );
}

interface Target {
  name: string;
  protocol: Protocol;
  kind: string;
  roles: readonly Role[];
  payloads: fc.Arbitrary<Buffer>;
  numRuns: number;
  /** Whether the payload must be accepted (true) or refused (false), from the docs; absent: no oracle. */
  oracle?: (payload: Buffer, device: Device) => boolean;
}

const plainOracle = (accepted: (t: string) => boolean) => (payload: Buffer) => {
  const text = textOf(payload);
  return text !== null && accepted(text);
};

/** A retained state/availability topic: also accepts the empty payload that clears it. */
const orCleared =
  (oracle: (payload: Buffer, device: Device) => boolean) =>
  (payload: Buffer, device: Device): boolean =>
    cleared(payload) || oracle(payload, device);

const TARGETS: Target[] = [
  {
    name: 'unknot event',
    protocol: 'unknot',
    kind: 'event',
    roles: ALL_ROLES,
    payloads: hostilePayload(unknotEventText),
    numRuns: 3_000,
  },
  {
    name: 'zigbee2mqtt state',
    protocol: 'zigbee2mqtt',
    kind: 'state',
    roles: ALL_ROLES,
    payloads: hostilePayload(z2mStateText),
    numRuns: 1_000,
    oracle: z2mStateOracle,
  },
  {
    name: 'zigbee2mqtt availability',
    protocol: 'zigbee2mqtt',
    kind: 'availability',
    roles: ALL_ROLES,
    payloads: hostilePayload(plainValue.map((b) => b.toString('utf8'))),
    numRuns: 500,
    oracle: orCleared(
      plainOracle((t) => {
        const v = t.trim();
        if (v === 'online' || v === 'offline') return true;
        if (!v.startsWith('{')) return false;
        try {
          const s = (JSON.parse(v) as { state?: unknown } | null)?.state;
          return s === 'online' || s === 'offline';
        } catch {
          return false;
        }
      }),
    ),
  },
  ...(['POWER', 'POWER1', 'POWER2', 'POWER3'] as const).map((kind) => ({
    name: `tasmota ${kind}`,
    protocol: 'tasmota' as const,
    kind,
    roles: ALL_ROLES,
    payloads: hostilePayload(plainValue.map((b) => b.toString('utf8'))),
    numRuns: 300,
    // A POWER<n> of another relay than the device's channel says nothing, whatever it holds.
    oracle: (payload: Buffer, device: Device) => {
      const n = device.channel ?? 1;
      if (kind !== `POWER${n}` && !(kind === 'POWER' && n === 1)) return textOf(payload) !== null;
      return orCleared(plainOracle((t) => ['ON', 'OFF'].includes(t.trim().toUpperCase())))(payload, device);
    },
  })),
  ...(['RESULT', 'STATE', 'SENSOR'] as const).map((kind) => ({
    name: `tasmota ${kind}`,
    protocol: 'tasmota' as const,
    kind,
    roles: ALL_ROLES,
    payloads: hostilePayload(deviceJsonText),
    numRuns: 400,
    oracle: orCleared(isJsonObjectPayload),
  })),
  {
    name: 'tasmota LWT',
    protocol: 'tasmota',
    kind: 'LWT',
    roles: ALL_ROLES,
    payloads: hostilePayload(plainValue.map((b) => b.toString('utf8'))),
    numRuns: 300,
    oracle: orCleared(plainOracle((t) => ['online', 'offline'].includes(t.trim().toLowerCase()))),
  },
  ...(['status/switch:0', 'status/switch:1', 'status/input:0', 'status/input:3'] as const).map((kind) => ({
    name: `shelly ${kind}`,
    protocol: 'shelly' as const,
    kind,
    roles: ALL_ROLES,
    payloads: hostilePayload(deviceJsonText),
    numRuns: 300,
    oracle: orCleared(isJsonObjectPayload),
  })),
  ...(['events', 'rpc_reply'] as const).map((kind) => ({
    name: `shelly ${kind}`,
    protocol: 'shelly' as const,
    kind,
    roles: ALL_ROLES,
    payloads: hostilePayload(deviceJsonText),
    numRuns: kind === 'rpc_reply' ? 200 : 500,
    oracle: isJsonObjectPayload,
  })),
  {
    name: 'shelly online',
    protocol: 'shelly',
    kind: 'online',
    roles: ALL_ROLES,
    payloads: hostilePayload(plainValue.map((b) => b.toString('utf8'))),
    numRuns: 300,
    oracle: orCleared(plainOracle((t) => ['true', 'false'].includes(t.trim()))),
  },
];

describe('every adapter parse function, on generated payloads', () => {
  for (const target of TARGETS) {
    it(`${target.name}: never throws; observations or a coded rejection with a short detail`, () => {
      const match: TopicMatch = { protocol: target.protocol, key: 'key', kind: target.kind };
      let runs = 0;
      let accepted = 0;
      fc.assert(
        fc.property(deviceArb(target.protocol, target.roles), target.payloads, (device, payload) => {
          runs++;
          const result = checkResult(target.protocol, device, match, payload);
          if (result.ok) accepted++;
          if (target.oracle) {
            expect(
              result.ok,
              `${target.name} on ${describePayload(payload)}: ${JSON.stringify(result).slice(0, 200)}`,
            ).toBe(target.oracle(payload, device));
          }
        }),
        { numRuns: scaled(target.numRuns) },
      );
      expect(runs).toBe(scaled(target.numRuns));
      counts.add(`parse: ${target.name}`, runs);
      // The generators reach both sides of the parser, or the fuzzing would prove little.
      expect(accepted, 'some generated payloads are accepted').toBeGreaterThan(0);
      expect(accepted, 'some generated payloads are refused').toBeLessThan(runs);
    });
  }

  it('unknot activity and steps events follow the wearable rules of the docs', () => {
    const MOVING = ['walking', 'running', 'on_foot', 'on_bicycle', 'cycling'];
    const AWAY = ['automotive', 'in_vehicle'];
    const numRuns = scaled(1_500);
    let runs = 0;
    fc.assert(
      fc.property(deviceArb('unknot', ['wearable', 'hub']), wearableEvent, (device, ev) => {
        runs++;
        const payload = Buffer.from(ev.text, 'utf8');
        const result = checkResult(
          'unknot',
          device,
          { protocol: 'unknot', key: device.deviceId, kind: 'event' },
          payload,
        );
        const where = `${ev.text}: ${JSON.stringify(result)}`;
        if (ev.kind === 'activity') {
          if (typeof ev.activity !== 'string') return void expect(result.ok, where).toBe(false);
          expect(result.ok, where).toBe(true);
          const name = ev.activity
            .trim()
            .toLowerCase()
            .replace(/[\s-]+/g, '_');
          const expected = MOVING.includes(name) ? 'moving' : AWAY.includes(name) ? 'away' : null;
          const got = result.ok ? result.observations.map((o) => (o.type === 'posture' ? o.posture : o.type)) : [];
          expect(got, where).toEqual(expected ? [expected] : []);
          return;
        }
        const { count, periodSeconds } = ev;
        const valid =
          Number.isInteger(count) &&
          (count as number) >= 0 &&
          Number.isInteger(periodSeconds) &&
          (periodSeconds as number) >= 1 &&
          (periodSeconds as number) <= 86_400;
        expect(result.ok, where).toBe(valid);
        if (!valid || !result.ok) return;
        // At least 10 steps and at least 20 steps a minute over the period count as moving; less says nothing.
        const moving = (count as number) >= 10 && (count as number) / ((periodSeconds as number) / 60) >= 20;
        expect(
          result.observations.map((o) => (o.type === 'posture' ? o.posture : o.type)),
          where,
        ).toEqual(moving ? ['moving'] : []);
      }),
      { numRuns },
    );
    expect(runs).toBe(numRuns);
    counts.add('parse: unknot activity/steps rules', runs);
  });

  it('prototype-pollution keys in an event are data: they neither pollute nor smuggle fields in', () => {
    const numRuns = scaled(300);
    let runs = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...HOSTILE_KEYS),
        fc.constantFrom('posture', 'type', 'at', 'id', 'minutes'),
        (key, field) => {
          runs++;
          // Only the smuggled field would make this event valid; an own property is what JSON.parse makes of it.
          const smuggled = {
            posture: '"sitting"',
            type: '"posture"',
            at: '"2026-11-24T09:00:00Z"',
            id: '"e-1"',
            minutes: '5',
          }[field];
          const base: Record<string, string> = { type: '"posture"', posture: '"sitting"' };
          delete base[field];
          const text = `{${Object.entries(base)
            .map(([k, v]) => `"${k}":${v}`)
            .concat(`"${key}":{"${field}":${smuggled}}`)
            .join(',')}}`;
          const result = checkResult(
            'unknot',
            { deviceId: 'd', userId: 'u', role: 'desk', protocol: 'unknot' },
            { protocol: 'unknot', key: 'd', kind: 'event' },
            Buffer.from(text),
          );
          if (field === 'posture' || field === 'type') expect(result.ok, text).toBe(false);
          else if (result.ok) {
            const o = result.observations[0] as Record<string, unknown>;
            expect(o, text).not.toHaveProperty('minutes');
            expect(o.id, text).toBeUndefined();
            expect(o.at, text).toBe(NOW);
          }
        },
      ),
      { numRuns },
    );
    counts.add('parse: prototype keys', runs);
  });
});

describe('topic matching, on generated topics', () => {
  const LEVELS = [
    'unknot',
    'devices',
    'event',
    'zigbee2mqtt',
    'stat',
    'tele',
    'POWER',
    'POWER1',
    'RESULT',
    'STATE',
    'LWT',
    'status',
    'switch:0',
    'events',
    'rpc',
    'online',
    'availability',
    'set',
    'get',
    'bridge',
    'shelly',
    '',
    '..',
    '+',
    '#',
    '$SYS',
  ];
  const level = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...LEVELS) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 70 }) },
  );

  it('never throws, and a match names a concrete key of a protocol that reads that topic', () => {
    const numRuns = scaled(1_500);
    let runs = 0;
    fc.assert(
      fc.property(fc.array(level, { minLength: 1, maxLength: 6 }), (levels) => {
        runs++;
        const topic = levels.join('/');
        const m = matchTopic(topic, topics);
        if (!m) return;
        expect(PROTOCOLS, topic).toContain(m.match.protocol);
        expect(m.match.key.length, topic).toBeGreaterThan(0);
        expect(m.match.key, topic).not.toMatch(/[+#\u0000]/);
        if (m.match.protocol === 'unknot') expect(topic, topic).toBe(`unknot/devices/${m.match.key}/event`);
        if (m.match.protocol === 'zigbee2mqtt') {
          expect(topic.startsWith('zigbee2mqtt/'), topic).toBe(true);
          expect(m.match.key.split('/')[0], topic).not.toBe('bridge');
          expect(m.match.key.split('/'), topic).not.toContain('');
        }
      }),
      { numRuns },
    );
    counts.add('match: random topics', runs);
  });

  it('a device address built by Topics is read back as that device', () => {
    const idArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
    const levelArb = fc.stringMatching(/^[^/+#\u0000]{1,20}$/);
    const numRuns = scaled(500);
    let runs = 0;
    fc.assert(
      fc.property(
        idArb,
        levelArb,
        fc.array(levelArb, { minLength: 1, maxLength: 3 }),
        (id, tasmotaTopic, nameLevels) => {
          runs++;
          expect(matchTopic(topics.deviceEvent(id), topics)?.match).toEqual({
            protocol: 'unknot',
            key: id,
            kind: 'event',
          });
          if (tasmotaTopic !== 'unknot' && tasmotaTopic !== 'zigbee2mqtt') {
            expect(matchTopic(topics.tasmotaStat(tasmotaTopic, 'POWER'), topics)?.match).toEqual({
              protocol: 'tasmota',
              key: tasmotaTopic,
              kind: 'POWER',
            });
          }
          const name = nameLevels.join('/');
          const readable =
            nameLevels[0] !== 'bridge' &&
            !nameLevels.slice(1).some((l) => l === 'set' || l === 'get') &&
            nameLevels.at(-1) !== 'availability';
          if (readable)
            expect(matchTopic(topics.z2mState(name), topics)?.match).toEqual({
              protocol: 'zigbee2mqtt',
              key: name,
              kind: 'state',
            });
        },
      ),
      { numRuns },
    );
    counts.add('match: built device topics', runs);
  });
});

describe('regressions found by fuzzing', () => {
  const desk: Device = { deviceId: 'd', userId: 'u', role: 'desk', protocol: 'unknot' };
  const parse = (text: string) =>
    checkResult('unknot', desk, { protocol: 'unknot', key: 'd', kind: 'event' }, Buffer.from(text));

  it('an ISO 8601 time before 2000 (a device clock never set) is refused like epoch ms before 2000', () => {
    // Accepted before: a sitting event "at 1970" started a 56-year session and sent its nudges at once.
    for (const at of ['1970-01-01T00:00:05Z', '1999-12-31T23:59:59.999Z', '1999-12-31T23:30:00+01:00']) {
      const r = parse(JSON.stringify({ type: 'posture', posture: 'sitting', at }));
      expect(r, at).toMatchObject({ ok: false, code: 'invalid_event', detail: expect.stringContaining('2000-01-01') });
    }
    // From 2000 on, only the age bound (24 h before receipt) applies.
    for (const at of ['2000-01-01T00:00:00Z', '2000-01-01T01:00:00+01:00']) {
      expect(parse(JSON.stringify({ type: 'posture', posture: 'sitting', at })), at).toMatchObject({
        ok: false,
        code: 'too_old',
      });
    }
    for (const at of [new Date(NOW - 23 * 3_600_000).toISOString(), '2026-11-24T10:30:00+01:00']) {
      expect(parse(JSON.stringify({ type: 'posture', posture: 'sitting', at })), at).toMatchObject({ ok: true });
    }
  });

  it('a snooze button with minutes outside 1–60 is refused (a huge one overflowed the dates and wedged ingest)', () => {
    for (const minutes of [1e308, 1e15, 61, 0.5]) {
      expect(parse(JSON.stringify({ type: 'action', action: 'snooze', minutes })), String(minutes)).toMatchObject({
        ok: false,
        code: 'invalid_event',
        detail: expect.stringContaining('1 to 60'),
      });
    }
    for (const minutes of [1, 60, 12.5]) {
      expect(parse(JSON.stringify({ type: 'action', action: 'snooze', minutes })), String(minutes)).toMatchObject({
        ok: true,
        observations: [{ action: 'snooze', minutes }],
      });
    }
    // Heat minutes stay with the heat rules, which answer invalid_minutes / too_long themselves.
    expect(parse(JSON.stringify({ type: 'action', action: 'heat_on', minutes: 1e308 }))).toMatchObject({ ok: true });
  });
});
