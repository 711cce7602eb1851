// Operating unknot: bad input never hurts, configuration errors stop start-up clearly, health and metrics tell
// the truth, the embedded broker works, shutdown is graceful, and events sent while it was down are not lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { inProcessHarness, startInProcess, type InProcessHarness } from '../support/in-process.js';
import { connectClient } from '../support/mqtt-client.js';
import { cleanupRedisPrefix, uniqueNamespace } from '../support/namespace.js';
import { runExpectingExit, startService } from '../support/service-process.js';
import { freePort, killOnExit, pingRedis } from '../support/services.js';
import { adherence, eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';

// A start-up that only exits can still take tens of seconds on a loaded machine (tsx compiles first): the wait is
// generous so that load never turns into a SIGKILL (exit code null); a fast machine does not wait longer.
const EXIT_WAIT_MS = 50_000;

// Only what needs a process runs one (exit codes, SIGTERM, kill -9); the rest runs main() in-process.
let h: Harness | InProcessHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('bad input over MQTT', () => {
  it('is counted, logged and answered on the error topic, and the next good event is processed', async () => {
    const ih = (h = await inProcessHarness('badin'));
    const svc = await ih.start();
    await putUser(svc, 'kim');
    await putDevice(svc, 'kim-desk', { userId: 'kim', role: 'desk', protocol: 'unknot' });
    const base = h.ns.baseTopic;
    await h.mqtt.subscribe(`${base}/devices/+/error`);
    await h.mqtt.subscribe(`${base}/users/kim/state`);

    await h.mqtt.publish(`${base}/devices/kim-desk/event`, 'not json at all');
    await h.mqtt.publish(`${base}/devices/kim-desk/event`, { type: 'posture', posture: 'lying' });
    await h.mqtt.publish(
      `${base}/devices/kim-desk/event`,
      JSON.stringify({ type: 'posture', posture: 'sitting', pad: 'x'.repeat(17 * 1024) }),
    );
    await h.mqtt.publish(`${base}/devices/nobody/event`, { type: 'posture', posture: 'sitting' });
    await h.mqtt.publish(`${base}/devices/bad$id/event`, { type: 'posture', posture: 'sitting' });
    await h.mqtt.publish(`${base}/devices/kim-desk/event`, Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    // The good one after all of that.
    await h.mqtt.publish(`${base}/devices/kim-desk/event`, { type: 'posture', posture: 'sitting' });

    const state = await h.mqtt.waitFor(
      `${base}/users/kim/state`,
      (m) => (m.json as { posture: string }).posture === 'sitting',
    );
    expect(state.json).toMatchObject({ posture: 'sitting' });
    const unknown = await h.mqtt.waitFor(`${base}/devices/nobody/error`);
    expect(unknown.json).toMatchObject({ error: 'unknown_device', detail: expect.stringContaining('nobody') });
    const first = await h.mqtt.waitFor(`${base}/devices/kim-desk/error`);
    expect(first.json).toMatchObject({ error: 'not_json', detail: expect.any(String) });

    const metrics = await eventually(
      async () => {
        const text = (await svc.fetchJson('/metrics')).body as string;
        return text.includes('reason="unknown_device"') && text.includes('reason="invalid_id"') ? text : undefined;
      },
      5000,
      'rejection metrics',
    );
    for (const reason of ['not_json', 'invalid_event', 'too_large', 'unknown_device', 'invalid_id']) {
      expect(metrics).toMatch(new RegExp(`unknot_events_rejected_total\\{reason="${reason}"\\} [1-9]`));
    }
    expect(metrics).toMatch(/unknot_events_received_total\{protocol="unknot"\} [1-9]/);
    expect(metrics).toMatch(/unknot_event_to_commit_seconds_count [1-9]/);
    expect((await adherence(svc, 'kim')).map((e) => e.type)).toEqual(['sitting_started']);
    // The process is alive and well.
    expect((await svc.fetchJson('/healthz')).body).toEqual({ status: 'ok' });
  });
});

describe('HTTP API errors', () => {
  it('answers id rules, unknown ids and invalid bodies with the contract codes', async () => {
    const ih = (h = await inProcessHarness('httperr'));
    const svc = await ih.start();
    const call = async (method: string, path: string, json?: unknown, raw?: string) => {
      const r =
        raw !== undefined
          ? await svc.fetchJson(path, { method, body: raw, headers: { 'content-type': 'application/json' } })
          : await svc.fetchJson(path, { method, ...(json !== undefined ? { json } : {}) });
      return { status: r.status, body: r.body as Record<string, unknown> };
    };
    expect(await call('GET', '/api/users/ghost')).toMatchObject({ status: 404, body: { error: 'unknown_user' } });
    expect(await call('PUT', `/api/users/${'x'.repeat(65)}`, {})).toMatchObject({
      status: 400,
      body: { error: 'invalid_user_id' },
    });
    expect(await call('PUT', '/api/users/has.dot', {})).toMatchObject({
      status: 400,
      body: { error: 'invalid_user_id' },
    });
    const bad = await call('PUT', '/api/users/lea', {
      breakAfterMinutes: 5,
      timezone: 'Mars/Olympus',
      heat: { maxMinutes: 25 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_profile');
    expect((bad.body.issues as Array<{ path: string }>).map((i) => i.path).sort()).toEqual([
      'breakAfterMinutes',
      'heat.maxMinutes',
      'timezone',
    ]);
    expect(await call('PUT', '/api/users/lea', undefined, '{"timezone":')).toMatchObject({
      status: 400,
      body: { error: 'invalid_json' },
    });
    const ok = await call('PUT', '/api/users/lea', { timezone: 'Europe/Vienna', breakAfterMinutes: 45 });
    expect(ok).toMatchObject({
      status: 200,
      body: {
        userId: 'lea',
        timezone: 'Europe/Vienna',
        breakAfterMinutes: 45,
        minBreakSeconds: 120,
        maxNudges: 3,
        heat: { defaultMinutes: 10, maxMinutes: 15 },
        routineTargetPerWeek: 3,
      },
    });

    expect(await call('PUT', '/api/devices/d1', { userId: 'lea', protocol: 'unknot' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_device' },
    });
    expect(await call('PUT', '/api/devices/d1', { userId: 'ghost', role: 'desk', protocol: 'unknot' })).toMatchObject({
      status: 404,
      body: { error: 'unknown_user' },
    });
    expect(
      await call('PUT', '/api/devices/d1', { userId: 'lea', role: 'desk', protocol: 'zigbee2mqtt' }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_device' } });
    expect(
      await call('PUT', '/api/devices/d1', { userId: 'lea', role: 'desk', protocol: 'zigbee2mqtt', topic: 'desk/+' }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_device' } });
    expect(await call('PUT', '/api/devices/d%20d', { userId: 'lea', role: 'desk', protocol: 'unknot' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_device_id' },
    });
    expect(
      await call('PUT', '/api/devices/d1', {
        userId: 'lea',
        role: 'desk',
        protocol: 'zigbee2mqtt',
        topic: 'office/fp1',
      }),
    ).toMatchObject({ status: 200 });
    expect(
      await call('PUT', '/api/devices/d2', {
        userId: 'lea',
        role: 'chair',
        protocol: 'zigbee2mqtt',
        topic: 'office/fp1',
      }),
    ).toMatchObject({ status: 409, body: { error: 'topic_taken' } });
    expect(await call('GET', '/api/devices/d1')).toMatchObject({
      status: 200,
      body: { deviceId: 'd1', userId: 'lea', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/fp1' },
    });
    expect(await call('GET', '/api/devices/d9')).toMatchObject({ status: 404, body: { error: 'unknown_device' } });
    expect((await call('DELETE', '/api/devices/d1')).status).toBe(204);
    expect(await call('DELETE', '/api/devices/d1')).toMatchObject({ status: 404, body: { error: 'unknown_device' } });
    // The topic is free again once its device is gone.
    expect(
      (
        await call('PUT', '/api/devices/d2', {
          userId: 'lea',
          role: 'chair',
          protocol: 'zigbee2mqtt',
          topic: 'office/fp1',
        })
      ).status,
    ).toBe(200);

    expect(await call('GET', '/api/users/lea/adherence?from=yesterday')).toMatchObject({
      status: 400,
      body: { error: 'invalid_range' },
    });
    expect(await call('GET', '/api/users/lea/summary?days=0')).toMatchObject({ status: 400 });
    expect(await call('GET', '/api/users/lea/summary?days=91')).toMatchObject({ status: 400 });
    const summary = await call('GET', '/api/users/lea/summary?days=3');
    expect(summary.status).toBe(200);
    expect(summary.body).toMatchObject({
      userId: 'lea',
      timezone: 'Europe/Vienna',
      total: { breaks: 0, compliance: null },
    });
    expect(summary.body.days).toHaveLength(3);
    const csv = await svc.fetchJson('/api/users/lea/adherence?format=csv');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(String(csv.body).split('\r\n')[0]).toBe('at,type');
    expect(await call('GET', '/api/nothing-here')).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });

  it('requires the bearer token when one is set', async () => {
    const ih = (h = await inProcessHarness('token', { UNKNOT_API_TOKEN: 'correct-horse-battery-staple' }));
    const svc = await ih.start();
    // fetchJson sends the token of the env.
    const open = await svc.fetchJson('/api/users');
    const wrong = await fetch(`${svc.baseUrl}/api/users`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'unauthorized' });
    const none = await fetch(`${svc.baseUrl}/api/users`);
    expect(none.status).toBe(401);
    expect(open.status).toBe(200);
    // Health and metrics stay open for probes.
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${svc.baseUrl}/metrics`)).status).toBe(200);
  });
});

describe('start-up configuration', () => {
  const redisUrl = () => inject('redisUrl');
  const mqttUrl = () => inject('mqttUrl');

  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ HTTP_PORT: 'eighty' }, /HTTP_PORT/],
    [{ UNKNOT_TIME_SCALE: '0' }, /UNKNOT_TIME_SCALE/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
    [{ UNKNOT_ROLES: 'api,cooking' }, /UNKNOT_ROLES/],
    [{ UNKNOT_BASE_TOPIC: 'unknot/#' }, /UNKNOT_BASE_TOPIC/],
    [{ HTTP_HOST: '0.0.0.0' }, /HTTP_HOST.*UNKNOT_API_TOKEN/],
    [{ UNKNOT_CONFIG: 'config/does-not-exist.json' }, /UNKNOT_CONFIG/],
  ];

  // loadConfig is what refuses; main() prints its message after "unknot: invalid configuration: " and exits 2.
  it.each(cases)('a bad value is a configuration error of one line: %o', (env, pattern) => {
    let caught: unknown;
    try {
      loadConfig({ REDIS_URL: redisUrl(), MQTT_URL: mqttUrl(), ...env });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toMatch(pattern);
    expect((caught as Error).message).not.toContain('\n');
  });

  it('a bad value stops the process with exit 2 and one line, no stack trace', async () => {
    const r = await runExpectingExit({ REDIS_URL: redisUrl(), MQTT_URL: mqttUrl(), HTTP_PORT: 'eighty' }, EXIT_WAIT_MS);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^unknot: invalid configuration: .*HTTP_PORT/);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  }, 120_000);

  it('without MQTT_URL it runs the embedded broker, and refuses a taken port with a hint', async () => {
    h = await harness('embedded');
    const port = await freePort();
    const env = { ...h.env, MQTT_URL: undefined, MQTT_EMBEDDED_PORT: String(port), LOG_LEVEL: 'silent' };
    // In-process: the embedded broker is part of main(); only the refusal of a taken port needs a process (exit 2).
    const svc = await startInProcess(env, 'embedded');
    try {
      const client = await connectClient(`mqtt://127.0.0.1:${port}`);
      await client.subscribe(`${h.ns.baseTopic}/bridge/state`);
      const bridge = await client.waitFor(`${h.ns.baseTopic}/bridge/state`);
      expect(bridge.json).toEqual({ state: 'online' });
      expect(bridge.retain).toBe(true);
      await putUser(svc, 'emb');
      await putDevice(svc, 'emb-desk', { userId: 'emb', role: 'desk', protocol: 'unknot' });
      await client.subscribe(`${h.ns.baseTopic}/users/emb/nudge`);
      await client.publish(`${h.ns.baseTopic}/devices/emb-desk/event`, { type: 'posture', posture: 'sitting' });
      const nudge = await client.waitFor(`${h.ns.baseTopic}/users/emb/nudge`, 15_000);
      expect(nudge.json).toMatchObject({ userId: 'emb', level: 1 });
      await client.end();
      const taken = await runExpectingExit({ ...h.env, MQTT_URL: '', MQTT_EMBEDDED_PORT: String(port) }, EXIT_WAIT_MS);
      expect(taken.code).toBe(2);
      expect(taken.stderr).toMatch(new RegExp(`port ${port}.*taken.*MQTT_URL=mqtt://127\\.0\\.0\\.1:${port}`));
    } finally {
      await svc.stop();
    }
  }, 120_000);
});

describe("MQTT.js's packet trace", () => {
  it('is on stderr with DEBUG=mqttjs*, and absent without it', async () => {
    const start = (label: string, debug: string | undefined) => {
      const ns = uniqueNamespace(label);
      return startService({
        env: {
          REDIS_URL: inject('redisUrl'),
          MQTT_URL: inject('mqttUrl'),
          UNKNOT_REDIS_PREFIX: ns.prefix,
          UNKNOT_BASE_TOPIC: ns.baseTopic,
          UNKNOT_HA_DISCOVERY: 'false',
          DEBUG: debug,
        },
        label,
      });
    };
    const [traced, quiet] = await Promise.all([start('trace-on', 'mqttjs*'), start('trace-off', undefined)]);
    try {
      const mqttjsLines = (svc: typeof traced) =>
        svc.logs().filter((e) => e.stream === 'stderr' && e.line.includes('mqttjs:client')).length;
      // Both connected and published their retained bridge state by the time they were ready.
      expect(mqttjsLines(traced)).toBeGreaterThan(0);
      expect(mqttjsLines(quiet)).toBe(0);
    } finally {
      await Promise.all([traced.stop(), quiet.stop()]);
    }
  });
});

describe('health, readiness and shutdown', () => {
  it('/readyz says which dependency is down, and SIGTERM stops cleanly with the bridge offline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unknot-redis-'));
    const port = await freePort();
    const redis: ChildProcess = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    killOnExit(redis);
    const redisUrl = `redis://127.0.0.1:${port}`;
    await eventually(
      async () =>
        pingRedis(redisUrl).then(
          () => true,
          () => false,
        ),
      10_000,
      'private redis',
    );
    const ns = uniqueNamespace('ready');
    const mqtt = await connectClient(inject('mqttUrl'));
    await mqtt.subscribe(`${ns.baseTopic}/bridge/state`);
    const svc = await startService({
      env: {
        REDIS_URL: redisUrl,
        MQTT_URL: inject('mqttUrl'),
        UNKNOT_REDIS_PREFIX: ns.prefix,
        UNKNOT_BASE_TOPIC: ns.baseTopic,
      },
      label: 'ready',
    });
    try {
      expect(await svc.fetchJson('/readyz')).toMatchObject({ status: 200, body: { redis: 'up', mqtt: 'up' } });
      const metrics = (await svc.fetchJson('/metrics')).body as string;
      for (const name of [
        'unknot_events_received_total',
        'unknot_events_rejected_total',
        'unknot_nudges_sent_total',
        'unknot_heat_sessions_total',
        'unknot_queue_jobs',
        'unknot_event_to_commit_seconds',
        'process_cpu_user_seconds_total',
        'nodejs_eventloop_lag_seconds',
      ]) {
        expect(metrics).toContain(name);
      }
      redis.kill('SIGKILL');
      const down = await eventually(
        async () => {
          const r = await svc.fetchJson('/readyz');
          return r.status === 503 ? r : undefined;
        },
        15_000,
        'readyz 503',
      );
      expect(down.body).toMatchObject({
        error: 'not_ready',
        redis: 'down',
        mqtt: 'up',
        detail: expect.stringContaining('redis'),
      });
      expect((await svc.fetchJson('/healthz')).status).toBe(200);
    } finally {
      redis.kill('SIGKILL');
    }
    // SIGTERM ourselves and wait for the exit: the harness's stop() sends SIGKILL after 10 s, which a loaded machine
    // can reach while shutdown is still going; the service bounds its own shutdown (exit 1 after 15 s).
    process.kill(svc.pid, 'SIGTERM');
    const code = await svc.exited;
    expect(code).toBe(0);
    // Closing our own connections is no error: it used to log "MQTT publisher error … write after end".
    expect(
      svc
        .logs()
        .filter((e) => /write after end|MQTT publisher error/.test(e.line))
        .map((e) => e.line),
    ).toEqual([]);
    const offline = await mqtt.waitFor(
      `${ns.baseTopic}/bridge/state`,
      (m) => (m.json as { state: string }).state === 'offline',
    );
    expect(offline.retain).toBe(false); // a live message; a new subscriber would get the retained copy
    await mqtt.end();
  }, 120_000);
});

describe('no event lost while the service is down', () => {
  it('a QoS 1 event published during a restart is processed when the service is back', async () => {
    h = await harness('persist');
    const svc = await h.start();
    await putUser(svc, 'pia');
    await putDevice(svc, 'pia-desk', { userId: 'pia', role: 'desk', protocol: 'unknot' });
    await svc.kill9();
    await h.mqtt.publish(`${h.ns.baseTopic}/devices/pia-desk/event`, {
      type: 'posture',
      posture: 'sitting',
      id: 'while-down',
    });
    await sleep(200);
    // Back in-process: what matters is that the broker kept the event for the ingest session, not how we start.
    const again = await startInProcess({ ...h.env, LOG_LEVEL: 'silent' }, 'persist-2');
    const entries = await eventually(
      async () => {
        const e = await adherence(again, 'pia');
        return e.length > 0 ? e : undefined;
      },
      10_000,
      'sitting_started after restart',
    );
    expect(entries.map((e) => e.type)).toEqual(['sitting_started']);
    await again.stop();
    await cleanupRedisPrefix(inject('redisUrl'), h.ns.prefix);
  });
});
