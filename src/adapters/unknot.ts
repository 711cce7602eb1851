// The native protocol: canonical JSON events on `{base}/devices/{deviceId}/event`, commands on `…/command`
// (docs/reference/mqtt.md).
import { z } from 'zod';
import { POSTURES, type Device, type Observation } from '../domain/types.js';
import type { Adapter, ParseResult } from './adapter.js';
import { activityToPosture, stepsToPosture } from './activity.js';
import {
  decodeJson,
  describeJson,
  fail,
  isObject,
  matchNeverThrows,
  neverThrows,
  parseAt,
  preview,
  subscriptionFilter,
  under,
} from './common.js';

const at = z.union([z.string(), z.number()]).optional();

// Objects are not strict: unknown extra fields are allowed and dropped. `id` is checked before the schema.
export const eventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('posture'), posture: z.enum(POSTURES), at }),
  z.object({ type: z.literal('activity'), activity: z.string(), at }),
  z.object({
    type: z.literal('steps'),
    count: z.number().int().min(0),
    periodSeconds: z.number().int().min(1).max(86_400),
    at,
  }),
  z.object({
    type: z.literal('action'),
    action: z.enum(['snooze', 'ack', 'heat_on', 'heat_off', 'routine_stop', 'helped', 'not_helped']),
    // Heat limits are the domain's policy; here only "a positive number of minutes" (a snooze: 1–60, below).
    minutes: z.number().positive().optional(),
    // Not in the contract's action shape, but a button press may be reported late like any other event.
    at,
  }),
  z.object({ type: z.literal('heat'), state: z.enum(['on', 'off']), at }),
]);

export type UnknotEvent = z.infer<typeof eventSchema>;

/** At most this many zod issues are spelled out in an error detail. */
const MAX_ISSUES = 3;

/** A one-line human summary of zod issues, e.g. `posture: Invalid option: expected one of …`. */
export function summariseIssues(issues: readonly z.core.$ZodIssue[]): string {
  const parts = issues.slice(0, MAX_ISSUES).map((i) => {
    const path = i.path.map(String).join('.');
    return path ? `${path}: ${i.message}` : i.message;
  });
  const more = issues.length > MAX_ISSUES ? ` (and ${issues.length - MAX_ISSUES} more)` : '';
  return `${parts.join('; ')}${more}`;
}

/**
 * A device acts only for the person it is registered to, and only as itself (its topic says which device it is):
 * an event that names someone else (`userId`/`user`) or another device (`deviceId`/`device`) is refused whole.
 * Naming its own user or itself is allowed (and changes nothing).
 */
function foreignIdentity(raw: Record<string, unknown>, device: Device): ParseResult | null {
  const shown = (v: unknown) => (typeof v === 'string' ? preview(v, 64) : describeJson(v));
  for (const key of ['userId', 'user'] as const) {
    if (key in raw && raw[key] !== device.userId) {
      return fail(
        'wrong_user',
        `device ${device.deviceId} reports for user ${device.userId} only; this event names ${key} ${shown(raw[key])}`,
      );
    }
  }
  for (const key of ['deviceId', 'device'] as const) {
    if (key in raw && raw[key] !== device.deviceId) {
      return fail(
        'wrong_device',
        `device ${device.deviceId} acts only as itself (its topic); this event names ${key} ${shown(raw[key])}`,
      );
    }
  }
  return null;
}

const POSTURE_SET: ReadonlySet<unknown> = new Set(POSTURES);

/** `{type: 'posture', posture, at?}` exactly as eventSchema accepts it (extra fields are ignored there too). */
const isPlainPosture = (raw: Record<string, unknown>): raw is Extract<UnknotEvent, { type: 'posture' }> =>
  raw.type === 'posture' &&
  POSTURE_SET.has(raw.posture) &&
  (raw.at === undefined || typeof raw.at === 'string' || typeof raw.at === 'number');

function parseEvent(device: Device, payload: Buffer, now: number): ParseResult {
  const json = decodeJson(payload);
  if (!json.ok) return json;
  const raw = json.value;
  if (!isObject(raw)) return fail('invalid_event', `expected a JSON object, got ${describeJson(raw)}`);
  const foreign = foreignIdentity(raw, device);
  if (foreign) return foreign;

  if ('id' in raw) {
    const id = raw.id;
    if (typeof id !== 'string' || id.length < 1 || id.length > 128) {
      return fail('invalid_id', 'id must be a string of 1–128 characters');
    }
  }
  const id = typeof raw.id === 'string' ? raw.id : undefined;

  // The usual event, a posture with a string or numeric `at` (or none), is what the schema would accept as it is;
  // anything else goes through the schema and its error messages.
  let event: UnknotEvent;
  if (isPlainPosture(raw)) event = raw;
  else {
    const parsed = eventSchema.safeParse(raw);
    if (!parsed.success) return fail('invalid_event', summariseIssues(parsed.error.issues));
    event = parsed.data;
  }

  const time = parseAt(event.at, now);
  if (!time.ok) return fail(time.code ?? 'invalid_event', time.detail);
  const withId = id === undefined ? {} : { id };

  const observations: Observation[] = [];
  switch (event.type) {
    case 'posture':
      observations.push({ type: 'posture', posture: event.posture, at: time.at, ...withId });
      break;
    case 'activity': {
      const posture = activityToPosture(event.activity);
      if (posture) observations.push({ type: 'posture', posture, at: time.at, ...withId });
      break;
    }
    case 'steps': {
      const posture = stepsToPosture(event.count, event.periodSeconds);
      if (posture) observations.push({ type: 'posture', posture, at: time.at, ...withId });
      break;
    }
    case 'action':
      // Heat minutes are checked by the heat rules (invalid_minutes, too_long); a snooze has no such check after
      // this point, and a huge one overflowed the date arithmetic and wedged ingest: the API's range, 1–60.
      if (event.action === 'snooze' && event.minutes !== undefined && (event.minutes < 1 || event.minutes > 60)) {
        return fail('invalid_event', 'minutes: a snooze is 1 to 60 minutes');
      }
      observations.push({
        type: 'action',
        action: event.action,
        ...(event.minutes === undefined ? {} : { minutes: event.minutes }),
        at: time.at,
        ...withId,
      });
      break;
    case 'heat':
      observations.push({ type: 'heat', state: event.state, at: time.at });
      break;
  }
  return { ok: true, observations };
}

export const unknotAdapter: Adapter = {
  protocol: 'unknot',

  subscriptions: (topics) => [subscriptionFilter(topics.base, 'devices', '+', 'event')],

  // The key is the raw deviceId level, not yet checked against the id rule: the caller does that, so a
  // bad id is counted as a rejection rather than silently dropped here.
  match: matchNeverThrows((topic, topics) => {
    const rest = under(topic, `${topics.base}/devices`);
    if (rest === null) return null;
    const levels = rest.split('/');
    if (levels.length !== 2 || levels[1] !== 'event') return null;
    const deviceId = levels[0];
    if (!deviceId || /[+#\u0000]/.test(deviceId)) return null;
    return { protocol: 'unknot', key: deviceId, kind: 'event' };
  }),

  parse: neverThrows((device, _match, payload, ctx) => parseEvent(device, payload, ctx.now)),

  format(device, command, topics) {
    const send = () => [
      { topic: topics.deviceCommand(device.deviceId), payload: JSON.stringify(command), qos: 1 as const },
    ];
    switch (device.role) {
      case 'wearable':
      case 'hub':
        return command.command === 'nudge' || command.command === 'routine_step' ? send() : [];
      case 'heatpad':
        return command.command === 'heat' ? send() : [];
      default:
        return [];
    }
  },
};
