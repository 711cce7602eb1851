// Reading a user's adherence stream. Entries are appended only by StateStore's compare-and-set.
import type { Redis } from 'ioredis';
import type { LogEntry } from '../domain/types.js';
import type { Keys } from './keys.js';

/** Entries may be logged up to this long after their `at` (a break is logged when it reaches its length). */
const LOG_DELAY_SLACK_MS = 24 * 3600_000;

export class AdherenceLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Entries with from ≤ at < to, oldest first. */
  async read(userId: string, from = 0, to = Number.MAX_SAFE_INTEGER): Promise<LogEntry[]> {
    const start = from > LOG_DELAY_SLACK_MS ? String(from - LOG_DELAY_SLACK_MS) : '-';
    const rows = await this.redis.xrange(this.keys.log(userId), start, '+');
    const entries: LogEntry[] = [];
    for (const [, fields] of rows) {
      const json = fields[1];
      if (!json) continue;
      const e = JSON.parse(json) as LogEntry;
      if (e.at >= from && e.at < to) entries.push(e);
    }
    return entries.sort((a, b) => a.at - b.at);
  }
}
