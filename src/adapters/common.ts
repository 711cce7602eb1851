// Helpers every protocol adapter shares: bounded payload decoding, device timestamps, subscription filters
// and the few topic-splitting rules. Pure; nothing here reads the clock or the environment.
// (A separate module rather than index.ts so that the adapters and the registry do not import each other.)
import { assertTopicPart } from '../mqtt/topics.js';
import { type Device, InvalidInputError, type Posture } from '../domain/types.js';
import type { Adapter, AdapterContext, ParseResult, TopicMatch } from './adapter.js';

/** docs/reference/mqtt.md: an event is at most 16 KiB. Applied to every protocol, so nothing unbounded is ever parsed. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

export type Failure = Extract<ParseResult, { ok: false }>;

export const fail = (code: string, detail: string): Failure => ({ ok: false, code, detail });

export type Decoded<T> = { ok: true; value: T } | Failure;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The payload as text: size-checked first, then strict UTF-8 (invalid bytes are `not_json`, not U+FFFD). */
export function decodeText(payload: Buffer): Decoded<string> {
  if (!(payload instanceof Uint8Array)) return fail('invalid_event', 'payload is not a byte buffer');
  if (payload.byteLength > MAX_PAYLOAD_BYTES) {
    return fail('too_large', `payload is ${payload.byteLength} bytes; at most ${MAX_PAYLOAD_BYTES} are accepted`);
  }
  try {
    return { ok: true, value: utf8.decode(payload) };
  } catch {
    return fail('not_json', 'payload is not valid UTF-8 text');
  }
}

export function decodeJson(payload: Buffer): Decoded<unknown> {
  const text = decodeText(payload);
  if (!text.ok) return text;
  try {
    return { ok: true, value: JSON.parse(text.value) as unknown };
  } catch {
    return fail('not_json', `payload is not JSON: ${preview(text.value)}`);
  }
}

export type JsonObject = Record<string, unknown>;

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON object payload: `not_json` when it does not parse, `invalid_event` when it is not an object. */
export function decodeJsonObject(payload: Buffer): Decoded<JsonObject> {
  const json = decodeJson(payload);
  if (!json.ok) return json;
  if (!isObject(json.value)) return fail('invalid_event', `expected a JSON object, got ${describeJson(json.value)}`);
  return { ok: true, value: json.value };
}

export const describeJson = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

/** A short, printable excerpt of device input for error details (never the whole payload). */
export function preview(text: string, max = 40): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return JSON.stringify(clean.length > max ? `${clean.slice(0, max)}…` : clean);
}

/**
 * ISO 8601 date-time with a mandatory offset (`Z`, `+02:00`, `+0200`); `T` or a space between date and time;
 * seconds and fractions optional. A time without an offset is refused: reading it as local time would make the
 * result depend on the server's TZ.
 */
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

/**
 * Times before 2000-01-01 are refused: as epoch ms they are almost always epoch seconds sent by mistake, as ISO 8601
 * a device clock that was never set.
 */
export const MIN_EPOCH_MS = Date.UTC(2000, 0, 1);

const daysInMonth = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate();

function parseIso(text: string): number | null {
  const m = ISO_8601.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  // Date.UTC maps years 0–99 onto 1900–1999; nothing a sensor sends is that old anyway.
  if (year < 1970) return null;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const offsetHours = oh === undefined ? 0 : Number(oh);
  const offsetMinutes = om === undefined ? 0 : Number(om);
  if (offsetHours > 23 || offsetMinutes > 59) return null;
  const ms = frac === undefined ? 0 : Number(frac.padEnd(3, '0').slice(0, 3));
  const offset = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset;
}

export type ParsedAt = { ok: true; at: number } | { ok: false; detail: string; code?: 'too_old' };

/**
 * Oldest device time accepted, before receipt. A day covers a wearable that buffered a night offline and any real
 * clock skew; a clock off by more (a year, a reset RTC) would start a session long over and nudge at once.
 * Events older than the person's last decision (a few seconds) change nothing anyway: counted as stale.
 */
export const MAX_EVENT_AGE_MS = 24 * 3_600_000;

const ageText = (ms: number) =>
  ms >= 2 * 86_400_000 ? `${Math.floor(ms / 86_400_000)} days` : `${Math.floor(ms / 3_600_000)} hours`;

/**
 * A device-supplied time (`at`: ISO 8601 string or epoch ms) as epoch ms. Absent → `now` (time of receipt);
 * later than `now` → clamped to `now`, so a device clock running fast cannot schedule the future; more than
 * MAX_EVENT_AGE_MS before `now` → refused with code `too_old`.
 */
export function parseAt(at: unknown, now: number): ParsedAt {
  if (at === undefined) return { ok: true, at: now };
  let ms: number | null;
  if (typeof at === 'number') {
    if (!Number.isFinite(at)) return { ok: false, detail: 'at must be a finite number of epoch milliseconds' };
    if (at < MIN_EPOCH_MS) {
      return { ok: false, detail: 'at is before 2000-01-01; send epoch milliseconds, not seconds' };
    }
    ms = Math.round(at);
  } else if (typeof at === 'string') {
    ms = parseIso(at.trim());
    if (ms === null) {
      return {
        ok: false,
        detail: `at must be an ISO 8601 date-time with an offset, e.g. "2025-01-31T09:30:00Z"; got ${preview(at)}`,
      };
    }
    // Same floor as epoch ms: a device whose clock was never set reports 1970, which would start a decades-long session.
    if (ms < MIN_EPOCH_MS)
      return { ok: false, detail: `at is before 2000-01-01; is the device's clock set? got ${preview(at)}` };
  } else {
    return { ok: false, detail: 'at must be an ISO 8601 string or a number of epoch milliseconds' };
  }
  if (ms < now - MAX_EVENT_AGE_MS) {
    return {
      ok: false,
      code: 'too_old',
      detail: `at is ${ageText(now - ms)} before the event was received; events more than 24 hours old are refused (is the device's clock right?); got ${typeof at === 'string' ? preview(at) : new Date(ms).toISOString()}`,
    };
  }
  return { ok: true, at: Math.min(ms, now) };
}

/**
 * A subscription filter: validated topic parts (which may themselves hold `/`) and the wildcards `+` and `#`.
 * Topics.ts builds publishable topics only and refuses wildcards, so filters are assembled here, in one place.
 */
export function subscriptionFilter(...levels: string[]): string {
  return levels
    .map((level, i) => {
      if (level === '+') return level;
      if (level === '#') {
        if (i !== levels.length - 1)
          throw new InvalidInputError('invalid_topic', '# must be the last level of a filter');
        return level;
      }
      return assertTopicPart(level);
    })
    .join('/');
}

/** The rest of `topic` after `prefix/`, or null when the topic is not under that prefix (or nothing follows). */
export function under(topic: string, prefix: string): string | null {
  if (typeof topic !== 'string' || typeof prefix !== 'string' || prefix.length === 0) return null;
  if (topic.length <= prefix.length + 1 || !topic.startsWith(`${prefix}/`)) return null;
  return topic.slice(prefix.length + 1);
}

/** True for a `/`-separated run of levels that are all non-empty and free of wildcards and NUL. */
export function isConcreteLevels(path: string): boolean {
  return path.length > 0 && path.split('/').every((l) => l.length > 0 && !/[+#\u0000]/.test(l));
}

/** The device's protocol address, which format() needs to address it at all. */
export function requireDeviceTopic(device: Device): string {
  if (typeof device.topic !== 'string' || device.topic.length === 0) {
    throw new InvalidInputError(
      'invalid_device',
      `device ${device.deviceId} uses protocol ${device.protocol} but has no topic`,
    );
  }
  return device.topic;
}

/** Desk and chair devices report sitting; a switch-like signal is inverted when the device says so. */
export const isSeatRole = (device: Device): boolean => device.role === 'desk' || device.role === 'chair';

/** A binary seat signal (switch closed, relay on, contact closed) as a posture, honouring `device.invert`. */
export const seatPosture = (device: Device, engaged: boolean): Posture =>
  engaged !== (device.invert === true) ? 'sitting' : 'away';

/**
 * Zigbee2MQTT, Tasmota and Shelly clear a retained topic by publishing an empty retained payload there (a device
 * renamed or removed, a prefix changed). That is not a report and not an error: nothing to say.
 */
export const isCleared = (payload: Buffer): boolean => payload instanceof Uint8Array && payload.byteLength === 0;

/** The 1-based relay/input number of a Tasmota or Shelly device (`channel`, default 1). */
export const channelNumber = (device: Device): number => (typeof device.channel === 'number' ? device.channel : 1);

/** `ON`/`OFF` (any case, surrounding blanks ignored) as a boolean; null for anything else. */
export function onOff(value: unknown): boolean | null {
  if (typeof value !== 'string') return null;
  const v = value.trim().toUpperCase();
  return v === 'ON' ? true : v === 'OFF' ? false : null;
}

/** The `parse` contract says never throw: a last line of defence around each adapter's own parser. */
export function neverThrows(
  parse: (device: Device, match: TopicMatch, payload: Buffer, ctx: AdapterContext) => ParseResult,
): Adapter['parse'] {
  return (device, match, payload, ctx) => {
    try {
      return parse(device, match, payload, ctx);
    } catch (err) {
      return fail('invalid_event', `payload could not be read: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
}

/** Same for `match`: an odd topic is simply not ours. */
export function matchNeverThrows(match: Adapter['match']): Adapter['match'] {
  return (topic, topics) => {
    try {
      return typeof topic === 'string' ? match(topic, topics) : null;
    } catch {
      return null;
    }
  };
}
