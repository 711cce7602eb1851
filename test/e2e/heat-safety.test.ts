// The heat safety layers with the real process: OFF after a kill -9 while a pad is on, a stale ON dropped after a
// restart (by the standalone heat worker), the sweep sending an OFF whose job is gone, and the watchdog for every
// protocol. UNKNOT_TIME_SCALE=60: 1 minute of heat lasts 1 s.
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { jobIds } from '../../src/queues/queues.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type ServiceHandle } from '../support/service-process.js';
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
import { heatOff, report, startHeat } from './heat-support.js';

let h: Harness;
let svc: ServiceHandle;
let base: string;
let z2m: string;

beforeAll(async () => {
  h = await harness('heat-safety', { UNKNOT_TIME_SCALE: '60' });
  base = h.ns.baseTopic;
  z2m = h.env.Z2M_BASE_TOPIC!;
  await h.mqtt.subscribe([`${base}/#`, `${z2m}/#`, `cmnd/${base}-tas/#`, `cmnd/${base}-wdtas/#`, `${base}-wdshelly/#`]);
  svc = await h.start({}, 'heat-safety-1');
});

afterAll(async () => {
  await h?.close();
});

async function userWithPad(userId: string, pad: Record<string, unknown>, profile: Record<string, unknown> = {}) {
  await putUser(svc, userId, { heatCooldownMinutes: 0, heat: { defaultMinutes: 10, maxMinutes: 20 }, ...profile });
  await putDevice(svc, `${userId}-pad`, { userId, role: 'heatpad', ...pad });
}

const heatEntries = async (userId: string) =>
  (await adherence(svc, userId)).filter((e) => String(e.type).startsWith('heat'));

describe('heat after a crash', () => {
  it('kill -9 while a pad is on; restarted after offAt, the OFF goes out as soon as the service is back', async () => {
    await userWithPad('kai', { protocol: 'zigbee2mqtt', topic: 'kai-plug' });
    const set = `${z2m}/kai-plug/set`;
    const crashing = await h.start({}, 'heat-crash');
    const s = await startHeat(crashing, 'kai', { minutes: 2 }); // 2 s
    const on = await h.mqtt.waitFor(set);
    expect(on.payload).toBe('{"state":"ON","on_time":2}');
    await crashing.kill9();
    // The other instance of this file must not be the one to send it: stop it too, uncleanly.
    await svc.kill9();
    await sleep(Math.max(0, Date.parse(s.offAt) - Date.now()) + 1500);
    expect(h.mqtt.messages(set)).toHaveLength(1); // nobody was there at offAt

    const spawnedAt = Date.now();
    svc = await h.start({}, 'heat-safety-2');
    const off = await h.mqtt.waitFor(set, (m) => m.payload === '{"state":"OFF"}', 15_000);
    const ready = svc.logs().find((e) => e.msg === 'unknot ready');
    const readyAt = Date.parse(String(ready?.json?.time));
    const workerAt = Date.parse(String(svc.logs().find((e) => e.msg === 'heat worker started')?.json?.time));
    report('restart: OFF after the process was spawned', off.receivedAt - spawnedAt);
    report('restart: OFF after the heat worker started', off.receivedAt - workerAt);
    report('restart: OFF after "unknot ready" (negative: before)', off.receivedAt - readyAt);
    report('restart: OFF after offAt (downtime included)', off.receivedAt - Date.parse(s.offAt));
    expect(off.receivedAt - workerAt).toBeLessThan(3000);
    expect(off.receivedAt - readyAt).toBeLessThan(3000);
    await sleep(500);
    expect(h.mqtt.messages(set)).toHaveLength(2);
    // Both the past-due BullMQ job and the start-up sweep go for it; whichever claims it first sends it, once.
    const bySweep = svc.logs().some((e) => e.msg === 'heat sweep sent an OFF that its job had not');
    console.log(`[heat e2e] restart: the OFF was sent by the ${bySweep ? 'start-up sweep' : 'past-due OFF job'}`);
    const log = await eventually(
      async () => {
        const e = await heatEntries('kai');
        return e.length === 2 ? e : undefined;
      },
      5000,
      'heat_off logged',
    );
    expect(log).toMatchObject([
      { type: 'heat_on', sessionId: s.sessionId },
      { type: 'heat_off', sessionId: s.sessionId, reason: 'timer' },
    ]);
  });

  it('a stale ON job is dropped after a restart: the pad is never switched on after its session ended', async () => {
    await userWithPad('sol', { protocol: 'unknot' });
    const cmd = `${base}/devices/sol-pad/command`;
    // svc (all roles) would run the ON job at once: it is down for this test. An instance without workers takes
    // the request, so the ON job waits in Redis. (It stays up for the rest of this file: two ingest instances
    // then see every pad report, which the watchdog tests below must not double.)
    await svc.stop();
    const apiOnly = await h.start({ UNKNOT_ROLES: 'api,ingest' }, 'heat-api-only');
    const s = await startHeat(apiOnly, 'sol', { minutes: 1 });
    await sleep(Math.max(0, Date.parse(s.offAt) - Date.now()) + 300);
    const worker = await startService({
      entry: 'workers/heat.ts',
      env: { ...h.env, UNKNOT_ROLES: 'worker' },
      label: 'workers/heat.ts',
    });
    try {
      const off = await h.mqtt.waitFor(cmd, 15_000);
      expect(off.json).toEqual({ command: 'heat', state: 'off', sessionId: s.sessionId, reason: 'timer' });
      await sleep(500);
      expect(h.mqtt.messages(cmd).map((m) => (m.json as { state: string }).state)).toEqual(['off']);
      expect(worker.logs().some((l) => l.line.includes('stale heat ON dropped'))).toBe(true);
    } finally {
      await worker.stop();
      svc = await h.start({}, 'heat-safety-3');
    }
  });

  it('the sweep sends an OFF whose job is gone', async () => {
    await userWithPad('wes', { protocol: 'unknot' });
    const cmd = `${base}/devices/wes-pad/command`;
    const s = await startHeat(svc, 'wes', { minutes: 3 });
    await h.mqtt.waitFor(cmd);
    const opts = queueOptions(h.ns.prefix);
    const queue = new Queue('heat', opts);
    try {
      const job = await queue.getJob(jobIds.heatOff('wes', s.sessionId));
      expect(job).toBeDefined();
      await job!.remove();
    } finally {
      await queue.close();
      if (opts.connection instanceof Cluster) opts.connection.disconnect();
    }
    const off = await h.mqtt.waitFor(cmd, (m) => (m.json as { state: string }).state === 'off', 10_000);
    const late = off.receivedAt - Date.parse(s.offAt);
    report('sweep: OFF after offAt without its job', late);
    expect(late).toBeGreaterThanOrEqual(-60);
    expect(late).toBeLessThan(2000 + 3000); // one sweep period, plus a loaded machine
    await svc.waitForLog((e) => e.msg === 'heat sweep sent an OFF that its job had not', 3000);
  });
});

describe('heat watchdog', () => {
  it('a pad reporting ON with no session is switched off, for every protocol, and logged as heat_off watchdog', async () => {
    await putUser(svc, 'wd', {});
    await putDevice(svc, 'wd-z2m', { userId: 'wd', role: 'heatpad', protocol: 'zigbee2mqtt', topic: 'wd-plug' });
    await putDevice(svc, 'wd-tas', { userId: 'wd', role: 'heatpad', protocol: 'tasmota', topic: `${base}-wdtas` });
    await putDevice(svc, 'wd-shelly', { userId: 'wd', role: 'heatpad', protocol: 'shelly', topic: `${base}-wdshelly` });
    await putDevice(svc, 'wd-unknot', { userId: 'wd', role: 'heatpad', protocol: 'unknot' });

    await h.mqtt.publish(`${z2m}/wd-plug`, { state: 'ON', linkquality: 80, power: 41.5 });
    expect((await h.mqtt.waitFor(`${z2m}/wd-plug/set`)).payload).toBe('{"state":"OFF"}');

    await h.mqtt.publish(`stat/${base}-wdtas/POWER`, 'ON');
    expect((await h.mqtt.waitFor(`cmnd/${base}-wdtas/POWER`)).payload).toBe('OFF');

    await h.mqtt.publish(`${base}-wdshelly/status/switch:0`, { id: 0, source: 'button', output: true, apower: 40.1 });
    const rpc = await h.mqtt.waitFor(`${base}-wdshelly/rpc`);
    expect(rpc.json).toMatchObject({ method: 'Switch.Set', params: { id: 0, on: false } });

    await h.mqtt.publish(`${base}/devices/wd-unknot/event`, { type: 'heat', state: 'on' });
    const cmd = await h.mqtt.waitFor(`${base}/devices/wd-unknot/command`);
    expect(cmd.json).toEqual({ command: 'heat', state: 'off', sessionId: 'none', reason: 'watchdog' });

    const log = await eventually(
      async () => {
        const e = await heatEntries('wd');
        return e.length >= 4 ? e : undefined;
      },
      5000,
      'watchdog entries',
    );
    expect(log.map((e) => [e.type, e.sessionId, e.reason, e.deviceId])).toEqual([
      ['heat_off', 'none', 'watchdog', 'wd-z2m'],
      ['heat_off', 'none', 'watchdog', 'wd-tas'],
      ['heat_off', 'none', 'watchdog', 'wd-shelly'],
      ['heat_off', 'none', 'watchdog', 'wd-unknot'],
    ]);
    // A report of OFF (what the pad says after our OFF) changes nothing; a Tasmota RESULT ON again within a
    // moment is not acted on twice, later it is.
    await h.mqtt.publish(`stat/${base}-wdtas/RESULT`, { POWER: 'OFF' });
    await h.mqtt.publish(`stat/${base}-wdtas/RESULT`, { POWER: 'ON' });
    await sleep(300);
    expect(h.mqtt.messages(`cmnd/${base}-wdtas/POWER`)).toHaveLength(1);
    await sleep(2000);
    await h.mqtt.publish(`stat/${base}-wdtas/RESULT`, { POWER: 'ON' });
    await h.mqtt.waitForCount(`cmnd/${base}-wdtas/POWER`, 2);
  });

  it('a pad still on after its session’s OFF is switched off again (logged against that session)', async () => {
    await userWithPad('rex', { protocol: 'zigbee2mqtt', topic: 'rex-plug' });
    const set = `${z2m}/rex-plug/set`;
    const s = await startHeat(svc, 'rex', { minutes: 2 });
    await h.mqtt.waitForCount(set, 2, undefined, 8000); // ON, then OFF at offAt
    await sleep(100);
    // The plug ignored our OFF (or someone pressed its button): it says it is on.
    await h.mqtt.publish(`${z2m}/rex-plug`, { state: 'ON' });
    const again = await h.mqtt.waitForCount(set, 3);
    expect(again[2]!.payload).toBe('{"state":"OFF"}');
    const log = await eventually(
      async () => {
        const e = await heatEntries('rex');
        return e.length >= 3 ? e : undefined;
      },
      5000,
      'entries',
    );
    expect(log.map((e) => [e.type, e.sessionId, e.reason])).toEqual([
      ['heat_on', s.sessionId, undefined],
      ['heat_off', s.sessionId, 'timer'],
      ['heat_off', s.sessionId, 'watchdog'],
    ]);
  });

  it('a pad reporting OFF while its session is live ends the session as manual, and nothing is sent', async () => {
    await userWithPad('ola', { protocol: 'zigbee2mqtt', topic: 'ola-plug' });
    const set = `${z2m}/ola-plug/set`;
    const s = await startHeat(svc, 'ola', { minutes: 3 }); // 3 s
    await h.mqtt.waitFor(set);
    await sleep(700); // after the grace for reports that left the plug before our ON
    await h.mqtt.publish(`${z2m}/ola-plug`, { state: 'OFF' });
    const ended = await h.mqtt.waitFor(`${base}/users/ola/state`, (m) => {
      const heat = (m.json as { heat?: { on: boolean } }).heat;
      return m.receivedAt > Date.parse(s.startedAt) + 600 && heat?.on === false;
    });
    expect(ended.receivedAt).toBeLessThan(Date.parse(s.offAt));
    await sleep(Math.max(0, Date.parse(s.offAt) - Date.now()) + 700);
    expect(h.mqtt.messages(set)).toHaveLength(1); // the ON only
    expect((await heatEntries('ola')).map((e) => [e.type, e.reason])).toEqual([
      ['heat_on', undefined],
      ['heat_off', 'manual'],
    ]);
  });

  it('tasmota: PulseTime1 is the auto-off + 100; a pad deleted mid-session gets its OFF at once', async () => {
    const tas = `${base}-tas`;
    await userWithPad('pat', { protocol: 'tasmota', topic: tas });
    const s = await startHeat(svc, 'pat', { minutes: 15 }); // 15 s → PulseTime1 115
    expect((await h.mqtt.waitFor(`cmnd/${tas}/Backlog`)).payload).toBe('PulseTime1 115; Power1 ON');
    const del = await svc.fetchJson('/api/devices/pat-pad', { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect((await h.mqtt.waitFor(`cmnd/${tas}/POWER`, 3000)).payload).toBe('OFF');
    expect((await heatEntries('pat')).map((e) => [e.type, e.sessionId, e.reason])).toEqual([
      ['heat_on', s.sessionId, undefined],
      ['heat_off', s.sessionId, 'manual'],
    ]);
    expect((await heatOff(svc, 'pat')).body).toMatchObject({ error: 'not_on' });
  });
});
