// Tick jobs of the timer wheel: one BullMQ job per bucket of time in which someone (in any partition) is due, with a
// deterministic id, so that however many commits (from however many processes) ask for it, one tick fires. The
// tick sweeps every partition (src/app/due-sweep.ts) and then asks for the tick of the earliest due time left: the
// ticks form a chain, and a commit whose due time is behind a tick that has not started yet needs no add at all.
import type { Queues } from './queues.js';
import { jobIds } from './queues.js';

/**
 * Length of a tick bucket. A tick fires at its bucket's end, so a nudge goes out up to this much after its due time
 * plus the sweep's own work, at up to 1000 / BUCKET_MS tick jobs a second however many partitions have people due.
 * 50 ms rather than 100: bench (d) nudge lateness p99 ~340 ms instead of ~430–510 (100k due over a minute, the same
 * code, back to back), at the same CPU per nudge; the chain makes ~530 tick jobs in that minute, not 1,200.
 */
export const BUCKET_MS = 50;

/**
 * A tick this process knows of covers a later due time only if it starts at least this long after now: its sweep
 * then reads the due sets after the commit that set that due time (which has returned by the time `ensure` runs),
 * and asks for the tick of the earliest due time left. The margin covers clock differences between processes and
 * a tick that BullMQ starts a little early.
 */
export const HORIZON_MARGIN_MS = 1_000;

/** Ticks remembered at most; past that the memo starts over (a few more adds, never a missed tick). */
const MEMO_MAX = 100_000;

export class Ticks {
  /** Buckets whose tick this process has added (or found added) and that have not fired yet. */
  private readonly pending = new Set<number>();
  /** The earliest pending bucket that starts more than the margin from now (the horizon), if known. */
  private horizon: number | undefined;
  /** Adds under way, by bucket. */
  private readonly adding = new Map<number, Promise<void>>();
  /** Tick adds this process sent to Redis (a metric for the bench and the tests). */
  adds = 0;

  constructor(
    private readonly queues: Queues,
    private readonly now: () => number,
    /** Told of every add (the `unknot_timer_tick_adds_total` metric). */
    private readonly onAdd: () => void = () => undefined,
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

  /** When the tick of bucket `bucket` fires: at the bucket's end. */
  static fireAt(bucket: number): number {
    return (bucket + 1) * BUCKET_MS;
  }

  /**
   * Whether a tick this process knows of sweeps `dueAt` in time without an add: the tick of its own bucket, or any
   * earlier one that has not started yet (its sweep ends by asking for the tick of the earliest due time left).
   */
  covers(dueAt: number, now = this.now()): boolean {
    const bucket = this.bucketOf(dueAt, now);
    if (this.pending.has(bucket)) return true;
    const h = this.currentHorizon(now);
    return h !== undefined && h <= bucket;
  }

  /** Make sure a tick sweeps whoever is due at `dueAt` by the end of the bucket it falls in. */
  async ensure(dueAt: number): Promise<void> {
    const now = this.now();
    if (this.covers(dueAt, now)) return;
    const bucket = this.bucketOf(dueAt, now);
    // Commits running at once that need the same tick share one add.
    const running = this.adding.get(bucket);
    if (running) return running;
    const fireAt = Ticks.fireAt(bucket);
    this.adds += 1;
    this.onAdd();
    const add = this.queues.nudges
      .add('tick', { kind: 'tick', bucket }, { jobId: jobIds.tick(bucket), delay: Math.max(0, fireAt - now) })
      .then(() => this.remember(bucket, now))
      .finally(() => this.adding.delete(bucket));
    this.adding.set(bucket, add);
    await add;
  }

  private currentHorizon(now: number): number | undefined {
    const limit = now + HORIZON_MARGIN_MS;
    if (this.horizon !== undefined && Ticks.fireAt(this.horizon) > limit) return this.horizon;
    // The horizon came too close (or was never known): the earliest pending tick still far enough ahead, if any.
    this.horizon = undefined;
    const current = Math.floor(now / BUCKET_MS);
    for (const b of this.pending) {
      if (b < current)
        this.pending.delete(b); // fired: its id may come back only for a bucket still ahead
      else if (Ticks.fireAt(b) > limit && (this.horizon === undefined || b < this.horizon)) this.horizon = b;
    }
    return this.horizon;
  }

  private remember(bucket: number, now: number): void {
    if (this.pending.size >= MEMO_MAX) {
      this.pending.clear();
      this.horizon = undefined;
    }
    this.pending.add(bucket);
    if (Ticks.fireAt(bucket) > now + HORIZON_MARGIN_MS && (this.horizon === undefined || bucket < this.horizon))
      this.horizon = bucket;
  }
}
