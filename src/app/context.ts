// What every role is handed by the composition root (src/main.ts).
import type { RedisClient } from '../store/redis.js';
import type { Config } from '../config.js';
import type { DependencyHealth } from '../dependencies.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { MqttGateway } from '../mqtt/gateway.js';
import type { Topics } from '../mqtt/topics.js';
import type { Queues } from '../queues/queues.js';
import type { AdherenceLog } from '../store/adherence-log.js';
import type { Keys } from '../store/keys.js';
import type { Registry } from '../store/registry.js';
import type { StateStore } from '../store/state-store.js';

export interface AppContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  redis: RedisClient;
  /** Key builders with the partition count this deployment runs with. */
  keys: Keys;
  registry: Registry;
  store: StateStore;
  adherence: AdherenceLog;
  queues: Queues;
  mqtt: MqttGateway;
  topics: Topics;
  /** Redis and broker outages: logged once each way, counted in between (absent: errors are just logged). */
  health?: DependencyHealth;
  /** Epoch ms. Injected so tests of the services can reason about time; the process uses Date.now. */
  now: () => number;
}

/** A topic filter and its handler (Home Assistant's buttons and switches); throws only for infrastructure failures. */
export interface CommandRoute {
  filter: string;
  handle: (topic: string, payload: Buffer) => Promise<void>;
}
