// Home Assistant MQTT discovery, the pure part (docs/integrations/home-assistant.md): the entities of one person's HA
// device and their discovery configs, built from topics and the profile. Published by src/app/ha-discovery.ts.
// The entities are one table (ENTITIES): a new entity is one row, and a row with a `command` is handled by
// HaDiscovery through ingest (acknowledged after commit).
import { createHash } from 'node:crypto';
import { profileSchema, type Profile } from '../domain/profile.js';
import { POSTURES } from '../domain/types.js';
import type { Topics } from './topics.js';

export type HaComponent = 'sensor' | 'binary_sensor' | 'button' | 'switch' | 'event' | 'number';

export interface DiscoveryConfig {
  component: HaComponent;
  /** The entity's part of its ids: `unknot_<userId>_<object>`. */
  object: string;
  /** `<prefix>/<component>/unknot_<userId>/<object>/config` */
  topic: string;
  config: Record<string, unknown>;
}

/** What a row needs to build its config. */
export interface EntityContext {
  topics: Topics;
  userId: string;
  profile: Pick<Profile, 'name' | 'heat'>;
}

export interface EntitySpec {
  component: HaComponent;
  object: string;
  name: string;
  /** Only for people with a heat pad: published with the first pad, removed with the last. */
  heatPad?: boolean;
  /** The command topic level (`{base}/users/<userId>/<command>/set`) HaDiscovery handles for this entity. */
  command?: string;
  /** `diagnostic` (read-only technical detail) or `config` (a setting), as Home Assistant groups them. */
  category?: 'diagnostic' | 'config';
  config(c: EntityContext): Record<string, unknown>;
}

// ------------------------------------------------------------------------------------------ entity ids

/**
 * Home Assistant's `slugify` (homeassistant/util/__init__.py, python-slugify with separator `_`) for the ASCII ids
 * unknot allows: lower case, every run of characters other than `a-z0-9` becomes one `_`, no `_` at either end; an
 * empty result is `unknown`. HA applies it to the object part of `default_entity_id` itself, so an id that is not
 * a slug already would not end up as the entity id unknot announced.
 */
export function haSlug(text: string): string {
  const slug = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return slug === '' ? 'unknown' : slug;
}

/**
 * `valid_entity_id` in homeassistant/core.py:
 * `VALID_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")` — lower-case letters,
 * digits and `_`, no `__` after the first character, no `_` at either end of the domain or the object id.
 */
export const VALID_ENTITY_ID = /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/;

/**
 * The person's part of their entity ids. A user id that is a slug already (`ana`, `ana_maria`) is used as it is, so
 * existing entity ids never change. Any other id (`ana-maria`, `Ana`, `_x`) is slugged and given six hex digits of
 * its SHA-256: two people whose ids slug alike (`Ana` and `ana`, `ana-maria` and `ana_maria`) never get the same
 * entity id, and a person's entity ids depend on their id alone, never on who else exists or who came first.
 */
export function entityBase(userId: string): string {
  const slug = haSlug(userId);
  if (slug === userId) return slug;
  return `${slug}_${createHash('sha256').update(userId).digest('hex').slice(0, 6)}`;
}

/** The entity id unknot asks Home Assistant for (`default_entity_id`). */
export const entityIdOf = (component: HaComponent, userId: string, object: string) =>
  `${component}.unknot_${entityBase(userId)}_${object}`;

/** The person's HA device and its discovery node id: the raw user id, as always (unique_id stays stable). */
export const nodeIdOf = (userId: string) => `unknot_${userId}`;

export const configTopic = (topics: Topics, userId: string, e: { component: HaComponent; object: string }) =>
  topics.haConfig(e.component, nodeIdOf(userId), e.object);

// ------------------------------------------------------------------------------------------ the table

/** A profile number's range as the profile schema (the one place ranges live) says it. */
function range(field: 'breakAfterMinutes'): { min: number; max: number } {
  const n = profileSchema.shape[field].unwrap();
  return { min: n.minValue ?? 0, max: n.maxValue ?? Number.MAX_SAFE_INTEGER };
}
const heatMinutesMin = () => profileSchema.shape.heat.unwrap().shape.defaultMinutes.unwrap().minValue ?? 1;

const onOffFrom = (expr: string) => ({
  value_template: `{{ 'ON' if ${expr} else 'OFF' }}`,
  payload_on: 'ON',
  payload_off: 'OFF',
});

/** Every entity a user can have, so that deleting a user removes them all (the heat-pad ones included). */
export const ENTITIES: readonly EntitySpec[] = [
  {
    component: 'sensor',
    object: 'sitting_minutes',
    name: 'Sitting minutes',
    config: ({ topics, userId }) => ({
      state_topic: topics.userState(userId),
      // The state is published on every change, not every minute: sittingSince (an attribute) gives a live count.
      value_template: '{{ ((value_json.sittingSeconds | float(0)) / 60) | round(1) }}',
      json_attributes_topic: topics.userState(userId),
      unit_of_measurement: 'min',
      device_class: 'duration',
      state_class: 'measurement',
      suggested_display_precision: 0,
      icon: 'mdi:seat',
    }),
  },
  {
    component: 'sensor',
    object: 'posture',
    name: 'Posture',
    config: ({ topics, userId }) => ({
      state_topic: topics.userState(userId),
      // HA reads a rendered `None` as unknown (no seat sensor has spoken yet).
      value_template: '{{ value_json.posture if value_json.posture else None }}',
      device_class: 'enum',
      options: [...POSTURES],
      icon: 'mdi:human-greeting-variant',
    }),
  },
  {
    component: 'binary_sensor',
    object: 'sitting',
    name: 'Sitting',
    config: ({ topics, userId }) => ({
      state_topic: topics.userState(userId),
      ...onOffFrom("value_json.posture == 'sitting'"),
      device_class: 'occupancy',
      icon: 'mdi:seat',
    }),
  },
  {
    component: 'binary_sensor',
    object: 'break_due',
    name: 'Break due',
    config: ({ topics, userId }) => ({
      state_topic: topics.userState(userId),
      ...onOffFrom('value_json.breakDue'),
      icon: 'mdi:human-handsup',
    }),
  },
  {
    component: 'sensor',
    object: 'next_nudge',
    name: 'Next nudge',
    category: 'diagnostic',
    config: ({ topics, userId }) => ({
      state_topic: topics.userState(userId),
      value_template: '{{ value_json.nextNudgeAt if value_json.nextNudgeAt else None }}',
      device_class: 'timestamp',
      icon: 'mdi:bell-clock',
    }),
  },
  {
    component: 'sensor',
    object: 'compliance_today',
    name: 'Compliance today',
    config: ({ topics, userId }) => ({
      state_topic: topics.userAdherence(userId),
      value_template: '{{ (value_json.compliance * 100) | round(0) if value_json.compliance is number else None }}',
      json_attributes_topic: topics.userAdherence(userId),
      unit_of_measurement: '%',
      state_class: 'measurement',
      suggested_display_precision: 0,
      icon: 'mdi:percent-circle',
    }),
  },
  {
    component: 'sensor',
    object: 'routine_progress',
    name: 'Routine progress',
    config: ({ topics, userId }) => ({
      state_topic: topics.userState(userId),
      // Share of the running routine's steps done; unknown while none runs.
      value_template:
        '{{ ((value_json.routine.index / value_json.routine.steps) * 100) | round(0) if value_json.routine else None }}',
      // The running step (routine, step, kind, seconds, message…) as attributes, for step announcements.
      json_attributes_topic: topics.userState(userId),
      json_attributes_template: '{{ (value_json.routine if value_json.routine else {}) | tojson }}',
      unit_of_measurement: '%',
      suggested_display_precision: 0,
      icon: 'mdi:yoga',
    }),
  },
  {
    component: 'number',
    object: 'break_interval',
    name: 'Break interval',
    command: 'break_interval',
    category: 'config',
    config: ({ topics, userId }) => ({
      command_topic: topics.userCommand(userId, 'break_interval'),
      state_topic: topics.userSettings(userId),
      value_template: '{{ value_json.breakAfterMinutes }}',
      ...range('breakAfterMinutes'),
      step: 1,
      mode: 'box',
      unit_of_measurement: 'min',
      device_class: 'duration',
      icon: 'mdi:timer-cog-outline',
    }),
  },
  {
    component: 'button',
    object: 'snooze',
    name: 'Snooze',
    command: 'snooze',
    config: ({ topics, userId }) => ({
      command_topic: topics.userCommand(userId, 'snooze'),
      payload_press: 'PRESS',
      icon: 'mdi:alarm-snooze',
    }),
  },
  {
    component: 'button',
    object: 'start_routine',
    name: 'Start routine',
    command: 'routine',
    config: ({ topics, userId }) => ({
      command_topic: topics.userCommand(userId, 'routine'),
      payload_press: 'PRESS',
      icon: 'mdi:play-circle-outline',
    }),
  },
  {
    component: 'switch',
    object: 'heat',
    name: 'Heat pad',
    heatPad: true,
    command: 'heat',
    config: ({ topics, userId }) => ({
      command_topic: topics.userCommand(userId, 'heat'),
      state_topic: topics.userState(userId),
      value_template: "{{ 'ON' if value_json.heat.on else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      state_on: 'ON',
      state_off: 'OFF',
      device_class: 'switch',
      icon: 'mdi:heat-wave',
    }),
  },
  {
    component: 'number',
    object: 'heat_minutes',
    name: 'Heat minutes',
    heatPad: true,
    command: 'heat_minutes',
    category: 'config',
    config: ({ topics, userId, profile }) => ({
      command_topic: topics.userCommand(userId, 'heat_minutes'),
      state_topic: topics.userSettings(userId),
      value_template: '{{ value_json.heat.defaultMinutes }}',
      // Up to the person's own limit: the profile refuses a default above maxMinutes.
      min: heatMinutesMin(),
      max: profile.heat.maxMinutes,
      step: 1,
      mode: 'box',
      unit_of_measurement: 'min',
      device_class: 'duration',
      icon: 'mdi:timer-outline',
    }),
  },
  {
    component: 'sensor',
    object: 'heat_off_at',
    name: 'Heat off at',
    heatPad: true,
    category: 'diagnostic',
    config: ({ topics, userId }) => ({
      state_topic: topics.userState(userId),
      value_template: '{{ value_json.heat.offAt if value_json.heat.offAt else None }}',
      device_class: 'timestamp',
      icon: 'mdi:timer-off-outline',
    }),
  },
  {
    component: 'event',
    object: 'nudge',
    name: 'Nudge',
    config: ({ topics, userId }) => ({
      // Home Assistant ignores retained messages on event entities; nudges are never retained.
      state_topic: topics.userNudge(userId),
      event_types: ['nudge'],
      icon: 'mdi:bell-ring',
    }),
  },
  // The methods log (docs/concepts/methods.md): how the latest method tried (a routine, heat) felt. Handled by
  // HaDiscovery's methods routes rather than a row command.
  {
    component: 'button',
    object: 'helped',
    name: 'That helped',
    config: ({ topics, userId }) => ({
      command_topic: topics.userCommand(userId, 'helped'),
      payload_press: 'PRESS',
      icon: 'mdi:thumb-up',
    }),
  },
  {
    component: 'button',
    object: 'not_helped',
    name: 'Did not help',
    config: ({ topics, userId }) => ({
      command_topic: topics.userCommand(userId, 'not_helped'),
      payload_press: 'PRESS',
      icon: 'mdi:thumb-down',
    }),
  },
];

/** The heat-pad rows: published with the first heat pad, emptied with the last. */
export const HEAT_PAD_ENTITIES = ENTITIES.filter((e) => e.heatPad);

export interface DiscoveryOptions {
  /** origin.sw_version */
  swVersion?: string;
  /** The dashboard (device `configuration_url`, origin `support_url`); left out when null. */
  dashboardUrl?: string | null;
}

/**
 * The discovery configs of one user (pure). Every topic in them is one the service publishes (user state,
 * settings, adherence, nudge, bridge state) or handles (the rows' commands). Only keys Home Assistant's MQTT schemas
 * know are used: it drops unknown ones silently (that is how `has_entity_name` went unnoticed).
 */
export function discoveryConfigs(
  topics: Topics,
  userId: string,
  profile: Pick<Profile, 'name' | 'heat'>,
  hasHeatPad: boolean,
  opts: DiscoveryOptions = {},
): DiscoveryConfig[] {
  const nodeId = nodeIdOf(userId);
  const url = opts.dashboardUrl ?? undefined;
  const device = {
    identifiers: [nodeId],
    name: `unknot ${profile.name ?? userId}`,
    manufacturer: 'unknot',
    model: 'Sitting coach',
    ...(opts.swVersion ? { sw_version: opts.swVersion } : {}),
    ...(url ? { configuration_url: url } : {}),
  };
  const origin = {
    name: 'unknot',
    ...(opts.swVersion ? { sw_version: opts.swVersion } : {}),
    ...(url ? { support_url: url } : {}),
  };
  const availability = [
    {
      topic: topics.bridgeState(),
      value_template: '{{ value_json.state }}',
      payload_available: 'online',
      payload_not_available: 'offline',
    },
  ];
  const ctx: EntityContext = { topics, userId, profile };
  return ENTITIES.filter((e) => hasHeatPad || !e.heatPad).map((e) => ({
    component: e.component,
    object: e.object,
    topic: configTopic(topics, userId, e),
    config: {
      name: e.name,
      unique_id: `${nodeId}_${e.object}`,
      // HA 2025.10 replaced `object_id` with `default_entity_id` (domain.object id): stable entity ids.
      default_entity_id: entityIdOf(e.component, userId, e.object),
      device,
      origin,
      availability,
      qos: 1,
      ...(e.category ? { entity_category: e.category } : {}),
      ...e.config(ctx),
    },
  }));
}
