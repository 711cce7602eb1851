// Zigbee2MQTT: presence, occupancy and contact sensors on desks and chairs, smart plugs as heat pads
// (docs/integrations/zigbee2mqtt.md). The device's `topic` is its friendly name, which may contain `/`.
import type { Device, Observation } from '../domain/types.js';
import type { Adapter, ParseResult } from './adapter.js';
import {
  decodeJsonObject,
  decodeText,
  fail,
  isCleared,
  isConcreteLevels,
  isObject,
  isSeatRole,
  matchNeverThrows,
  neverThrows,
  onOff,
  requireDeviceTopic,
  seatPosture,
  subscriptionFilter,
  under,
  type JsonObject,
} from './common.js';

/** The fields a seat sensor's state is read from (seatObservation); `presence_state` is checked on its own. */
const SEAT_FIELDS = ['presence', 'occupancy', 'contact'] as const;

/**
 * `presence_state` of the Tuya mmWave radars that expose no boolean `presence`, as zigbee-herdsman-converters
 * (src/devices/tuya.ts) defines it: `none`/`presence` (`_TZE28C1000000_…` T&H presence sensors), `none`/`motion`/
 * `stationary` (RD24G01, `_TZE204_no6qtgtl`), `NONE`/`PRESENCE` (Excellux ZG-301A), `none`/`presence`/`peaceful`/
 * `small_movement`/`large_movement` (ZG-205Z, which also sends a boolean `presence`). `none` is nobody there; the
 * others all mean someone is. Other names (`move` on some firmwares) count as present too: a radar reports
 * `none` when it sees nobody, and every other state it has is a kind of somebody.
 */
function presenceStateObservation(value: string, at: number): Observation | null {
  const v = value.trim().toLowerCase();
  if (v.length === 0) return null;
  return { type: 'posture', posture: v === 'none' ? 'away' : 'sitting', at };
}

/** Topic levels after the friendly name that are commands (ours or anyone's), never device state. */
const COMMAND_LEVELS = new Set(['set', 'get']);

/**
 * Sitting evidence from a state payload, in order of trust: `presence` (mmWave radars, FP1) over `occupancy`
 * (PIR, pressure straps) over `presence_state` (Tuya radars with an enum only) over `contact`. Only booleans (and
 * for `presence_state` strings) count: Z2M publishes `null` for a value it has not seen yet, and that says nothing.
 *
 * Contact: a contact sensor used as a chair switch or pressure mat reads `contact: true` (closed) when someone
 * sits, so true → sitting and false → away; `device.invert` flips it for mats wired the other way round
 * (docs/integrations/zigbee2mqtt.md: MCCGQ11LM `contact` is true when closed). `invert` does not apply to presence or occupancy,
 * which mean "someone is there" by definition.
 */
function seatObservation(device: Device, state: JsonObject, at: number): Observation | null {
  if (typeof state.presence === 'boolean') {
    return { type: 'posture', posture: state.presence ? 'sitting' : 'away', at };
  }
  if (typeof state.occupancy === 'boolean') {
    return { type: 'posture', posture: state.occupancy ? 'sitting' : 'away', at };
  }
  if (typeof state.presence_state === 'string') {
    const obs = presenceStateObservation(state.presence_state, at);
    if (obs) return obs;
  }
  if (typeof state.contact === 'boolean') {
    return { type: 'posture', posture: seatPosture(device, state.contact), at };
  }
  return null;
}

/**
 * The suffix Zigbee2MQTT puts after a property of one endpoint of a multi-endpoint device: `_l2` for channel 2,
 * `_left` for the endpoint `left`; none without a channel (`state`, `on_time`).
 */
export function endpointSuffix(device: Device): string {
  if (typeof device.channel === 'number') return `_l${device.channel}`;
  if (typeof device.channel === 'string') return `_${device.channel}`;
  return '';
}

function parseState(device: Device, payload: Buffer, now: number): ParseResult {
  if (isCleared(payload)) return { ok: true, observations: [] };
  const decoded = decodeJsonObject(payload);
  if (!decoded.ok) return decoded;
  const state = decoded.value;
  const observations: Observation[] = [];
  if (isSeatRole(device)) {
    // A seat field of the wrong type is a misconfigured converter or a foreign publisher: say so, do not guess.
    for (const field of SEAT_FIELDS) {
      const v = state[field];
      if (v !== undefined && v !== null && typeof v !== 'boolean') {
        return fail(
          'invalid_event',
          `${field} must be true or false (or null before a first reading), got ${JSON.stringify(v).slice(0, 40)}`,
        );
      }
    }
    const ps = state.presence_state;
    if (ps !== undefined && ps !== null && typeof ps !== 'string') {
      return fail('invalid_event', `presence_state must be a string, got ${JSON.stringify(ps).slice(0, 40)}`);
    }
    const seat = seatObservation(device, state, now);
    if (seat) observations.push(seat);
  } else if (device.role === 'heatpad') {
    // A plug's `state` is "ON"/"OFF"; anything else (absent, null) is simply not a state report.
    const on = onOff(state[`state${endpointSuffix(device)}`]);
    if (on !== null) observations.push({ type: 'heat', state: on ? 'on' : 'off', at: now });
  }
  return { ok: true, observations };
}

/** Z2M 2.x publishes `{"state":"online"}`; 1.x (and `legacy_availability_payload`) a plain `online`. */
function parseAvailability(payload: Buffer, now: number): ParseResult {
  if (isCleared(payload)) return { ok: true, observations: [] };
  const text = decodeText(payload);
  if (!text.ok) return text;
  let value: unknown = text.value.trim();
  if (typeof value === 'string' && value.startsWith('{')) {
    try {
      const json: unknown = JSON.parse(value);
      value = isObject(json) ? json.state : undefined;
    } catch {
      return fail('not_json', 'availability payload starts like JSON but does not parse');
    }
  }
  if (value === 'online' || value === 'offline') {
    return { ok: true, observations: [{ type: 'availability', online: value === 'online', at: now }] };
  }
  return fail('invalid_event', 'availability must be {"state":"online"|"offline"} or plain online/offline');
}

/** Z2M's `on_time` is whole seconds; never 0, which some firmwares read as "no timer". */
const onTimeSeconds = (autoOffSeconds: number): number => Math.max(1, Math.round(autoOffSeconds));

/**
 * Tuya's `countdown` is 0–43200 s, 0 cancelling it (zigbee-herdsman-converters src/lib/tuya.ts, `on_off_countdown`
 * and `exposes.countdown`): 1 s at least, 12 hours at most.
 */
export const MAX_COUNTDOWN_SECONDS = 43_200;
const countdownSeconds = (autoOffSeconds: number): number =>
  Math.min(MAX_COUNTDOWN_SECONDS, Math.max(1, Math.round(autoOffSeconds)));

/**
 * The ON for a plug. `on_time` (zigbee-herdsman-converters src/converters/toZigbee.ts `on_off`: "on with timed
 * off") by default; `countdown` for Tuya plugs, which Z2M sends after the ON because an ON cancels a running
 * countdown (src/lib/tuya.ts `on_off_countdown`); `none`: the ON alone. For channel n every key carries `_l<n>`,
 * which Z2M strips before the converter sees the message (zigbee2mqtt lib/extension/publish.ts).
 */
function onPayload(device: Device, autoOffSeconds: number): Record<string, unknown> {
  const sfx = endpointSuffix(device);
  const on = { [`state${sfx}`]: 'ON' };
  switch (device.autoOff ?? 'on_time') {
    case 'none':
      return on;
    case 'countdown':
      return { ...on, [`countdown${sfx}`]: countdownSeconds(autoOffSeconds) };
    default:
      return { ...on, [`on_time${sfx}`]: onTimeSeconds(autoOffSeconds) };
  }
}

export const zigbee2mqttAdapter: Adapter = {
  protocol: 'zigbee2mqtt',

  subscriptions: (topics) => [subscriptionFilter(topics.z2mBase, '#')],

  match: matchNeverThrows((topic, topics) => {
    const rest = under(topic, topics.z2mBase);
    if (rest === null || !isConcreteLevels(rest)) return null;
    const levels = rest.split('/');
    // The bridge's own topics (state, info, logging, devices, request/response) are not devices.
    if (levels[0] === 'bridge') return null;
    // `…/set`, `…/get`, `…/set/state` and the like are commands, including the ones we publish.
    if (levels.slice(1).some((level) => COMMAND_LEVELS.has(level))) return null;
    if (levels.length > 1 && levels[levels.length - 1] === 'availability') {
      return { protocol: 'zigbee2mqtt', key: levels.slice(0, -1).join('/'), kind: 'availability' };
    }
    return { protocol: 'zigbee2mqtt', key: rest, kind: 'state' };
  }),

  parse: neverThrows((device, match, payload, ctx) =>
    match.kind === 'availability' ? parseAvailability(payload, ctx.now) : parseState(device, payload, ctx.now),
  ),

  format(device, command, topics) {
    if (command.command !== 'heat' || device.role !== 'heatpad') return [];
    const topic = topics.z2mSet(requireDeviceTopic(device));
    const payload =
      command.state === 'on'
        ? JSON.stringify(onPayload(device, command.autoOffSeconds))
        : JSON.stringify({ [`state${endpointSuffix(device)}`]: 'OFF' });
    return [{ topic, payload, qos: 1 }];
  },
};
