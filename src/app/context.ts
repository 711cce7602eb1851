// What every role is handed by the composition root (src/main.ts).
import type { RedisClient } from '../store/redis.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { MqttGateway } from '../mqtt/gateway.js';
import type { Topics } from '../mqtt/topics.js';
import type { Queues } from '../queues/queues.js';
import type { AdherenceLog } from '../store/adherence-log.js';
import type { Registry } from '../store/registry.js';
import type { StateStore } from '../store/state-store.js';

export interface AppContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  redis: RedisClient;
  registry: Registry;
  store: StateStore;
  adherence: AdherenceLog;
  queues: Queues;
  mqtt: MqttGateway;
  topics: Topics;
  /** Epoch ms. Injected so tests of the services can reason about time; the process uses Date.now. */
  now: () => number;
}
