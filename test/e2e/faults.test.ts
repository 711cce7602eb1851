// Faults, with the real process against a Redis and a Mosquitto of this file's own (killed and restarted here):
// Redis killed during an ingest burst, the broker restarted, kill -9 of an ingest process mid-burst, and kill -9 of
// a worker with nudges and heat-pad OFFs falling due. Every event is observable (each user gets one sitting event,
// so one `sitting_started` each), so "none lost, none doubled" is checked exactly. Figures go to
// test-artifacts/faults.json.
import { Queue } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { queuePrefix } from '../../src/queues/queues.js';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { counter, inBatches, metricsOf, recordFigures } from '../support/fault-figures.js';
import type { ReceivedMessage } from '../support/mqtt-client.js';
import { startPrivateMosquitto, startPrivateRedis, type PrivateServer } from '../support/private-servers.js';
import type { ServiceHandle } from '../support/service-process.js';
import {
  adherence,
  eventually,
  harness,
  putDevice,
  putUser,
  queueOptions,
  sleep,
  type Harness,
} from '../support/unknot.js';

let redis: PrivateServer;
let broker: PrivateServer;
let h: Harness | undefined;

beforeAll(async () => {
  [redis, broker] = await Promise.all([startPrivateRedis(), startPrivateMosquitto()]);
});

afterEach(async () => {
  // A test that failed half-way may have left a server down or a process stopped: put things right for the next.
  await h?.close().catch(() => undefined);
  h = undefined;
  await Promise.all([redis.running() ? undefined : redis.start(), broker.running() ? undefined : broker.start()]);
});

afterAll(async () => {
  await Promise.all([redis?.remove(), broker?.remove()]);
});

const servers = () => ({ redisUrl: redis.url, mqttUrl: broker.url });
/** With UNKNOT_TEST_REDIS=cluster the process-kill tests run on the suite's Redis Cluster (the Redis kill cannot). */
const onCluster = (): Record<string, string> =>
  inject('redisClusterNodes') ? { REDIS_CLUSTER_NODES: inject('redisClusterNodes') } : {};
const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Each user with one desk sensor (unknot protocol), and optionally a heat pad, registered through `svc`. */
async function register(
  svc: ServiceHandle,
  ids: string[],
  profile: Record<string, unknown>,
  heatPad = false,
): Promise<void> {
  await inBatches(ids, 8, async (u) => {
    await putUser(svc, u, profile);
    await putDevice(svc, `${u}-desk`, { userId: u, role: 'desk', protocol: 'unknot' });
    if (heatPad) await putDevice(svc, `${u}-pad`, { userId: u, role: 'heatpad', protocol: 'unknot' });
  });
}

/** One sitting event per user, with an id and the time it was sent, published QoS 1 by the test's own client. */
function publishSitting(hh: Harness, ids: string[]): Promise<void[]> {
  return Promise.all(
    ids.map((u) =>
      hh.mqtt.publish(`${hh.ns.baseTopic}/devices/${u}-desk/event`, {
        type: 'posture',
        posture: 'sitting',
        id: `${u}-sit`,
        at: Date.now(),
      }),
    ),
  );
}

/** Resolves the moment the `count`-th "sitting" state arrives (no polling: the kills must land mid-burst). */
async function firstApplied(hh: Harness, count: number): Promise<void> {
  await hh.mqtt.waitForCount(
    `${hh.ns.baseTopic}/users/+/state`,
    count,
    (m) => (m.json as { posture?: string }).posture === 'sitting',
    15_000,
  );
}

/** Users whose retained state has said "sitting" so far. */
function sittingUsers(hh: Harness): Set<string> {
  const seen = new Set<string>();
  for (const m of hh.mqtt.messages(`${hh.ns.baseTopic}/users/+/state`)) {
    if ((m.json as { posture?: string } | undefined)?.posture === 'sitting') seen.add(m.topic.split('/')[2] as string);
  }
  return seen;
}

async function waitAllSitting(hh: Harness, ids: string[], timeoutMs: number, what: string): Promise<void> {
  await eventually(
    async () => ids.every((u) => sittingUsers(hh).has(u)) || undefined,
    timeoutMs,
    `${what}: every user sitting (got ${sittingUsers(hh).size} of ${ids.length})`,
  ).catch((err: Error) => {
    const missing = ids.filter((u) => !sittingUsers(hh).has(u));
    throw new Error(
      `${err.message}; never sitting: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}`,
    );
  });
}

/** What a failing test prints about a service: readiness, event counters and its last warnings and errors. */
async function diagnose(svc: ServiceHandle): Promise<string> {
  const ready = await svc.fetchJson('/readyz').then(
    (r) => `${r.status} ${JSON.stringify(r.body)}`,
    (e: Error) => e.message,
  );
  const metrics = await metricsOf(svc).then(
    (m) =>
      m
        .split('\n')
        .filter((l) => /^unknot_events_(received|stale|rejected)_total/.test(l))
        .join('; '),
    (e: Error) => e.message,
  );
  const logs = svc
    .logs()
    .filter((e) => e.json && (e.json.level as number) >= 40)
    .slice(-15)
    .map((e) => e.line.slice(0, 300));
  return `${svc.label}: /readyz ${ready}; ${metrics}\nlast warnings:\n${logs.join('\n')}`;
}

/** Per user, how many entries of each type its adherence log has. */
async function logCounts(svc: ServiceHandle, ids: string[]): Promise<Map<string, Record<string, number>>> {
  const counts = new Map<string, Record<string, number>>();
  await inBatches(ids, 8, async (u) => {
    const c: Record<string, number> = {};
    for (const e of await adherence(svc, u)) c[String(e.type)] = (c[String(e.type)] ?? 0) + 1;
    counts.set(u, c);
  });
  return counts;
}

const tally = (counts: Map<string, Record<string, number>>, type: string, pred: (n: number) => boolean) =>
  [...counts.values()].filter((c) => pred(c[type] ?? 0)).length;

/** Messages per key (user or device id), for "exactly once" checks. */
function copies(messages: ReceivedMessage[], key: (m: ReceivedMessage) => string): Map<string, ReceivedMessage[]> {
  const m = new Map<string, ReceivedMessage[]>();
  for (const msg of messages) m.set(key(msg), [...(m.get(key(msg)) ?? []), msg]);
  return m;
}

/** How many jobs of the nudge and heat queues BullMQ holds as active (read straight from the test's Redis). */
async function activeJobs(prefix: string): Promise<{ nudges: number; heat: number }> {
  const opts = inject('redisClusterNodes')
    ? queueOptions(prefix)
    : { connection: new Redis(redis.url, { maxRetriesPerRequest: 3 }), prefix: queuePrefix(prefix) };
  const connection = opts.connection as Redis | Cluster;
  const queues = [
    new Queue('nudges', { connection, prefix: opts.prefix }),
    new Queue('heat', { connection, prefix: opts.prefix }),
  ];
  try {
    const [nudges, heat] = await Promise.all(queues.map((q) => q.getActiveCount()));
    return { nudges: nudges ?? 0, heat: heat ?? 0 };
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    await connection.quit();
  }
}

describe('Redis killed and restarted during an ingest burst', () => {
  it('answers /readyz 503 naming redis while it is down, and applies every QoS 1 event once it is back', async () => {
    const N = 120;
    h = await harness('fault-redis', { UNKNOT_TIME_SCALE: '1', UNKNOT_HA_DISCOVERY: 'false' }, servers());
    const svc = await h.start({}, 'redis-fault');
    const ids = users('r', N);
    await register(svc, ids, {});
    await h.mqtt.subscribe(`${h.ns.baseTopic}/users/+/state`);

    // The whole burst, and Redis dies as soon as the first few are applied; the rest arrive while it is down.
    const burst = publishSitting(h, ids);
    await firstApplied(h, 5);
    await redis.kill('SIGKILL');
    const appliedBeforeKill = sittingUsers(h).size;
    const down = await eventually(
      async () => {
        const r = await svc.fetchJson('/readyz');
        return r.status === 503 ? r : undefined;
      },
      10_000,
      '/readyz 503',
    );
    expect(down.body).toMatchObject({ redis: 'down', mqtt: 'up', detail: expect.stringContaining('redis') });
    expect(appliedBeforeKill).toBeLessThan(N); // the kill did come in the middle of the burst
    await burst;
    await sleep(1_000); // everything is with the broker or the service now, nothing committed
    const appliedWhileDown = sittingUsers(h).size - appliedBeforeKill;

    await redis.start();
    await waitAllSitting(h, ids, 30_000, 'after the Redis restart').catch(async (err: Error) => {
      const missing = ids.filter((u) => !sittingUsers(h!).has(u));
      const logged = await Promise.all(
        missing
          .slice(0, 5)
          .map(async (u) => `${u}: ${(await adherence(svc, u)).map((e) => e.type).join(',') || 'nothing logged'}`),
      );
      throw new Error(`${err.message}\n${logged.join('; ')}\n${await diagnose(svc)}`);
    });
    expect((await svc.fetchJson('/readyz')).status).toBe(200);
    const counts = await logCounts(svc, ids);
    const metrics = await metricsOf(svc);
    const figures = {
      eventsSent: N,
      appliedBeforeKill,
      appliedWhileDown,
      eventsApplied: tally(counts, 'sitting_started', (n) => n >= 1),
      eventsLost: tally(counts, 'sitting_started', (n) => n === 0),
      doubledSessions: tally(counts, 'sitting_started', (n) => n > 1),
      deliveries: counter(metrics, 'unknot_events_received_total'),
      duplicatesSeen: counter(metrics, 'unknot_events_stale_total', 'outcome="duplicate"'),
    };
    await recordFigures('redis-killed-during-ingest', figures);
    expect(figures.eventsApplied).toBe(N);
    expect(figures.eventsLost).toBe(0);
    expect(figures.doubledSessions).toBe(0);
    expect((await svc.fetchJson('/healthz')).status).toBe(200);
  }, 90_000);
});

describe('the broker restarted', () => {
  it('reconnects, and QoS 1 events queued by the broker for its persistent session are delivered and applied', async () => {
    const N = 120;
    h = await harness('fault-broker', { UNKNOT_TIME_SCALE: '1', UNKNOT_HA_DISCOVERY: 'false' }, servers());
    const svc = await h.start({}, 'broker-fault');
    const ids = users('b', N);
    await register(svc, ids, {});
    const base = h.ns.baseTopic;
    await h.mqtt.subscribe([`${base}/users/+/state`, `${base}/bridge/state`]);

    // Half of the events, and the broker goes down (an orderly stop: it saves the sessions) right after taking
    // them, while the service is still working through them.
    await publishSitting(h, ids.slice(0, N / 2));
    await broker.kill('SIGTERM');
    const appliedBeforeStop = sittingUsers(h).size;
    const down = await eventually(
      async () => {
        const r = await svc.fetchJson('/readyz');
        return r.status === 503 ? r : undefined;
      },
      10_000,
      '/readyz 503',
    );
    expect(down.body).toMatchObject({ mqtt: 'down', detail: expect.stringContaining('mqtt') });

    // Keep the service from reconnecting (SIGSTOP) until the broker is back and has queued the second half for its
    // persistent session: those are events published while the service was disconnected.
    process.kill(svc.pid, 'SIGSTOP');
    let resumed = false;
    try {
      await broker.start();
      // The test client reconnects and resubscribes by itself; wait for it before publishing.
      await eventually(async () => h!.mqtt.client.connected || undefined, 10_000, 'test client reconnected');
      await publishSitting(h, ids.slice(N / 2));
      const queuedWhileDisconnected = N / 2;
      h.mqtt.clear();
      process.kill(svc.pid, 'SIGCONT');
      resumed = true;

      const reconnectStarted = Date.now();
      const online = await h.mqtt.waitFor(
        `${base}/bridge/state`,
        (m) => (m.json as { state?: string }).state === 'online',
        15_000,
      );
      await eventually(
        async () => {
          const all = new Set([...sittingUsers(h!)]);
          return all.size >= N / 2 || undefined;
        },
        30_000,
        'the queued half applied',
      );
      const counts = await eventually(
        async () => {
          const c = await logCounts(svc, ids);
          return tally(c, 'sitting_started', (n) => n >= 1) === N ? c : undefined;
        },
        30_000,
        'every event applied',
      );
      expect((await svc.fetchJson('/readyz')).status).toBe(200);
      const metrics = await metricsOf(svc);
      const figures = {
        eventsSent: N,
        notYetAppliedAtStop: N / 2 - appliedBeforeStop,
        queuedWhileDisconnected,
        eventsApplied: tally(counts, 'sitting_started', (n) => n >= 1),
        eventsLost: tally(counts, 'sitting_started', (n) => n === 0),
        doubledSessions: tally(counts, 'sitting_started', (n) => n > 1),
        deliveries: counter(metrics, 'unknot_events_received_total'),
        duplicatesSeen: counter(metrics, 'unknot_events_stale_total', 'outcome="duplicate"'),
        onlineAgainMs: online.receivedAt - reconnectStarted,
      };
      await recordFigures('broker-restarted', figures);
      expect(figures.eventsLost).toBe(0);
      expect(figures.doubledSessions).toBe(0);
    } finally {
      if (!resumed) process.kill(svc.pid, 'SIGCONT');
    }
  }, 90_000);
});

describe('kill -9 of an ingest process in the middle of a burst', () => {
  it('loses no event once it is restarted, and the redelivered duplicates double no session and no nudge', async () => {
    const N = 120;
    // 10 policy minutes = 5 s: one nudge per user a few seconds after the burst, then "ignored".
    h = await harness(
      'fault-ingest',
      { UNKNOT_TIME_SCALE: '120', UNKNOT_HA_DISCOVERY: 'false', ...onCluster() },
      servers(),
    );
    const base = h.ns.baseTopic;
    await h.start({ UNKNOT_ROLES: 'worker' }, 'worker');
    let ingest = await h.start({ UNKNOT_ROLES: 'api,ingest' }, 'ingest-1');
    const ids = users('i', N);
    await register(ingest, ids, { breakAfterMinutes: 10, maxNudges: 1, escalateAfterMinutes: 1 });
    await h.mqtt.subscribe([`${base}/users/+/state`, `${base}/users/+/nudge`]);

    // The whole burst; the ingest process dies as soon as the first few are applied. What it had not acknowledged,
    // and what the broker takes while no ingest runs, waits in its persistent session.
    const burst = publishSitting(h, ids);
    await firstApplied(h, 5);
    await ingest.kill9();
    const appliedBeforeKill = sittingUsers(h).size;
    expect(appliedBeforeKill).toBeLessThan(N);
    await burst;
    ingest = await h.start({ UNKNOT_ROLES: 'api,ingest' }, 'ingest-2');

    await waitAllSitting(h, ids, 30_000, 'after the ingest restart');
    await h.mqtt.waitForCount(`${base}/users/+/nudge`, N, undefined, 30_000);
    await sleep(1_500); // time for a doubled nudge to show
    const nudges = new Map(
      [...copies(h.mqtt.messages(`${base}/users/+/nudge`), (m) => m.topic.split('/')[2] as string)].map(([u, c]) => [
        u,
        c.length,
      ]),
    );
    const counts = await logCounts(ingest, ids);
    const metrics = await metricsOf(ingest);
    const figures = {
      eventsSent: N,
      appliedBeforeKill,
      eventsApplied: tally(counts, 'sitting_started', (n) => n >= 1),
      eventsLost: tally(counts, 'sitting_started', (n) => n === 0),
      doubledSessions: tally(counts, 'sitting_started', (n) => n > 1),
      deliveriesAfterRestart: counter(metrics, 'unknot_events_received_total'),
      duplicatesSeen: counter(metrics, 'unknot_events_stale_total', 'outcome="duplicate"'),
      nudgesExpected: N,
      nudgesSent: [...nudges.values()].reduce((a, b) => a + b, 0),
      usersNudgedTwice: [...nudges.values()].filter((n) => n > 1).length,
    };
    await recordFigures('ingest-kill9-mid-burst', figures);
    expect(figures.eventsLost).toBe(0);
    expect(figures.doubledSessions).toBe(0);
    expect(ids.filter((u) => nudges.get(u) !== 1)).toEqual([]);
    expect(tally(counts, 'nudge_sent', (n) => n === 1)).toBe(N);
  }, 90_000);
});

describe('kill -9 of a worker with jobs active', () => {
  it('sends each nudge and each heat-pad OFF exactly once, also those the dead worker had published but not recorded', async () => {
    const N = 80;
    // UNKNOT_TIME_SCALE 40: 10 policy minutes = 15 s. Every user's first nudge falls due at one instant, nudgesAt,
    // and every heat session's OFF 16 s later, offsAt: the worker is killed once while the nudges go out, and
    // again (after its restart) while the OFFs go out.
    h = await harness(
      'fault-worker',
      { UNKNOT_TIME_SCALE: '40', UNKNOT_HA_DISCOVERY: 'false', ...onCluster() },
      servers(),
    );
    const base = h.ns.baseTopic;
    const api = await h.start({ UNKNOT_ROLES: 'api,ingest' }, 'api-ingest');
    let worker = await h.start({ UNKNOT_ROLES: 'worker' }, 'worker-1');
    const ids = users('w', N);
    await register(
      api,
      ids,
      {
        breakAfterMinutes: 10,
        maxNudges: 1,
        escalateAfterMinutes: 1,
        heatCooldownMinutes: 0,
        heat: { defaultMinutes: 10, maxMinutes: 20 },
      },
      true,
    );
    await h.mqtt.subscribe([`${base}/users/+/state`, `${base}/users/+/nudge`, `${base}/devices/+/command`]);

    // Room for a loaded machine: the set-up must end before the nudges fall due, and a killed worker's replacement
    // (a new process) must be up before the OFFs do, or the test would prove nothing about the OFFs: a new process
    // took over 9 s at a load average of 10 on 2 cores. At time scale 40 the heat sessions (now → offsAt, 26 s) must
    // stay within the 20 minutes (30 s) a pad may run.
    const nudgesAt = Date.now() + 10_000;
    const offsAt = nudgesAt + 16_000;
    await inBatches(ids, 8, async (u) => {
      const minutes = ((offsAt - Date.now()) * 40) / 60_000; // a session that ends exactly at offsAt
      const r = await api.fetchJson(`/api/users/${u}/heat`, { method: 'POST', json: { minutes } });
      if (r.status !== 201) throw new Error(`POST heat ${u}: ${r.status} ${JSON.stringify(r.body)}`);
    });
    await Promise.all(
      ids.map((u) =>
        h!.mqtt.publish(`${base}/devices/${u}-desk/event`, {
          type: 'posture',
          posture: 'sitting',
          id: `${u}-sit`,
          at: nudgesAt - 15_000, // 10 policy minutes
        }),
      ),
    );
    const nudgeMsgs = () => h!.mqtt.messages(`${base}/users/+/nudge`);
    const heatCommands = (state: string) =>
      h!.mqtt
        .messages(`${base}/devices/+/command`)
        .filter(
          (m) =>
            (m.json as { command?: string; state?: string }).command === 'heat' &&
            (m.json as { state?: string }).state === state,
        );
    await eventually(async () => heatCommands('on').length === N || undefined, 20_000, 'every heat ON');
    await waitAllSitting(h, ids, 20_000, 'before the kill');
    expect(Date.now()).toBeLessThan(nudgesAt); // set-up done in time: nothing due yet

    // Kill the worker the moment the first command of a kind is on the wire, with the rest of them in its hands.
    const kills: Array<{
      what: string;
      killedAt: number;
      respawnAt: number;
      readyAt: number;
      receivedBefore: number;
      active: { nudges: number; heat: number };
    }> = [];
    const killWhen = async (what: string, first: (m: ReceivedMessage) => boolean, sent: () => number) => {
      await h!.mqtt.waitFor(first, 20_000);
      const killed = worker.kill9();
      const killedAt = Date.now();
      const receivedBefore = sent();
      await killed;
      // The jobs the dead worker held: BullMQ still has them as active, under a lock nobody renews.
      const active = await activeJobs(h!.ns.prefix);
      const respawnAt = Date.now();
      worker = await h!.start({ UNKNOT_ROLES: 'worker' }, `worker-${kills.length + 2}`);
      kills.push({ what, killedAt, respawnAt, readyAt: Date.now(), receivedBefore, active });
      expect(receivedBefore, `${what}: the worker died with work left to do`).toBeLessThan(N);
    };
    await killWhen(
      'nudges',
      (m) => m.topic.endsWith('/nudge'),
      () => nudgeMsgs().length,
    );
    expect(Date.now(), 'the worker was back before the OFFs fell due').toBeLessThan(offsAt);
    await killWhen(
      'offs',
      (m) => (m.json as { state?: string }).state === 'off',
      () => heatCommands('off').length,
    );

    await eventually(
      async () => {
        const nudged = new Set(nudgeMsgs().map((m) => m.topic));
        const offed = new Set(heatCommands('off').map((m) => m.topic));
        return (nudged.size >= N && offed.size >= N) || undefined;
      },
      30_000,
      `a nudge and an OFF for each of the ${N} users`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: got ${nudgeMsgs().length} nudges, ${heatCommands('off').length} OFFs`);
    });
    const allSentAt = Date.now();
    // A second copy would come from a job of the dead worker run again (its 5 s lock lapsed, seen by a stalled
    // check every 2.5 s) or from the heat sweep (every 2 s) once the dead worker's 5 s claim lapsed: by 9 s.
    await sleep(Math.max(1_000, kills[1]!.killedAt + 9_000 - Date.now()));

    const nudges = copies(nudgeMsgs(), (m) => m.topic.split('/')[2] as string);
    const offs = copies(heatCommands('off'), (m) => (m.topic.split('/')[2] as string).replace(/-pad$/, ''));
    const ons = copies(heatCommands('on'), (m) => (m.topic.split('/')[2] as string).replace(/-pad$/, ''));
    // Exactly once. A command a dead worker had published but not yet recorded is not sent again by the next
    // one: it finds the retained record the dead worker published right behind the command (last-nudge,
    // last-heat-off) and only records it.
    const doubled = (m: Map<string, ReceivedMessage[]>) => [...m.values()].filter((c) => c.length > 1);
    const [k1, k2] = kills as [(typeof kills)[number], (typeof kills)[number]];
    const figures = {
      nudgesExpected: N,
      nudgesSent: [...nudges.values()].reduce((n, c) => n + c.length, 0),
      nudgesLost: ids.filter((u) => !nudges.has(u)).length,
      nudgesDoubled: doubled(nudges).length,
      offsExpected: N,
      offsSent: [...offs.values()].reduce((n, c) => n + c.length, 0),
      offsLost: ids.filter((u) => !offs.has(u)).length,
      offsDoubled: doubled(offs).length,
      onsSent: [...ons.values()].reduce((n, c) => n + c.length, 0),
      nudgesReceivedBeforeKill1: k1.receivedBefore,
      nudgeJobsActiveAtKill1: k1.active.nudges,
      offsReceivedBeforeKill2: k2.receivedBefore,
      heatJobsActiveAtKill2: k2.active.heat,
      workerRestartMs: kills.map((k) => k.readyAt - k.respawnAt).join('/'),
      lastCommandAfterKill2Ms: allSentAt - k2.killedAt,
    };
    await recordFigures('worker-kill9-jobs-active', figures);
    expect(figures.nudgesLost).toBe(0);
    expect(figures.offsLost).toBe(0);
    expect(doubled(nudges).map((c) => c[0]!.topic)).toEqual([]);
    expect(doubled(offs).map((c) => c[0]!.topic)).toEqual([]);
    expect(ids.filter((u) => ons.get(u)?.length !== 1)).toEqual([]);
    // The log has each decision once, whatever went out twice.
    const counts = await logCounts(api, ids);
    expect(tally(counts, 'nudge_sent', (n) => n === 1)).toBe(N);
    expect(tally(counts, 'heat_off', (n) => n === 1)).toBe(N);
  }, 120_000);
});
