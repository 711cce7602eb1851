// Tasmota: relays as heat pads, inputs as chair switches (docs/integrations/tasmota.md). The device's
// `topic` is its Tasmota %topic%, one topic level, under the default full topic `%prefix%/%topic%/`.
import { type Device, InvalidInputError, type Observation } from '../domain/types.js';
import type { Adapter, ParseResult } from './adapter.js';
import {
  decodeJsonObject,
  decodeText,
  fail,
  isSeatRole,
  matchNeverThrows,
  neverThrows,
  onOff,
  preview,
  requireDeviceTopic,
  seatPosture,
  subscriptionFilter,
} from './common.js';

/** What we read, by prefix and last level (the kind). */
const KINDS: ReadonlyMap<string, readonly string[]> = new Map([
  ['stat', ['POWER', 'POWER1', 'RESULT']],
  ['tele', ['STATE', 'LWT']],
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

function parsePlainPower(device: Device, payload: Buffer, now: number): ParseResult {
  const text = decodeText(payload);
  if (!text.ok) return text;
  const on = onOff(text.value);
  if (on === null) return fail('invalid_event', `POWER must be ON or OFF, got ${preview(text.value)}`);
  return { ok: true, observations: powerObservation(device, on, now) };
}

/** `stat/…/RESULT` and `tele/…/STATE`: JSON, relay 1 as `POWER` or (with several relays) `POWER1`. */
function parseJsonPower(device: Device, payload: Buffer, now: number): ParseResult {
  const decoded = decodeJsonObject(payload);
  if (!decoded.ok) return decoded;
  // A RESULT answers any command (Dimmer, PulseTime, …): without a POWER it says nothing about the relay.
  const on = onOff(decoded.value.POWER1 ?? decoded.value.POWER);
  return { ok: true, observations: on === null ? [] : powerObservation(device, on, now) };
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
    switch (match.kind) {
      case 'POWER':
      case 'POWER1':
        return parsePlainPower(device, payload, ctx.now);
      case 'RESULT':
      case 'STATE':
        return parseJsonPower(device, payload, ctx.now);
      case 'LWT':
        return parseLwt(payload, ctx.now);
      default:
        return fail('invalid_event', `not a Tasmota topic unknot reads: ${match.kind}`);
    }
  }),

  format(device, command, topics) {
    if (command.command !== 'heat' || device.role !== 'heatpad') return [];
    const topic = tasmotaTopic(device);
    if (command.state === 'on') {
      // PulseTime is a stored setting applied to every ON: set it in the same Backlog as the ON itself.
      const payload = `PulseTime1 ${pulseTimeFor(command.autoOffSeconds)}; Power1 ON`;
      return [{ topic: topics.tasmotaCommand(topic, 'Backlog'), payload, qos: 1 }];
    }
    return [{ topic: topics.tasmotaCommand(topic, 'POWER'), payload: 'OFF', qos: 1 }];
  },
};
