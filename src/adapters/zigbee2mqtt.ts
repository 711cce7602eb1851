// Zigbee2MQTT: presence, occupancy and contact sensors on desks and chairs, smart plugs as heat pads
// (docs/integrations/zigbee2mqtt.md). The device's `topic` is its friendly name, which may contain `/`.
import type { Device, Observation } from '../domain/types.js';
import type { Adapter, ParseResult } from './adapter.js';
import {
  decodeJsonObject,
  decodeText,
  fail,
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

/** The fields a seat sensor's state is read from (seatObservation). */
const SEAT_FIELDS = ['presence', 'occupancy', 'contact'] as const;

/** Topic levels after the friendly name that are commands (ours or anyone's), never device state. */
const COMMAND_LEVELS = new Set(['set', 'get']);

/**
 * Sitting evidence from a state payload, in order of trust: `presence` (mmWave radars, FP1) over `occupancy`
 * (PIR, pressure straps) over `contact`. Only booleans count: Z2M publishes `null` for a value it has not
 * seen yet, and that says nothing.
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
  if (typeof state.contact === 'boolean') {
    return { type: 'posture', posture: seatPosture(device, state.contact), at };
  }
  return null;
}

function parseState(device: Device, payload: Buffer, now: number): ParseResult {
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
    const seat = seatObservation(device, state, now);
    if (seat) observations.push(seat);
  } else if (device.role === 'heatpad') {
    // A plug's `state` is "ON"/"OFF"; anything else (absent, null) is simply not a state report.
    const on = onOff(state.state);
    if (on !== null) observations.push({ type: 'heat', state: on ? 'on' : 'off', at: now });
  }
  return { ok: true, observations };
}

/** Z2M 2.x publishes `{"state":"online"}`; 1.x (and `legacy_availability_payload`) a plain `online`. */
function parseAvailability(payload: Buffer, now: number): ParseResult {
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
        ? JSON.stringify({ state: 'ON', on_time: onTimeSeconds(command.autoOffSeconds) })
        : JSON.stringify({ state: 'OFF' });
    return [{ topic, payload, qos: 1 }];
  },
};
