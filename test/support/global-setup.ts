// vitest globalSetup: starts (or finds) the real Redis and MQTT broker once per run; tests read the URLs with
// inject('redisUrl') / inject('mqttUrl') and isolate themselves with uniqueNamespace().
import type { TestProject } from 'vitest/node';
import { startRedisCluster } from './redis-cluster.js';
import { startServices } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    mqttUrl: string;
    /** With UNKNOT_TEST_REDIS=cluster: REDIS_CLUSTER_NODES of a 3-master test cluster the services use; else ''. */
    redisClusterNodes: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await startServices();
  console.log(`[unknot tests] services: ${services.source}`);
  project.provide('redisUrl', services.redisUrl);
  project.provide('mqttUrl', services.mqttUrl);
  // The single Redis keeps running: fault tests that start a Redis of their own use it as before.
  const cluster = process.env.UNKNOT_TEST_REDIS === 'cluster' ? await startRedisCluster() : undefined;
  if (cluster) console.log(`[unknot tests] Redis Cluster: ${cluster.nodesSpec}`);
  project.provide('redisClusterNodes', cluster?.nodesSpec ?? '');
  return async () => {
    await cluster?.stop();
    await services.stop();
  };
}
