// User state as one JSON document per user, changed only through an atomic compare-and-set that also
// appends the transition's adherence entries, so state and log never disagree (docs/development/architecture.md, principle 2).
import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis.js';
import { newUserState, type UserState } from '../domain/user-state.js';
import type { LogEntry } from '../domain/types.js';
import type { Keys } from './keys.js';
import { COMMIT_STATE_LUA } from './lua/index.js';
import { StateCache, type Versioned } from './state-cache.js';
import { parseState, serializeLogEntry, serializeState } from './state-codec.js';

export { parseState, serializeState } from './state-codec.js';

export type { Versioned } from './state-cache.js';

// The script is in ./lua/commit-state.lua. One string rather than a hash {v, doc}: a hash with a value over 64
// bytes is a hash table in Redis, ~160 bytes more per person (measured with MEMORY USAGE). The log is a list
// rather than a stream: a stream costs ~4.7 KB of Redis for a person's first entries, a small list a few hundred
// bytes (measured by the benchmark), and entries are read whole and filtered by their `at`.

/** Entries kept per person: years of breaks, a few MB at most. */
export const LOG_MAXLEN = 100_000;
const MAX_ATTEMPTS = 100;

export interface Step<R> {
  state: UserState;
  logs: LogEntry[];
  changed: boolean;
  result: R;
  /**
   * The person's next due time (epoch ms) for the timer wheel, null for none. Required whenever the sitting
   * session changed (`'keep'`: a change that moves no due time); left out, the due entry stays as it is.
   */
  due?: number | null | 'keep';
  /**
   * The id of a nudge this state records as published before it is: the same script marks it in the partition's
   * publishing hash (Keys.publishing), where it stays until the sweep confirms the publish.
   */
  publishing?: string;
}

export interface TransactOptions<R> {
  /** The person's state, read already (alongside other look-ups): one round trip fewer. */
  firstRead?: Promise<Versioned>;
  /** Write the due entry even when nothing else changed (the sweep claimed it away; a policy change moved it). */
  writeDue?: (step: Step<R>) => boolean;
}

export interface Committed<R> extends Step<R> {
  /** The state before this transition (as read for the attempt that committed). */
  before: UserState;
  v: number;
}

export class CasConflictError extends Error {
  readonly code = 'busy';
}

/** A transition changed the sitting session without saying when the person is next due: a bug in the caller. */
export class MissingDueError extends Error {
  readonly code = 'missing_due';
}

type CasRedis = RedisClient & {
  unknotCommit(
    stateKey: string,
    logKey: string,
    dueKey: string,
    publishingKey: string,
    ...args: (string | number)[]
  ): Promise<number>;
};

export class StateStore {
  private readonly redis: CasRedis;
  /** The states this process last read or committed (src/store/state-cache.ts). */
  readonly cache: StateCache;

  constructor(
    redis: RedisClient,
    private readonly keys: Keys,
  ) {
    if (!('unknotCommit' in redis)) redis.defineCommand('unknotCommit', { numberOfKeys: 4, lua: COMMIT_STATE_LUA });
    this.redis = redis as CasRedis;
    this.cache = new StateCache(redis, keys);
  }

  /** The person's state: from the cache while it is exact (client tracking live), else from Redis. */
  read(userId: string): Promise<Versioned> {
    const kept = this.cache.trusted ? this.cache.get(userId) : undefined;
    return kept ? Promise.resolve(kept) : this.fetch(userId);
  }

  /** The person's state as Redis has it now (and kept, unless someone changed it meanwhile). */
  async fetch(userId: string): Promise<Versioned> {
    const load = this.cache.begin(userId);
    let got: Versioned | undefined;
    try {
      got = decodeStored(await this.redis.get(this.keys.state(userId)));
      return got;
    } finally {
      this.cache.end(load, got);
    }
  }

  /**
   * Read, apply the pure transition, and write back only if nobody else wrote in between; otherwise retry
   * with the fresh state. The transition must be pure: it may run several times. The step's due time goes into the
   * partition's due set in the same script.
   */
  async transact<R>(
    userId: string,
    fn: (state: UserState) => Step<R>,
    opts: TransactOptions<R> | Promise<Versioned> = {},
  ): Promise<Committed<R>> {
    const { firstRead, writeDue } = opts instanceof Promise ? { firstRead: opts, writeDue: undefined } : opts;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // A caller may start the first read early, alongside its other lookups (one round trip fewer).
      const cur = attempt === 0 ? await (firstRead ?? this.read(userId)) : await this.fetch(userId);
      const step = fn(cur.state);
      if (step.due === undefined && step.state.session !== cur.state.session) {
        throw new MissingDueError(`a transition of ${userId} changed the sitting session but set no due time`);
      }
      const dueOnly = !step.changed && step.logs.length === 0;
      const due = step.due === undefined ? 'keep' : step.due;
      if (dueOnly && !(due !== 'keep' && writeDue?.(step))) return { ...step, before: cur.state, v: cur.v };
      const load = this.cache.begin(userId);
      // A state that is the one read (an entry logged, a due time moved) is not written again.
      const doc = dueOnly || step.state === cur.state ? '' : serializeState(step.state);
      if (doc) this.cache.expectEcho(userId);
      let v = -1;
      const n = this.keys.partitionOf(userId);
      try {
        v = await this.redis.unknotCommit(
          this.keys.state(userId),
          this.keys.log(userId),
          this.keys.due(n),
          this.keys.publishing(n),
          cur.v,
          doc,
          LOG_MAXLEN,
          due === null ? 'none' : due,
          userId,
          step.publishing ?? '',
          ...step.logs.map(serializeLogEntry),
        );
      } finally {
        if (doc && v < 0) this.cache.noEcho(userId);
        // Kept as committed; a version that moved (or an error: the commit may or may not have run) is forgotten.
        this.cache.end(load, v < 0 ? undefined : { v, state: step.state });
      }
      if (v >= 0) return { ...step, before: cur.state, v };
      // Someone else wrote first. Rare for one person (one ingest handles a person's events in order), but a
      // burst of writers must not live-lock: back off a little, with jitter, after the first retries.
      if (attempt >= 2) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw new CasConflictError(`state of ${userId} kept changing under ${MAX_ATTEMPTS} attempts`);
  }

  /** The person's state, log and timer entries (one hash slot: one MULTI). */
  async delete(userId: string): Promise<void> {
    this.cache.forget(userId);
    const n = this.keys.partitionOf(userId);
    await this.redis
      .multi()
      .del(this.keys.state(userId), this.keys.log(userId))
      .zrem(this.keys.due(n), userId)
      .zrem(this.keys.claims(n), userId)
      .hdel(this.keys.publishing(n), userId)
      .exec();
  }

  /**
   * Several people's states, of one partition (one hash tag, so one MGET also on a Redis Cluster): from the cache
   * while it is exact, the rest in one MGET, kept as `fetch` keeps them. A person whose stored state cannot be read
   * is left out (the caller's own read of them fails alone, not the others).
   */
  async readMany(userIds: string[]): Promise<Map<string, Versioned>> {
    const out = new Map<string, Versioned>();
    const missing: string[] = [];
    for (const u of userIds) {
      const kept = this.cache.trusted ? this.cache.get(u) : undefined;
      if (kept) out.set(u, kept);
      else missing.push(u);
    }
    if (missing.length === 0) return out;
    const loads = missing.map((u) => this.cache.begin(u));
    let raws: Array<string | null> | undefined;
    try {
      raws = await this.redis.mget(...missing.map((u) => this.keys.state(u)));
    } finally {
      missing.forEach((u, i) => {
        let got: Versioned | undefined;
        if (raws) {
          try {
            got = decodeStored(raws[i] ?? null);
            out.set(u, got);
          } catch {
            got = undefined;
          }
        }
        this.cache.end(loads[i]!, got);
      });
    }
    return out;
  }
}

/** A stored `<version>|<document>` (null: nobody stored yet) as a versioned state. */
export function decodeStored(raw: string | null): Versioned {
  if (!raw) return { v: 0, state: newUserState(randomBytes(3).toString('hex')) };
  const bar = raw.indexOf('|');
  return { v: Number(raw.slice(0, bar)), state: parseState(raw.slice(bar + 1)) };
}
