// The claim protocol of the timer wheel. A sweep of one partition claims up to SWEEP_BATCH people whose due time
// has come (one script: out of the due set, into the claims set with a lease), runs each one's due transition, and
// releases them; it loops until nobody due is left, then makes sure a tick comes for the partition's next due time.
// A worker killed mid-batch leaves its claims behind; once their lease lapses the next sweep puts them back in the
// due set, and the transition finds out from the state (and the broker's retained last-nudge record) what is done.
import type { Redis } from 'ioredis';
import { CLAIM_DUE_LUA } from '../store/lua/index.js';
import type { AppContext } from './context.js';
import type { NudgeDelivery } from './nudge-delivery.js';
import type { Sessions } from './sessions.js';

/** People claimed by one script call. */
export const SWEEP_BATCH = 200;
/** How long a claim keeps others off a person; a sweep handles one in milliseconds (as long as a job lock). */
export const CLAIM_LEASE_MS = 5_000;
/** A person whose transition failed is due again this much later (Redis or the broker away for a moment). */
export const RETRY_MS = 1_000;
/** Claim rounds per sweep; more due people wait for the next tick (which the end of this sweep ensures). */
const MAX_ROUNDS = 100;

type SweepRedis = Redis & {
  unknotClaimDue(dueKey: string, claimsKey: string, now: number, limit: number, leaseMs: number): Promise<string[]>;
};

export interface SweepResult {
  processed: number;
  failed: number;
}

export class DueSweep {
  private readonly redis: SweepRedis;

  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
    private readonly delivery: NudgeDelivery,
    private readonly batch = SWEEP_BATCH,
  ) {
    if (!('unknotClaimDue' in ctx.redis))
      ctx.redis.defineCommand('unknotClaimDue', { numberOfKeys: 2, lua: CLAIM_DUE_LUA });
    this.redis = ctx.redis as SweepRedis;
  }

  /** One claim round: who is now this sweep's to handle. */
  claim(partition: number): Promise<string[]> {
    const { keys } = this.ctx;
    return this.redis.unknotClaimDue(
      keys.due(partition),
      keys.claims(partition),
      this.ctx.now(),
      this.batch,
      CLAIM_LEASE_MS,
    );
  }

  async sweepPartition(partition: number): Promise<SweepResult> {
    const { keys, log } = this.ctx;
    const result: SweepResult = { processed: 0, failed: 0 };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const claimed = await this.claim(partition);
      if (claimed.length === 0) break;
      await Promise.all(
        claimed.map(async (userId) => {
          try {
            await this.delivery.processDue(userId);
            result.processed += 1;
            await this.redis.zrem(keys.claims(partition), userId);
          } catch (err) {
            result.failed += 1;
            log.warn({ err, userId }, 'due transition failed; due again in a moment');
            // Back in the due set (unless the person is due sooner already) and no longer claimed.
            const retryAt = this.ctx.now() + RETRY_MS;
            await this.redis
              .multi()
              .zadd(keys.due(partition), 'LT', retryAt, userId)
              .zrem(keys.claims(partition), userId)
              .exec()
              .catch(() => undefined); // the lease returns the person anyway
            await this.sessions.ticks.ensure(partition, retryAt).catch(() => undefined);
          }
        }),
      );
    }
    await this.ensureNextTick(partition);
    return result;
  }

  /** A tick for the partition's earliest due time, and for its earliest claim lease (a worker that died). */
  async ensureNextTick(partition: number): Promise<void> {
    const { keys } = this.ctx;
    const [due, claims] = await Promise.all([
      this.redis.zrange(keys.due(partition), '0', '0', 'WITHSCORES'),
      this.redis.zrange(keys.claims(partition), '0', '0', 'WITHSCORES'),
    ]);
    const next = [due[1], claims[1]].filter((x): x is string => x !== undefined).map(Number);
    if (next.length > 0) await this.sessions.ticks.ensure(partition, Math.min(...next));
  }

  /** Every partition, one after the other: the safety net every few seconds and at start-up. */
  async sweepAll(): Promise<SweepResult> {
    const total: SweepResult = { processed: 0, failed: 0 };
    for (let n = 0; n < this.ctx.keys.partitions; n++) {
      const r = await this.sweepPartition(n);
      total.processed += r.processed;
      total.failed += r.failed;
    }
    return total;
  }
}
