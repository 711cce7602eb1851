// The adapter registry: one entry per protocol (docs/development/architecture.md, principle 6), and the lookup from an
// inbound topic to the adapter that reads it.
import type { Topics } from '../mqtt/topics.js';
import { PROTOCOLS, type Protocol } from '../domain/types.js';
import type { Adapter, TopicMatch } from './adapter.js';
import { shellyAdapter } from './shelly.js';
import { tasmotaAdapter } from './tasmota.js';
import { unknotAdapter } from './unknot.js';
import { zigbee2mqttAdapter } from './zigbee2mqtt.js';

export type { Adapter, AdapterContext, ParseResult, TopicMatch } from './adapter.js';
export { activityToPosture, stepsToPosture, MIN_MOVING_STEPS, MIN_MOVING_STEPS_PER_MINUTE } from './activity.js';
export { MAX_PAYLOAD_BYTES, parseAt, subscriptionFilter, type ParsedAt } from './common.js';
export { describeShellyReply, type ShellyReply } from './shelly.js';
export { summariseIssues } from './unknot.js';
export { shellyAdapter, tasmotaAdapter, unknotAdapter, zigbee2mqttAdapter };

export const adapters: Record<Protocol, Adapter> = {
  unknot: unknotAdapter,
  zigbee2mqtt: zigbee2mqttAdapter,
  tasmota: tasmotaAdapter,
  shelly: shellyAdapter,
};

/** Every subscription filter of every protocol, without duplicates. */
export const allSubscriptions = (topics: Topics): string[] => [
  ...new Set(PROTOCOLS.flatMap((p) => adapters[p].subscriptions(topics))),
];

/**
 * The adapter that reads `topic`, tried in PROTOCOLS order (unknot first, so our own base topic always wins).
 * Null for a topic no adapter reads or one they deliberately ignore (e.g. a Z2M `/set`). Never throws.
 */
export function matchTopic(topic: string, topics: Topics): { adapter: Adapter; match: TopicMatch } | null {
  for (const protocol of PROTOCOLS) {
    const adapter = adapters[protocol];
    let match: TopicMatch | null;
    try {
      match = adapter.match(topic, topics);
    } catch {
      match = null;
    }
    if (match) return { adapter, match };
  }
  return null;
}
