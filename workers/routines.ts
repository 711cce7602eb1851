// The routines worker: ends each step of a guided routine and begins the next (or completes the routine).
// Runnable alone: `tsx workers/routines.ts` (same environment as the service) runs just this worker.
import { Worker } from 'bullmq';
import type { AppContext } from '../src/app/context.js';
import type { Routines } from '../src/app/routines.js';
import type { RoutineJob } from '../src/queues/queues.js';
import { isEntryPoint, runStandaloneWorker } from './standalone.js';

export class RoutineWorker {
  private worker?: Worker<RoutineJob>;

  constructor(
    private readonly ctx: AppContext,
    private readonly routines: Routines,
  ) {}

  async start(): Promise<void> {
    this.worker = new Worker<RoutineJob>('routines', (job, token) => this.routines.processJob(job, token), {
      connection: this.ctx.redis.duplicate(),
      prefix: this.ctx.config.redis.prefix,
      concurrency: 32,
    });
    this.worker.on('failed', (job, err) =>
      this.ctx.log.warn({ jobId: job?.id, err: err.message, attempts: job?.attemptsMade }, 'routine job failed'),
    );
    this.worker.on('error', (err) => this.ctx.log.error({ err: err.message }, 'routine worker error'));
    await this.worker.waitUntilReady();
    // Routines that were running when the service went down: make sure their next step is scheduled.
    void this.reconcileAll();
  }

  private async reconcileAll(): Promise<void> {
    try {
      for (const userId of await this.ctx.registry.listUsers()) await this.routines.reconcile(userId);
    } catch (err) {
      this.ctx.log.warn({ err }, 'routine reconcile failed');
    }
  }

  async stop(): Promise<void> {
    await this.worker?.close();
  }
}

if (isEntryPoint(import.meta.url)) await runStandaloneWorker('routines');
