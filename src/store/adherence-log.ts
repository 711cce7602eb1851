// Reading a user's adherence log. Entries are appended only by StateStore's compare-and-set.
import type { RedisClient } from './redis.js';
import type { LogEntry } from '../domain/types.js';
import type { Keys } from './keys.js';
import { parseLogEntry } from './state-codec.js';

export class AdherenceLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Entries with from ≤ at < to, oldest first (entries are appended in commit order, not always in `at` order). */
  async read(userId: string, from = 0, to = Number.MAX_SAFE_INTEGER): Promise<LogEntry[]> {
    const key = this.keys.log(userId);
    let rows: string[];
    try {
      // One string of newline-ended entries (~170 bytes of Redis less per person than a list of one entry).
      rows = ((await this.redis.get(key)) ?? '').split('\n');
    } catch (err) {
      // A log written before: a list of entries.
      if (!/WRONGTYPE/.test((err as Error).message)) throw err;
      rows = await this.redis.lrange(key, 0, -1);
    }
    const entries: LogEntry[] = [];
    for (const json of rows) {
      if (json === '') continue;
      const e = parseLogEntry(json);
      if (e.at >= from && e.at < to) entries.push(e);
    }
    return entries.sort((a, b) => a.at - b.at);
  }
}
