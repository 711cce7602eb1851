// Redis away, with the real process against a Redis and a Mosquitto of this file's own: the HTTP API answers
// 503 at once and changes nothing, a heat pad is still switched off, and after Redis is back the service is
// ready, applies what the sensors said during the outage, logs nothing the sensors contradict, and said all of
// it in a handful of log lines. Figures go to test-artifacts/faults.json.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { counter, metricsOf, recordFigures } from '../support/fault-figures.js';
import { startPrivateMosquitto, startPrivateRedis, type PrivateServer } from '../support/private-servers.js';
import type { FetchJsonResult, ServiceHandle } from '../support/service-process.js';
import { adherence, eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';

let redis: PrivateServer;
let broker: PrivateServer;
let h: Harness | undefined;

beforeAll(async () => {
  [redis, broker] = await Promise.all([startPrivateRedis(), startPrivateMosquitto()]);
});

afterEach(async () => {
  await h?.close().catch(() => undefined);
  h = undefined;
  if (!redis.running()) await redis.start();
});

afterAll(async () => {
  await Promise.all([redis?.remove(), broker?.remove()]);
});

const servers = () => ({ redisUrl: redis.url, mqttUrl: broker.url });

/** The request, and how long its answer took. */
async function timed(
  svc: ServiceHandle,
  path: string,
  init?: RequestInit & { json?: unknown },
): Promise<FetchJsonResult & { ms: number }> {
  const t0 = Date.now();
  const r = await svc.fetchJson(path, init);
  return { ...r, ms: Date.now() - t0 };
}

/** Waits for /readyz to answer `status`; returns how long that took from `since`. */
async function readyzAt(svc: ServiceHandle, status: number, since: number, timeoutMs = 15_000): Promise<number> {
  await eventually(
    async () => (await svc.fetchJson('/readyz')).status === status || undefined,
    timeoutMs,
    `/readyz ${status}`,
  );
  return Date.now() - since;
}

/** Warnings and errors the service logged since line `from`. */
const complaints = (svc: ServiceHandle, from: number) =>
  svc
    .logs()
    .slice(from)
    .filter((e) => ((e.json?.level as number) ?? 0) >= 40);

describe('the HTTP API while Redis is away', () => {
  it('answers 503 within 2 s and changes nothing; DELETE heat still switches the pad off; ready again within 1 s', async () => {
    h = await harness('outage-http', { UNKNOT_HA_DISCOVERY: 'false' }, servers());
    const svc = await h.start({}, 'outage-http');
    const base = h.ns.baseTopic;
    await putUser(svc, 'alice', { breakAfterMinutes: 60 });
    await putDevice(svc, 'alice-pad', { userId: 'alice', role: 'heatpad', protocol: 'unknot' });
    await h.mqtt.subscribe(`${base}/devices/alice-pad/command`);
    const on = await svc.fetchJson('/api/users/alice/heat', { method: 'POST', json: { minutes: 10 } });
    expect(on.status).toBe(201);
    await h.mqtt.waitFor(
      `${base}/devices/alice-pad/command`,
      (m) => (m.json as { state?: string }).state === 'on',
      10_000,
    );
    // The profile without its live state (which the heat stop below changes).
    const profileOf = async () => {
      const { state: _state, ...p } = (await svc.fetchJson('/api/users/alice')).body as Record<string, unknown>;
      return p;
    };
    const profileBefore = await profileOf();

    const logFrom = svc.logs().length;
    const metricsBefore = await metricsOf(svc);
    await redis.kill('SIGKILL');
    const killedAt = Date.now();
    const notReadyMs = await readyzAt(svc, 503, killedAt);

    // Every kind of route: reads, writes, the heat routes, bull-board. None waits for Redis, none writes later.
    const calls: Array<[string, RequestInit & { json?: unknown }]> = [
      ['/api/users/alice', {}],
      ['/api/users', {}],
      ['/api/users/alice', { method: 'PATCH', json: { breakAfterMinutes: 45 } }],
      ['/api/users/bob', { method: 'PUT', json: {} }],
      ['/api/devices/bob-desk', { method: 'PUT', json: { userId: 'alice', role: 'desk', protocol: 'unknot' } }],
      ['/api/users/alice/snooze', { method: 'POST', json: {} }],
      ['/api/users/alice/heat', { method: 'POST', json: { minutes: 5 } }],
      ['/api/users/alice/heat', {}],
      ['/api/users/alice/adherence', {}],
      ['/admin/queues/api/queues', {}],
    ];
    const answers = [];
    for (const [path, init] of calls)
      answers.push({ path, method: init.method ?? 'GET', ...(await timed(svc, path, init)) });
    for (const a of answers) {
      expect(a.status, `${a.method} ${a.path}: ${JSON.stringify(a.body)}`).toBe(503);
      expect(a.body).toMatchObject({ error: 'unavailable', detail: expect.stringMatching(/^redis /) });
      expect(a.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(a.ms, `${a.method} ${a.path}`).toBeLessThan(2_000);
    }

    // The pad goes off anyway, straight from what this instance knows, and the answer says how.
    h.mqtt.clear();
    const stop = await timed(svc, '/api/users/alice/heat', { method: 'DELETE' });
    expect(stop.status).toBe(202);
    expect(stop.body).toMatchObject({
      offSent: true,
      recorded: false,
      deviceIds: ['alice-pad'],
      detail: expect.stringContaining('redis is unavailable'),
    });
    expect(stop.ms).toBeLessThan(2_000);
    const off = await h.mqtt.waitFor(
      `${base}/devices/alice-pad/command`,
      (m) => (m.json as { state?: string }).state === 'off',
      5_000,
    );
    expect(off.json).toMatchObject({ command: 'heat', state: 'off' });

    await sleep(3_000); // an outage of a few seconds, for the log-line count
    const restartAt = Date.now();
    await redis.start();
    const answeringAt = Date.now();
    const readyMs = await readyzAt(svc, 200, answeringAt);

    // Nothing that was refused happened after all.
    expect(await profileOf()).toEqual(profileBefore);
    expect(profileBefore).toMatchObject({ breakAfterMinutes: 60 });
    expect((await svc.fetchJson('/api/users/bob')).status).toBe(404);
    expect((await svc.fetchJson('/api/devices/bob-desk')).status).toBe(404);
    // The stop made without Redis is recorded once it is back: the session is over, with one heat_off.
    await eventually(
      async () => ((await svc.fetchJson('/api/users/alice/heat')).body as { on?: boolean }).on === false || undefined,
      5_000,
      'heat recorded off',
    );
    const log = await adherence(svc, 'alice');
    expect(log.filter((e) => e.type === 'heat_off')).toHaveLength(1);
    expect(log.filter((e) => e.type === 'heat_on')).toHaveLength(1);

    const lines = complaints(svc, logFrom);
    const metricsAfter = await metricsOf(svc);
    const figures = {
      notReadyAfterKillMs: notReadyMs,
      slowest503Ms: Math.max(...answers.map((a) => a.ms)),
      heatStopWithoutRedisMs: stop.ms,
      redisStartMs: answeringAt - restartAt,
      readyAfterRedisAnswersMs: readyMs,
      outageMs: answeringAt - killedAt,
      warnAndErrorLines: lines.length,
      redisErrorsCounted:
        counter(metricsAfter, 'unknot_dependency_errors_total', 'dependency="redis"') -
        counter(metricsBefore, 'unknot_dependency_errors_total', 'dependency="redis"'),
    };
    await recordFigures('redis-away-http', figures);
    console.log('[redis outage] http', JSON.stringify(figures));
    expect(readyMs).toBeLessThan(1_000);
    // One line when Redis went away, the heat stop without Redis; nothing per failed command or reconnect.
    expect(lines.length, lines.map((l) => l.line.slice(0, 200)).join('\n')).toBeLessThanOrEqual(4);
    expect(figures.redisErrorsCounted).toBeGreaterThan(0);
    expect(counter(metricsAfter, 'unknot_dependency_up', 'dependency="redis"')).toBe(1);
    expect(
      svc
        .logs()
        .slice(logFrom)
        .some((e) => e.msg === 'redis available again'),
    ).toBe(true);
  }, 90_000);
});

describe('events during a Redis outage', () => {
  it('are applied within 2 s of Redis being back, and a person who stood up meanwhile is neither nudged nor logged as ignoring it', async () => {
    // Time scale 600: a 10-minute sitting limit is 1 s, a 30 s break 50 ms, a 1-minute escalation 100 ms.
    h = await harness('outage-events', { UNKNOT_HA_DISCOVERY: 'true', UNKNOT_TIME_SCALE: '600' }, servers());
    const svc = await h.start({}, 'outage-events');
    const base = h.ns.baseTopic;
    const profile = { breakAfterMinutes: 10, minBreakSeconds: 30, escalateAfterMinutes: 1, maxNudges: 1 };
    await putUser(svc, 'carol', profile);
    await putUser(svc, 'dave', profile);
    await putDevice(svc, 'carol-desk', { userId: 'carol', role: 'desk', protocol: 'unknot' });
    await putDevice(svc, 'dave-desk', { userId: 'dave', role: 'desk', protocol: 'unknot' });
    // Erin snoozes from Home Assistant during the outage, before her first nudge (an hour of sitting: 6 s here).
    await putUser(svc, 'erin', { ...profile, breakAfterMinutes: 60 });
    await putDevice(svc, 'erin-desk', { userId: 'erin', role: 'desk', protocol: 'unknot' });
    await h.mqtt.subscribe([`${base}/users/+/state`, `${base}/users/+/nudge`, `${base}/devices/+/command`]);
    const posture = (user: string, p: string) =>
      h!.mqtt.publish(
        `${base}/devices/${user}-desk/event`,
        { type: 'posture', posture: p, at: Date.now() },
        { qos: 1 },
      );

    await posture('carol', 'sitting');
    await posture('erin', 'sitting');
    await h.mqtt.waitFor(
      `${base}/users/carol/state`,
      (m) => (m.json as { posture?: string }).posture === 'sitting',
      10_000,
    );
    await h.mqtt.waitFor(
      `${base}/users/erin/state`,
      (m) => (m.json as { posture?: string }).posture === 'sitting',
      10_000,
    );
    await redis.kill('SIGKILL');
    await readyzAt(svc, 503, Date.now());
    // During the outage: carol stands up before her nudge is due; dave sits down.
    await posture('carol', 'standing');
    await posture('dave', 'sitting');
    await h.mqtt.publish(`${base}/users/erin/snooze/set`, 'PRESS', { qos: 1 });
    // Carol's nudge and the "ignored" check after it fall due while Redis is away, and the outage outlasts the
    // 5 s within which a late event still counts.
    await sleep(6_500);
    h.mqtt.clear();
    await redis.start();
    const backAt = Date.now();
    const [carolUp, daveSitting] = await Promise.all([
      h.mqtt.waitFor(
        `${base}/users/carol/state`,
        (m) => (m.json as { posture?: string }).posture !== 'sitting',
        15_000,
      ),
      h.mqtt.waitFor(`${base}/users/dave/state`, (m) => (m.json as { posture?: string }).posture === 'sitting', 15_000),
    ]);
    const appliedMs = Math.max(carolUp.receivedAt, daveSitting.receivedAt) - backAt;

    // Carol's session ended with a break she took by herself; no nudge went out, none is logged as ignored.
    const carolLog = await eventually(
      async () => {
        const log = await adherence(svc, 'carol');
        return log.some((e) => e.type === 'natural_break' || e.type === 'break_taken') ? log : undefined;
      },
      10_000,
      "carol's break logged",
    );
    await sleep(1_000); // a held nudge job that was going to fire wrongly would have by now
    const types = (await adherence(svc, 'carol')).map((e) => e.type);
    expect(types).not.toContain('nudge_ignored');
    expect(types).not.toContain('nudge_sent');
    expect(carolLog.find((e) => e.type === 'natural_break' || e.type === 'break_taken')).toMatchObject({
      type: 'natural_break',
    });
    expect(h.mqtt.messages(`${base}/users/carol/nudge`)).toHaveLength(0);
    // Dave sat down during the outage: his session started and his nudge comes after Redis is back.
    await eventually(
      async () => (await adherence(svc, 'dave')).some((e) => e.type === 'nudge_sent') || undefined,
      15_000,
      "dave's nudge",
    );

    // Erin's press waited at the broker until Redis was back, then moved her nudge: not dropped.
    const snoozed = await eventually(
      async () => (await adherence(svc, 'erin')).find((e) => e.type === 'nudge_snoozed'),
      10_000,
      "erin's snooze",
    );
    expect(Date.parse(String(snoozed.at))).toBeGreaterThanOrEqual(backAt - 1_000);

    await recordFigures('redis-away-events', { outageMs: 6_500, eventsAppliedAfterRedisBackMs: appliedMs });
    console.log('[redis outage] events applied after Redis back', appliedMs, 'ms');
    expect(appliedMs).toBeLessThan(2_000);
  }, 90_000);
});

describe('SIGTERM while Redis is away', () => {
  it('exits with 0 without waiting on any worker (each waited 3 s for Redis before)', async () => {
    h = await harness('outage-sigterm', {}, servers());
    const svc = await h.start({}, 'outage-sigterm');
    await redis.kill('SIGKILL');
    await readyzAt(svc, 503, Date.now());
    const from = svc.logs().length;
    const code = await svc.stop();
    expect(code).toBe(0);
    const timedOut = svc
      .logs()
      .slice(from)
      .filter((e) => e.json?.msg === 'stop timed out; going on')
      .map((e) => e.json?.unit);
    expect(timedOut).toEqual([]);
  }, 60_000);
});
