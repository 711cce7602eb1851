// What the heat OFF relies on in BullMQ itself (real Redis, no service process): a delayed job that fell due while
// no worker ran is processed as soon as a worker starts, and the OFF job of a session can be moved to "now" (a
// manual stop) without a second job appearing.
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { jobIds, queuePrefix, Queues, type HeatJob } from '../../src/queues/queues.js';
import { cleanupRedisPrefix, uniqueNamespace } from '../support/namespace.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('heat jobs in BullMQ', () => {
  const redisUrl = inject('redisUrl');
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(label: string) {
    const { prefix } = uniqueNamespace(label);
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const queues = new Queues(redis, prefix);
    cleanups.push(async () => {
      await queues.close();
      await redis.quit();
      await cleanupRedisPrefix(redisUrl, prefix);
    });
    const seen: Array<{ job: Job<HeatJob>; at: number }> = [];
    const startWorker = async () => {
      const worker = new Worker<HeatJob>(
        'heat',
        async (job) => {
          seen.push({ job, at: Date.now() });
        },
        { connection: redis.duplicate(), prefix: queuePrefix(prefix) },
      );
      cleanups.push(() => worker.close());
      await worker.waitUntilReady();
      return Date.now();
    };
    return { queues, seen, startWorker };
  }

  it('runs an OFF job that fell due while no worker ran as soon as a worker starts', async () => {
    const { queues, seen, startWorker } = await setup('heat-jobs-late');
    const dueAt = Date.now() + 200;
    await queues.ensureAt(
      queues.heat,
      jobIds.heatOff('u1', 's1'),
      { kind: 'heat-off', userId: 'u1', sessionId: 's1', dueAt },
      dueAt,
    );
    await sleep(1200); // "the service was down at offAt"
    const readyAt = await startWorker();
    for (let i = 0; i < 100 && seen.length === 0; i++) await sleep(10);
    expect(seen).toHaveLength(1);
    const afterStart = seen[0]!.at - readyAt;
    console.log(
      `[heat jobs] past-due delayed job processed ${afterStart} ms after the worker was ready (${seen[0]!.at - dueAt} ms after its due time)`,
    );
    expect(afterStart).toBeLessThan(1000);
  });

  it('moves a delayed OFF job to now (manual stop) and never doubles it', async () => {
    const { queues, seen, startWorker } = await setup('heat-jobs-move');
    await startWorker();
    const id = jobIds.heatOff('u2', 's2');
    const later = Date.now() + 60_000;
    await queues.ensureAt(queues.heat, id, { kind: 'heat-off', userId: 'u2', sessionId: 's2', dueAt: later }, later);
    await queues.ensureAt(queues.heat, id, { kind: 'heat-off', userId: 'u2', sessionId: 's2', dueAt: later }, later);
    expect(await queues.heat.getDelayedCount()).toBe(1);
    const now = Date.now();
    await queues.ensureAt(queues.heat, id, { kind: 'heat-off', userId: 'u2', sessionId: 's2', dueAt: now }, now);
    for (let i = 0; i < 200 && seen.length === 0; i++) await sleep(10);
    expect(seen).toHaveLength(1);
    // (Its data may still say the old due time: the move can win the race against updateData. The heat processor
    // reads only the user and session from it and decides from the stored state.)
    expect(seen[0]!.job.data).toMatchObject({ kind: 'heat-off', userId: 'u2', sessionId: 's2' });
    expect(seen[0]!.at - now).toBeLessThan(1500);
    await sleep(200);
    expect(seen).toHaveLength(1);
  });
});
