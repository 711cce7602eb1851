// The nudges worker: fires break nudges, escalations, "ignored" checks and break confirmations.
// Runnable alone: `tsx workers/nudges.ts` (same environment as the service) runs just this worker.
import type { AppContext } from '../src/app/context.js';
import type { Sessions } from '../src/app/sessions.js';
import type { NudgeJob } from '../src/queues/queues.js';
import { QueueWorker } from './queue-worker.js';
import { isEntryPoint, runStandaloneWorker } from './standalone.js';

export class NudgeWorker {
  private readonly worker: QueueWorker<NudgeJob>;

  constructor(ctx: AppContext, sessions: Sessions) {
    this.worker = new QueueWorker<NudgeJob>(ctx, 'nudges', (job, token) => sessions.processJob(job, token), 64);
  }

  start = () => this.worker.start();
  stop = () => this.worker.stop();
}

if (isEntryPoint(import.meta.url)) await runStandaloneWorker('nudges');
