// Tasmota: relays as heat pads, relays and inputs as chair switches (docs/integrations/tasmota.md). The device's
// `topic` is its Tasmota %topic%, one topic level, under the default full topic `%prefix%/%topic%/`.
import { type Device, InvalidInputError, MAX_CHANNEL, type Observation } from '../domain/types.js';
import type { Adapter, ParseResult } from './adapter.js';
import {
  channelNumber,
  decodeJsonObject,
  decodeText,
  fail,
  isCleared,
  isObject,
  isSeatRole,
  matchNeverThrows,
  neverThrows,
  onOff,
  preview,
  requireDeviceTopic,
  seatPosture,
  subscriptionFilter,
} from './common.js';

/** Relays 1–8: `POWER1`…`POWER8` (and `POWER` for the first). MAX_CHANNEL.tasmota in src/domain/types.ts. */
const RELAYS = Array.from({ length: MAX_CHANNEL.tasmota }, (_, i) => `POWER${i + 1}`);

/** What we read, by prefix and last level (the kind). */
const KINDS: ReadonlyMap<string, readonly string[]> = new Map([
  ['stat', ['POWER', ...RELAYS, 'RESULT']],
  ['tele', ['STATE', 'LWT', 'SENSOR']],
]);

/**
 * PulseTime1 takes 112–64900 for 12–64800 s (value = seconds + 100); 1–111 would be tenths of a second,
 * so anything shorter than 12 s is raised to 12 s rather than silently read as 0.1–1.1 s.
 */
export const MIN_PULSE_SECONDS = 12;
export const MAX_PULSE_SECONDS = 64_800;

export const pulseTimeFor = (autoOffSeconds: number): number =>
  Math.min(MAX_PULSE_SECONDS, Math.max(MIN_PULSE_SECONDS, Math.round(autoOffSeconds))) + 100;

/** A relay state as an observation: heat for a heat pad, sitting/away for a chair switch, nothing otherwise. */
function powerObservation(device: Device, on: boolean, at: number): Observation[] {
  if (device.role === 'heatpad') return [{ type: 'heat', state: on ? 'on' : 'off', at }];
  if (isSeatRole(device)) return [{ type: 'posture', posture: seatPosture(device, on), at }];
  return [];
}

/** `stat/<topic>/POWER<n>` is about this device's relay: `POWER` and `POWER1` for channel 1, `POWER<n>` for n. */
const isOwnRelay = (device: Device, kind: string): boolean =>
  kind === `POWER${channelNumber(device)}` || (kind === 'POWER' && channelNumber(device) === 1);

function parsePlainPower(device: Device, kind: string, payload: Buffer, now: number): ParseResult {
  const text = decodeText(payload);
  if (!text.ok) return text;
  // Another relay of the same device: not this device's business (a second pad may well be registered for it).
  if (!isOwnRelay(device, kind)) return { ok: true, observations: [] };
  const on = onOff(text.value);
  if (on === null) return fail('invalid_event', `POWER must be ON or OFF, got ${preview(text.value)}`);
  return { ok: true, observations: powerObservation(device, on, now) };
}

/**
 * `stat/…/RESULT` and `tele/…/STATE`: JSON, relay n as `POWER<n>` (relay 1 as `POWER` too on a single-relay
 * device). A chair switch on an input detached from the relays (`SetOption114 1`) reports
 * `{"Switch<n>":{"Action":"ON"|"OFF"}}` in RESULT instead.
 */
function parseJsonPower(device: Device, payload: Buffer, now: number): ParseResult {
  const decoded = decodeJsonObject(payload);
  if (!decoded.ok) return decoded;
  const n = channelNumber(device);
  const json = decoded.value;
  // A RESULT answers any command (Dimmer, PulseTime, …): without a POWER it says nothing about the relay.
  const on = onOff(json[`POWER${n}`] ?? (n === 1 ? json.POWER : undefined));
  if (on !== null) return { ok: true, observations: powerObservation(device, on, now) };
  const sw = json[`Switch${n}`];
  if (isSeatRole(device) && isObject(sw)) return { ok: true, observations: switchObservation(device, sw.Action, now) };
  return { ok: true, observations: [] };
}

/** A switch input as a chair sensor: `ON` sitting, `OFF` away (flipped by `invert`); other actions say nothing. */
function switchObservation(device: Device, value: unknown, at: number): Observation[] {
  const on = onOff(value);
  return on === null ? [] : [{ type: 'posture', posture: seatPosture(device, on), at }];
}

/** `tele/…/SENSOR` of an input without a relay (`SwitchMode 15`): `{"Time":…,"Switch<n>":"ON"|"OFF"}`. */
function parseSensor(device: Device, payload: Buffer, now: number): ParseResult {
  const decoded = decodeJsonObject(payload);
  if (!decoded.ok) return decoded;
  if (!isSeatRole(device)) return { ok: true, observations: [] };
  return { ok: true, observations: switchObservation(device, decoded.value[`Switch${channelNumber(device)}`], now) };
}

function parseLwt(payload: Buffer, now: number): ParseResult {
  const text = decodeText(payload);
  if (!text.ok) return text;
  const value = text.value.trim().toLowerCase();
  if (value !== 'online' && value !== 'offline') {
    return fail('invalid_event', `LWT must be Online or Offline, got ${preview(text.value)}`);
  }
  return { ok: true, observations: [{ type: 'availability', online: value === 'online', at: now }] };
}

/** Commands go to `cmnd/<topic>/…`; a topic with `/` would also never match what we subscribe to. */
function tasmotaTopic(device: Device): string {
  const topic = requireDeviceTopic(device);
  if (topic.includes('/')) {
    throw new InvalidInputError(
      'invalid_device',
      `Tasmota topic must be a single topic level, got ${JSON.stringify(topic)}`,
    );
  }
  return topic;
}

export const tasmotaAdapter: Adapter = {
  protocol: 'tasmota',

  subscriptions: () =>
    [...KINDS].flatMap(([prefix, kinds]) => kinds.map((kind) => subscriptionFilter(prefix, '+', kind))),

  match: matchNeverThrows((topic) => {
    const levels = topic.split('/');
    if (levels.length !== 3) return null;
    const [prefix, key, kind] = levels as [string, string, string];
    if (!KINDS.get(prefix)?.includes(kind)) return null;
    if (key.length === 0 || /[+#\u0000]/.test(key)) return null;
    return { protocol: 'tasmota', key, kind };
  }),

  parse: neverThrows((device, match, payload, ctx) => {
    // A cleared retained topic (e.g. the LWT of a device whose topic changed) is not a report.
    if (isCleared(payload)) return { ok: true, observations: [] };
    if (match.kind === 'POWER' || RELAYS.includes(match.kind)) {
      return parsePlainPower(device, match.kind, payload, ctx.now);
    }
    switch (match.kind) {
      case 'RESULT':
      case 'STATE':
        return parseJsonPower(device, payload, ctx.now);
      case 'SENSOR':
        return parseSensor(device, payload, ctx.now);
      case 'LWT':
        return parseLwt(payload, ctx.now);
      default:
        return fail('invalid_event', `not a Tasmota topic unknot reads: ${match.kind}`);
    }
  }),

  format(device, command, topics) {
    if (command.command !== 'heat' || device.role !== 'heatpad') return [];
    const topic = tasmotaTopic(device);
    const n = channelNumber(device);
    // Relay 1 keeps the plain `POWER` it always had; relay n is `POWER<n>` (Tasmota's Commands page).
    const power = n === 1 ? 'POWER' : `POWER${n}`;
    if (command.state === 'on') {
      if (device.autoOff === 'none') return [{ topic: topics.tasmotaCommand(topic, power), payload: 'ON', qos: 1 }];
      // PulseTime is a stored setting applied to every ON: set it in the same Backlog as the ON itself.
      const payload = `PulseTime${n} ${pulseTimeFor(command.autoOffSeconds)}; Power${n} ON`;
      return [{ topic: topics.tasmotaCommand(topic, 'Backlog'), payload, qos: 1 }];
    }
    return [{ topic: topics.tasmotaCommand(topic, power), payload: 'OFF', qos: 1 }];
  },
};
