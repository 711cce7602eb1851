// The timer wheel in this process against a real Redis and broker, with the clock driven by the test: due entries
// set by the same commit as the state, sweeps that claim in batches, claims whose worker died coming back, and due
// times moved by snooze and active hours. No per-person job is ever in BullMQ.
import { afterEach, describe, expect, it } from 'vitest';
import { CLAIM_LEASE_MS, DueSweep, RETRY_MS, SWEEP_BATCH } from '../../src/app/due-sweep.js';
import { NudgeDelivery, type DueDone } from '../../src/app/nudge-delivery.js';
import { BUCKET_MS } from '../../src/queues/ticks.js';
import { NudgeWorker } from '../../workers/nudge-worker.js';
import { inProcess, type InProcess } from '../support/wired-parts.js';

const MIN = 60_000;
let h: InProcess | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function seat(p: InProcess, userId: string, profile: object = {}) {
  await p.users.putProfile(userId, { breakAfterMinutes: 30, escalateAfterMinutes: 5, maxNudges: 2, ...profile });
  const device = await p.users.putDevice(`${userId}-desk`, { userId, role: 'desk', protocol: 'unknot' });
  await p.sessions.sensorEvent(device, 'sitting', p.clock.t);
  return device;
}

const dueOf = (p: InProcess, userId: string) =>
  p.ctx.redis
    .zscore(p.ctx.keys.due(p.ctx.keys.partitionOf(userId)), userId)
    .then((s) => (s === null ? null : Number(s)));
const nudges = (p: InProcess, userId: string) =>
  p.mqtt.messages(`${p.ctx.topics.base}/users/${userId}/nudge`).map((m) => (m.json as { level: number }).level);
const logTypes = async (p: InProcess, userId: string) =>
  (await p.ctx.adherence.read(userId, 0, p.clock.t + 1)).map((e) => e.type);
/** `count` user ids `<prefix><i>`, each in a partition of its own, by partition. */
function onePerPartition(p: InProcess, count: number, prefix: string): Map<number, string> {
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < count; i++) {
    const n = p.ctx.keys.partitionOf(`${prefix}${i}`);
    if (!byPartition.has(n)) byPartition.set(n, `${prefix}${i}`);
  }
  return byPartition;
}
const sweepOf = (p: InProcess, userId: string) => p.sweep.sweepPartition(p.ctx.keys.partitionOf(userId));

describe('timer wheel', () => {
  it('keeps one due entry per seated person, sends the nudge when its time comes and moves the entry to the escalation', async () => {
    h = await inProcess('wheel');
    const t0 = h.clock.t;
    await seat(h, 'ana');
    expect(await dueOf(h, 'ana')).toBe(t0 + 30 * MIN);
    // One tick for that bucket, and no job of the person's own.
    const jobs = await h.ctx.queues.nudges.getJobs(['delayed', 'waiting']);
    expect(jobs.map((j) => j.id)).toEqual([`tick.${Math.floor((t0 + 30 * MIN) / BUCKET_MS)}`]);

    h.clock.t = t0 + 30 * MIN - 1_000;
    expect(await sweepOf(h, 'ana')).toEqual({ processed: 0, failed: 0 });
    h.clock.t = t0 + 30 * MIN;
    expect(await sweepOf(h, 'ana')).toEqual({ processed: 1, failed: 0 });
    await h.mqtt.waitFor(`${h.ctx.topics.base}/users/ana/nudge`);
    expect(await dueOf(h, 'ana')).toBe(t0 + 35 * MIN);
    // Swept again at once: nothing is due, nothing is sent twice.
    expect(await sweepOf(h, 'ana')).toEqual({ processed: 0, failed: 0 });
    h.clock.t = t0 + 35 * MIN;
    await sweepOf(h, 'ana');
    await h.mqtt.waitForCount(`${h.ctx.topics.base}/users/ana/nudge`, 2);
    // maxNudges 2: the next entry is the "ignored" check, then nothing.
    expect(await dueOf(h, 'ana')).toBe(t0 + 40 * MIN);
    h.clock.t = t0 + 40 * MIN;
    await sweepOf(h, 'ana');
    expect(await dueOf(h, 'ana')).toBeNull();
    expect(nudges(h, 'ana')).toEqual([1, 2]);
    expect(await logTypes(h, 'ana')).toEqual(['sitting_started', 'nudge_sent', 'nudge_sent', 'nudge_ignored']);
    expect(await h.ctx.redis.zcard(h.ctx.keys.claims(h.ctx.keys.partitionOf('ana')))).toBe(0);
  });

  it('claims at most a batch per script call and loops until nobody due is left', async () => {
    h = await inProcess('batch', { batch: 2 });
    const t0 = h.clock.t;
    // People of one partition, so that one sweep has to take them in several batches.
    const n = h.ctx.keys.partitionOf('p0');
    const ids = Array.from({ length: 400 }, (_, i) => `p${i}`)
      .filter((u) => h!.ctx.keys.partitionOf(u) === n)
      .slice(0, 5);
    expect(ids).toHaveLength(5);
    for (const u of ids) await seat(h, u);
    h.clock.t = t0 + 30 * MIN;
    expect(await h.sweep.claim(n)).toHaveLength(2);
    // Those two are claimed (a live lease): this sweep takes the other three, in two batches.
    expect(await h.sweep.sweepPartition(n)).toEqual({ processed: 3, failed: 0 });
    expect(await h.ctx.redis.zcard(h.ctx.keys.claims(n))).toBe(2);
    for (const u of ids)
      expect(await dueOf(h, u)).toBe(
        (await h.ctx.redis.zscore(h.ctx.keys.claims(n), u)) === null ? t0 + 35 * MIN : null,
      );
  });

  it('puts a claim whose worker died back once its lease lapses, and the nudge goes out once', async () => {
    h = await inProcess('lease');
    const t0 = h.clock.t;
    await seat(h, 'bo');
    const n = h.ctx.keys.partitionOf('bo');
    h.clock.t = t0 + 30 * MIN;
    expect(await h.sweep.claim(n)).toEqual(['bo']); // and the claiming worker dies here
    expect(await dueOf(h, 'bo')).toBeNull();
    expect(await h.sweep.sweepPartition(n)).toEqual({ processed: 0, failed: 0 });
    h.clock.t += CLAIM_LEASE_MS;
    expect(await h.sweep.sweepPartition(n)).toEqual({ processed: 1, failed: 0 });
    await h.mqtt.waitFor(`${h.ctx.topics.base}/users/bo/nudge`);
    expect(await h.ctx.redis.zcard(h.ctx.keys.claims(n))).toBe(0);
    h.clock.t += CLAIM_LEASE_MS;
    await h.sweep.sweepPartition(n);
    expect(nudges(h, 'bo')).toEqual([1]);
    expect((await logTypes(h, 'bo')).filter((t) => t === 'nudge_sent')).toHaveLength(1);
  });

  it('moves the due entry with a snooze and holds it outside active hours', async () => {
    h = await inProcess('moves');
    const t0 = h.clock.t; // Monday 09:00 UTC
    await seat(h, 'cy', { snoozeMinutes: 10 });
    h.clock.t = t0 + 10 * MIN;
    const r = await h.sessions.snooze('cy', 25);
    expect(r).toMatchObject({ ok: true, nextNudgeAt: t0 + 35 * MIN });
    expect(await dueOf(h, 'cy')).toBe(t0 + 35 * MIN);
    h.clock.t = t0 + 30 * MIN;
    await sweepOf(h, 'cy');
    expect(nudges(h, 'cy')).toEqual([]);

    // Active hours end at 09:20: the nudge due at 09:30 waits for 09:00 the next day.
    await h.users.putProfile('dee', { breakAfterMinutes: 30, activeHours: { start: '00:00', end: '09:20' } });
    const device = await h.users.putDevice('dee-desk', { userId: 'dee', role: 'desk', protocol: 'unknot' });
    h.clock.t = t0;
    await h.sessions.sensorEvent(device, 'sitting', t0);
    expect(await dueOf(h, 'dee')).toBe(t0 + 24 * 60 * MIN - 9 * 60 * MIN);
    // The profile changes: the entry moves with it.
    await h.users.patchProfile('dee', { activeHours: { start: '00:00', end: '24:00' } });
    expect(await dueOf(h, 'dee')).toBe(t0 + 30 * MIN);
  });

  it('a break ends the session: the entry is the break check, then gone, and the break is logged', async () => {
    h = await inProcess('break');
    const t0 = h.clock.t;
    const device = await seat(h, 'eve', { minBreakSeconds: 60 });
    h.clock.t = t0 + 10 * MIN;
    await h.sessions.sensorEvent(device, 'standing', h.clock.t);
    expect(await dueOf(h, 'eve')).toBe(t0 + 11 * MIN);
    h.clock.t = t0 + 11 * MIN;
    await sweepOf(h, 'eve');
    expect(await dueOf(h, 'eve')).toBeNull();
    expect(await logTypes(h, 'eve')).toEqual(['sitting_started', 'natural_break']);
  });

  it('a nudge committed as sent by a worker that died before publishing it goes out once when its claim comes back', async () => {
    h = await inProcess('unpublished');
    const t0 = h.clock.t;
    await seat(h, 'fay');
    const n = h.ctx.keys.partitionOf('fay');
    h.clock.t = t0 + 30 * MIN;
    expect(await h.sweep.claim(n)).toEqual(['fay']);
    // The dead worker got as far as committing the nudge (the state says sent, not published) and no further.
    const { dueStep, nextDueAt, policyOf } = await import('../../src/domain/session.js');
    const profile = (await h.ctx.registry.getProfile('fay'))!;
    const policy = policyOf(profile, 1);
    await h.ctx.store.transact('fay', (st) => {
      const t = dueStep(st.session, policy, h!.clock.t);
      return {
        state: { ...st, session: t.state },
        logs: [],
        changed: t.changed,
        result: undefined,
        due: nextDueAt(t.state, policy),
      };
    });
    expect(nudges(h, 'fay')).toEqual([]);
    h.clock.t += CLAIM_LEASE_MS;
    expect(await h.sweep.sweepPartition(n)).toEqual({ processed: 1, failed: 0 });
    await h.mqtt.waitFor(`${h.ctx.topics.base}/users/fay/nudge`);
    // Once more after the lease: the broker's retained last-nudge record and the state say it is done.
    h.clock.t += CLAIM_LEASE_MS;
    await h.sweep.sweepPartition(n);
    expect(nudges(h, 'fay')).toEqual([1]);
    expect((await h.ctx.store.read('fay')).state.session.book).toMatchObject({ nudgesSent: 1, nudgesPublished: 1 });
  });

  it('a nudge sent by one commit leaves no publishing mark behind, and its state says published', async () => {
    h = await inProcess('marks');
    const t0 = h.clock.t;
    await seat(h, 'gil');
    const n = h.ctx.keys.partitionOf('gil');
    h.clock.t = t0 + 30 * MIN;
    expect(await sweepOf(h, 'gil')).toEqual({ processed: 1, failed: 0 });
    await h.mqtt.waitFor(`${h.ctx.topics.base}/users/gil/nudge`);
    expect(await h.ctx.redis.exists(h.ctx.keys.publishing(n))).toBe(0);
    expect((await h.ctx.store.fetch('gil')).state.session.book).toMatchObject({ nudgesSent: 1, nudgesPublished: 1 });
  });

  it('a nudge whose commit went through but whose publish failed goes out once, on the retry', async () => {
    h = await inProcess('publish-fails');
    const t0 = h.clock.t;
    await seat(h, 'hal');
    const n = h.ctx.keys.partitionOf('hal');
    let fail = true;
    class FailingDelivery extends NudgeDelivery {
      protected override publishNudge(...args: Parameters<NudgeDelivery['publishNudge']>): Promise<void> {
        if (fail) return Promise.reject(new Error('broker away'));
        return super.publishNudge(...args);
      }
    }
    const sweep = new DueSweep(h.ctx, h.sessions, new FailingDelivery(h.ctx, h.sessions));
    h.clock.t = t0 + 30 * MIN;
    expect(await sweep.sweepPartition(n)).toEqual({ processed: 0, failed: 1 });
    // The commit recorded the nudge as published; the mark says that is not confirmed.
    expect(await h.ctx.redis.hget(h.ctx.keys.publishing(n), 'hal')).toMatch(/-1$/);
    expect(await dueOf(h, 'hal')).toBe(h.clock.t + RETRY_MS);
    fail = false;
    h.clock.t += RETRY_MS;
    expect(await sweep.sweepPartition(n)).toEqual({ processed: 1, failed: 0 });
    await h.mqtt.waitFor(`${h.ctx.topics.base}/users/hal/nudge`);
    expect(await h.ctx.redis.hget(h.ctx.keys.publishing(n), 'hal')).toBeNull();
    // The escalation comes as usual, once.
    h.clock.t = t0 + 35 * MIN;
    await sweep.sweepPartition(n);
    await h.mqtt.waitForCount(`${h.ctx.topics.base}/users/hal/nudge`, 2);
    h.clock.t += CLAIM_LEASE_MS;
    await sweep.sweepPartition(n);
    expect(nudges(h, 'hal')).toEqual([1, 2]);
  });

  it('a worker that died after its commit goes out once when the claim comes back; one that died after publishing is not sent again', async () => {
    h = await inProcess('died');
    const t0 = h.clock.t;
    // ivy's worker dies between the commit and the publish, jon's between the publish and the release.
    for (const u of ['ivy', 'jon']) await seat(h, u);
    class DyingDelivery extends NudgeDelivery {
      protected override publishNudge(): Promise<void> {
        return Promise.reject(new Error('killed'));
      }
    }
    h.clock.t = t0 + 30 * MIN;
    for (const u of ['ivy', 'jon']) expect(await h.sweep.claim(h.ctx.keys.partitionOf(u))).toContain(u);
    await expect(new DyingDelivery(h.ctx, h.sessions).processDue('ivy')).rejects.toThrow('killed');
    expect(await h.sweep.sweepPartition(h.ctx.keys.partitionOf('ivy'))).toEqual({ processed: 0, failed: 0 });
    await new NudgeDelivery(h.ctx, h.sessions).processDue('jon');
    await h.mqtt.waitFor(`${h.ctx.topics.base}/users/jon/nudge`);
    expect(nudges(h, 'ivy')).toEqual([]);
    for (const u of ['ivy', 'jon'])
      expect(await h.ctx.redis.hget(h.ctx.keys.publishing(h.ctx.keys.partitionOf(u)), u)).toMatch(/-1$/);
    // The leases lapse: the next sweeps find out from the marks and the broker's retained last-nudge records.
    h.clock.t += CLAIM_LEASE_MS;
    await h.sweep.sweepAll();
    await h.mqtt.waitFor(`${h.ctx.topics.base}/users/ivy/nudge`);
    h.clock.t += CLAIM_LEASE_MS;
    await h.sweep.sweepAll();
    expect(nudges(h, 'ivy')).toEqual([1]);
    expect(nudges(h, 'jon')).toEqual([1]);
    for (const u of ['ivy', 'jon']) {
      expect(await h.ctx.redis.hget(h.ctx.keys.publishing(h.ctx.keys.partitionOf(u)), u)).toBeNull();
      expect((await h.ctx.store.fetch(u)).state.session.book).toMatchObject({ nudgesSent: 1, nudgesPublished: 1 });
      expect(await dueOf(h, u)).toBe(t0 + 35 * MIN);
    }
  });

  it('a sweep behind a backlog handles the longest-waiting first, whatever their partitions', async () => {
    h = await inProcess('fifo');
    const t0 = h.clock.t;
    // Five people in five partitions, seated a minute apart, highest partition first: each is due a minute after
    // the one before, and the partitions' order is the reverse of the due times'.
    const ids = [...onePerPartition(h, 5, 'w')].sort((a, b) => b[0] - a[0]).map(([, u]) => u);
    for (const [k, u] of ids.entries()) {
      h.clock.t = t0 + k * MIN;
      await seat(h, u);
    }
    const order: string[] = [];
    class RecordingDelivery extends NudgeDelivery {
      override processDue(userId: string): Promise<DueDone> {
        order.push(userId);
        return super.processDue(userId);
      }
    }
    const sweep = new DueSweep(h.ctx, h.sessions, new RecordingDelivery(h.ctx, h.sessions));
    h.clock.t = t0 + 40 * MIN;
    expect(await sweep.sweepAll()).toEqual({ processed: 5, failed: 0 });
    expect(order).toEqual(ids);
  });

  it('one tick a bucket sweeps the people due in every partition, and asks for the tick of the next due time', async () => {
    h = await inProcess('one-tick');
    const t0 = h.clock.t;
    // Six people in six different partitions, all due in the same bucket.
    const six = [...onePerPartition(h, 6, 'q').values()];
    for (const u of six) await seat(h, u);
    const bucket = Math.floor((t0 + 30 * MIN) / BUCKET_MS);
    expect((await h.ctx.queues.nudges.getDelayed()).map((j) => j.id)).toEqual([`tick.${bucket}`]);
    expect(h.sessions.ticks.adds).toBe(1);

    h.clock.t = t0 + 30 * MIN;
    expect(await h.sweep.sweepAll()).toEqual({ processed: 6, failed: 0 });
    for (const u of six) await h.mqtt.waitFor(`${h.ctx.topics.base}/users/${u}/nudge`);
    // The escalations are due 5 min later, all in one bucket: one more tick, for that bucket.
    const ids2 = (await h.ctx.queues.nudges.getDelayed()).map((j) => j.id).sort();
    expect(ids2).toEqual([`tick.${bucket}`, `tick.${Math.floor((t0 + 35 * MIN) / BUCKET_MS)}`].sort());
    for (const u of six) expect(nudges(h, u)).toEqual([1]);
  });

  it('a due person whose tick was lost is still swept by the sweep of every partition (sweep-all)', async () => {
    h = await inProcess('lost-tick');
    const t0 = h.clock.t;
    await seat(h, 'gus');
    // The tick is lost (a Redis that failed over before it was replicated, say).
    await h.ctx.queues.nudges.obliterate({ force: true });
    expect(await h.ctx.queues.nudges.getDelayedCount()).toBe(0);
    h.clock.t = t0 + 30 * MIN + 1_500;
    expect(await h.sweep.sweepAll()).toEqual({ processed: 1, failed: 0 });
    await h.mqtt.waitFor(`${h.ctx.topics.base}/users/gus/nudge`);
    // And the chain of ticks is back: a tick for the escalation.
    expect((await h.ctx.queues.nudges.getDelayed()).map((j) => j.id)).toEqual([
      `tick.${Math.floor((t0 + 35 * MIN + 1_500) / BUCKET_MS)}`,
    ]);
  });

  it('makes at most one tick job per bucket with someone due, however many people and partitions', async () => {
    h = await inProcess('bounded');
    const t0 = h.clock.t;
    const N = 120;
    const stepMs = 25; // 120 people due over 3 s: 30 buckets, people from up to 64 partitions in each
    for (let i = 0; i < N; i++) {
      h.clock.t = t0 + i * stepMs;
      await seat(h, `r${i}`);
    }
    // Seated in order of due time: the first one's tick covers all the later ones.
    expect(h.sessions.ticks.adds).toBe(1);
    // The chain: each tick fires at its bucket's end, sweeps, and asks for the next.
    const first = t0 + 30 * MIN;
    let sent = 0;
    for (let b = Math.floor(first / BUCKET_MS); b <= Math.floor((first + N * stepMs) / BUCKET_MS); b++) {
      h.clock.t = (b + 1) * BUCKET_MS;
      const r = await h.sweep.sweepAll();
      expect(r.failed).toBe(0);
      sent += r.processed;
    }
    expect(sent).toBe(N);
    await h.mqtt.waitForCount(`${h.ctx.topics.base}/users/+/nudge`, N, undefined);
    for (let i = 0; i < N; i++) expect(nudges(h, `r${i}`)).toEqual([1]);
    const buckets = new Set(Array.from({ length: N }, (_, i) => Math.floor((first + i * stepMs) / BUCKET_MS))).size;
    // One tick a bucket (and one for the escalations 5 min later), where a tick per partition and bucket would
    // have been about one per person.
    const jobs = await h.ctx.queues.nudges.getJobCountByTypes('delayed', 'waiting');
    expect(jobs).toBeLessThanOrEqual(buckets + 2);
  });

  it('a round of many partitions: one person whose transition fails is due again a moment later, the others are sent', async () => {
    h = await inProcess('batch-fail');
    const t0 = h.clock.t;
    const ids = Array.from({ length: 12 }, (_, i) => `s${i}`);
    for (const u of ids) await seat(h, u);
    // One person's stored state is unreadable (a bad write by hand, say): their transition throws.
    const bad = 's5';
    await h.ctx.redis.set(h.ctx.keys.state(bad), '7|{not json');
    h.ctx.store.cache.forget(bad);
    h.clock.t = t0 + 30 * MIN;
    expect(await h.sweep.sweepAll()).toEqual({ processed: 11, failed: 1 });
    for (const u of ids.filter((x) => x !== bad)) await h.mqtt.waitFor(`${h.ctx.topics.base}/users/${u}/nudge`);
    expect(nudges(h, bad)).toEqual([]);
    // Back in the due set a moment later, with a tick for then; nobody is left claimed.
    expect(await dueOf(h, bad)).toBe(h.clock.t + RETRY_MS);
    const tick = `tick.${Math.floor((h.clock.t + RETRY_MS) / BUCKET_MS)}`;
    expect((await h.ctx.queues.nudges.getDelayed()).map((j) => j.id)).toContain(tick);
    for (const u of ids) expect(await h.ctx.redis.zscore(h.ctx.keys.claims(h.ctx.keys.partitionOf(u)), u)).toBeNull();
    // Swept again: the others are not sent twice, the bad one fails again (and is still not lost).
    h.clock.t += RETRY_MS;
    expect(await h.sweep.sweepAll()).toEqual({ processed: 0, failed: 1 });
    for (const u of ids.filter((x) => x !== bad)) expect(nudges(h, u)).toEqual([1]);
    expect(await dueOf(h, bad)).toBe(h.clock.t + RETRY_MS);
  });

  it('a person deleted after their claim and before their transition gets nothing, and the rest of the round goes on', async () => {
    h = await inProcess('batch-deleted');
    const t0 = h.clock.t;
    const ids = Array.from({ length: 8 }, (_, i) => `d${i}`);
    for (const u of ids) await seat(h, u);
    const gone = 'd3';
    const p = h;
    // The delete lands while the sweep holds the person's claim (between the claim round and the transition).
    class DeletingDelivery extends NudgeDelivery {
      override async processDue(userId: string): Promise<DueDone> {
        if (userId === gone) await p.users.deleteUser(gone);
        return super.processDue(userId);
      }
    }
    const sweep = new DueSweep(h.ctx, h.sessions, new DeletingDelivery(h.ctx, h.sessions));
    h.clock.t = t0 + 30 * MIN;
    expect(await sweep.sweepAll()).toEqual({ processed: 8, failed: 0 });
    for (const u of ids.filter((x) => x !== gone)) await h.mqtt.waitFor(`${h.ctx.topics.base}/users/${u}/nudge`);
    expect(nudges(h, gone)).toEqual([]);
    expect(await dueOf(h, gone)).toBeNull();
    expect(await h.ctx.redis.exists(h.ctx.keys.state(gone))).toBe(0);
    for (const u of ids) expect(await h.ctx.redis.zscore(h.ctx.keys.claims(h.ctx.keys.partitionOf(u)), u)).toBeNull();
    // Later sweeps find nothing of theirs.
    h.clock.t += CLAIM_LEASE_MS + 5 * MIN;
    await sweep.sweepAll();
    expect(nudges(h, gone)).toEqual([]);
  });

  it('more people due than a claim round takes: the sweep goes on round after round, across partitions, each sent once', async () => {
    h = await inProcess('rounds');
    const t0 = h.clock.t;
    const N = 90;
    const ids = Array.from({ length: N }, (_, i) => `m${i}`);
    for (const u of ids) await seat(h, u);
    expect(new Set(ids.map((u) => h!.ctx.keys.partitionOf(u))).size).toBeGreaterThan(20);
    // A round takes 16 people over all partitions (one in each partition with someone due, at least).
    const sweep = new DueSweep(h.ctx, h.sessions, new NudgeDelivery(h.ctx, h.sessions), SWEEP_BATCH, 16);
    h.clock.t = t0 + 30 * MIN;
    expect(await sweep.sweepAll()).toEqual({ processed: N, failed: 0 });
    await h.mqtt.waitForCount(`${h.ctx.topics.base}/users/+/nudge`, N, undefined);
    for (const u of ids) expect(nudges(h, u)).toEqual([1]);
    for (const u of ids) expect(await dueOf(h, u)).toBe(t0 + 35 * MIN);
    for (let n = 0; n < h.ctx.keys.partitions; n++) expect(await h.ctx.redis.zcard(h.ctx.keys.claims(n))).toBe(0);
    expect(await sweep.sweepAll()).toEqual({ processed: 0, failed: 0 });
  });

  it('ticks that come while a sweep runs share the next sweep: each nudge once, no crowd of sweeps', async () => {
    h = await inProcess('coalesce');
    const t0 = h.clock.t;
    const ids = Array.from({ length: 10 }, (_, i) => `c${i}`);
    for (const u of ids) await seat(h, u);
    const worker = new NudgeWorker(h.ctx, h.sessions); // not started: its sweeps are called here
    h.clock.t = t0 + 30 * MIN;
    // Five jobs at once (a backlog made their ticks overdue together): one sweep runs, the four others wait for
    // one more that serves them all.
    const runs = await Promise.all(Array.from({ length: 5 }, () => worker.sweepAll()));
    expect(runs[0]).toEqual({ processed: 10, failed: 0 });
    for (const r of runs.slice(1)) expect(r).toEqual({ processed: 0, failed: 0 });
    expect(worker.sweep.claimCalls).toBe(2 * h.ctx.keys.partitions);
    await h.mqtt.waitForCount(`${h.ctx.topics.base}/users/+/nudge`, ids.length, undefined);
    for (const u of ids) expect(nudges(h, u)).toEqual([1]);
    // And a job after that starts a sweep of its own again.
    h.clock.t = t0 + 35 * MIN;
    expect(await worker.sweepAll()).toEqual({ processed: 10, failed: 0 });
  });
});
