// fast-check generators of hostile device input, shared by the pure adapter fuzz tests and the end-to-end ones:
// huge payloads, bytes that are not UTF-8, text that is not JSON, deep nesting, prototype-pollution keys, numbers
// JSON cannot carry, every field of every event with a wrong type, and near-valid events around the edges.
import fc from 'fast-check';
import { MAX_PAYLOAD_BYTES } from '../../src/adapters/common.js';

const enc = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Object keys that have burnt JavaScript parsers before, plus the fields the adapters read. */
export const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
];
const FIELD_KEYS = [
  'type',
  'posture',
  'activity',
  'count',
  'periodSeconds',
  'action',
  'minutes',
  'state',
  'at',
  'id',
  'presence',
  'occupancy',
  'contact',
  'POWER',
  'POWER1',
  'output',
  'method',
  'params',
  'switch:0',
  'src',
  'error',
];

/** JSON text tokens for numbers JavaScript or JSON cannot hold as such (some make the text invalid JSON). */
const ODD_NUMBER_TEXT = [
  '1e309',
  '-1e309',
  '1e-400',
  '-0',
  '9007199254740993',
  '1.7976931348623157e308',
  '4.9e-324',
  '0.1e1',
  '1E2',
  'NaN',
  '-NaN',
  'Infinity',
  '-Infinity',
  '0x10',
  '01',
  '+1',
  '.5',
  '5.',
  '1e',
  '--1',
];
/** The same as JSON strings: a field that must be a number gets text that looks like one. */
const ODD_NUMBER_STRINGS = ['"1e309"', '"NaN"', '"Infinity"', '"10"', '"-5"', '" 12 "', '""'];

/** Values of every JSON type, including the awkward ones, as JSON text. */
export const wrongValueText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'null',
    'true',
    'false',
    '0',
    '-1',
    '1.5',
    '1e308',
    '-1e308',
    '[]',
    '{}',
    '""',
    '" "',
    '[null]',
    '{"":null}',
  ),
  fc.constantFrom(...ODD_NUMBER_TEXT, ...ODD_NUMBER_STRINGS),
  fc.constantFrom(
    '"SITTING"',
    '" sitting"',
    '"sitting\\u0000"',
    '"ON "',
    '"on"',
    '"Online"',
    '"true"',
    '"heat_on "',
    '"walking"',
  ),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => JSON.stringify(s)),
);

/** An object as JSON text built from entries, so `__proto__` really is a key in the text and duplicates stay. */
export const objectText = (entries: ReadonlyArray<readonly [string, string]>): string =>
  `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

const keyArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...FIELD_KEYS) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_KEYS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** An object with arbitrary keys (hostile ones often) and arbitrary, often wrongly typed, values. */
export const hostileObjectText: fc.Arbitrary<string> = fc
  .array(fc.tuple(keyArb, wrongValueText), { maxLength: 8 })
  .map((entries) => objectText(entries));

/** `[[[…]]]` or `{"a":{"a":…}}` nested `depth` times (stays below 16 KiB up to a depth of ~2,700 for objects). */
export const deepText = (depth: number, kind: 'array' | 'object', inner = 'null'): string =>
  kind === 'array'
    ? `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;

export const deepNesting: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.integer({ min: 1, max: 2_600 }),
    fc.constantFrom<'array' | 'object'>('array', 'object'),
    fc.boolean(),
    fc.constantFrom(...FIELD_KEYS),
  )
  .map(([depth, kind, wrapped, key]) =>
    // Either the whole payload is nested, or one field of an otherwise plausible event is.
    enc(
      wrapped
        ? objectText([
            ['type', '"posture"'],
            [key, deepText(depth, kind)],
          ])
        : deepText(depth, kind),
    ),
  );

/** Larger than the 16 KiB limit: valid-looking events padded out, or plain filler. */
export const hugePayload: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.integer({ min: MAX_PAYLOAD_BYTES + 1, max: 3 * MAX_PAYLOAD_BYTES }),
    fc.constantFrom('event', 'filler', 'online', 'ON'),
  )
  .map(([size, kind]) => {
    if (kind === 'filler') return Buffer.alloc(size, 0x7b);
    // A payload that would be accepted if it were not so large: the size check must come first.
    const head =
      kind === 'event' ? '{"type":"posture","posture":"sitting","occupancy":true,"presence":true,"pad":"' : '';
    const tail = kind === 'event' ? '"}' : '';
    const word = kind === 'event' ? '' : kind;
    const fill = Math.max(0, size - head.length - tail.length - word.length);
    return enc(`${head}${word}${' '.repeat(fill)}${tail}`);
  });

/** Byte sequences that are not UTF-8: stray continuation bytes, overlong forms, encoded surrogates, truncation. */
const BAD_UTF8 = [
  [0xff],
  [0xfe],
  [0xc0, 0x80],
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xed, 0xa0, 0x80],
  [0xf0, 0x28, 0x8c, 0x28],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82],
];

export const notUtf8: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.constantFrom('', '{"type":"posture","posture":"', 'ON', 'online', '{"presence":true,"x":"'),
    fc.constantFrom(...BAD_UTF8),
    fc.constantFrom('', '"}', 'sitting"}'),
  )
  .map(([before, bad, after]) => Buffer.concat([enc(before), Buffer.from(bad), enc(after)]));

/** Text that is not JSON (or JSON with junk around it). */
export const notJson: fc.Arbitrary<Buffer> = fc
  .oneof(
    fc.constantFrom(
      '',
      ' ',
      'not json at all',
      '{',
      '}',
      '{"type":"posture",',
      "{'type':'posture'}",
      '{type:posture}',
      '[1,2',
      '{"a":1}}',
      '{"a":1} x',
      'undefined',
      'NaN',
      '{"at":NaN}',
      '{"count":1e309x}',
      '\u0000',
      '\ufeff',
      '{"a":"\\u12"}',
      '{"a":"\\x41"}',
    ),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({ maxLength: 80 }).map((s) => `{${s}`),
  )
  .map(enc);

/** Raw bytes of any kind. */
export const randomBytes: fc.Arbitrary<Buffer> = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a));

/** Well-formed JSON documents of every type, mostly not objects an adapter expects. */
export const anyJson: fc.Arbitrary<Buffer> = fc.jsonValue({ maxDepth: 4 }).map((v) => enc(JSON.stringify(v) ?? 'null'));

/** Timestamps around every edge `parseAt` has. */
export const atText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '"2026-11-24T09:00:00Z"',
    '"2026-11-24T09:00:00+02:00"',
    '"2026-11-24 09:00:00.123456789+0200"',
    '"2026-11-24T09:00:00"',
    '"2026-02-30T09:00:00Z"',
    '"2026-13-01T00:00:00Z"',
    '"1969-12-31T23:59:59Z"',
    '"0000-01-01T00:00:00Z"',
    '"2026-11-24T24:00:00Z"',
    '"2026-11-24T09:00:00+24:00"',
    '"2026-11-24T09:00:60Z"',
    '"yesterday"',
    '""',
    '"  2026-11-24T09:00:00Z  "',
    '"2999-01-01T00:00:00Z"',
    '1700000000',
    '1700000000000',
    '946684799999',
    '946684800000',
    '8640000000000001',
    '1e309',
    '-1e309',
    '-1',
    '0',
    '1.5e12',
    'null',
    'true',
    '[]',
    '{}',
  ),
  fc.integer({ min: -1, max: 4_102_444_800_000 }).map(String),
  fc.date({ noInvalidDate: true }).map((d) => JSON.stringify(d.toISOString())),
);

/** Event ids: allowed ones (1–128 characters of any text) and not allowed ones. */
export const idText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ minLength: 1, maxLength: 128 }).map((s) => JSON.stringify(s)),
  fc.constantFrom(
    '""',
    'null',
    '0',
    '12',
    'true',
    '[]',
    '{}',
    '["e-1"]',
    JSON.stringify('x'.repeat(129)),
    JSON.stringify('é'.repeat(200)),
  ),
);

const POSTURE_VALUES = ['"sitting"', '"standing"', '"moving"', '"away"', '"lying"', '"Sitting"', '""'];
const ACTIVITY_VALUES = [
  '"walking"',
  '"Walking"',
  '" running "',
  '"on-foot"',
  '"on foot"',
  '"ON_BICYCLE"',
  '"cycling"',
  '"automotive"',
  '"in_vehicle"',
  '"still"',
  '"stationary"',
  '"tilting"',
  '"unknown"',
  '"teleporting"',
  '""',
  '"__proto__"',
  '"constructor"',
  '"toString"',
];
const ACTION_VALUES = ['"snooze"', '"ack"', '"heat_on"', '"heat_off"', '"routine_stop"', '"SNOOZE"', '"reboot"', '""'];

/** A value for a field: usually one from `good`, otherwise something of a wrong type or shape. */
const fieldValue = (good: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...good) }, { weight: 2, arbitrary: wrongValueText });

const optionalField = (key: string, value: fc.Arbitrary<string>): fc.Arbitrary<Array<[string, string]>> =>
  fc.option(value, { nil: undefined, freq: 2 }).map((v) => (v === undefined ? [] : [[key, v]]));

const withCommon = (type: string, fields: Array<fc.Arbitrary<Array<[string, string]>>>): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.constantFrom(JSON.stringify(type), JSON.stringify(type), '"Posture"', 'null', '1'),
      optionalField('at', atText),
      optionalField('id', idText),
      fc.array(fc.tuple(fc.constantFrom(...HOSTILE_KEYS, 'extra', 'note'), wrongValueText), { maxLength: 2 }),
      fc.tuple(...fields),
      fc.boolean(),
    )
    .map(([typeValue, at, id, extra, parts, typeLast]) => {
      const entries: Array<[string, string]> = [...parts.flat(), ...at, ...id, ...extra];
      return objectText(typeLast ? [...entries, ['type', typeValue]] : [['type', typeValue], ...entries]);
    });

/** Canonical unknot events near the contract: right shapes with wrong values, wrong types for every field. */
export const unknotEventText: fc.Arbitrary<string> = fc.oneof(
  withCommon('posture', [optionalField('posture', fieldValue(POSTURE_VALUES))]),
  withCommon('activity', [optionalField('activity', fieldValue(ACTIVITY_VALUES))]),
  withCommon('steps', [
    optionalField('count', fc.oneof(fc.integer({ min: -5, max: 400 }).map(String), wrongValueText)),
    optionalField('periodSeconds', fc.oneof(fc.integer({ min: -5, max: 90_000 }).map(String), wrongValueText)),
  ]),
  withCommon('action', [
    optionalField('action', fieldValue(ACTION_VALUES)),
    optionalField(
      'minutes',
      fc.oneof(fc.constantFrom('10', '0', '-5', '0.5', '1e309', '1e308', '"10"', 'null'), wrongValueText),
    ),
  ]),
  withCommon('heat', [optionalField('state', fieldValue(['"on"', '"off"', '"ON"', '"maybe"']))]),
  withCommon('nonsense', []),
);

/** Activity and step events only, mostly well-formed, to exercise the wearable rules themselves. */
export const wearableEvent: fc.Arbitrary<{
  text: string;
  kind: 'activity' | 'steps';
  activity?: unknown;
  count?: unknown;
  periodSeconds?: unknown;
}> = fc.oneof(
  fc
    .oneof(
      fc.constantFrom(...ACTIVITY_VALUES.map((v) => JSON.parse(v) as string)),
      fc.string({ maxLength: 20 }),
      fc.constantFrom<unknown>(1, null, ['walking'], { walking: true }),
    )
    .map((activity) => ({ kind: 'activity' as const, activity, text: JSON.stringify({ type: 'activity', activity }) })),
  fc
    .tuple(
      fc.oneof(
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: -10, max: 1_000_000 }),
        fc.double({ noNaN: true, min: -10, max: 1_000 }),
        fc.constantFrom<unknown>('10', null, true),
      ),
      fc.oneof(
        fc.integer({ min: 1, max: 3_600 }),
        fc.integer({ min: -10, max: 100_000 }),
        fc.double({ noNaN: true, min: 0, max: 100 }),
        fc.constantFrom<unknown>('60', null, 0),
      ),
    )
    .map(([count, periodSeconds]) => ({
      kind: 'steps' as const,
      count,
      periodSeconds,
      text: JSON.stringify({ type: 'steps', count, periodSeconds }),
    })),
);

/** Z2M state reports near the protocol: the seat and plug fields with right and wrong types. */
export const z2mStateText: fc.Arbitrary<string> = fc
  .tuple(
    optionalField('presence', fieldValue(['true', 'false', 'null'])),
    optionalField('occupancy', fieldValue(['true', 'false', 'null'])),
    optionalField('contact', fieldValue(['true', 'false'])),
    // Tuya radars (zigbee-herdsman-converters src/devices/tuya.ts): an enum, of several vocabularies.
    optionalField(
      'presence_state',
      fieldValue(['"none"', '"presence"', '"motion"', '"stationary"', '"NONE"', '"large_movement"', '""', 'null']),
    ),
    optionalField('state', fieldValue(['"ON"', '"OFF"', '"on"', '" off "', '"TOGGLE"', 'null'])),
    optionalField('state_l2', fieldValue(['"ON"', '"OFF"', 'null'])),
    fc.array(fc.tuple(keyArb, wrongValueText), { maxLength: 3 }),
  )
  .map((parts) => objectText(parts.flat()));

/** Plain-text single values as Tasmota, Shelly and Z2M availability send them, right and wrong. */
export const plainValue: fc.Arbitrary<Buffer> = fc
  .oneof(
    fc.constantFrom(
      'ON',
      'OFF',
      'on',
      ' off ',
      'On',
      'TOGGLE',
      '1',
      '0',
      'Online',
      'Offline',
      'online',
      'offline',
      'true',
      'false',
      'True',
      '',
      '{"state":"online"}',
      '{"state":"offline"}',
      '{"state":"ONLINE"}',
      '{"state":null}',
      '{"state":',
      '{}',
      '[]',
      '"online"',
    ),
    fc.string({ maxLength: 20 }),
  )
  .map(enc);

/** Tasmota RESULT/STATE and Shelly status/events frames near the protocol. */
export const deviceJsonText: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      optionalField('POWER', fieldValue(['"ON"', '"OFF"', '"on"'])),
      optionalField('POWER1', fieldValue(['"ON"', '"OFF"'])),
      optionalField('POWER2', fieldValue(['"ON"', '"OFF"'])),
      // Inputs: `tele/…/SENSOR` with SwitchMode 15, `stat/…/RESULT` with SetOption114 (Tasmota's docs).
      optionalField(
        'Switch1',
        fieldValue(['"ON"', '"OFF"', '{"Action":"ON"}', '{"Action":"OFF"}', '{"Action":"TOGGLE"}']),
      ),
      optionalField('Switch2', fieldValue(['"ON"', '{"Action":"OFF"}'])),
      fc.array(fc.tuple(keyArb, wrongValueText), { maxLength: 2 }),
    )
    .map((parts) => objectText(parts.flat())),
  fc
    .tuple(
      optionalField('id', fieldValue(['0', '1'])),
      optionalField('output', fieldValue(['true', 'false'])),
      // An input of type switch (`state` true/false) or button (`state` null).
      optionalField('state', fieldValue(['true', 'false', 'null'])),
      fc.array(fc.tuple(keyArb, wrongValueText), { maxLength: 2 }),
    )
    .map((parts) => objectText(parts.flat())),
  fc
    .tuple(
      fieldValue(['"NotifyStatus"', '"NotifyFullStatus"', '"NotifyEvent"']),
      fc.oneof(
        fc.constantFrom(
          '{"switch:0":{"output":true}}',
          '{"switch:1":{"output":false}}',
          '{"input:0":{"id":0,"state":true}}',
          '{"input:3":{"id":3,"state":false}}',
          '{"switch:0":{"output":"true"}}',
          '{"switch:0":null}',
          '{"switch:0":[]}',
          '{"__proto__":{"output":true}}',
          '{}',
        ),
        wrongValueText,
      ),
    )
    .map(([method, params]) =>
      objectText([
        ['src', '"shellyplus1-a8032ab12345"'],
        ['method', method],
        ['params', params],
      ]),
    ),
);

/** Every kind of hostile payload, weighted towards the structured ones that get past JSON.parse. */
export function hostilePayload(structured: fc.Arbitrary<string>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 6, arbitrary: structured.map(enc) },
    { weight: 3, arbitrary: hostileObjectText.map(enc) },
    { weight: 1, arbitrary: hugePayload },
    { weight: 1, arbitrary: notUtf8 },
    { weight: 2, arbitrary: notJson },
    { weight: 1, arbitrary: deepNesting },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: randomBytes },
    { weight: 1, arbitrary: plainValue },
  );
}

/** A short printable description of a payload for failure messages. */
export const describePayload = (payload: Buffer): string =>
  payload.length > 200
    ? `${payload.length} bytes starting ${JSON.stringify(payload.subarray(0, 120).toString('latin1'))}`
    : JSON.stringify(payload.toString('latin1'));
