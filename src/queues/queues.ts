// BullMQ queue names, job payloads and producers. Job ids are functions of what a job is for, so a retry, a
// redelivered message or a second instance can never double it (docs/development/architecture.md, principle 2).
import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { RedisClient } from '../store/redis.js';

/**
 * BullMQ's keys carry a hash tag of their own, `{q}`: a Redis Cluster keeps each queue's keys (which BullMQ's
 * scripts touch together) on one shard, apart from the people's partitions.
 */
export const queuePrefix = (prefix: string) => `${prefix}:{q}`;

export const QUEUE_NAMES = ['nudges', 'heat', 'routines'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/**
 * The `nudges` queue carries no job per person: a `tick` sweeps every partition's due set when a bucket in which
 * someone is due ends (src/queues/ticks.ts), and `sweep-all`, a job scheduler, does the same every few seconds as
 * the safety net (a tick lost with a crashed process, claims whose worker died). A tick left by an older version
 * names one partition (`partition`); it sweeps them all too.
 */
export type NudgeJob = { kind: 'tick'; bucket: number; partition?: number } | { kind: 'sweep-all' };

export type HeatJob =
  | { kind: 'heat-on'; userId: string; sessionId: string }
  | { kind: 'heat-off'; userId: string; sessionId: string; dueAt: number }
  | { kind: 'heat-reconcile'; userId: string }
  | { kind: 'heat-sweep' };

export type RoutineJob = { kind: 'routine-step'; userId: string; routineId: string; index: number; dueAt: number };

/** Job ids use `.` between parts: BullMQ refuses `:` in custom ids, and user and session ids never contain `.`. */
export const jobIds = {
  tick: (bucket: number) => `tick.${bucket}`,
  heatOn: (userId: string, sessionId: string) => `heat-on.${userId}.${sessionId}`,
  heatOff: (userId: string, sessionId: string) => `heat-off.${userId}.${sessionId}`,
  routineStep: (userId: string, routineId: string, index: number) => `routine.${userId}.${routineId}.${index}`,
};

const DEFAULT_JOB_OPTS: JobsOptions = {
  removeOnComplete: true,
  removeOnFail: 1000,
  attempts: 20,
  backoff: { type: 'exponential', delay: 200 },
};

export class Queues {
  readonly nudges: Queue<NudgeJob>;
  readonly heat: Queue<HeatJob>;
  readonly routines: Queue<RoutineJob>;

  constructor(
    private readonly connection: RedisClient,
    prefix: string,
    /** The clock job delays are computed from (AppContext.now). */
    private readonly now: () => number = Date.now,
    /** The connection is the queues' own (made for them): close() closes it too. */
    private readonly owned = false,
  ) {
    // Nothing reads BullMQ's event streams (no QueueEvents): keep the last 1,000 events of a queue, not 10,000
    // (~1.5 MB of Redis per queue otherwise).
    const opts = {
      connection,
      prefix: queuePrefix(prefix),
      defaultJobOptions: DEFAULT_JOB_OPTS,
      streams: { events: { maxLen: 1000 } },
    };
    this.nudges = new Queue<NudgeJob>('nudges', opts);
    this.heat = new Queue<HeatJob>('heat', opts);
    this.routines = new Queue<RoutineJob>('routines', opts);
  }

  all(): Array<Queue> {
    return [this.nudges, this.heat, this.routines] as Queue[];
  }

  /**
   * Make sure exactly one job with this id is due at `dueAt`: add it, or move a delayed one (adding an
   * existing id is silently ignored by BullMQ, so a rescheduled job must be moved, not re-added).
   */
  async ensureAt<T>(queue: Queue<T>, jobId: string, data: T, dueAt: number, extra: JobsOptions = {}): Promise<void> {
    const delay = Math.max(0, dueAt - this.now());
    const existing = (await queue.getJob(jobId)) as Job<T> | undefined;
    if (!existing) {
      await (queue as Queue).add(jobId.split('.')[0]!, data, { ...extra, jobId, delay });
      return;
    }
    const state = await existing.getState();
    const was = existing.data as { dueAt?: number };
    if (state === 'delayed' && was.dueAt !== dueAt) {
      try {
        await existing.changeDelay(delay);
        await existing.updateData(data);
      } catch {
        // It became due (or was taken by a worker) in between; the processor re-reads state anyway.
      }
    } else if (state === 'completed' || state === 'failed') {
      await existing.remove().catch(() => undefined);
      await (queue as Queue).add(jobId.split('.')[0]!, data, { ...extra, jobId, delay });
    }
  }

  /**
   * Add a job whose id is new by construction (the next level of a nudge, the check of one interruption):
   * one script call instead of a look-up first. Should the id exist after all (a retry), BullMQ keeps the job
   * that is there, which is due at the same time.
   */
  async addNew<T>(queue: Queue<T>, jobId: string, data: T, dueAt: number): Promise<void> {
    await (queue as Queue).add(jobId.split('.')[0]!, data, { jobId, delay: Math.max(0, dueAt - this.now()) });
  }

  /** Hygiene only: processors drop stale jobs anyway. */
  async removeIfWaiting(queue: Queue, jobId: string): Promise<void> {
    const job = await queue.getJob(jobId);
    if (!job) return;
    const state = await job.getState();
    if (state === 'delayed' || state === 'waiting' || state === 'completed' || state === 'failed') {
      await job.remove().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
    if (this.owned) await this.connection.quit().catch(() => this.connection.disconnect());
  }
}
