// Bulk set-up for the 1M-people phase: people registered and seated straight into Redis through the service's own
// store code (Registry, StateStore and its serializer and commit script, the domain's sitting transition, Ticks),
// thousands of writes in flight on one auto-pipelining connection. Registering 1M people one HTTP-like write after
// the other took ~20 min; this writes the same keys, in the same formats, in about a minute.
import { logsOf } from '../src/app/effects.js';
import type { Profile } from '../src/domain/profile.js';
import { applySensorEvent, nextDueAt, policyOf } from '../src/domain/session.js';
import { Queues } from '../src/queues/queues.js';
import { Ticks } from '../src/queues/ticks.js';
import { Keys } from '../src/store/keys.js';
import { checkPartitions } from '../src/store/partitions.js';
import { createRedis } from '../src/store/redis.js';
import { Registry } from '../src/store/registry.js';
import { StateStore } from '../src/store/state-store.js';
import { deviceId, userId } from './population.js';

/** Writes in flight at once: enough for auto-pipelining to send thousands of commands a round trip. */
const IN_FLIGHT = 1000;

export interface BulkResult {
  written: number;
  ms: number;
}

interface BulkOptions {
  /** The first user's index (a population registered in parts). */
  start?: number;
  deadline?: number;
  onProgress?: (done: number) => void;
}

/** Runs `fn(i)` for i in [0, count) with IN_FLIGHT at once; stops at the deadline. */
async function pool(
  count: number,
  fn: (i: number) => Promise<void>,
  o: BulkOptions,
  inFlight = IN_FLIGHT,
): Promise<BulkResult> {
  let next = 0;
  let written = 0;
  const t0 = performance.now();
  const every = inFlight < IN_FLIGHT ? 1 : 8192;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, count) }, async () => {
      while (next < count) {
        if (o.deadline !== undefined && Date.now() > o.deadline) return;
        const i = next++;
        await fn((o.start ?? 0) + i);
        written++;
        if (written % every === 0) o.onProgress?.(written);
      }
    }),
  );
  return { written, ms: performance.now() - t0 };
}

/** People written per Registry.putNewPeople call (one change message each). */
const REGISTER_BATCH = 500;

/**
 * Users `tag`u0 … and their `unknot` desk sensors, with the Registry's own bulk write (the keys and values of
 * putProfile and putDevice: profile, device, indexes), a few batches in flight.
 */
export async function registerBulk(
  redisUrl: string,
  prefix: string,
  tag: string,
  count: number,
  profileOf: (i: number) => Profile,
  o: BulkOptions = {},
): Promise<BulkResult> {
  const redis = createRedis(redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined); // commands reject with it
  try {
    await redis.connect();
    const keys = new Keys(prefix);
    // What a service's first start records, as a deployment that grew through its service has it: the partition
    // count and layout, and that timers are in the wheel (seatBulk writes due entries as the service's commits do).
    // Without it the service's first start took the bulk-loaded people for an earlier release's data and re-indexed
    // every one of them in the background, while (d) and (f) were measured.
    await checkPartitions(redis, keys.meta(), keys.partitions);
    await redis.hsetnx(keys.meta(), 'timers', 'wheel');
    const registry = new Registry(redis, keys);
    const start = o.start ?? 0;
    const batches = Math.ceil(count / REGISTER_BATCH);
    const r = await pool(
      batches,
      async (k) => {
        const from = start + k * REGISTER_BATCH;
        const to = Math.min(start + count, from + REGISTER_BATCH);
        await registry.putNewPeople(
          Array.from({ length: to - from }, (_, j) => {
            const i = from + j;
            const u = userId(tag, i);
            return {
              userId: u,
              profile: profileOf(i),
              devices: [{ deviceId: deviceId(tag, i), userId: u, role: 'desk' as const, protocol: 'unknot' }],
            };
          }),
        );
      },
      { deadline: o.deadline, onProgress: o.onProgress && ((n) => o.onProgress!(n * REGISTER_BATCH)) },
      4,
    );
    return { written: Math.min(count, r.written * REGISTER_BATCH), ms: r.ms };
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

/**
 * Every user sits down at `seatedAt(i)`: the session rules' own transition for a "sitting" event of their desk
 * sensor, committed with the state store (state, adherence log and due entry in one script), and a tick for the
 * due time as the service asks for one. No retained state is published (nothing in the bench reads it).
 */
export async function seatBulk(
  redisUrl: string,
  prefix: string,
  tag: string,
  count: number,
  seatedAt: (i: number) => number,
  profileOf: (i: number) => Profile,
  o: BulkOptions = {},
): Promise<BulkResult & { tickAdds: number }> {
  const redis = createRedis(redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined);
  await redis.connect();
  // After the connect: BullMQ connects a connection it is given that is not connected yet.
  const queues = new Queues(redis, prefix);
  const ticks = new Ticks(queues, Date.now);
  try {
    const keys = new Keys(prefix);
    const store = new StateStore(redis, keys);
    const r = await pool(
      count,
      async (i) => {
        const policy = policyOf(profileOf(i), 1);
        const event = {
          deviceId: deviceId(tag, i),
          role: 'desk' as const,
          posture: 'sitting' as const,
          at: seatedAt(i),
        };
        const c = await store.transact(userId(tag, i), (st) => {
          const t = applySensorEvent(st.session, event, policy, Date.now());
          return {
            state: { ...st, session: t.state },
            logs: logsOf(t.effects),
            changed: t.changed,
            result: t.result,
            due: t.changed ? nextDueAt(t.state, policy) : undefined,
          };
        });
        if (typeof c.due === 'number') await ticks.ensure(c.due);
      },
      o,
    );
    return { ...r, tickAdds: ticks.adds };
  } finally {
    await queues.close().catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
  }
}
