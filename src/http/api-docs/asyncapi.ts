// The AsyncAPI 3 document of every MQTT topic unknot reads or writes. Payloads unknot reads are described by the
// zod schemas its adapters validate with; topic roots come from the instance's config (served at
// GET /api/asyncapi.json) or the defaults (committed as docs/reference/asyncapi.json by npm run docs:api).
import { z } from 'zod';
import { eventSchema } from '../../adapters/unknot.js';
import { deskCheckBodySchema } from '../../app/methods.js';
import type { TopicRoots } from '../../mqtt/topics.js';
import { jsonSchema, packageVersion, type JsonSchema } from './json-schema.js';
import { bridgeStateSchema, commandSchema, deviceErrorSchema, nudgeSchema, stateSchema, iso } from './payloads.js';

export const DEFAULT_TOPIC_ROOTS: TopicRoots = { base: 'unknot', z2m: 'zigbee2mqtt', haPrefix: 'homeassistant' };

const schema = (s: z.ZodType): JsonSchema => jsonSchema(s, 'input', 'draft-7');
const text = (values: string[], description?: string): JsonSchema => ({
  type: 'string',
  enum: values,
  ...(description ? { description } : {}),
});
const anyJson = (description: string): JsonSchema => ({ type: 'object', description });

const PARAMETERS: Record<string, string> = {
  userId: 'a person: 1–64 characters of [A-Za-z0-9_-]',
  deviceId: 'a registered device: 1–64 characters of [A-Za-z0-9_-]',
  friendlyName: "the Zigbee2MQTT friendly name in the device's `topic` (may contain /)",
  tasmotaTopic: "the Tasmota topic in the device's `topic` (one level)",
  shellyPrefix: "the Shelly topic prefix in the device's `topic` (one or two levels)",
  component: 'sensor, binary_sensor, button, switch or event',
  nodeId: 'unknot_<userId>',
  objectId: 'sitting_minutes, sitting, break_due, next_nudge, compliance_today, snooze, heat or nudge',
};

interface Channel {
  /** `{base}`, `{z2m}` and `{ha}` are replaced by the roots; `{name}` stays a parameter. */
  address: string;
  title: string;
  description: string;
  payload: JsonSchema;
  contentType?: string;
  /** unknot publishes here. */
  send?: { qos: 0 | 1; retain: boolean; when: string };
  /** unknot subscribes here, through this filter. */
  receive?: { filter: string; when: string; shared?: boolean };
}

const RETAINED_CLEARED = ' Cleared (an empty retained message) when the user is deleted.';

const CHANNELS: Record<string, Channel> = {
  bridgeState: {
    address: '{base}/bridge/state',
    title: 'Service availability',
    description: "online while at least one instance runs; the publisher connection's last will says offline.",
    payload: schema(bridgeStateSchema),
    send: { qos: 1, retain: true, when: 'on connect (online), as last will and on a clean stop (offline)' },
    receive: {
      filter: '{base}/bridge/state',
      when: "another instance's offline is answered with online while this one runs",
    },
  },
  deviceEvent: {
    address: '{base}/devices/{deviceId}/event',
    title: "Events of devices speaking unknot's own JSON",
    description:
      'Extra fields are ignored. `id` (string, 1–128 characters), if given, drops duplicates. `at` (ISO 8601 or epoch ms) defaults to ' +
      "receipt time and is never later than it. `userId`/`user` and `deviceId`/`device`, if given, must name the device's own user and itself. " +
      'A refused event is answered on …/error and changes nothing. Send with QoS 1: acknowledged only after it is committed.',
    payload: schema(eventSchema),
    receive: { filter: '{base}/devices/+/event', when: 'always (ingest role)', shared: true },
  },
  deviceCommand: {
    address: '{base}/devices/{deviceId}/command',
    title: 'Commands to unknot-protocol devices',
    description: 'Nudges and routine steps to wearables and hubs; heat ON/OFF to heat pads.',
    payload: schema(commandSchema),
    send: { qos: 1, retain: false, when: 'a nudge is due, a routine step starts, heat is switched' },
  },
  deviceError: {
    address: '{base}/devices/{deviceId}/error',
    title: 'Why an event of a device was refused',
    description: 'One message per refused event of a known device.',
    payload: schema(deviceErrorSchema),
    send: { qos: 0, retain: false, when: 'an event could not be used' },
  },
  userState: {
    address: '{base}/users/{userId}/state',
    title: 'Sitting state of a person',
    description: 'The current sitting session, next nudge, heat and routine.' + RETAINED_CLEARED,
    payload: schema(stateSchema),
    send: { qos: 1, retain: true, when: 'on every change that matters (not every second of sitting)' },
  },
  userNudge: {
    address: '{base}/users/{userId}/nudge',
    title: 'Break nudges',
    description: "Once per nudge (no doubles); Home Assistant's nudge event entity reads it.",
    payload: schema(nudgeSchema),
    send: { qos: 1, retain: false, when: 'a sitting session reached its break time or the next escalation' },
  },
  userLastNudge: {
    address: '{base}/users/{userId}/last-nudge',
    title: 'Record of the last nudge the broker got',
    description: 'How a worker that takes over knows a nudge already went out.' + RETAINED_CLEARED,
    payload: schema(z.object({ nudgeId: z.string(), level: z.number().int(), at: iso })),
    send: { qos: 1, retain: true, when: 'right behind each nudge' },
  },
  userLastHeatOff: {
    address: '{base}/users/{userId}/last-heat-off',
    title: 'Record of the last heat OFF the broker got',
    description: 'How a worker that takes over knows an OFF already went out.' + RETAINED_CLEARED,
    payload: schema(z.object({ sessionId: z.string(), at: iso })),
    send: { qos: 1, retain: true, when: 'right behind each heat OFF' },
  },
  userAdherence: {
    address: '{base}/users/{userId}/adherence',
    title: "Today's adherence figures",
    description:
      "The person's local today (Home Assistant's compliance sensor reads it); only with HA_DISCOVERY on." +
      RETAINED_CLEARED,
    payload: anyJson('one day of GET /api/users/{userId}/summary, with timezone and updatedAt'),
    send: { qos: 1, retain: true, when: 'after adherence entries are committed (debounced), and with discovery' },
  },
  userSnoozeCommand: {
    address: '{base}/users/{userId}/snooze/set',
    title: 'Snooze button (Home Assistant)',
    description: 'PRESS snoozes the coming nudge. Only with HA_DISCOVERY on; handled by ingest processes.',
    contentType: 'text/plain',
    payload: text(['PRESS']),
    receive: { filter: '{base}/users/+/snooze/set', when: 'HA_DISCOVERY on, ingest role', shared: true },
  },
  userHeatCommand: {
    address: '{base}/users/{userId}/heat/set',
    title: 'Heat switch (Home Assistant)',
    description: "ON starts a heat session of the profile's default minutes, OFF stops it. Only with HA_DISCOVERY on.",
    contentType: 'text/plain',
    payload: text(['ON', 'OFF']),
    receive: { filter: '{base}/users/+/heat/set', when: 'HA_DISCOVERY on, ingest role', shared: true },
  },
  userHelpedCommand: {
    address: '{base}/users/{userId}/helped/set',
    title: '"That helped" button (Home Assistant)',
    description:
      'PRESS says the latest method tried in the last UNKNOT_HELPED_WITHIN_HOURS hours (a routine, heat, …) felt better. Only with HA_DISCOVERY on.',
    contentType: 'text/plain',
    payload: text(['PRESS']),
    receive: { filter: '{base}/users/+/helped/set', when: 'HA_DISCOVERY on, ingest role', shared: true },
  },
  userNotHelpedCommand: {
    address: '{base}/users/{userId}/not_helped/set',
    title: '"Did not help" button (Home Assistant)',
    description: 'PRESS says the latest method tried in the last UNKNOT_HELPED_WITHIN_HOURS hours felt the same.',
    contentType: 'text/plain',
    payload: text(['PRESS']),
    receive: { filter: '{base}/users/+/not_helped/set', when: 'HA_DISCOVERY on, ingest role', shared: true },
  },
  userDeskCheckCommand: {
    address: '{base}/users/{userId}/desk_check/set',
    title: 'Desk setup check answers (Home Assistant)',
    description:
      'The answers of the desk setup check, as the body of POST /api/users/{userId}/desk-check; logged as desk_check. Only with HA_DISCOVERY on.',
    payload: schema(deskCheckBodySchema),
    receive: { filter: '{base}/users/+/desk_check/set', when: 'HA_DISCOVERY on, ingest role', shared: true },
  },
  haConfig: {
    address: '{ha}/{component}/{nodeId}/{objectId}/config',
    title: 'Home Assistant MQTT discovery',
    description:
      'One Home Assistant device per user: sitting minutes, sitting, break due, next nudge, compliance today, a snooze button, a heat ' +
      'switch (users with a heat pad), a nudge event and "That helped" / "Did not help" buttons. Empty retained payloads remove the entities of a deleted user or a heat switch no longer wanted.',
    payload: anyJson(
      'a Home Assistant discovery config (name, unique_id, state_topic, command_topic, device, availability, …)',
    ),
    send: { qos: 1, retain: true, when: 'at start, when HA comes online, when a user or their devices change' },
  },
  haStatus: {
    address: '{ha}/status',
    title: "Home Assistant's birth message",
    description: 'online makes unknot publish discovery again.',
    contentType: 'text/plain',
    payload: text(['online', 'offline']),
    receive: { filter: '{ha}/status', when: 'HA_DISCOVERY on' },
  },
  z2mState: {
    address: '{z2m}/{friendlyName}',
    title: 'Zigbee2MQTT device state',
    description:
      'Seat devices: presence, else occupancy, else contact (true = sitting; `invert` flips contact). Heat pads (plugs): state ON/OFF. ' +
      'Topics under the friendly name with a set or get level, and bridge/…, are not read.',
    payload: {
      type: 'object',
      properties: {
        presence: { type: ['boolean', 'null'] },
        occupancy: { type: ['boolean', 'null'] },
        contact: { type: ['boolean', 'null'] },
        state: { type: ['string', 'null'], description: 'ON or OFF' },
      },
    },
    receive: { filter: '{z2m}/#', when: 'always (ingest role)', shared: true },
  },
  z2mAvailability: {
    address: '{z2m}/{friendlyName}/availability',
    title: 'Zigbee2MQTT availability',
    description: '{"state":"online"|"offline"} (Zigbee2MQTT 2.x) or plain online/offline (1.x).',
    payload: { oneOf: [schema(bridgeStateSchema), text(['online', 'offline'])] },
    receive: { filter: '{z2m}/#', when: 'always (ingest role)', shared: true },
  },
  z2mSet: {
    address: '{z2m}/{friendlyName}/set',
    title: 'Zigbee2MQTT heat-pad plug command',
    description: 'on_time makes the plug switch itself off even if unknot is gone.',
    payload: schema(z.object({ state: z.enum(['ON', 'OFF']), on_time: z.number().int().min(1).optional() })),
    send: { qos: 1, retain: false, when: 'heat on/off' },
  },
  tasmotaPower: {
    address: 'stat/{tasmotaTopic}/POWER',
    title: 'Tasmota relay state',
    description: 'Also stat/{tasmotaTopic}/POWER1 (same payload).',
    contentType: 'text/plain',
    payload: text(['ON', 'OFF']),
    receive: { filter: 'stat/+/POWER', when: 'always (ingest role)', shared: true },
  },
  tasmotaPower1: {
    address: 'stat/{tasmotaTopic}/POWER1',
    title: 'Tasmota relay 1 state (devices with several relays)',
    description: 'As stat/{tasmotaTopic}/POWER.',
    contentType: 'text/plain',
    payload: text(['ON', 'OFF']),
    receive: { filter: 'stat/+/POWER1', when: 'always (ingest role)', shared: true },
  },
  tasmotaResult: {
    address: 'stat/{tasmotaTopic}/RESULT',
    title: 'Tasmota command result',
    description: 'Read only when it carries POWER or POWER1.',
    payload: { type: 'object', properties: { POWER: { type: 'string' }, POWER1: { type: 'string' } } },
    receive: { filter: 'stat/+/RESULT', when: 'always (ingest role)', shared: true },
  },
  tasmotaState: {
    address: 'tele/{tasmotaTopic}/STATE',
    title: 'Tasmota periodic state',
    description: 'Read only when it carries POWER or POWER1.',
    payload: { type: 'object', properties: { POWER: { type: 'string' }, POWER1: { type: 'string' } } },
    receive: { filter: 'tele/+/STATE', when: 'always (ingest role)', shared: true },
  },
  tasmotaLwt: {
    address: 'tele/{tasmotaTopic}/LWT',
    title: 'Tasmota availability',
    description: 'Online / Offline.',
    contentType: 'text/plain',
    payload: text(['Online', 'Offline']),
    receive: { filter: 'tele/+/LWT', when: 'always (ingest role)', shared: true },
  },
  tasmotaBacklog: {
    address: 'cmnd/{tasmotaTopic}/Backlog',
    title: 'Tasmota heat ON',
    description: 'PulseTime1 makes the relay switch itself off (seconds + 100, 12 s to 18 h).',
    contentType: 'text/plain',
    payload: { type: 'string', pattern: '^PulseTime1 \\d+; Power1 ON$' },
    send: { qos: 1, retain: false, when: 'heat on' },
  },
  tasmotaPowerCommand: {
    address: 'cmnd/{tasmotaTopic}/POWER',
    title: 'Tasmota heat OFF',
    description: '',
    contentType: 'text/plain',
    payload: text(['OFF']),
    send: { qos: 1, retain: false, when: 'heat off' },
  },
  shellyStatus: {
    address: '{shellyPrefix}/status/switch:0',
    title: 'Shelly Gen2+ switch status',
    description: '`output` is the relay (heat pad on/off, or a seat switch).',
    payload: { type: 'object', properties: { output: { type: 'boolean' } } },
    receive: { filter: '+/status/switch:0 and +/+/status/switch:0', when: 'always (ingest role)', shared: true },
  },
  shellyOnline: {
    address: '{shellyPrefix}/online',
    title: 'Shelly availability',
    description: '',
    contentType: 'text/plain',
    payload: text(['true', 'false']),
    receive: { filter: '+/online and +/+/online', when: 'always (ingest role)', shared: true },
  },
  shellyEvents: {
    address: '{shellyPrefix}/events/rpc',
    title: 'Shelly notifications',
    description: 'NotifyStatus with switch:0.output is read like the status topic.',
    payload: anyJson('a JSON-RPC notification {src, dst, method, params}'),
    receive: { filter: '+/events/rpc and +/+/events/rpc', when: 'always (ingest role)', shared: true },
  },
  shellyRpc: {
    address: '{shellyPrefix}/rpc',
    title: 'Shelly heat command',
    description: 'Switch.Set; toggle_after makes the device switch itself off.',
    payload: schema(
      z.object({
        id: z.number().int(),
        src: z.string().describe('{base}/shelly: replies come on {base}/shelly/rpc'),
        method: z.literal('Switch.Set'),
        params: z.object({ id: z.literal(0), on: z.boolean(), toggle_after: z.number().int().optional() }),
      }),
    ),
    send: { qos: 1, retain: false, when: 'heat on/off' },
  },
  shellyReply: {
    address: '{base}/shelly/rpc',
    title: 'Shelly replies to our RPC calls',
    description: 'Errors are logged; a reply never changes state.',
    payload: anyJson('a JSON-RPC reply {id, src, dst, result | error}'),
    receive: { filter: '{base}/shelly/rpc', when: 'always (ingest role)', shared: true },
  },
};

const fill = (pattern: string, roots: TopicRoots) =>
  pattern.replaceAll('{base}', roots.base).replaceAll('{z2m}', roots.z2m).replaceAll('{ha}', roots.haPrefix);

/** The subscription filters a receive channel is documented with (`a and b` lists several). */
export const documentedFilters = (doc: Record<string, unknown>): string[] =>
  Object.values((doc.operations ?? {}) as Record<string, { 'x-unknot-filters'?: string[] }>).flatMap(
    (o) => o['x-unknot-filters'] ?? [],
  );

/** The AsyncAPI 3.0 document with the given topic roots (the defaults unless an instance says otherwise). */
export function buildAsyncApi(roots: TopicRoots = DEFAULT_TOPIC_ROOTS): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const [id, c] of Object.entries(CHANNELS)) {
    const address = fill(c.address, roots);
    const params = [...address.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!);
    messages[id] = {
      name: id,
      title: c.title,
      contentType: c.contentType ?? 'application/json',
      payload: c.payload,
    };
    channels[id] = {
      address,
      title: c.title,
      ...(c.description ? { description: c.description } : {}),
      ...(params.length
        ? { parameters: Object.fromEntries(params.map((p) => [p, { description: PARAMETERS[p] ?? p }])) }
        : {}),
      messages: { [id]: { $ref: `#/components/messages/${id}` } },
    };
    const ref = { channel: { $ref: `#/channels/${id}` }, messages: [{ $ref: `#/channels/${id}/messages/${id}` }] };
    if (c.send) {
      operations[`send_${id}`] = {
        action: 'send',
        ...ref,
        summary: `unknot publishes: ${c.send.when} (QoS ${c.send.qos}${c.send.retain ? ', retained' : ''})`,
        bindings: { mqtt: { qos: c.send.qos, retain: c.send.retain, bindingVersion: '0.2.0' } },
      };
    }
    if (c.receive) {
      const filters = c.receive.filter.split(' and ').map((f) => fill(f, roots));
      operations[`receive_${id}`] = {
        action: 'receive',
        ...ref,
        summary:
          `unknot subscribes (QoS 1) to ${filters.join(' and ')}: ${c.receive.when}` +
          (c.receive.shared ? '; through $share/<MQTT_SHARED_GROUP>/… when that is set' : ''),
        bindings: { mqtt: { qos: 1, bindingVersion: '0.2.0' } },
        'x-unknot-filters': filters,
      };
    }
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'unknot MQTT interface',
      version: packageVersion(),
      description:
        `Every MQTT topic unknot reads or writes, with base topic ${roots.base}, Zigbee2MQTT base ${roots.z2m} and Home Assistant ` +
        `discovery prefix ${roots.haPrefix} (UNKNOT_BASE_TOPIC, Z2M_BASE_TOPIC, HA_DISCOVERY_PREFIX). Operations are from unknot's side: ` +
        'send = unknot publishes, receive = unknot subscribes. Payloads unknot reads are generated from the schemas it validates with. ' +
        'Generated by npm run docs:api.',
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      broker: {
        host: 'localhost:1883',
        protocol: 'mqtt',
        description:
          'MQTT_URL (MQTT 3.1.1; 5 with MQTT_SHARED_GROUP), or the embedded broker on MQTT_EMBEDDED_PORT when MQTT_URL is unset',
      },
    },
    channels,
    operations,
    components: { messages },
  };
}
