// What every role is handed by the composition root (src/main.ts).
import { duplicateClient, type RedisClient } from '../store/redis.js';
import type { Config } from '../config.js';
import type { DependencyHealth } from '../dependencies.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { MqttGateway } from '../mqtt/gateway.js';
import type { Topics } from '../mqtt/topics.js';
import { Queues } from '../queues/queues.js';
import { AdherenceLog } from '../store/adherence-log.js';
import { Keys } from '../store/keys.js';
import { Registry } from '../store/registry.js';
import { StateStore } from '../store/state-store.js';

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

/** What createAppContext is given: the connections and services made before it, which it does not own. */
export interface AppContextParts {
  config: Config;
  log: Logger;
  metrics: Metrics;
  redis: RedisClient;
  mqtt: MqttGateway;
  topics: Topics;
  now: () => number;
  health?: DependencyHealth;
  /**
   * The Keys the caller checked the partition count with (src/main.ts checks it before anything else is written,
   * and before the queues are made: BullMQ talks to Redis as soon as a queue exists); default: from the config.
   */
  keys?: Keys;
  /** Errors of the registry's change subscription (its own connection); default: ignored. */
  onRegistryError?: (err: Error) => void;
}

/**
 * The stores and queues over the given connections, the same in the process, the tests' in-process parts and the
 * benchmarks: built in one place, so that none of them runs a registry or a store wired differently. Its caches are
 * not started and the queues are the caller's to close.
 */
export function createAppContext(parts: AppContextParts): AppContext {
  const { config, redis, now, health, onRegistryError } = parts;
  const keys = parts.keys ?? new Keys(config.redis.prefix, config.redis.partitions);
  return {
    config,
    log: parts.log,
    metrics: parts.metrics,
    health,
    redis,
    keys,
    registry: new Registry(redis, keys, onRegistryError),
    store: new StateStore(redis, keys),
    adherence: new AdherenceLog(redis, keys),
    // Job delays on the context's clock: a test that moves it moves them too. A connection of their own: BullMQ
    // defines ~60 scripts on the connection it is given, and ioredis copies every script defined on a connection
    // into each pipeline it makes (one per auto-pipelined batch), which was ~4 % of a worker's CPU per nudge.
    queues: new Queues(duplicateClient(redis), config.redis.prefix, now, true),
    mqtt: parts.mqtt,
    topics: parts.topics,
    now,
  };
}

/** A topic filter and its handler (Home Assistant's buttons and switches); throws only for infrastructure failures. */
export interface CommandRoute {
  filter: string;
  handle: (topic: string, payload: Buffer) => Promise<void>;
}
