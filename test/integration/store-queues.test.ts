// The store and the queues against a real Redis: the compare-and-set never loses an update, and a job id
// always means one job at the time it should run.
import { Redis } from 'ioredis';
import { Queue, Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { AdherenceLog } from '../../src/store/adherence-log.js';
import { Keys } from '../../src/store/keys.js';
import { encodeDevice, Registry } from '../../src/store/registry.js';
import { parseState, serializeState, StateStore } from '../../src/store/state-store.js';
import { newUserState, type UserState } from '../../src/domain/user-state.js';
import { Queues, jobIds, queuePrefix, type HeatJob } from '../../src/queues/queues.js';
import { BUCKET_MS, HORIZON_MARGIN_MS, Ticks } from '../../src/queues/ticks.js';
import { profileSchema } from '../../src/domain/profile.js';
import type { Device } from '../../src/domain/types.js';
import { cleanupRedisPrefix, uniqueNamespace } from '../support/namespace.js';
import { createRedis } from '../../src/store/redis.js';

let redis: Redis;
let prefix: string;

beforeAll(async () => {
  redis = createRedis(inject('redisUrl'));
  await redis.connect();
});
afterAll(async () => {
  await redis.quit();
});
afterEach(async () => {
  await cleanupRedisPrefix(inject('redisUrl'), prefix);
});

describe('StateStore', () => {
  it('concurrent transitions on one user never lose an update and append every entry once', async () => {
    prefix = uniqueNamespace('cas').prefix;
    const keys = new Keys(prefix);
    // Several connections, as several ingest instances would have.
    // Connected before use: the service's connections have no offline queue (they fail fast while Redis is away).
    const more = [redis.duplicate(), redis.duplicate()];
    await Promise.all(more.map((c) => c.connect()));
    const clients = [redis, ...more];
    const stores = clients.map((c) => new StateStore(c, keys));
    const N = 60;
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        stores[i % stores.length]!.transact('u1', (st) => ({
          state: { ...st, routineSeq: st.routineSeq + 1 },
          logs: [{ type: 'nudge_acked', at: 1_700_000_000_000 + i, sessionId: null }],
          changed: true,
          result: undefined,
        })),
      ),
    );
    const { v, state } = await stores[0]!.read('u1');
    expect(state.routineSeq).toBe(N);
    expect(v).toBe(N);
    const entries = await new AdherenceLog(redis, keys).read('u1');
    expect(entries).toHaveLength(N);
    expect(new Set(entries.map((e) => e.at)).size).toBe(N);
    await Promise.all(clients.slice(1).map((c) => c.quit()));
  });

  it('a transition that changes nothing writes nothing', async () => {
    prefix = uniqueNamespace('cas0').prefix;
    const keys = new Keys(prefix);
    const store = new StateStore(redis, keys);
    await store.transact('u2', (st) => ({ state: st, logs: [], changed: false, result: 1 }));
    expect(await redis.exists(keys.state('u2'))).toBe(0);
  });
});

describe('StateStore format', () => {
  it('leaves out the parts still at their initial value and reads every state back unchanged', () => {
    const fresh = newUserState('ab12cd');
    expect(serializeState(fresh)).not.toMatch(/"heat"|"routine"/);
    expect(parseState(serializeState(fresh))).toEqual(fresh);
    const busy: UserState = {
      ...fresh,
      heat: { current: null, lastEndedAt: 1_700_000_000_000, seq: 3, watchdog: { pad: 1_700_000_000_500 } },
      routineSeq: 2,
    };
    expect(serializeState(busy)).toMatch(/"heat"/);
    expect(parseState(serializeState(busy))).toEqual(busy);
    // A document written whole (before this) reads the same.
    expect(parseState(JSON.stringify(busy))).toEqual(busy);
  });

  it("sets, keeps and removes the person's due entry in the same commit as the state, and refuses a session change without one", async () => {
    prefix = uniqueNamespace('casdue').prefix;
    const keys = new Keys(prefix);
    const store = new StateStore(redis, keys);
    const due = keys.due(keys.partitionOf('u3'));
    const sessionMoved = (st: UserState) => ({ ...st, session: { ...st.session, horizon: st.session.horizon + 1 } });
    const first = await store.transact('u3', (st) => ({
      state: sessionMoved(st),
      logs: [],
      changed: true,
      result: undefined,
      due: 5_000,
    }));
    expect(first.v).toBe(1);
    expect(await redis.zscore(due, 'u3')).toBe('5000');
    // A heat or routine change leaves the due entry alone.
    await store.transact('u3', (st) => ({
      state: { ...st, routineSeq: 7 },
      logs: [],
      changed: true,
      result: undefined,
    }));
    expect(await redis.zscore(due, 'u3')).toBe('5000');
    // Only the due entry (the sweep claimed it away; a policy change): written, and the version stays.
    const only = await store.transact(
      'u3',
      (st) => ({ state: st, logs: [], changed: false, result: undefined, due: 9_000 }),
      { writeDue: () => true },
    );
    expect(only.v).toBe(2);
    expect((await store.read('u3')).v).toBe(2);
    expect(await redis.zscore(due, 'u3')).toBe('9000');
    await expect(
      store.transact('u3', (st) => ({ state: sessionMoved(st), logs: [], changed: true, result: undefined })),
    ).rejects.toMatchObject({ code: 'missing_due' });
    expect((await store.read('u3')).v).toBe(2);
    await store.transact('u3', (st) => ({
      state: sessionMoved(st),
      logs: [],
      changed: true,
      result: undefined,
      due: null,
    }));
    expect(await redis.zscore(due, 'u3')).toBeNull();
    await store.transact('u3', (st) => ({
      state: sessionMoved(st),
      logs: [],
      changed: true,
      result: undefined,
      due: 1,
    }));
    await store.delete('u3');
    expect(await redis.zcard(due)).toBe(0);
    expect(await redis.exists(keys.state('u3'), keys.log('u3'))).toBe(0);
  });
});

describe('Registry', () => {
  it('keeps the protocol address index in step with devices', async () => {
    prefix = uniqueNamespace('reg').prefix;
    const reg = new Registry(redis, new Keys(prefix));
    await reg.putDevice({ deviceId: 'd1', userId: 'u', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/fp1' });
    expect(await reg.deviceIdForTopic('zigbee2mqtt', 'office/fp1')).toBe('d1');
    await reg.putDevice({ deviceId: 'd1', userId: 'u', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/fp1e' });
    expect(await reg.deviceIdForTopic('zigbee2mqtt', 'office/fp1')).toBeNull();
    expect(await reg.deviceIdForTopic('zigbee2mqtt', 'office/fp1e')).toBe('d1');
    await expect(
      reg.putDevice({ deviceId: 'd2', userId: 'u', role: 'chair', protocol: 'zigbee2mqtt', topic: 'office/fp1e' }),
    ).rejects.toMatchObject({ code: 'topic_taken', kind: 'conflict' });
    await reg.deleteDevice('d1');
    expect(await reg.deviceIdForTopic('zigbee2mqtt', 'office/fp1e')).toBeNull();
    expect(await reg.devicesOf('u')).toEqual([]);
  });
});

describe('Registry cache', () => {
  const poll = async <T>(read: () => Promise<T>, want: (v: T) => boolean): Promise<T> => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const v = await read();
      if (want(v) || Date.now() > deadline) return v;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('drops what another process changed, and everything after its subscription was lost', async () => {
    prefix = uniqueNamespace('regsub').prefix;
    const keys = new Keys(prefix);
    const other = redis.duplicate();
    await other.connect(); // lazy like its original, and without an offline queue: connected before its first command
    const cached = new Registry(redis, keys);
    const writer = new Registry(other, keys);
    await cached.startCache();
    try {
      await writer.putProfile('u', profileSchema.parse({ breakAfterMinutes: 30 }));
      expect((await cached.getProfile('u'))?.breakAfterMinutes).toBe(30);
      await writer.putProfile('u', profileSchema.parse({ breakAfterMinutes: 40 }));
      expect(
        (
          await poll(
            () => cached.getProfile('u'),
            (p) => p?.breakAfterMinutes === 40,
          )
        )?.breakAfterMinutes,
      ).toBe(40);

      // The subscriber is cut off and a change is made while it is away: its message is lost, the cache must not be.
      await other.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await writer.putProfile('u', profileSchema.parse({ breakAfterMinutes: 50 }));
      expect(
        (
          await poll(
            () => cached.getProfile('u'),
            (p) => p?.breakAfterMinutes === 50,
          )
        )?.breakAfterMinutes,
      ).toBe(50);
    } finally {
      await cached.stopCache();
      await other.quit();
    }
  });

  it('a protocol address left claimed by a write cut short is taken over, and ingest does not use it', async () => {
    prefix = uniqueNamespace('regclaim').prefix;
    const keys = new Keys(prefix);
    const reg = new Registry(redis, keys);
    await reg.putDevice({ deviceId: 'd1', userId: 'u', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/a' });
    // As if a PUT moving d1 to office/b died after claiming office/b and writing the record, before releasing office/a.
    await redis.set(keys.deviceTopic('zigbee2mqtt', 'office/a'), 'd1');
    await redis.set(
      keys.device('d1'),
      JSON.stringify({ deviceId: 'd1', userId: 'u', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/b' }),
    );
    await reg.putDevice({ deviceId: 'd2', userId: 'v', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/a' });
    expect(await reg.deviceIdForTopic('zigbee2mqtt', 'office/a')).toBe('d2');
    expect((await reg.devicesOf('v')).map((d) => d.deviceId)).toEqual(['d2']);
    expect(await reg.listUsers()).toEqual([]);
    expect((await reg.listDevices()).map((d) => d.deviceId).sort()).toEqual(['d1', 'd2']);
  });
});

describe('Queues.ensureAt', () => {
  it('adds once, moves a delayed job when its due time changes, and re-adds after completion', async () => {
    prefix = uniqueNamespace('q').prefix;
    const queues = new Queues(redis, prefix);
    const q = queues.heat;
    const id = jobIds.heatOff('u', 's1');
    const data = (dueAt: number): HeatJob => ({ kind: 'heat-off', userId: 'u', sessionId: 's1', dueAt });
    const t0 = Date.now();
    await queues.ensureAt(q, id, data(t0 + 60_000), t0 + 60_000);
    await queues.ensureAt(q, id, data(t0 + 60_000), t0 + 60_000);
    expect(await q.getDelayedCount()).toBe(1);

    // Moved earlier: the same job (BullMQ would silently ignore a second add with this id).
    await queues.ensureAt(q, id, data(t0 + 300), t0 + 300);
    expect(await q.getDelayedCount()).toBe(1);
    const fired: Array<{ id: string; at: number; dueAt: number }> = [];
    const worker = new Worker<HeatJob>(
      'heat',
      async (job) => void fired.push({ id: job.id!, at: Date.now(), dueAt: (job.data as { dueAt: number }).dueAt }),
      {
        connection: redis.duplicate(),
        prefix: queuePrefix(prefix),
      },
    );
    try {
      const deadline = Date.now() + 10_000;
      while (fired.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(fired).toHaveLength(1);
      expect(fired[0]!.id).toBe(id);
      expect(fired[0]!.dueAt).toBe(t0 + 300);
      expect(fired[0]!.at).toBeGreaterThanOrEqual(t0 + 300);
      expect(fired[0]!.at).toBeLessThan(t0 + 30_000);

      // Completed jobs are removed, so the same id can be scheduled again (the processor decides if it is stale).
      await new Promise((r) => setTimeout(r, 100));
      await queues.ensureAt(q, id, data(Date.now() + 100), Date.now() + 100);
      const deadline2 = Date.now() + 10_000;
      while (fired.length < 2 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 20));
      expect(fired).toHaveLength(2);
    } finally {
      await worker.close();
      await queues.close();
    }
  });

  it('two producers racing on one id make one job', async () => {
    prefix = uniqueNamespace('q2').prefix;
    const a = new Queues(redis, prefix);
    const other = redis.duplicate();
    const b = new Queues(other, prefix);
    const id = jobIds.heatOff('u', 's1');
    const data = { kind: 'heat-off' as const, userId: 'u', sessionId: 's1', dueAt: Date.now() + 60_000 };
    await Promise.all([
      a.ensureAt(a.heat, id, data, data.dueAt),
      b.ensureAt(b.heat, id, data, data.dueAt),
      a.ensureAt(a.heat, id, data, data.dueAt),
    ]);
    expect(await (a.heat as Queue).getDelayedCount()).toBe(1);
    await a.close();
    await b.close();
    await other.quit();
  });
});

describe('Ticks', () => {
  it('two processes asking for ticks of the same bucket, in any partitions, make one job, due at the bucket end', async () => {
    prefix = uniqueNamespace('q3').prefix;
    const other = redis.duplicate();
    const qa = new Queues(redis, prefix);
    const qb = new Queues(other, prefix);
    const now = Date.now();
    const a = new Ticks(qa, () => now);
    const b = new Ticks(qb, () => now);
    // Early in its bucket, so that dueAt + 1 below is in the same bucket whatever the clock says.
    const bucket = Math.floor((now + 60_000) / BUCKET_MS);
    const dueAt = bucket * BUCKET_MS + 10;
    await Promise.all([a.ensure(dueAt), b.ensure(dueAt + 1), a.ensure(dueAt), b.ensure(dueAt)]);
    const jobs = await qa.nudges.getDelayed();
    expect(jobs.map((j) => j.id)).toEqual([`tick.${bucket}`]);
    const tick = jobs[0]!;
    expect(tick.data).toEqual({ kind: 'tick', bucket });
    expect(tick.timestamp + tick.opts.delay!).toBeGreaterThanOrEqual((bucket + 1) * BUCKET_MS - 50);
    // A due time that has passed goes to a bucket still ahead: the tick of now's bucket may be running already.
    expect(a.bucketOf(now - 10_000)).toBe(Math.floor(now / BUCKET_MS) + 1);
    await qa.close();
    await qb.close();
    await other.quit();
  });

  it('adds no tick for a due time behind a tick it knows of that has not started, and one for an earlier due time', async () => {
    prefix = uniqueNamespace('q4').prefix;
    const q = new Queues(redis, prefix);
    let now = Date.now();
    const ticks = new Ticks(q, () => now);
    const first = now + 10 * 60_000;
    await ticks.ensure(first);
    // Later due times (as every new sitting session's): the tick at `first` sweeps, then chains to them.
    for (let k = 1; k <= 50; k++) await ticks.ensure(first + k * 7_919);
    expect(ticks.adds).toBe(1);
    // An earlier due time needs its own tick.
    await ticks.ensure(now + 60_000);
    expect(ticks.adds).toBe(2);
    const ids = (await q.nudges.getDelayed()).map((j) => j.id).sort();
    expect(ids).toEqual(
      [`tick.${Math.floor(first / BUCKET_MS)}`, `tick.${Math.floor((now + 60_000) / BUCKET_MS)}`].sort(),
    );
    // Once the known ticks are about to start (within the margin), a later due time is no longer taken as covered:
    // a sweep already under way may have read the due sets before this due time was written.
    now = first - HORIZON_MARGIN_MS / 2;
    expect(ticks.covers(first + 5_000)).toBe(false);
    await ticks.ensure(first + 5_000);
    expect(ticks.adds).toBe(3);
    await q.close();
  });
});

describe('Registry.putNewPeople', () => {
  it('writes the same keys and values as putProfile and putDevice, and refuses what it cannot write alike', async () => {
    prefix = uniqueNamespace('bulk').prefix;
    const keys = new Keys(prefix);
    const registry = new Registry(redis, keys);
    const profile = profileSchema.parse({ breakAfterMinutes: 25 });
    const desk = (u: string): Device => ({ deviceId: `${u}-desk`, userId: u, role: 'desk', protocol: 'unknot' });
    // One person the ordinary way, three in bulk.
    await registry.putProfile('one', profile);
    await registry.putDevice(desk('one'));
    await registry.putNewPeople(['two', 'three', 'four'].map((u) => ({ userId: u, profile, devices: [desk(u)] })));
    expect(await registry.listUsers()).toEqual(['four', 'one', 'three', 'two']);
    expect((await registry.listDevices()).map((d) => d.deviceId).sort()).toEqual(
      ['four-desk', 'one-desk', 'three-desk', 'two-desk'].sort(),
    );
    expect(await registry.getProfile('three')).toEqual(await registry.getProfile('one'));
    expect(await registry.devicesOf('three')).toEqual([desk('three')]);
    // Byte for byte what the ordinary writes stored.
    const p = await redis.hget(keys.person('one'), 'p');
    expect(await redis.hgetall(keys.person('one'))).toEqual({ p, 'd:one-desk': '' });
    expect(await redis.hgetall(keys.person('three'))).toEqual({ p, 'd:three-desk': '' });
    expect(await redis.get(keys.device('three-desk'))).toBe(encodeDevice(desk('three')));
    expect(await redis.get(keys.device('one-desk'))).toBe(encodeDevice(desk('one')));

    // A device with a protocol address (which needs a claim) or of someone else: refused, nothing written.
    await expect(
      registry.putNewPeople([
        { userId: 'five', profile, devices: [desk('five')] },
        { userId: 'six', profile, devices: [{ ...desk('six'), protocol: 'zigbee2mqtt', topic: 'six-seat' }] },
      ]),
    ).rejects.toThrow(/only unknot devices/);
    await expect(registry.putNewPeople([{ userId: 'seven', profile, devices: [desk('one')] }])).rejects.toThrow();
    expect(await registry.listUsers()).toEqual(['four', 'one', 'three', 'two']);
  });
});
