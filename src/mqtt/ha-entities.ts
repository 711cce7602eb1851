// Home Assistant MQTT discovery, the pure part (docs/integrations/home-assistant.md): the entities of one person's HA
// device and their discovery configs, built from topics and the profile. Published by src/app/ha-discovery.ts.
import type { Profile } from '../domain/profile.js';
import type { Topics } from './topics.js';

export type HaComponent = 'sensor' | 'binary_sensor' | 'button' | 'switch' | 'event';

export interface DiscoveryConfig {
  component: HaComponent;
  /** The entity's part of its ids: `unknot_<userId>_<object>`. */
  object: string;
  /** `<prefix>/<component>/unknot_<userId>/<object>/config` */
  topic: string;
  config: Record<string, unknown>;
}

/** Every entity a user can have, so that deleting a user removes them all (the heat switch included). */
export const ENTITIES: ReadonlyArray<{ component: HaComponent; object: string }> = [
  { component: 'sensor', object: 'sitting_minutes' },
  { component: 'binary_sensor', object: 'sitting' },
  { component: 'binary_sensor', object: 'break_due' },
  { component: 'sensor', object: 'next_nudge' },
  { component: 'sensor', object: 'compliance_today' },
  { component: 'button', object: 'snooze' },
  { component: 'switch', object: 'heat' },
  { component: 'event', object: 'nudge' },
  // The methods log (docs/concepts/methods.md): "that helped" / "did not help" for the latest method tried.
  { component: 'button', object: 'helped' },
  { component: 'button', object: 'not_helped' },
];

export const HEAT = ENTITIES.find((e) => e.object === 'heat')!;
export const nodeIdOf = (userId: string) => `unknot_${userId}`;
export const configTopic = (topics: Topics, userId: string, e: { component: HaComponent; object: string }) =>
  topics.haConfig(e.component, nodeIdOf(userId), e.object);

/**
 * The discovery configs of one user (pure). Every topic in them is one the service publishes (user state,
 * adherence, nudge, bridge state) or handles (snooze and heat commands).
 */
export function discoveryConfigs(
  topics: Topics,
  userId: string,
  profile: Pick<Profile, 'name'>,
  hasHeatPad: boolean,
): DiscoveryConfig[] {
  const nodeId = nodeIdOf(userId);
  const state = topics.userState(userId);
  const common = (component: HaComponent, object: string, name: string) => ({
    name,
    unique_id: `${nodeId}_${object}`,
    // HA 2025.10 replaced `object_id` with `default_entity_id` (domain.object id): stable entity ids.
    default_entity_id: `${component}.${nodeId}_${object}`,
    has_entity_name: true,
    device: {
      identifiers: [nodeId],
      name: `unknot ${profile.name ?? userId}`,
      manufacturer: 'unknot',
      model: 'Sitting coach',
    },
    origin: { name: 'unknot' },
    availability: [
      {
        topic: topics.bridgeState(),
        value_template: '{{ value_json.state }}',
        payload_available: 'online',
        payload_not_available: 'offline',
      },
    ],
    qos: 1,
  });
  const entity = (
    component: HaComponent,
    object: string,
    name: string,
    rest: Record<string, unknown>,
  ): DiscoveryConfig => ({
    component,
    object,
    topic: configTopic(topics, userId, { component, object }),
    config: { ...common(component, object, name), ...rest },
  });
  const configs = [
    entity('sensor', 'sitting_minutes', 'Sitting minutes', {
      state_topic: state,
      // The state is published on every change, not every minute: sittingSince (an attribute) gives a live count.
      value_template: '{{ ((value_json.sittingSeconds | float(0)) / 60) | round(1) }}',
      json_attributes_topic: state,
      unit_of_measurement: 'min',
      device_class: 'duration',
      state_class: 'measurement',
      icon: 'mdi:seat',
    }),
    entity('binary_sensor', 'sitting', 'Sitting', {
      state_topic: state,
      value_template: "{{ 'ON' if value_json.posture == 'sitting' else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'occupancy',
      icon: 'mdi:seat',
    }),
    entity('binary_sensor', 'break_due', 'Break due', {
      state_topic: state,
      value_template: "{{ 'ON' if value_json.breakDue else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      icon: 'mdi:human-handsup',
    }),
    entity('sensor', 'next_nudge', 'Next nudge', {
      state_topic: state,
      // HA reads a rendered `None` as unknown.
      value_template: '{{ value_json.nextNudgeAt if value_json.nextNudgeAt else None }}',
      device_class: 'timestamp',
      icon: 'mdi:bell-clock',
    }),
    entity('sensor', 'compliance_today', 'Compliance today', {
      state_topic: topics.userAdherence(userId),
      value_template: '{{ (value_json.compliance * 100) | round(0) if value_json.compliance is number else None }}',
      json_attributes_topic: topics.userAdherence(userId),
      unit_of_measurement: '%',
      state_class: 'measurement',
      icon: 'mdi:percent-circle',
    }),
    entity('button', 'snooze', 'Snooze', {
      command_topic: topics.userCommand(userId, 'snooze'),
      payload_press: 'PRESS',
      icon: 'mdi:alarm-snooze',
    }),
  ];
  if (hasHeatPad) {
    configs.push(
      entity('switch', 'heat', 'Heat pad', {
        command_topic: topics.userCommand(userId, 'heat'),
        payload_on: 'ON',
        payload_off: 'OFF',
        state_topic: state,
        value_template: "{{ 'ON' if value_json.heat.on else 'OFF' }}",
        state_on: 'ON',
        state_off: 'OFF',
        device_class: 'switch',
        icon: 'mdi:heat-wave',
      }),
    );
  }
  configs.push(
    entity('event', 'nudge', 'Nudge', {
      state_topic: topics.userNudge(userId),
      event_types: ['nudge'],
      icon: 'mdi:bell-ring',
    }),
  );
  configs.push(
    entity('button', 'helped', 'That helped', {
      command_topic: topics.userCommand(userId, 'helped'),
      payload_press: 'PRESS',
      icon: 'mdi:thumb-up',
    }),
    entity('button', 'not_helped', 'Did not help', {
      command_topic: topics.userCommand(userId, 'not_helped'),
      payload_press: 'PRESS',
      icon: 'mdi:thumb-down',
    }),
  );
  return configs;
}

/** Publishes and removes discovery configs, keeps the adherence topic current and handles HA's commands. */
