// The claim protocol of the timer wheel. A sweep claims, in every partition at once (one script call per partition,
// sent together), people whose due time has come (out of the due set, into the claims set with a lease; a round
// takes at most ROUND_BUDGET over all partitions), runs their due transitions in waves (each wave's states read with
// one MGET and publishing marks with one HMGET per partition), and releases them (one command per partition); it
// loops over the partitions that still had someone, then makes sure a tick comes for the earliest due time left
// anywhere. A worker killed mid-batch leaves its claims behind; once their lease lapses the next sweep puts them back
// in the due set, and the transition finds out from the state, the partition's publishing hash and the broker's
// retained last-nudge record what is done. The release also clears the publishing marks of the nudges it published.
import type { Redis } from 'ioredis';
import { warnUnlessRedisAway } from '../dependencies.js';
import { CLAIM_DUE_LUA } from '../store/lua/index.js';
import type { AppContext } from './context.js';
import type { Profile } from '../domain/profile.js';
import type { Versioned } from '../store/state-store.js';
import type { DueDone, NudgeDelivery, Prefetched } from './nudge-delivery.js';
import type { Sessions } from './sessions.js';

/** People claimed by one script call (in one partition). */
export const SWEEP_BATCH = 200;
/**
 * Due transitions a sweep runs at once, as a rule. The cap keeps a worker killed mid-batch from having sent a whole
 * burst before the kill lands (test/e2e/faults.test.ts, its worker-kill case: 80 people due at one instant).
 */
export const SWEEP_CONCURRENCY = 32;
/**
 * Due transitions at once when a claim round brought a backlog (more than four waves at SWEEP_CONCURRENCY): at
 * 1,667 nudges a second the transitions' round trips, not the CPU, bounded the rate at 32 (docs/operations/scaling.md).
 */
export const SWEEP_MAX_CONCURRENCY = 128;
/**
 * People a claim round takes at most over all partitions (each partition's share of it, at least one): a round is
 * done well within the claims' lease however far behind the worker is. Claiming 200 in each of 64 partitions at
 * once (12,800 people) took longer than the lease under load, and the lapsed claims were claimed and run again.
 */
export const ROUND_BUDGET = 512;
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

/** One claim round in one partition: who is now this sweep's, and when the partition next needs a sweep. */
interface Claimed {
  partition: number;
  userIds: string[];
  /** When each of them was due (epoch ms), in the same order. */
  dueAts: number[];
  /** Earliest due time or lease end left in the partition (epoch ms), or null: nobody due or claimed. */
  next: number | null;
  /** The `now` the claim was made at. */
  at: number;
  /** The most people this claim could take. */
  limit: number;
}

/** Adds a person to the list of their partition in `into` (the people of a wave or a round, by partition). */
function addTo(into: Map<number, string[]>, w: { partition: number; userId: string }): void {
  const list = into.get(w.partition);
  if (list) list.push(w.userId);
  else into.set(w.partition, [w.userId]);
}

export class DueSweep {
  private readonly redis: SweepRedis;
  /** Claim script calls this process made (a metric for the bench and the tests). */
  claimCalls = 0;

  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
    private readonly delivery: NudgeDelivery,
    private readonly batch = SWEEP_BATCH,
    private readonly roundBudget = ROUND_BUDGET,
  ) {
    if (!('unknotClaimDue' in ctx.redis))
      ctx.redis.defineCommand('unknotClaimDue', { numberOfKeys: 2, lua: CLAIM_DUE_LUA });
    this.redis = ctx.redis as SweepRedis;
  }

  /** One claim round: who is now this sweep's to handle. */
  async claim(partition: number): Promise<string[]> {
    return (await this.claimRound(partition)).userIds;
  }

  private async claimRound(partition: number, limit = this.batch): Promise<Claimed> {
    const { keys } = this.ctx;
    this.claimCalls += 1;
    const at = this.ctx.now();
    const [next, ...claimed] = await this.redis.unknotClaimDue(
      keys.due(partition),
      keys.claims(partition),
      at,
      limit,
      CLAIM_LEASE_MS,
    );
    const userIds: string[] = [];
    const dueAts: number[] = [];
    for (let i = 0; i + 1 < claimed.length; i += 2) {
      userIds.push(claimed[i]!);
      dueAts.push(Number(claimed[i + 1]));
    }
    return { partition, userIds, dueAts, next: next ? Number(next) : null, at, limit };
  }

  /** One partition (the tests, and a tick left by an older version that named its partition). */
  sweepPartition(partition: number): Promise<SweepResult> {
    return this.sweep([partition]);
  }

  /** Every partition: what a tick and the `sweep-all` safety net do. */
  sweepAll(): Promise<SweepResult> {
    return this.sweep(Array.from({ length: this.ctx.keys.partitions }, (_, n) => n));
  }

  /**
   * Claim rounds over `partitions`, all partitions of a round at once: one command per partition (a Redis Cluster
   * refuses a pipeline across slots; auto-pipelining still sends each node's commands together). A partition whose
   * claim fails (a shard away) is left to the next sweep. Then a tick for the earliest due time left.
   */
  async sweep(partitions: number[]): Promise<SweepResult> {
    const result: SweepResult = { processed: 0, failed: 0 };
    const next = new Map<number, number | null>();
    let open = partitions;
    for (let round = 0; round < MAX_ROUNDS && open.length > 0; round++) {
      const limit = Math.max(1, Math.min(this.batch, Math.ceil(this.roundBudget / open.length)));
      const rounds = await Promise.all(
        open.map((n) =>
          this.claimRound(n, limit).catch((err: unknown) => {
            warnUnlessRedisAway(this.ctx, err, 'timer sweep', () =>
              this.ctx.log.warn(
                { err, partition: n },
                'could not claim due people in a partition; next sweep tries again',
              ),
            );
            return null;
          }),
        ),
      );
      const claimed = rounds.filter((r): r is Claimed => r !== null);
      for (const r of claimed) next.set(r.partition, r.next);
      // The longest-waiting first, over all partitions: a round behind a backlog would otherwise serve partition 0's
      // latest before partition 63's earliest.
      const work = claimed
        .flatMap((r) => r.userIds.map((userId, i) => ({ partition: r.partition, userId, dueAt: r.dueAts[i]! })))
        .sort((a, b) => a.dueAt - b.dueAt);
      // A bounded number of transitions at once, in waves that keep step: the reads of a wave go out together,
      // then its commits, then its publishes, each in one write to Redis (auto-pipelining sends what
      // is asked in one tick together). A pool that starts the next transition as soon as one ends sent each wave's
      // commands a few at a time: one socket write each, which cost more CPU under load than the commands did.
      const inFlight = work.length > 4 * SWEEP_CONCURRENCY ? SWEEP_MAX_CONCURRENCY : SWEEP_CONCURRENCY;
      const done = new Map<number, string[]>();
      const settled = new Map<number, string[]>();
      const failed = new Map<number, string[]>();
      for (let k = 0; k < work.length; k += inFlight) {
        const wave = work.slice(k, k + inFlight);
        const pre = await this.prefetch(wave);
        await Promise.all(
          wave.map(async (w) => {
            const d = await this.handle(w.userId, result, pre.get(w.userId));
            addTo(d ? done : failed, w);
            if (d?.settled) addTo(settled, w);
          }),
        );
      }
      // The round's claims released together: one command per partition (until then their leases hold them).
      await this.release(done, settled, failed);
      // Claim again only where this round took someone and more may be due: a full batch, or a due time that has
      // come still in the set. Most partitions are done after one claim.
      open = claimed
        .filter((r) => r.userIds.length > 0 && (r.userIds.length >= r.limit || (r.next !== null && r.next <= r.at)))
        .map((r) => r.partition);
      if (open.length > 0 && round === MAX_ROUNDS - 1) {
        // Still people to claim: the next tick (right after this one) goes on.
        for (const n of open) next.set(n, this.ctx.now());
      }
    }
    const times = [...next.values()].filter((t): t is number => t !== null);
    if (times.length > 0) await this.sessions.ticks.ensure(Math.min(...times));
    return result;
  }

  /**
   * The states, publishing marks, profiles and devices of a wave's people: the states in one MGET per partition
   * (its people's keys share its hash tag) rather than a GET per person, the marks in one HMGET, the person records
   * read together. What could not be read is read again by the person's own transition.
   */
  private async prefetch(wave: Array<{ partition: number; userId: string }>): Promise<Map<string, Prefetched>> {
    const byPartition = new Map<number, string[]>();
    for (const w of wave) addTo(byPartition, w);
    const out = new Map<string, Prefetched>();
    await Promise.all(
      [...byPartition].map(async ([n, ids]) => {
        const { registry, keys } = this.ctx;
        const [states, marks, profiles] = await Promise.all([
          this.ctx.store.readMany(ids).catch(() => new Map<string, Versioned>()),
          this.redis.hmget(keys.publishing(n), ...ids).catch(() => undefined),
          // Devices first: one read of a person's record fills both the device list and the profile (the nudge
          // goes to the devices anyway), where reading the profile alone made the nudge read the record again.
          Promise.all(ids.map((u) => registry.devicesOf(u).catch(() => undefined)))
            .then(() => registry.profilesOf(ids))
            .catch(() => new Map<string, Profile | null>()),
        ]);
        ids.forEach((u, i) =>
          out.set(u, { state: states.get(u), profile: profiles.get(u), publishing: marks ? marks[i] : undefined }),
        );
      }),
    );
    return out;
  }

  /** One person's due transition; undefined when it failed (the person is then due again in a moment). */
  private async handle(userId: string, result: SweepResult, pre?: Prefetched): Promise<DueDone | undefined> {
    try {
      const d = await this.delivery.processDue(userId, pre);
      result.processed += 1;
      return d;
    } catch (err) {
      result.failed += 1;
      warnUnlessRedisAway(this.ctx, err, 'timer sweep', () =>
        this.ctx.log.warn({ err, userId }, 'due transition failed; due again in a moment'),
      );
      return undefined;
    }
  }

  /**
   * Release a round's claims, one command per partition: those done leave the claims set (and those settled, the
   * publishing hash); those that failed go back to the due set (unless due sooner already) a moment later, with a
   * tick for then. A release that fails changes nothing that matters: the lease returns the people anyway, and
   * their transitions are idempotent (a mark left behind costs a look at the broker's retained record).
   */
  private async release(
    done: Map<number, string[]>,
    settled: Map<number, string[]>,
    failed: Map<number, string[]>,
  ): Promise<void> {
    const { keys } = this.ctx;
    const retryAt = this.ctx.now() + RETRY_MS;
    const releaseDone = (n: number, ids: string[]) => {
      const marks = settled.get(n);
      if (!marks) return this.redis.zrem(keys.claims(n), ...ids);
      return this.redis
        .multi()
        .hdel(keys.publishing(n), ...marks)
        .zrem(keys.claims(n), ...ids)
        .exec();
    };
    await Promise.all([
      ...[...done].map(([n, ids]) =>
        releaseDone(n, ids).catch((err: unknown) => {
          warnUnlessRedisAway(this.ctx, err, 'timer sweep', () =>
            this.ctx.log.warn({ err, partition: n }, 'could not release claims; their lease returns them'),
          );
        }),
      ),
      ...[...failed].map(([n, ids]) =>
        this.redis
          .multi()
          .zadd(keys.due(n), 'LT', ...ids.flatMap((u) => [retryAt, u]))
          .zrem(keys.claims(n), ...ids)
          .exec()
          .catch(() => undefined),
      ),
    ]);
    if (failed.size > 0) await this.sessions.ticks.ensure(retryAt).catch(() => undefined);
  }
}
