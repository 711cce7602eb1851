// What every unknot BullMQ worker shares: its own Redis connection (closed again on stop), the service prefix,
// and failures logged rather than thrown.
import { DelayedError, Worker, type Job, type Processor } from 'bullmq';
import { duplicateClient, type RedisClient } from '../src/store/redis.js';
import type { AppContext } from '../src/app/context.js';
import { queuePrefix, type QueueName } from '../src/queues/queues.js';
import { blockingRedisOptions } from '../src/store/redis.js';
import { isRedisUnavailable } from '../src/errors.js';

/** How long a job stays with a worker that stopped renewing its lock (see the Worker options below). */
export const WORKER_LOCK_MS = 5_000;

export class QueueWorker<T> {
  private worker?: Worker<T>;
  private connection?: RedisClient;

  constructor(
    private readonly ctx: AppContext,
    private readonly queue: QueueName,
    private readonly processor: Processor<T>,
    private readonly concurrency: number,
  ) {}

  async start(): Promise<void> {
    const { ctx, queue } = this;
    this.connection = duplicateClient(ctx.redis, blockingRedisOptions);
    this.worker = new Worker<T>(queue, this.processor, {
      connection: this.connection,
      prefix: queuePrefix(ctx.config.redis.prefix),
      concurrency: this.concurrency,
      // A worker that dies (kill -9, a crash) leaves its jobs active under a lock nobody renews; BullMQ hands them to
      // another worker once the lock has lapsed and a stalled check has seen it. With BullMQ's defaults (30 s and 30 s)
      // a nudge held by a dead worker went out up to a minute late (test/e2e/faults.test.ts); our jobs take
      // milliseconds, so a 5 s lock (the heat claim's lease too) checked every 2.5 s brings them back within ~7.5 s.
      // A lock lost to a stalled event loop only means a second run, and every processor is idempotent; two such
      // stalls are allowed before a job is given up as failed.
      lockDuration: WORKER_LOCK_MS,
      stalledInterval: WORKER_LOCK_MS / 2,
      maxStalledCount: 2,
    });
    // Redis away: every poll and every job attempt fails; one line for the outage (DependencyHealth), not one each.
    this.worker.on('failed', (job, err) => {
      if (ctx.health && isRedisUnavailable(err)) ctx.health.failed('redis', err, `job ${queue}`);
      else ctx.log.warn({ queue, jobId: job?.id, err: err.message, attempts: job?.attemptsMade }, 'job failed');
    });
    this.worker.on('error', (err) => {
      if (ctx.health && (isRedisUnavailable(err) || ctx.health.isDown('redis')))
        ctx.health.failed('redis', err, `worker ${queue}`);
      else ctx.log.error({ queue, err: err.message }, 'worker error');
    });
    await this.worker.waitUntilReady();
  }

  async stop(): Promise<void> {
    // With Redis gone a graceful close waits for replies that never come (3 s per worker, then main.ts gives up on
    // it): close without waiting for active jobs, whose locks lapse and hand them to another worker anyway.
    // The shared connection not ready counts too: right after Redis went, its first reconnect error may not be in.
    if (this.ctx.health?.isDown('redis') || this.ctx.redis.status !== 'ready') {
      this.connection?.disconnect();
      await this.worker?.close(true);
      return;
    }
    await this.worker?.close();
    await this.connection?.quit().catch(() => this.connection?.disconnect());
  }
}

/**
 * What a processor in src/app returns, as BullMQ needs it: a result, or `{until}` — the job is moved back to
 * delayed until then (by the injected clock) and BullMQ is told so by DelayedError.
 */
export async function settle<T>(
  ctx: AppContext,
  job: Job<T>,
  token: string | undefined,
  r: string | { until: number },
): Promise<string> {
  if (typeof r === 'string') return r;
  await job.moveToDelayed(Math.max(r.until, ctx.now() + 1), token);
  throw new DelayedError();
}
