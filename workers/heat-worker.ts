// The heat worker: sends heat-pad ON and OFF commands from their BullMQ jobs, and sweeps every few seconds for
// sessions past their OFF time whose OFF is not recorded as sent (a failed or lost job, a crash).
// The unit src/main.ts starts; `tsx workers/heat.ts` is the entry point that runs just this worker.
import type { AppContext } from '../src/app/context.js';
import type { Heat } from '../src/app/heat.js';
import type { HeatJob } from '../src/queues/queues.js';
import { QueueWorker, settle } from './queue-worker.js';

/** One scheduler for every instance: upserting it again (another instance, a restart) changes nothing. */
export const HEAT_SWEEP_SCHEDULER = 'heat-sweep';
/** Real time, not scaled: how long a session's OFF can go unsent when its job is gone. */
export const HEAT_SWEEP_EVERY_MS = 2_000;

export class HeatWorker {
  private readonly worker: QueueWorker<HeatJob>;

  constructor(
    private readonly ctx: AppContext,
    private readonly heat: Heat,
  ) {
    this.worker = new QueueWorker<HeatJob>(
      ctx,
      'heat',
      async (job, token) => settle(ctx, job, token, await heat.runJob(job.data)),
      64,
    );
  }

  async start(): Promise<void> {
    const { ctx } = this;
    await this.worker.start();
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

  stop = () => this.worker.stop();
}
