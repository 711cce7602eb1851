// BullMQ queue names, job payloads and producers. Job ids are functions of what a job is for, so a retry, a
// redelivered message or a second instance can never double it (ARCHITECTURE principle 2).
import { Queue, type Job, type JobsOptions } from 'bullmq';
import { queuePrefix, type RedisClient } from '../store/redis.js';

export const QUEUE_NAMES = ['nudges', 'heat', 'routines'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export type NudgeJob =
  /** `heldUntil`: the job fell due while its person was up and waits for the end of that interruption. */
  | { kind: 'nudge'; userId: string; sessionId: string; level: number; dueAt: number; heldUntil?: number }
  | { kind: 'break-check'; userId: string; sessionId: string; upSince: number; dueAt: number };

export type HeatJob =
  | { kind: 'heat-on'; userId: string; sessionId: string }
  | { kind: 'heat-off'; userId: string; sessionId: string; dueAt: number }
  | { kind: 'heat-reconcile'; userId: string }
  | { kind: 'heat-sweep' };

export type RoutineJob = { kind: 'routine-step'; userId: string; routineId: string; index: number; dueAt: number };

/** Job ids use `.` between parts: BullMQ refuses `:` in custom ids, and user and session ids never contain `.`. */
export const jobIds = {
  nudge: (userId: string, sessionId: string, level: number) => `nudge.${userId}.${sessionId}.${level}`,
  breakCheck: (userId: string, sessionId: string, upSince: number) => `break.${userId}.${sessionId}.${upSince}`,
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

  constructor(connection: RedisClient, prefix: string) {
    // Nothing reads BullMQ's event streams (no QueueEvents): keep the last 1,000 events of a queue, not 10,000
    // (~1.5 MB of Redis per queue otherwise).
    const opts = { connection, prefix: queuePrefix(connection, prefix), defaultJobOptions: DEFAULT_JOB_OPTS, streams: { events: { maxLen: 1000 } } };
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
    const delay = Math.max(0, dueAt - Date.now());
    const existing = (await queue.getJob(jobId)) as Job<T> | undefined;
    if (!existing) {
      await (queue as Queue).add(jobId.split('.')[0]!, data, { ...extra, jobId, delay });
      return;
    }
    const state = await existing.getState();
    const was = existing.data as { dueAt?: number; heldUntil?: number };
    if (state === 'delayed' && (was.dueAt !== dueAt || was.heldUntil !== undefined)) {
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
    await (queue as Queue).add(jobId.split('.')[0]!, data, { jobId, delay: Math.max(0, dueAt - Date.now()) });
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
  }
}
