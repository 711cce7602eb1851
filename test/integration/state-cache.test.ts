// The state cache against a real Redis: with client tracking live, a state this process committed is used without a
// read, and a write by another connection (another ingest, a worker process) drops it before the next look-up.
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { Keys } from '../../src/store/keys.js';
import { StateStore } from '../../src/store/state-store.js';
import { AdherenceLog } from '../../src/store/adherence-log.js';
import type { UserState } from '../../src/domain/user-state.js';
import { cleanupRedisPrefix, uniqueNamespace } from '../support/namespace.js';
import { createRedis } from '../../src/store/redis.js';

let mine: Redis;
let other: Redis;
let admin: Redis;
let prefix: string;

beforeAll(async () => {
  [mine, other, admin] = [
    createRedis(inject('redisUrl')),
    createRedis(inject('redisUrl')),
    createRedis(inject('redisUrl')),
  ];
  await Promise.all([mine.connect(), other.connect(), admin.connect()]);
});
afterAll(async () => {
  await Promise.all([mine.quit(), other.quit(), admin.quit()]);
});
afterEach(async () => {
  await cleanupRedisPrefix(inject('redisUrl'), prefix);
});

const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A transition that sets the session's horizon (any field would do) and logs nothing. */
const setHorizon = (h: number) => (st: UserState) => ({
  state: { ...st, session: { ...st.session, horizon: h } },
  logs: [],
  changed: true,
  result: undefined,
  due: 'keep' as const,
});

describe('StateCache (client tracking)', () => {
  it('reads a state it committed without a GET, and drops it when another process writes', async () => {
    prefix = uniqueNamespace('state-cache').prefix;
    const keys = new Keys(prefix);
    const store = new StateStore(mine, keys);
    const elsewhere = new StateStore(other, keys);
    const errors: Error[] = [];
    await store.cache.start((err) => errors.push(err));
    try {
      await until('tracking to be live', () => store.cache.trusted);
      await store.transact('u1', setHorizon(1));
      // Redis reports this process's own commit too (a write inside a script): that report must not drop it. A
      // foreign write of another person, reported after ours on the same connection, shows ours was handled.
      await store.fetch('u9');
      await elsewhere.transact('u9', setHorizon(1));
      await until('the report of the other write', () => !store.cache.has('u9'));
      expect(store.cache.has('u1')).toBe(true);
      const kept = await store.read('u1');
      expect(kept.state.session.horizon).toBe(1);
      expect(kept).toBe(store.cache.get('u1')); // the very object kept at the commit: no GET, no parse

      // Another process commits: the entry goes, and the next read sees that process's state.
      await elsewhere.transact('u1', setHorizon(2));
      await until('the invalidation', () => !store.cache.has('u1'));
      expect((await store.read('u1')).state.session.horizon).toBe(2);

      // A transition started from the kept state after someone else's write still commits on the fresh state.
      await elsewhere.transact('u1', setHorizon(3));
      await until('the invalidation', () => !store.cache.has('u1'));
      const c = await store.transact('u1', (st) => setHorizon(st.session.horizon + 10)(st));
      expect(c.state.session.horizon).toBe(13);

      // A deleted state (by anyone) is not served from the cache.
      await admin.del(keys.state('u1'));
      await until('the invalidation', () => !store.cache.has('u1'));
      expect((await store.read('u1')).v).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await store.cache.stop();
    }
  });

  it('trusts nothing while the reporting connection is down, and again once it is back', async () => {
    prefix = uniqueNamespace('state-cache').prefix;
    const keys = new Keys(prefix);
    const store = new StateStore(mine, keys);
    const elsewhere = new StateStore(other, keys);
    await store.cache.start(() => undefined);
    try {
      await until('tracking to be live', () => store.cache.trusted);
      await store.transact('u2', setHorizon(1));
      // Kill the reporting connection from the server side (as a network cut would).
      await admin.call('CLIENT', 'KILL', 'ID', String(store.cache.reportingClientId));
      await until('the cache to stop trusting', () => !store.cache.trusted);
      expect(store.cache.has('u2')).toBe(false);
      await elsewhere.transact('u2', setHorizon(5));
      expect((await store.read('u2')).state.session.horizon).toBe(5);
      await until('tracking to be live again', () => store.cache.trusted);
      await elsewhere.transact('u2', setHorizon(6));
      await until('the invalidation', () => !store.cache.has('u2'));
      expect((await store.read('u2')).state.session.horizon).toBe(6);
    } finally {
      await store.cache.stop();
    }
  });
});

describe('stored forms of earlier releases', () => {
  it('reads an adherence log kept as a list with full field names, and appends to it', async () => {
    prefix = uniqueNamespace('old-log').prefix;
    const keys = new Keys(prefix);
    const store = new StateStore(mine, keys);
    const old = { type: 'nudge_acked', at: 1000, sessionId: 'ab1', deviceId: 'd1' };
    await admin.rpush(keys.log('u3'), JSON.stringify(old));
    const entry = { type: 'nudge_acked' as const, at: 2000, sessionId: 'ab1', deviceId: 'd2' };
    await store.transact('u3', (st) => ({ state: st, logs: [entry], changed: false, result: undefined }));
    expect(await admin.type(keys.log('u3'))).toBe('list');
    expect(await new AdherenceLog(mine, keys).read('u3')).toEqual([old, entry]);
    // A new person's log is the compact string form, read back the same.
    await store.transact('u4', (st) => ({ state: st, logs: [entry], changed: false, result: undefined }));
    expect(await admin.type(keys.log('u4'))).toBe('string');
    expect(await new AdherenceLog(mine, keys).read('u4')).toEqual([entry]);
    // Neither commit rewrote a state that did not change.
    expect(await admin.exists(keys.state('u3'), keys.state('u4'))).toBe(0);
  });
});
