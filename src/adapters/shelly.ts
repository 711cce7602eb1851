// Shelly Gen2/Gen3 over MQTT: `switch:<id>` as a heat pad or chair switch, `input:<id>` as a chair switch, JSON-RPC `Switch.Set` to drive it
// (docs/integrations/shelly.md). The device's `topic` is its MQTT topic prefix (one or two levels).
import { type Device, MAX_CHANNEL, type Observation } from '../domain/types.js';
import type { Adapter, ParseResult } from './adapter.js';
import {
  channelNumber,
  decodeJsonObject,
  decodeText,
  fail,
  isCleared,
  isConcreteLevels,
  isObject,
  isSeatRole,
  matchNeverThrows,
  neverThrows,
  preview,
  requireDeviceTopic,
  seatPosture,
  subscriptionFilter,
  type JsonObject,
} from './common.js';

/** Topic suffixes after the prefix, by kind. A prefix has one or two levels (the default is the device id). */
/** Components unknot reads, ids 0–3 (MAX_CHANNEL.shelly): switch outputs and inputs (a Plus i4 has inputs only). */
const COMPONENTS = ['switch', 'input'].flatMap((type) =>
  Array.from({ length: MAX_CHANNEL.shelly }, (_, id) => `${type}:${id}`),
);

const SUFFIXES: ReadonlyArray<{ kind: string; levels: readonly string[] }> = [
  ...COMPONENTS.map((component) => ({ kind: `status/${component}`, levels: ['status', component] })),
  { kind: 'online', levels: ['online'] },
  { kind: 'events', levels: ['events', 'rpc'] },
];

const MAX_PREFIX_LEVELS = 2;

/** Replies to our RPC calls arrive on `<src>/rpc`, where `src` is what we put in the request. */
const replyTopic = (src: string): string => subscriptionFilter(src, 'rpc');

/** The Shelly component id of the device's channel: `channel` 1 is id 0. */
const componentId = (device: Device): number => channelNumber(device) - 1;

function outputObservation(device: Device, output: unknown, at: number): Observation[] {
  if (typeof output !== 'boolean') return [];
  if (device.role === 'heatpad') return [{ type: 'heat', state: output ? 'on' : 'off', at }];
  if (isSeatRole(device)) return [{ type: 'posture', posture: seatPosture(device, output), at }];
  return [];
}

/**
 * An input of type `switch` reports `state` true/false; of type `button` `state: null` (its presses come as
 * NotifyEvent, which say nothing about sitting). Inputs are read for seat devices only.
 */
function inputObservation(device: Device, state: unknown, at: number): Observation[] {
  if (typeof state !== 'boolean' || !isSeatRole(device)) return [];
  return [{ type: 'posture', posture: seatPosture(device, state), at }];
}

/** What one component's status (`{"id":0,"output":true,…}` or `{"id":0,"state":true}`) says, for this device. */
function componentObservations(device: Device, component: string, status: unknown, at: number): Observation[] {
  if (!isObject(status)) return [];
  const id = componentId(device);
  if (component === `switch:${id}`) return outputObservation(device, status.output, at);
  if (component === `input:${id}`) return inputObservation(device, status.state, at);
  return [];
}

/** `<prefix>/status/switch:<id>` and `<prefix>/status/input:<id>`: the component's whole status. */
function parseStatus(device: Device, component: string, payload: Buffer, now: number): ParseResult {
  const decoded = decodeJsonObject(payload);
  if (!decoded.ok) return decoded;
  return { ok: true, observations: componentObservations(device, component, decoded.value, now) };
}

/**
 * `<prefix>/events/rpc`: notification frames. `NotifyStatus` carries only what changed (so the component or its
 * `output`/`state` may be missing: nothing to say); `NotifyFullStatus` the whole status; `NotifyEvent` button events.
 */
function parseEvents(device: Device, payload: Buffer, now: number): ParseResult {
  const decoded = decodeJsonObject(payload);
  if (!decoded.ok) return decoded;
  const frame = decoded.value;
  if (frame.method !== 'NotifyStatus' && frame.method !== 'NotifyFullStatus') return { ok: true, observations: [] };
  const params = frame.params;
  if (!isObject(params)) return { ok: true, observations: [] };
  const id = componentId(device);
  const observations = [`switch:${id}`, `input:${id}`].flatMap((c) => componentObservations(device, c, params[c], now));
  return { ok: true, observations };
}

function parseOnline(payload: Buffer, now: number): ParseResult {
  const text = decodeText(payload);
  if (!text.ok) return text;
  const value = text.value.trim();
  if (value !== 'true' && value !== 'false') {
    return fail('invalid_event', `online must be true or false, got ${preview(text.value)}`);
  }
  return { ok: true, observations: [{ type: 'availability', online: value === 'true', at: now }] };
}

/** What a reply to one of our calls says, for the caller's log: the request id and, for an error, why. */
export interface ShellyReply {
  id?: number | string;
  src?: string;
  error?: { code?: number; message?: string };
}

export function describeShellyReply(frame: JsonObject): ShellyReply {
  const reply: ShellyReply = {};
  if (typeof frame.id === 'number' || typeof frame.id === 'string') reply.id = frame.id;
  if (typeof frame.src === 'string') reply.src = frame.src;
  if (isObject(frame.error)) {
    reply.error = {
      ...(typeof frame.error.code === 'number' ? { code: frame.error.code } : {}),
      ...(typeof frame.error.message === 'string' ? { message: frame.error.message } : {}),
    };
  }
  return reply;
}

/** An RPC reply is well-formed JSON or a rejection; either way it yields no observation (the caller logs it). */
function parseReply(payload: Buffer): ParseResult {
  const decoded = decodeJsonObject(payload);
  if (!decoded.ok) return decoded;
  return { ok: true, observations: [] };
}

/** FNV-1a, 32 bits: a stable request id from the session, so a re-sent command carries the same id. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** A positive int32 request id; ON and OFF of one session get different ids so their replies can be told apart. */
export const rpcIdFor = (sessionId: string, state: 'on' | 'off'): number =>
  (fnv1a(`${sessionId}:${state}`) % 0x7ffffffe) + 1;

export const shellyAdapter: Adapter = {
  protocol: 'shelly',

  subscriptions: (topics) => [
    ...SUFFIXES.flatMap(({ levels }) =>
      Array.from({ length: MAX_PREFIX_LEVELS }, (_, n) =>
        subscriptionFilter(...Array<string>(n + 1).fill('+'), ...levels),
      ),
    ),
    replyTopic(topics.shellyReplySrc()),
  ],

  match: matchNeverThrows((topic, topics) => {
    const src = topics.shellyReplySrc();
    if (topic === replyTopic(src)) return { protocol: 'shelly', key: src, kind: 'rpc_reply' };
    if (!isConcreteLevels(topic)) return null;
    const levels = topic.split('/');
    for (const suffix of SUFFIXES) {
      const prefixLength = levels.length - suffix.levels.length;
      if (prefixLength < 1 || prefixLength > MAX_PREFIX_LEVELS) continue;
      if (suffix.levels.every((level, i) => levels[prefixLength + i] === level)) {
        return { protocol: 'shelly', key: levels.slice(0, prefixLength).join('/'), kind: suffix.kind };
      }
    }
    return null;
  }),

  parse: neverThrows((device, match, payload, ctx) => {
    // A cleared retained topic (`online`, a status) is not a report.
    const retained = match.kind === 'online' || match.kind.startsWith('status/');
    if (retained && isCleared(payload)) return { ok: true, observations: [] };
    if (match.kind.startsWith('status/')) return parseStatus(device, match.kind.slice(7), payload, ctx.now);
    switch (match.kind) {
      case 'events':
        return parseEvents(device, payload, ctx.now);
      case 'online':
        return parseOnline(payload, ctx.now);
      case 'rpc_reply':
        return parseReply(payload);
      default:
        return fail('invalid_event', `not a Shelly topic unknot reads: ${match.kind}`);
    }
  }),

  format(device, command, topics) {
    if (command.command !== 'heat' || device.role !== 'heatpad') return [];
    const params =
      command.state === 'on'
        ? // toggle_after: the device switches itself off again, even if unknot is gone by then.
          device.autoOff === 'none'
          ? { id: componentId(device), on: true }
          : { id: componentId(device), on: true, toggle_after: Math.max(1, Math.round(command.autoOffSeconds)) }
        : { id: componentId(device), on: false };
    const frame = {
      id: rpcIdFor(command.sessionId, command.state),
      src: topics.shellyReplySrc(),
      method: 'Switch.Set',
      params,
    };
    return [{ topic: topics.shellyRpc(requireDeviceTopic(device)), payload: JSON.stringify(frame), qos: 1 }];
  },
};
