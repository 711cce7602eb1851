// Tick jobs of the timer wheel: one BullMQ job per (partition, bucket of time) in which someone is due, with a
// deterministic id, so that however many commits (from however many processes) ask for it, one tick fires.
import type { Queues } from './queues.js';
import { jobIds } from './queues.js';

/**
 * Length of a tick bucket. A tick fires at its bucket's end, so a nudge goes out up to this much after its due time
 * plus the sweep's own work: 100 ms keeps p99 lateness under 250 ms (bench `nudge-lateness`), at up to ten tick jobs
 * a second per partition that has people due.
 */
export const BUCKET_MS = 100;

/** Tick buckets this process has already made sure of, per partition: their add is skipped (no round trip). */
const MEMO_MAX = 100_000;

export class Ticks {
  private readonly ensured = new Set<string>();
  private oldest = Infinity;

  constructor(
    private readonly queues: Queues,
    private readonly now: () => number,
  ) {}

  /**
   * The bucket a due time is swept in. A due time that has already come goes to the next bucket after now's, whose
   * tick has not fired yet: the tick of now's own bucket may be running (or done) and would ignore the add.
   */
  bucketOf(dueAt: number, now = this.now()): number {
    const b = Math.floor(dueAt / BUCKET_MS);
    const soonest = Math.floor(now / BUCKET_MS) + 1;
    return Math.max(b, soonest);
  }

  /** Make sure a tick sweeps partition `partition` by the end of the bucket `dueAt` falls in. */
  async ensure(partition: number, dueAt: number): Promise<void> {
    const now = this.now();
    const bucket = this.bucketOf(dueAt, now);
    const key = `${partition}.${bucket}`;
    if (this.ensured.has(key)) return;
    const fireAt = (bucket + 1) * BUCKET_MS;
    await this.queues.nudges.add(
      'tick',
      { kind: 'tick', partition, bucket },
      { jobId: jobIds.tick(partition, bucket), delay: Math.max(0, fireAt - now) },
    );
    this.remember(key, bucket, now);
  }

  private remember(key: string, bucket: number, now: number): void {
    this.ensured.add(key);
    this.oldest = Math.min(this.oldest, bucket);
    // Forget buckets whose tick has fired: their ids may be used again only by a bucket still ahead.
    const current = Math.floor(now / BUCKET_MS);
    if (this.oldest < current - 10 || this.ensured.size > MEMO_MAX) {
      this.oldest = Infinity;
      for (const k of this.ensured) {
        const b = Number(k.slice(k.indexOf('.') + 1));
        if (b < current || this.ensured.size > MEMO_MAX) this.ensured.delete(k);
        else this.oldest = Math.min(this.oldest, b);
      }
    }
  }
}
