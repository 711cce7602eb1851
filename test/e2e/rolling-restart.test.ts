// Graceful shutdown and a rolling restart: two instances (all roles, one shared subscription) against a Redis and a
// Mosquitto of this file's own. While events flow and nudges and heat-pad OFFs fall due, instance 1 gets SIGTERM
// and is started again, then instance 2. No event and no job may be lost, no command sent twice, and each
// SIGTERMed process must publish the offline bridge state and exit 0 promptly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inBatches, recordFigures } from '../support/fault-figures.js';
import type { ReceivedMessage } from '../support/mqtt-client.js';
import { startPrivateMosquitto, startPrivateRedis, type PrivateServer } from '../support/private-servers.js';
import type { ServiceHandle } from '../support/service-process.js';
import { adherence, eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';

let redis: PrivateServer;
let broker: PrivateServer;
let h: Harness | undefined;

beforeAll(async () => {
  [redis, broker] = await Promise.all([startPrivateRedis(), startPrivateMosquitto()]);
});

afterAll(async () => {
  await h?.close().catch(() => undefined);
  await Promise.all([redis?.remove(), broker?.remove()]);
});

/** Posture events a process handled, from its debug log: how many, and how many were duplicates. */
function handled(svc: ServiceHandle): { deliveries: number; duplicates: number } {
  const lines = svc.logs().filter((e) => e.msg === 'posture');
  return { deliveries: lines.length, duplicates: lines.filter((e) => e.json?.outcome === 'duplicate').length };
}

describe('rolling restart of two instances', () => {
  it('loses no event and no job, sends every command once, and each SIGTERMed instance goes offline and exits 0', async () => {
    const N = 100;
    const BURST = 30;
    const SCALE = 100; // 10 policy minutes = 6 s
    h = await harness(
      'rolling',
      {
        UNKNOT_TIME_SCALE: String(SCALE),
        MQTT_SHARED_GROUP: 'rolling',
        UNKNOT_HA_DISCOVERY: 'false',
        LOG_LEVEL: 'debug',
      },
      { redisUrl: redis.url, mqttUrl: broker.url },
    );
    const base = h.ns.baseTopic;
    const instances: ServiceHandle[] = await Promise.all([h.start({}, 'instance-1'), h.start({}, 'instance-2')]);
    const everyProcess: ServiceHandle[] = [...instances];
    const ids = Array.from({ length: N }, (_, i) => `r${i}`);
    await inBatches(ids, 8, async (u, i) => {
      const svc = instances[i % 2]!;
      await putUser(svc, u, {
        breakAfterMinutes: 10,
        maxNudges: 1,
        escalateAfterMinutes: 1,
        heatCooldownMinutes: 0,
        heat: { defaultMinutes: 10, maxMinutes: 20 },
      });
      await putDevice(svc, `${u}-desk`, { userId: u, role: 'desk', protocol: 'unknot' });
      await putDevice(svc, `${u}-pad`, { userId: u, role: 'heatpad', protocol: 'unknot' });
    });
    await h.mqtt.subscribe([`${base}/users/+/nudge`, `${base}/devices/+/command`, `${base}/bridge/state`]);

    // Heat sessions of 5 to 20 policy minutes: their OFFs fall due one after another from 3 s to 12 s, while the
    // instances restart.
    await inBatches(ids, 8, async (u, i) => {
      const minutes = 5 + Math.floor((i * 15) / (N - 1));
      const r = await instances[i % 2]!.fetchJson(`/api/users/${u}/heat`, { method: 'POST', json: { minutes } });
      if (r.status !== 201) throw new Error(`POST heat ${u}: ${r.status} ${JSON.stringify(r.body)}`);
    });
    // One sitting event per user, from a client of our own: a steady flow (one every 150 ms) and, while each
    // instance is being stopped, a denser stream (one every 10 ms), so that events are in flight in the instance
    // that is stopping at every step of its shutdown. Each user's nudge is due 6 s after its event.
    const sit = (u: string) =>
      h!.mqtt.publish(`${base}/devices/${u}-desk/event`, { type: 'posture', posture: 'sitting', id: `${u}-sit` });
    const steady = ids.slice(0, N - 2 * BURST);
    const bursts = [ids.slice(N - 2 * BURST, N - BURST), ids.slice(N - BURST)];
    let published = 0;
    const flow = (async () => {
      for (const u of steady) {
        await sit(u);
        published += 1;
        await sleep(150);
      }
    })();

    const shutdowns: Array<{
      label: string;
      code: number | null;
      exitMs: number;
      offlineAfterMs: number;
      onlineAgainMs: number;
      eventsPublishedBefore: number;
      publishedWhileStopping: number;
      committedWhileStopping: number;
      ingestDrainMs: number;
    }> = [];
    const restart = async (index: 0 | 1) => {
      const old = instances[index]!;
      const offline = h!.mqtt.messages(`${base}/bridge/state`).length;
      const eventsPublishedBefore = published;
      // A stream through the whole shutdown: one event every 10 ms, SIGTERM after the first few.
      const acked: number[] = [];
      const burst = Promise.all(
        bursts[index]!.map(async (u, k) => {
          await sleep(k * 10);
          await sit(u);
          acked.push(Date.now());
        }),
      );
      await sleep(30);
      const termAt = Date.now();
      const code = await old.stop(); // SIGTERM (SIGKILL only after 10 s)
      const exitAt = Date.now();
      const exitMs = exitAt - termAt;
      await burst;
      const publishedWhileStopping = acked.filter((t) => t >= termAt && t <= exitAt).length;
      const bridge = (state: string, after: number) => (m: ReceivedMessage) =>
        m.topic === `${base}/bridge/state` &&
        (m.json as { state?: string }).state === state &&
        h!.mqtt.messages(`${base}/bridge/state`).indexOf(m) >= after;
      const bye = await h!.mqtt.waitFor(bridge('offline', offline), 5_000);
      // The other instance still runs, and says so: the service as a whole is not shown unavailable.
      const back = await h!.mqtt.waitFor(
        bridge('online', h!.mqtt.messages(`${base}/bridge/state`).indexOf(bye) + 1),
        5_000,
      );
      // Events this instance was still handling when SIGTERM came, and committed before it exited.
      const logs = old.logs();
      const termLine = logs.findIndex((e) => e.msg === 'shutting down');
      const committedWhileStopping = termLine < 0 ? 0 : logs.slice(termLine).filter((e) => e.msg === 'posture').length;
      const at = (msg: string) => Date.parse(String(logs.find((e) => e.msg === msg)?.json?.time));
      const ingestDrainMs = at('ingest stopped') - at('shutting down');
      shutdowns.push({
        label: old.label,
        code,
        exitMs,
        offlineAfterMs: bye.receivedAt - termAt,
        onlineAgainMs: back.receivedAt - bye.receivedAt,
        eventsPublishedBefore,
        publishedWhileStopping,
        committedWhileStopping,
        ingestDrainMs,
      });
      const fresh = await h!.start({}, `${old.label}-again`);
      everyProcess.push(fresh);
      instances[index] = fresh;
    };
    await sleep(1_500);
    await restart(0);
    await restart(1);
    await flow;

    const nudgeMsgs = () => h!.mqtt.messages(`${base}/users/+/nudge`);
    const heatCmds = (state: string) =>
      h!.mqtt
        .messages(`${base}/devices/+/command`)
        .filter(
          (m) =>
            (m.json as { command?: string; state?: string }).command === 'heat' &&
            (m.json as { state?: string }).state === state,
        );
    await eventually(
      async () =>
        (new Set(nudgeMsgs().map((m) => m.topic)).size >= N &&
          new Set(heatCmds('off').map((m) => m.topic)).size >= N) ||
        undefined,
      30_000,
      'every nudge and every OFF',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${nudgeMsgs().length} nudges, ${heatCmds('off').length} OFFs so far`);
    });
    await sleep(1_500); // time for a doubled command to show

    const per = (messages: ReceivedMessage[]) => {
      const m = new Map<string, number>();
      for (const msg of messages) {
        const key = (msg.topic.split('/')[2] as string).replace(/-pad$/, '');
        m.set(key, (m.get(key) ?? 0) + 1);
      }
      return m;
    };
    const nudges = per(nudgeMsgs());
    const offs = per(heatCmds('off'));
    const ons = per(heatCmds('on'));
    const logs = new Map<string, Record<string, number>>();
    await inBatches(ids, 8, async (u) => {
      const c: Record<string, number> = {};
      for (const e of await adherence(instances[0]!, u)) c[String(e.type)] = (c[String(e.type)] ?? 0) + 1;
      logs.set(u, c);
    });
    const deliveries = everyProcess
      .map(handled)
      .reduce((a, b) => ({ deliveries: a.deliveries + b.deliveries, duplicates: a.duplicates + b.duplicates }));
    const figures = {
      eventsSent: N,
      eventsApplied: ids.filter((u) => (logs.get(u)?.sitting_started ?? 0) >= 1).length,
      eventsLost: ids.filter((u) => (logs.get(u)?.sitting_started ?? 0) === 0).length,
      doubledSessions: ids.filter((u) => (logs.get(u)?.sitting_started ?? 0) > 1).length,
      deliveriesLogged: deliveries.deliveries,
      duplicatesSeen: deliveries.duplicates,
      nudgesExpected: N,
      nudgesSent: [...nudges.values()].reduce((a, b) => a + b, 0),
      offsExpected: N,
      offsSent: [...offs.values()].reduce((a, b) => a + b, 0),
      onsSent: [...ons.values()].reduce((a, b) => a + b, 0),
      shutdownExitMs: shutdowns.map((s) => s.exitMs).join('/'),
      exitCodes: shutdowns.map((s) => s.code).join('/'),
      eventsPublishedBeforeEachStop: shutdowns.map((s) => s.eventsPublishedBefore).join('/'),
      eventsPublishedWhileStopping: shutdowns.map((s) => s.publishedWhileStopping).join('/'),
      eventsCommittedWhileStopping: shutdowns.map((s) => s.committedWhileStopping).join('/'),
      offlineAfterSigtermMs: shutdowns.map((s) => s.offlineAfterMs).join('/'),
      bridgeOnlineAgainMs: shutdowns.map((s) => s.onlineAgainMs).join('/'),
      ingestDrainMs: shutdowns.map((s) => s.ingestDrainMs).join('/'),
    };
    await recordFigures('rolling-restart', figures);

    for (const s of shutdowns) {
      expect(s.code, `${s.label} exit code`).toBe(0);
      expect(s.exitMs, `${s.label} took ${s.exitMs} ms to exit`).toBeLessThan(8_000);
    }
    // Events kept coming while each instance was stopping (it drains for at least 200 ms; the stream lasts 270 ms more).
    for (const s of shutdowns)
      expect(s.publishedWhileStopping, `${s.label}: events published while it stopped`).toBeGreaterThan(0);
    expect(figures.eventsLost).toBe(0);
    expect(figures.doubledSessions).toBe(0);
    expect(ids.filter((u) => nudges.get(u) !== 1)).toEqual([]);
    expect(ids.filter((u) => offs.get(u) !== 1)).toEqual([]);
    expect(ids.filter((u) => ons.get(u) !== 1)).toEqual([]);
    expect(ids.filter((u) => logs.get(u)?.nudge_sent !== 1 || logs.get(u)?.heat_off !== 1)).toEqual([]);
    // The last instance started says online again.
    expect((h.mqtt.messages(`${base}/bridge/state`).at(-1)?.json as { state?: string }).state).toBe('online');
  }, 90_000);
});

describe('SIGTERM of a single instance (persistent session) in the middle of a burst', () => {
  it('commits what it has in hand, leaves the rest to the broker, goes offline, exits 0, and the next start loses nothing', async () => {
    await h?.close().catch(() => undefined);
    const N = 120;
    h = await harness(
      'sigterm',
      { UNKNOT_TIME_SCALE: '1', UNKNOT_HA_DISCOVERY: 'false', LOG_LEVEL: 'debug' },
      { redisUrl: redis.url, mqttUrl: broker.url },
    );
    const base = h.ns.baseTopic;
    const first = await h.start({}, 'single-1');
    const ids = Array.from({ length: N }, (_, i) => `s${i}`);
    await inBatches(ids, 8, async (u) => {
      await putUser(first, u, {});
      await putDevice(first, `${u}-desk`, { userId: u, role: 'desk', protocol: 'unknot' });
    });
    await h.mqtt.subscribe([`${base}/users/+/state`, `${base}/bridge/state`]);

    // A stream of one event every 10 ms (1.2 s); SIGTERM comes as soon as the first few are applied.
    const burst = Promise.all(
      ids.map(async (u, k) => {
        await sleep(k * 10);
        await h!.mqtt.publish(`${base}/devices/${u}-desk/event`, {
          type: 'posture',
          posture: 'sitting',
          id: `${u}-sit`,
        });
      }),
    );
    await h.mqtt.waitForCount(
      `${base}/users/+/state`,
      5,
      (m) => (m.json as { posture?: string }).posture === 'sitting',
      15_000,
    );
    const termAt = Date.now();
    const code = await first.stop();
    const exitMs = Date.now() - termAt;
    const applied = new Set(
      h.mqtt
        .messages(`${base}/users/+/state`)
        .filter((m) => (m.json as { posture?: string }).posture === 'sitting')
        .map((m) => m.topic),
    ).size;
    const offline = await h.mqtt.waitFor(
      `${base}/bridge/state`,
      (m) => (m.json as { state?: string }).state === 'offline' && m.receivedAt >= termAt,
      5_000,
    );
    await burst; // the rest of the stream goes to the broker, which keeps it for the persistent session

    const second = await h.start({}, 'single-2');
    const logs = await eventually(
      async () => {
        const all = await Promise.all(
          ids.map(async (u) => (await adherence(second, u)).filter((e) => e.type === 'sitting_started').length),
        );
        return all.every((n) => n >= 1) ? all : undefined;
      },
      30_000,
      'every event applied after the restart',
    );
    const lines = [first, second].flatMap((p) => p.logs().filter((e) => e.msg === 'posture'));
    const figures = {
      eventsSent: N,
      appliedBeforeExit: applied,
      eventsApplied: logs.filter((n) => n >= 1).length,
      eventsLost: logs.filter((n) => n === 0).length,
      doubledSessions: logs.filter((n) => n > 1).length,
      deliveriesLogged: lines.length,
      duplicatesSeen: lines.filter((e) => e.json?.outcome === 'duplicate').length,
      exitCode: code,
      exitMs,
      offlineAfterSigtermMs: offline.receivedAt - termAt,
    };
    await recordFigures('sigterm-single-instance-mid-burst', figures);
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(8_000);
    expect(applied).toBeLessThan(N); // it was stopped mid-burst
    expect(figures.eventsLost).toBe(0);
    expect(figures.doubledSessions).toBe(0);
  }, 60_000);
});
