// `npm run repartition` on a real Redis: every key and timer entry of people and devices moves to the new layout,
// the service's own code finds them there, a second run changes nothing, and a run stopped half-way is finished by
// running it again.
import { afterEach, describe, expect, it } from 'vitest';
import { nextDueAt } from '../../src/domain/session.js';
import { Keys } from '../../src/store/keys.js';
import { checkPartitions } from '../../src/store/partitions.js';
import { repartition } from '../../scripts/repartition.js';
import { inProcess, type InProcess } from '../support/wired-parts.js';

let h: InProcess | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const MIN = 60_000;

async function population(p: InProcess, n: number) {
  const ids = Array.from({ length: n }, (_, i) => `r${i}`);
  for (const u of ids) {
    await p.users.putProfile(u, {});
    const d = await p.users.putDevice(`${u}-desk`, {
      userId: u,
      role: 'desk',
      protocol: 'zigbee2mqtt',
      topic: `office/${u}`,
    });
    await p.sessions.sensorEvent(d, 'sitting', p.clock.t);
  }
  return ids;
}

async function snapshot(p: InProcess, keys: Keys, ids: string[]) {
  const out: Record<string, unknown> = {};
  for (const u of ids) {
    out[u] = {
      state: await p.ctx.redis.get(keys.state(u)),
      log: await p.ctx.redis.get(keys.log(u)),
      person: await p.ctx.redis.hgetall(keys.person(u)),
      device: await p.ctx.redis.get(keys.device(`${u}-desk`)),
      topic: await p.ctx.redis.get(keys.deviceTopic('zigbee2mqtt', `office/${u}`)),
      due: await p.ctx.redis.zscore(keys.due(keys.partitionOf(u)), u),
      publishing: await p.ctx.redis.hget(keys.publishing(keys.partitionOf(u)), u),
    };
  }
  return out;
}

describe('repartition', () => {
  it("moves every person's and device's keys and due entries from 64 to 7 partitions, idempotently and resumably", async () => {
    h = await inProcess('repart');
    const { redis, keys } = h.ctx;
    await checkPartitions(redis, keys.meta(), 64);
    const ids = await population(h, 12);
    // A nudge whose publish was never confirmed (its worker died): the mark moves with its person.
    await redis.hset(keys.publishing(keys.partitionOf('r3')), 'r3', 'x1-1');
    const before = await snapshot(h, keys, ids);
    expect(
      Object.values(before).every((v) => (v as { due: string | null }).due === String(h!.clock.t + 30 * MIN)),
    ).toBe(true);

    // A run stopped half-way: the marker says where it was going, some keys are moved already.
    await redis.hset(keys.meta(), 'repartition-to', '7');
    const to = new Keys(keys.prefix, 7);
    await redis.rename(keys.state('r0'), to.state('r0'));
    await expect(repartition(redis, keys.prefix, 9)).rejects.toMatchObject({ code: 'repartition_refused' });

    const r = await repartition(redis, keys.prefix, 7);
    expect(r).toMatchObject({ from: 64, to: 7, users: 12, devices: 12 });
    expect(await snapshot(h, to, ids)).toEqual(before);
    // Nothing is left in the old layout (apart from ids whose partition did not change).
    const moved = ids.filter((u) => keys.state(u) !== to.state(u));
    expect(moved.length).toBeGreaterThan(0);
    for (const u of moved)
      expect(await redis.exists(keys.state(u), keys.log(u), keys.person(u), keys.device(`${u}-desk`))).toBe(0);
    expect(await redis.hget(keys.meta(), 'partitions')).toBe('7');
    expect(await redis.hget(keys.meta(), 'repartition-to')).toBeNull();
    // The service now refuses 64 and accepts 7; a second run changes nothing.
    await expect(checkPartitions(redis, keys.meta(), 64)).rejects.toMatchObject({ code: 'partitions_changed' });
    await checkPartitions(redis, keys.meta(), 7);
    expect(await repartition(redis, keys.prefix, 7)).toMatchObject({ keysMoved: 0 });

    // And the moved state reads back as the same sitting session, due at the same time.
    const raw = await redis.get(to.state('r3'));
    const { parseState } = await import('../../src/store/state-store.js');
    const st = parseState(raw!.slice(raw!.indexOf('|') + 1));
    expect(
      nextDueAt(st.session, {
        breakAfterMs: 30 * MIN,
        minBreakMs: 120_000,
        escalateMs: 5 * MIN,
        maxNudges: 3,
        snoozeMs: 10 * MIN,
        maxSnoozes: 2,
        timezone: 'UTC',
        activeHours: { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00' },
      }),
    ).toBe(h.clock.t + 30 * MIN);
  });
});
