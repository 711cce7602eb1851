// The heat worker: sends heat-pad ON and OFF commands from their BullMQ jobs, and sweeps every few seconds for
// sessions past their OFF time whose OFF is not recorded as sent (a failed or lost job, a crash).
// Runnable alone: `tsx workers/heat.ts` (same environment as the service) runs just this worker.
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppContext } from '../src/app/context.js';
import type { Heat } from '../src/app/heat.js';
import type { HeatJob } from '../src/queues/queues.js';
import { isEntryPoint, runStandaloneWorker } from './standalone.js';

/** One scheduler for every instance: upserting it again (another instance, a restart) changes nothing. */
export const HEAT_SWEEP_SCHEDULER = 'heat-sweep';
/** Real time, not scaled: how long a session's OFF can go unsent when its job is gone. */
export const HEAT_SWEEP_EVERY_MS = 2_000;

export class HeatWorker {
  private worker?: Worker<HeatJob>;
  private connection?: Redis;

  constructor(
    private readonly ctx: AppContext,
    private readonly heat: Heat,
  ) {}

  async start(): Promise<void> {
    const { ctx } = this;
    this.connection = ctx.redis.duplicate();
    this.worker = new Worker<HeatJob>('heat', (job, token) => this.heat.processJob(job, token), {
      connection: this.connection,
      prefix: ctx.config.redis.prefix,
      concurrency: 64,
    });
    this.worker.on('failed', (job, err) =>
      ctx.log.warn({ jobId: job?.id, err: err.message, attempts: job?.attemptsMade }, 'heat job failed'),
    );
    this.worker.on('error', (err) => ctx.log.error({ err: err.message }, 'heat worker error'));
    await this.worker.waitUntilReady();
    await ctx.queues.heat.upsertJobScheduler(
      HEAT_SWEEP_SCHEDULER,
      { every: HEAT_SWEEP_EVERY_MS },
      { name: 'heat-sweep', data: { kind: 'heat-sweep' }, opts: { removeOnComplete: true, removeOnFail: 100 } },
    );
    ctx.log.info({ sweepEveryMs: HEAT_SWEEP_EVERY_MS }, 'heat worker started');
    // Straight away as well: after a crash, an OFF past due must not wait for the scheduler's first tick, and jobs
    // lost between a commit and its effects are put back.
    void this.heat
      .sweep()
      .then((n) => n > 0 && ctx.log.warn({ sent: n }, 'heat OFFs sent at start-up by the sweep'))
      .catch((err) => ctx.log.warn({ err }, 'start-up heat sweep failed'))
      .then(() => this.heat.reconcileAll());
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    await this.connection?.quit().catch(() => this.connection?.disconnect());
  }
}

if (isEntryPoint(import.meta.url)) await runStandaloneWorker('heat');
