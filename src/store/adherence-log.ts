// Reading a user's adherence log. Entries are appended only by StateStore's compare-and-set.
import type { RedisClient } from './redis.js';
import type { LogEntry } from '../domain/types.js';
import type { Keys } from './keys.js';

export class AdherenceLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Entries with from ≤ at < to, oldest first (entries are appended in commit order, not always in `at` order). */
  async read(userId: string, from = 0, to = Number.MAX_SAFE_INTEGER): Promise<LogEntry[]> {
    const rows = await this.redis.lrange(this.keys.log(userId), 0, -1);
    const entries: LogEntry[] = [];
    for (const json of rows) {
      const e = JSON.parse(json) as LogEntry;
      if (e.at >= from && e.at < to) entries.push(e);
    }
    return entries.sort((a, b) => a.at - b.at);
  }
}
