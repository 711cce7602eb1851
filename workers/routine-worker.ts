// The routines worker: ends each step of a guided routine and begins the next (or completes the routine).
// The unit src/main.ts starts; `tsx workers/routines.ts` is the entry point that runs just this worker.
import type { AppContext } from '../src/app/context.js';
import type { Routines } from '../src/app/routines.js';
import type { RoutineJob } from '../src/queues/queues.js';
import { isRunning } from '../src/domain/routine.js';
import { scanStates } from '../src/app/state-scan.js';
import { QueueWorker, settle } from './queue-worker.js';

export class RoutineWorker {
  private readonly worker: QueueWorker<RoutineJob>;

  constructor(
    private readonly ctx: AppContext,
    private readonly routines: Routines,
  ) {
    this.worker = new QueueWorker<RoutineJob>(
      ctx,
      'routines',
      async (job, token) => settle(ctx, job, token, await routines.runStep(job.data)),
      32,
    );
  }

  async start(): Promise<void> {
    await this.worker.start();
    // Routines that were running when the service went down: make sure their next step is scheduled.
    void this.reconcileAll();
  }

  /** Only people whose stored state has a routine part are looked at (src/app/state-scan.ts). */
  private async reconcileAll(): Promise<void> {
    try {
      await scanStates(this.ctx, '"routine":', async (userId, state) => {
        if (isRunning(state.routine)) await this.routines.reconcile(userId);
      });
    } catch (err) {
      this.ctx.log.warn({ err }, 'routine reconcile failed');
    }
  }

  stop = () => this.worker.stop();
}
