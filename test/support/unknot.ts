// Starts unknot for an end-to-end test the way a hub owner would run it, in a namespace of its own, and
// offers the few HTTP calls every such test makes.
import type { ConnectionOptions } from 'bullmq';
import { Cluster } from 'ioredis';
import { inject } from 'vitest';
import { queuePrefix } from '../../src/queues/queues.js';
import { connectClient, type TestMqttClient } from './mqtt-client.js';
import { cleanupRedisPrefix, uniqueNamespace, type TestNamespace } from './namespace.js';
import { startService, type ServiceHandle } from './service-process.js';

export interface Harness {
  ns: TestNamespace;
  /** Env shared by every process of this test (same Redis prefix, base topics, broker). */
  env: Record<string, string>;
  mqtt: TestMqttClient;
  start(extraEnv?: Record<string, string | undefined>, label?: string): Promise<ServiceHandle>;
  close(): Promise<void>;
}

/** `servers`: a Redis and broker of the test's own (fault tests kill them) instead of the suite-wide ones. */
export async function harness(
  label: string,
  env: Record<string, string> = {},
  servers?: { redisUrl: string; mqttUrl: string },
): Promise<Harness> {
  const ns = uniqueNamespace(label);
  const redisUrl = servers?.redisUrl ?? inject('redisUrl');
  const mqttUrl = servers?.mqttUrl ?? inject('mqttUrl');
  // UNKNOT_TEST_REDIS=cluster: the services run on the test cluster (a test with servers of its own does not).
  const clusterNodes = servers ? '' : inject('redisClusterNodes');
  const baseEnv: Record<string, string> = {
    REDIS_URL: redisUrl,
    ...(clusterNodes ? { REDIS_CLUSTER_NODES: clusterNodes } : {}),
    MQTT_URL: mqttUrl,
    UNKNOT_REDIS_PREFIX: ns.prefix,
    UNKNOT_BASE_TOPIC: ns.baseTopic,
    Z2M_BASE_TOPIC: `${ns.baseTopic}-z2m`,
    HA_DISCOVERY_PREFIX: `${ns.baseTopic}-ha`,
    HA_STATUS_TOPIC: `${ns.baseTopic}-ha-status`,
    UNKNOT_TIME_SCALE: '600',
    // Tests poll the API every 50 ms (eventually()); the per-address limit has its own tests (security-http).
    UNKNOT_API_RATE_LIMIT: '0',
    ...env,
  };
  const mqtt = await connectClient(mqttUrl);
  const services: ServiceHandle[] = [];
  return {
    ns,
    env: baseEnv,
    mqtt,
    async start(extraEnv = {}, name = label) {
      const s = await startService({ env: { ...baseEnv, ...extraEnv }, label: name });
      services.push(s);
      return s;
    },
    async close() {
      await Promise.all(services.map((s) => s.stop().catch(() => undefined)));
      await mqtt.end();
      await cleanupRedisPrefix(redisUrl, ns.prefix, clusterNodes || undefined);
    },
  };
}

/** Anything with fetchJson: a whole-process ServiceHandle or an in-process service (test/support/in-process.ts). */
export type ApiClient = Pick<ServiceHandle, 'fetchJson'>;

export async function putUser(svc: ApiClient, userId: string, profile: Record<string, unknown> = {}) {
  const r = await svc.fetchJson(`/api/users/${userId}`, { method: 'PUT', json: profile });
  if (r.status !== 200) throw new Error(`PUT user ${userId}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Record<string, unknown>;
}

export async function putDevice(svc: ApiClient, deviceId: string, device: Record<string, unknown>) {
  const r = await svc.fetchJson(`/api/devices/${deviceId}`, { method: 'PUT', json: device });
  if (r.status !== 200) throw new Error(`PUT device ${deviceId}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Record<string, unknown>;
}

export async function adherence(svc: ApiClient, userId: string): Promise<Array<Record<string, unknown>>> {
  const r = await svc.fetchJson(`/api/users/${userId}/adherence`);
  return (r.body as { entries: Array<Record<string, unknown>> }).entries;
}

/** Polls until `check` returns a value (not undefined/false) or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * BullMQ options for a test's own look at the service's queues: the suite's Redis, or with UNKNOT_TEST_REDIS=cluster
 * the cluster and the `{q}`-tagged prefix the service uses there (src/store/redis.ts, queuePrefix).
 */
export function queueOptions(prefix: string): { connection: ConnectionOptions; prefix: string } {
  const nodes = inject('redisClusterNodes');
  if (!nodes) return { connection: { url: inject('redisUrl') }, prefix: queuePrefix(prefix) };
  const startup = nodes.split(',').map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) }));
  return {
    connection: new Cluster(startup, { redisOptions: { maxRetriesPerRequest: null } }),
    prefix: queuePrefix(prefix),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
