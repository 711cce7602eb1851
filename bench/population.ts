// Simulated people: their ids, profiles and the posture events they send (bench/bulk.ts writes them into Redis with
// the service's own Registry: much faster than the HTTP API, and the same keys).
import { profileSchema } from '../src/domain/profile.js';

/** breakAfterMinutes 10: a sitting event with `at` = now − 10 min + x makes a nudge due at now + x. */
export const BREAK_AFTER_MINUTES = 10;
export const PROFILE = profileSchema.parse({ breakAfterMinutes: BREAK_AFTER_MINUTES });
/** For populations whose nudges must not fall due while they are measured (the longest break allowed). */
export const PROFILE_NO_NUDGE = profileSchema.parse({ breakAfterMinutes: 120 });

export const userId = (tag: string, i: number) => `${tag}u${i}`;
export const deviceId = (tag: string, i: number) => `${tag}d${i}`;

export const postureEvent = (posture: 'sitting' | 'standing', at: number) =>
  JSON.stringify({ type: 'posture', posture, at });

/**
 * The mixed stream of the throughput phases. Every user's first event is "sitting" (the warm-up: a new session
 * and its nudge job); after that, every other user alternates standing/sitting (every event a state change) and
 * the others repeat "sitting" (no change), so about half the events change state.
 */
export interface StreamEvent {
  k: number;
  user: string;
  device: string;
  posture: 'sitting' | 'standing';
  at: number;
  /** The event changes the user's posture and so its retained state (an alternating user past its warm-up). */
  change: boolean;
}

export class MixedStream {
  private readonly count: Int32Array;
  private readonly lastAt: Float64Array;
  private next = 0;

  constructor(
    readonly tag: string,
    readonly users: number,
    /** Users taking part (a stride through a bigger population keeps the events spread over its key space). */
    readonly pick: (k: number) => number = (k) => k,
    /** The users already sit (seeded elsewhere): no warm-up event. */
    seated = false,
  ) {
    this.count = new Int32Array(users).fill(seated ? 1 : 0);
    this.lastAt = new Float64Array(users);
  }

  /** The next event, round robin over the users; `at` strictly increases per user. */
  take(now: number): StreamEvent {
    const k = this.next;
    this.next = (this.next + 1) % this.users;
    const i = this.pick(k);
    // By position in the stream, not by user index: a stride through a population may pick only even indices.
    const change = k % 2 === 0;
    const n = ++this.count[k]!;
    const posture = change && n % 2 === 0 ? 'standing' : 'sitting';
    const at = Math.max(now, this.lastAt[k]! + 1);
    this.lastAt[k] = at;
    return { k, user: userId(this.tag, i), device: deviceId(this.tag, i), posture, at, change: change && n > 1 };
  }
}
