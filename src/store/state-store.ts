// User state as one JSON document per user, changed only through an atomic compare-and-set that also
// appends the transition's adherence entries, so state and log never disagree (ARCHITECTURE principle 2).
import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis.js';
import { newUserState, type UserState } from '../domain/user-state.js';
import type { LogEntry } from '../domain/types.js';
import type { Keys } from './keys.js';

/**
 * KEYS[1] user state, a string `<version>|<document>`, KEYS[2] adherence log (a list, oldest first)
 * ARGV[1] expected version (0 = absent), ARGV[2] new document, ARGV[3] log length kept,
 * ARGV[4..] adherence entries as JSON
 * Returns the new version, or -1 when the version moved since the caller read it (re-read and retry).
 *
 * One string rather than a hash {v, doc}: a hash with a value over 64 bytes is a hash table in Redis, ~160 bytes
 * more per person (measured with MEMORY USAGE). A state still stored as such a hash is read and replaced.
 * The log is a list rather than a stream: a stream costs ~4.7 KB of Redis for a person's first entries, a small
 * list a few hundred bytes (measured by the benchmark), and entries are read whole and filtered by their `at`.
 */
const CAS_LUA = `
local v = 0
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
  v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
  if v == tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end
else
  local cur = redis.call('GET', KEYS[1])
  if cur then v = tonumber(string.match(cur, '^(%d+)|')) end
end
if v ~= tonumber(ARGV[1]) then return -1 end
redis.call('SET', KEYS[1], (v + 1) .. '|' .. ARGV[2])
if #ARGV >= 4 then
  local n = redis.call('RPUSH', KEYS[2], unpack(ARGV, 4))
  if n > tonumber(ARGV[3]) then redis.call('LTRIM', KEYS[2], n - tonumber(ARGV[3]), -1) end
end
return v + 1
`;

/** Entries kept per person: years of breaks, a few MB at most. */
export const LOG_MAXLEN = 100_000;
const MAX_ATTEMPTS = 100;

/**
 * The parts of a person's state that most people leave as they start (no heat session or routine yet) are not
 * stored while they are so: ~80 bytes of Redis less per person. Read back, a missing part is its initial value.
 */
const INITIAL = newUserState('');
const OPTIONAL_PARTS = ['heat', 'routine', 'routineSeq'] as const;
const INITIAL_JSON = Object.fromEntries(OPTIONAL_PARTS.map((k) => [k, JSON.stringify(INITIAL[k])]));

export function serializeState(state: UserState): string {
  const stored: Partial<UserState> = { ...state };
  for (const k of OPTIONAL_PARTS) if (JSON.stringify(state[k]) === INITIAL_JSON[k]) delete stored[k];
  return JSON.stringify(stored);
}

export function parseState(doc: string): UserState {
  const stored = JSON.parse(doc) as Partial<UserState> & Pick<UserState, 'session'>;
  return { heat: { ...INITIAL.heat }, routine: null, routineSeq: 0, ...stored };
}

export interface Versioned {
  v: number;
  state: UserState;
}

export interface Step<R> {
  state: UserState;
  logs: LogEntry[];
  changed: boolean;
  result: R;
}

export interface Committed<R> extends Step<R> {
  /** The state before this transition (as read for the attempt that committed). */
  before: UserState;
  v: number;
}

export class CasConflictError extends Error {
  readonly code = 'busy';
}

type CasRedis = RedisClient & {
  unknotCas(stateKey: string, logKey: string, ...args: (string | number)[]): Promise<number>;
};

export class StateStore {
  private readonly redis: CasRedis;

  constructor(
    redis: RedisClient,
    private readonly keys: Keys,
  ) {
    if (!('unknotCas' in redis)) redis.defineCommand('unknotCas', { numberOfKeys: 2, lua: CAS_LUA });
    this.redis = redis as CasRedis;
  }

  async read(userId: string): Promise<Versioned> {
    const key = this.keys.state(userId);
    let raw: string | null;
    try {
      raw = await this.redis.get(key);
    } catch (err) {
      if (!String((err as Error).message).startsWith('WRONGTYPE')) throw err;
      // Stored by an earlier version as a hash {v, doc}; the next compare-and-set replaces it.
      const [v, doc] = await this.redis.hmget(key, 'v', 'doc');
      raw = doc ? `${v}|${doc}` : null;
    }
    if (!raw) return { v: 0, state: newUserState(randomBytes(3).toString('hex')) };
    const bar = raw.indexOf('|');
    return { v: Number(raw.slice(0, bar)), state: parseState(raw.slice(bar + 1)) };
  }

  /**
   * Read, apply the pure transition, and write back only if nobody else wrote in between; otherwise retry
   * with the fresh state. The transition must be pure: it may run several times.
   */
  async transact<R>(userId: string, fn: (state: UserState) => Step<R>, firstRead?: Promise<Versioned>): Promise<Committed<R>> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // A caller may start the first read early, alongside its other lookups (one round trip fewer).
      const cur = attempt === 0 && firstRead ? await firstRead : await this.read(userId);
      const step = fn(cur.state);
      if (!step.changed && step.logs.length === 0) return { ...step, before: cur.state, v: cur.v };
      const v = await this.redis.unknotCas(
        this.keys.state(userId),
        this.keys.log(userId),
        cur.v,
        serializeState(step.state),
        LOG_MAXLEN,
        ...step.logs.map((e) => JSON.stringify(e)),
      );
      if (v >= 0) return { ...step, before: cur.state, v };
      // Someone else wrote first. Rare for one person (one ingest handles a person's events in order), but a
      // burst of writers must not live-lock: back off a little, with jitter, after the first retries.
      if (attempt >= 2) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw new CasConflictError(`state of ${userId} kept changing under ${MAX_ATTEMPTS} attempts`);
  }

  async delete(userId: string): Promise<void> {
    await this.redis.del(this.keys.state(userId), this.keys.log(userId));
  }
}
