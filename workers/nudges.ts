// The nudges worker: fires break nudges, escalations, "ignored" checks and break confirmations.
// Runnable alone: `tsx workers/nudges.ts` (same environment as the service) runs just this worker.
import { Worker } from 'bullmq';
import type { AppContext } from '../src/app/context.js';
import type { Sessions } from '../src/app/sessions.js';
import type { NudgeJob } from '../src/queues/queues.js';
import { isEntryPoint, runStandaloneWorker } from './standalone.js';

export class NudgeWorker {
  private worker?: Worker<NudgeJob>;

  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
  ) {}

  async start(): Promise<void> {
    this.worker = new Worker<NudgeJob>('nudges', (job, token) => this.sessions.processJob(job, token), {
      connection: this.ctx.redis.duplicate(),
      prefix: this.ctx.config.redis.prefix,
      concurrency: 64,
    });
    this.worker.on('failed', (job, err) =>
      this.ctx.log.warn({ jobId: job?.id, err: err.message, attempts: job?.attemptsMade }, 'nudge job failed'),
    );
    this.worker.on('error', (err) => this.ctx.log.error({ err: err.message }, 'nudge worker error'));
    await this.worker.waitUntilReady();
  }

  async stop(): Promise<void> {
    await this.worker?.close();
  }
}

if (isEntryPoint(import.meta.url)) await runStandaloneWorker('nudges');
