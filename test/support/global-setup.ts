// vitest globalSetup: starts (or finds) the real Redis and MQTT broker once per run; tests read the URLs with
// inject('redisUrl') / inject('mqttUrl') and isolate themselves with uniqueNamespace().
import type { TestProject } from 'vitest/node';
import { startServices } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    mqttUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await startServices();
  console.log(`[unknot tests] services: ${services.source}`);
  project.provide('redisUrl', services.redisUrl);
  project.provide('mqttUrl', services.mqttUrl);
  return async () => {
    await services.stop();
  };
}
