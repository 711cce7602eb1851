// Shared fixtures for the adapter unit tests: one set of topic roots, a fixed receipt time, device builders.
import { expect } from 'vitest';
import type { AdapterContext, ParseResult } from '../../../src/adapters/adapter.js';
import type { Device, Observation, Protocol, Role } from '../../../src/domain/types.js';
import { Topics } from '../../../src/mqtt/topics.js';

export const topics = new Topics({ base: 'unknot', z2m: 'zigbee2mqtt', haPrefix: 'homeassistant' });

/** Receipt time of every message in these tests. */
export const NOW = Date.parse('2025-01-31T09:30:00.000Z');
export const ctx: AdapterContext = { topics, now: NOW };

export const device = (protocol: Protocol, role: Role, extra: Partial<Device> = {}): Device => ({
  deviceId: `${role}-1`,
  userId: 'alice',
  role,
  protocol,
  ...extra,
});

export const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
export const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

/** The observations of a successful parse; fails the test with the rejection otherwise. */
export function observations(result: ParseResult): Observation[] {
  if (!result.ok) expect.fail(`expected ok, got ${result.code}: ${result.detail}`);
  return result.observations;
}

/** The code of a rejected parse; fails the test when it was accepted. */
export function rejection(result: ParseResult): { code: string; detail: string } {
  if (result.ok) expect.fail(`expected a rejection, got ${JSON.stringify(result.observations)}`);
  return { code: result.code, detail: result.detail };
}

/** Inputs no parser may throw on: binary, oversized, and every JSON type that is not the expected one. */
export const GARBAGE: ReadonlyArray<[string, Buffer]> = [
  ['empty', Buffer.alloc(0)],
  ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80])],
  ['random binary', Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 167 + 13) % 256))],
  ['NUL bytes', Buffer.alloc(64)],
  ['huge', Buffer.alloc(1024 * 1024, 0x7b)],
  ['null', bytes('null')],
  ['array', bytes('[1,2,3]')],
  ['array of objects', bytes('[{"presence":true}]')],
  ['number', bytes('42')],
  ['string', bytes('"ON"')],
  ['true', bytes('true')],
  ['deeply nested', bytes(`${'['.repeat(5000)}${']'.repeat(5000)}`)],
  ['__proto__', bytes('{"__proto__":{"polluted":true},"constructor":{"prototype":{}}}')],
  ['truncated JSON', bytes('{"type":"posture","posture":')],
  ['UTF-8 BOM and JSON', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes('{"presence":true}')])],
];

/** Topics that are not any protocol's, or are malformed. */
export const GARBAGE_TOPICS: readonly string[] = [
  '',
  '/',
  '//',
  '#',
  '+',
  '+/+/+',
  'a/#',
  '\u0000',
  'unknot',
  'unknot/devices',
  'unknot/devices/',
  'unknot/devices//event',
  'unknot/devices/+/event',
  'unknot/devices/a/b/event',
  'zigbee2mqtt',
  'zigbee2mqtt/',
  'zigbee2mqtt//x',
  'zigbee2mqtt/#',
  'stat',
  'stat//POWER',
  'stat/+/POWER',
  'stat/a/b/POWER',
  '__proto__/constructor/POWER',
  'constructor/x/LWT',
  'status/switch:0',
  '/status/switch:0',
  'a/b/c/status/switch:0',
  'x'.repeat(100_000),
  '\ud800/online',
];
