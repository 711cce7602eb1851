// The nudges worker: the timer wheel's ticks. A `tick` sweeps every partition's due people (nudges, escalations,
// "ignored" checks, break confirmations); `sweep-all`, a job scheduler, does the same every few seconds as the
// safety net for lost ticks and claims whose worker died. `tsx workers/nudges.ts` runs just this worker.
import type { Job } from 'bullmq';
import type { AppContext } from '../src/app/context.js';
import { DueSweep, type SweepResult } from '../src/app/due-sweep.js';
import { NudgeDelivery } from '../src/app/nudge-delivery.js';
import type { Sessions } from '../src/app/sessions.js';
import type { NudgeJob } from '../src/queues/queues.js';
import { QueueWorker } from './queue-worker.js';

/** One scheduler for every instance: upserting it again (another instance, a restart) changes nothing. */
export const SWEEP_ALL_SCHEDULER = 'sweep-all';
/** Real time, not scaled: the longest a due person waits when their tick is lost, a lapsed claim after its lease. */
export const SWEEP_ALL_EVERY_MS = 2_000;

export class NudgeWorker {
  private readonly worker: QueueWorker<NudgeJob>;
  readonly sweep: DueSweep;
  /** The sweep this process runs now, and the one that follows it (for the jobs that came meanwhile). */
  private running?: Promise<SweepResult>;
  private following?: Promise<SweepResult>;

  constructor(
    private readonly ctx: AppContext,
    sessions: Sessions,
  ) {
    this.sweep = new DueSweep(ctx, sessions, new NudgeDelivery(ctx, sessions));
    this.worker = new QueueWorker<NudgeJob>(ctx, 'nudges', (job) => this.process(job), 64);
  }

  async process(job: Job<NudgeJob>): Promise<string> {
    const data = job.data;
    this.ctx.metrics.timerSweeps.inc({ kind: data.kind });
    if (data.kind === 'tick') {
      // One tick a bucket for all partitions (a tick of an older version names one: it sweeps them all as well).
      const r = await this.sweepAll();
      return `swept ${r.processed} (${r.failed} failed)`;
    }
    if (data.kind === 'sweep-all') {
      const r = await this.sweepAll();
      if (r.processed > 0) this.ctx.log.debug({ processed: r.processed }, 'sweep-all found due people');
      return `swept ${r.processed} (${r.failed} failed)`;
    }
    return 'unknown job';
  }

  /**
   * One sweep of every partition at a time in this process. A job that comes while one runs waits for the next,
   * which starts when the running one ends and serves every job that came meanwhile: ticks of buckets a backlog
   * has made overdue do not start sweeps of their own that would fight over the same people (each sweep claims,
   * and a crowd of them held claims past their lease). The job stays active until a sweep that started after it
   * is done, so a worker that dies still leaves it to BullMQ's stalled check.
   */
  sweepAll(): Promise<SweepResult> {
    if (!this.running) {
      const run = this.sweep.sweepAll().finally(() => {
        if (this.running === run) this.running = undefined;
      });
      this.running = run;
      return run;
    }
    this.following ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.following = undefined;
        return this.sweepAll();
      });
    return this.following;
  }

  async start(): Promise<void> {
    await this.worker.start();
    await this.ctx.queues.nudges.upsertJobScheduler(
      SWEEP_ALL_SCHEDULER,
      { every: SWEEP_ALL_EVERY_MS },
      { name: 'sweep-all', data: { kind: 'sweep-all' }, opts: { removeOnComplete: true, removeOnFail: 100 } },
    );
  }

  stop = () => this.worker.stop();
}
