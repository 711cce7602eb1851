// Start-up passes over every stored state (heat jobs and routine steps put back after a crash) without a read per
// person: partition by partition, the ids from the partition's user list and their states in MGETs of a chunk (one
// hash tag, so this works on a Redis Cluster too). A pass names a text its part of the document always holds when
// it is not as a new person has it (the codec leaves initial parts out), so the documents of everyone else are not
// even parsed: at 1M people a pass reads each state once, in ~1,000 round trips, where it used to make two reads
// per person.
import { warnUnlessRedisAway } from '../dependencies.js';
import type { UserState } from '../domain/user-state.js';
import { decodeStored } from '../store/state-store.js';
import type { AppContext } from './context.js';

/** States read by one MGET. */
const CHUNK = 500;

/**
 * Calls `each` for every stored state whose document contains `marker`, partition by partition. A state that cannot
 * be parsed is logged and skipped (the person's own requests report it); a failing `each` is logged, the pass goes on.
 */
export async function scanStates(
  ctx: AppContext,
  marker: string,
  each: (userId: string, state: UserState) => Promise<void>,
): Promise<{ read: number; matched: number }> {
  const { keys, redis, log } = ctx;
  let read = 0;
  let matched = 0;
  for (let n = 0; n < keys.partitions; n++) {
    const ids = await redis.smembers(keys.usersIn(n));
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const raws = await redis.mget(...chunk.map((u) => keys.state(u)));
      read += chunk.length;
      for (let j = 0; j < chunk.length; j++) {
        const raw = raws[j];
        if (!raw?.includes(marker)) continue;
        const userId = chunk[j]!;
        let state: UserState;
        try {
          state = decodeStored(raw).state;
        } catch (err) {
          log.warn({ err, userId }, 'start-up pass: stored state unreadable; skipped');
          continue;
        }
        matched += 1;
        try {
          await each(userId, state);
        } catch (err) {
          warnUnlessRedisAway(ctx, err, 'start-up pass', () =>
            log.warn({ err, userId }, 'start-up pass failed for a person; the next start tries again'),
          );
        }
      }
    }
  }
  return { read, matched };
}
