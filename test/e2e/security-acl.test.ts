// `npm run mosquitto-auth` against a real Mosquitto: the password file and ACL it generates from unknot's
// registered devices let each device publish only its own event topic and read only its own command and error
// topics, and give the service what it needs. Devices are registered through the API, the files regenerated
// and Mosquitto reloaded (SIGHUP), as an operator would.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cleanupRedisPrefix, uniqueNamespace } from '../support/namespace.js';
import { startInProcess, type InProcessService } from '../support/in-process.js';
import { REPO_ROOT, runToExit } from '../support/service-process.js';
import { connectOnce, freePort, startMosquitto, type Broker } from '../support/secure-broker.js';
import { adherence, eventually, putDevice, putUser, sleep } from '../support/unknot.js';

const SERVICE_PASSWORD = 'service-password-for-acl-test';
const ns = uniqueNamespace('sec-acl');
const base = ns.baseTopic;
const gen = mkdtempSync(join(tmpdir(), 'unknot-mosquitto-auth-'));
const genEnv = {
  REDIS_URL: inject('redisUrl'),
  UNKNOT_REDIS_PREFIX: ns.prefix,
  UNKNOT_BASE_TOPIC: base,
  Z2M_BASE_TOPIC: `${base}-z2m`,
  HA_DISCOVERY_PREFIX: `${base}-ha`,
  MQTT_USERNAME: 'unknot',
  MQTT_PASSWORD: SERVICE_PASSWORD,
};

let broker: Broker;
let url: string;
let svc: InProcessService;
/** Generated passwords, as printed once by the command. */
let printed: Map<string, string>;
const clients: MqttClient[] = [];

/** Runs `npm run mosquitto-auth -- …` (the script itself, through tsx) and returns its output. */
const generate = (args: string[]) => runToExit('scripts/mosquitto-auth.ts', ['--out', gen, ...args], genEnv, 30_000);

const passwordsIn = (stdout: string) =>
  new Map([...stdout.matchAll(/^ {2}(\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as [string, string]));

async function as(username: string, password: string): Promise<MqttClient> {
  const c = await connectOnce(url, { username, password });
  clients.push(c);
  return c;
}

/** Every message a client receives, by topic. */
function collect(c: MqttClient) {
  const got: Array<{ topic: string; payload: string }> = [];
  c.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
  return got;
}

beforeAll(async () => {
  // Bootstrap: no devices yet, only the service (and Home Assistant) accounts, from the config file alone.
  const first = await generate(['--source', 'static']);
  expect(first.code, first.stderr).toBe(0);
  expect(readFileSync(join(gen, 'acl'), 'utf8')).toContain(`user unknot\ntopic readwrite ${base}/#`);
  const port = await freePort();
  url = `mqtt://127.0.0.1:${port}`;
  broker = await startMosquitto(
    () => [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${join(gen, 'passwd')}`,
      `acl_file ${join(gen, 'acl')}`,
    ],
    async () => (await connectOnce(url, { username: 'unknot', password: SERVICE_PASSWORD })).endAsync(),
  );
  // The service in-process: what is under test is the broker's ACL and the generated files, not the process.
  svc = await startInProcess(
    {
      ...genEnv,
      MQTT_URL: url,
      UNKNOT_TIME_SCALE: '600',
      UNKNOT_API_RATE_LIMIT: '0',
      HTTP_PORT: '0',
      LOG_LEVEL: 'silent',
    },
    'acl',
  );
  await putUser(svc, 'ann');
  await putUser(svc, 'bob');
  await putDevice(svc, 'ann-desk', { userId: 'ann', role: 'desk', protocol: 'unknot' });
  await putDevice(svc, 'bob-desk', { userId: 'bob', role: 'desk', protocol: 'unknot' });
  await putDevice(svc, 'bob-pad', { userId: 'bob', role: 'heatpad', protocol: 'unknot' });
  await putDevice(svc, 'bob-plug', { userId: 'bob', role: 'heatpad', protocol: 'tasmota', topic: 'bobplug' });
  // Regenerate from the registry: two passwords given, the rest generated and printed once; Mosquitto reloads.
  const given = join(gen, 'given.json');
  writeFileSync(given, JSON.stringify({ 'ann-desk': 'ann-desk-password', 'bob-desk': 'bob-desk-password' }));
  const second = await generate(['--passwords', given]);
  expect(second.code, second.stderr).toBe(0);
  printed = passwordsIn(second.stdout);
  broker.reload();
  await eventually(
    async () =>
      await as('ann-desk', 'ann-desk-password').then(
        () => true,
        () => false,
      ),
    10_000,
    'ann-desk accepted after SIGHUP',
  );
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await svc?.stop();
  await broker?.stop();
  await cleanupRedisPrefix(inject('redisUrl'), ns.prefix);
  rmSync(gen, { recursive: true, force: true });
});

describe('npm run mosquitto-auth', () => {
  it('writes one account per device with its own topics, keeps passwords, and prints only new ones', () => {
    const acl = readFileSync(join(gen, 'acl'), 'utf8');
    expect(acl).toContain(
      `user ann-desk\ntopic write ${base}/devices/ann-desk/event\ntopic read ${base}/devices/ann-desk/command\ntopic read ${base}/devices/ann-desk/error\n`,
    );
    expect(acl).toContain(
      'user bob-plug\ntopic read cmnd/bobplug/#\ntopic write stat/bobplug/#\ntopic write tele/bobplug/#\n',
    );
    const passwd = readFileSync(join(gen, 'passwd'), 'utf8');
    expect(
      passwd
        .trim()
        .split('\n')
        .map((l) => l.split(':')[0])
        .sort(),
    ).toEqual(['ann-desk', 'bob-desk', 'bob-pad', 'bob-plug', 'homeassistant', 'unknot']);
    expect(passwd).toMatch(/^ann-desk:\$7\$101\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/m);
    expect(passwd).not.toContain('ann-desk-password');
    // Password hashes and the ACL are readable by their owner only (Mosquitto reads them before dropping root).
    expect(statSync(join(gen, 'passwd')).mode & 0o777).toBe(0o600);
    expect(statSync(join(gen, 'acl')).mode & 0o777).toBe(0o600);
    // Given or kept passwords are not printed; the new devices' are, once.
    expect([...printed.keys()].sort()).toEqual(['bob-pad', 'bob-plug']);
  });

  it('the shipped config/mosquitto.conf runs with the generated files, and its compose health check passes', async () => {
    const port = await freePort();
    const shipped = readFileSync(join(REPO_ROOT, 'config/mosquitto.conf'), 'utf8')
      .split('\n')
      .filter((l) => !/^persistence/.test(l))
      .map((l) =>
        l.replace('/mosquitto/config/generated', gen).replace(/^listener 1883$/, `listener ${port} 127.0.0.1`),
      );
    expect(shipped).toContain(`password_file ${gen}/passwd`);
    expect(shipped).toContain('allow_anonymous false');
    const shippedUrl = `mqtt://127.0.0.1:${port}`;
    const b = await startMosquitto(
      () => shipped,
      async () => (await connectOnce(shippedUrl, { username: 'unknot', password: SERVICE_PASSWORD })).endAsync(),
    );
    try {
      await expect(connectOnce(shippedUrl, {})).rejects.toThrow(/Not authorized|Bad username or password/i);
      // docker-compose.yml's health check, as the container runs it.
      const uptime = execFileSync(
        'mosquitto_sub',
        [
          '-p',
          String(port),
          '-h',
          '127.0.0.1',
          '-u',
          'unknot',
          '-P',
          SERVICE_PASSWORD,
          '-t',
          '$SYS/broker/uptime',
          '-C',
          '1',
          '-W',
          '3',
        ],
        { timeout: 10_000 },
      );
      expect(uptime.toString()).toMatch(/\d+ seconds/);
    } finally {
      await b.stop();
    }
  });

  it('refuses anonymous clients and wrong passwords', async () => {
    await expect(connectOnce(url, {})).rejects.toThrow(/Not authorized|Bad username or password/i);
    await expect(connectOnce(url, { username: 'ann-desk', password: 'guess' })).rejects.toThrow(
      /Not authorized|Bad username or password/i,
    );
  });

  it("a device's event on its own topic is processed; one published on another device's topic is dropped by the broker", async () => {
    // Forbidden first, so it would reach the service first if the broker let it through. Mosquitto acknowledges
    // a denied QoS 1 publish, or (2.0.11, seen with max_queued_messages 0) closes the connection; MQTT
    // 3.1.1 allows either (§3.3.5). Either way the message goes nowhere.
    const forger = await as('ann-desk', 'ann-desk-password');
    const closed = new Promise<'closed'>((r) => forger.once('close', () => r('closed')));
    const forged = forger.publishAsync(
      `${base}/devices/bob-desk/event`,
      JSON.stringify({ type: 'posture', posture: 'sitting', id: 'forged' }),
      { qos: 1 },
    );
    expect(['acked', 'closed']).toContain(await Promise.race([forged.then(() => 'acked' as const), closed]));
    forger.end(true);
    const ann = await as('ann-desk', 'ann-desk-password');
    await ann.publishAsync(
      `${base}/devices/ann-desk/event`,
      JSON.stringify({ type: 'posture', posture: 'sitting', id: 'own' }),
      { qos: 1 },
    );
    await eventually(async () => (await adherence(svc, 'ann')).length > 0, 10_000, "ann's sitting_started");
    const metrics = (await svc.fetchJson('/metrics')).body as string;
    expect(metrics).toMatch(/unknot_events_received_total\{protocol="unknot"\} 1\n/);
    expect(await adherence(svc, 'bob')).toEqual([]);
    // Bob's own desk, with its own account, works.
    const bob = await as('bob-desk', 'bob-desk-password');
    await bob.publishAsync(`${base}/devices/bob-desk/event`, JSON.stringify({ type: 'posture', posture: 'sitting' }), {
      qos: 1,
    });
    const bobLog = await eventually(
      async () => {
        const e = await adherence(svc, 'bob');
        return e.length > 0 ? e : undefined;
      },
      10_000,
      "bob's sitting_started",
    );
    expect(bobLog.map((e) => e.type)).toEqual(['sitting_started']);
  });

  it("a device reads its own commands and errors, never another device's, even through a # subscription", async () => {
    const pad = await as('bob-pad', printed.get('bob-pad')!);
    const padGot = collect(pad);
    await pad.subscribeAsync(`${base}/devices/bob-pad/command`, { qos: 1 });
    const ann = await as('ann-desk', 'ann-desk-password');
    const annGot = collect(ann);
    await ann.subscribeAsync([`${base}/devices/bob-pad/command`, `${base}/#`, '#'], { qos: 1 });

    const heat = await svc.fetchJson('/api/users/bob/heat', {
      method: 'POST',
      json: { minutes: 5, deviceId: 'bob-pad' },
    });
    expect(heat.status).toBe(201);
    await eventually(
      async () =>
        padGot.some((m) => m.topic === `${base}/devices/bob-pad/command` && JSON.parse(m.payload).state === 'on'),
      10_000,
      'the ON at bob-pad',
    );
    // Ann's own error topic reaches her (bad input), which also shows her subscriptions are live.
    await ann.publishAsync(`${base}/devices/ann-desk/event`, 'not json', { qos: 1 });
    await eventually(
      async () => annGot.some((m) => m.topic === `${base}/devices/ann-desk/error`),
      10_000,
      "ann-desk's error",
    );
    await sleep(300);
    const allowed = new Set([`${base}/devices/ann-desk/command`, `${base}/devices/ann-desk/error`]);
    expect(annGot.filter((m) => !allowed.has(m.topic))).toEqual([]);
    // The state, nudge and bridge topics were published meanwhile (the pad got its ON): readable to the service only.
    expect(padGot.every((m) => m.topic === `${base}/devices/bob-pad/command`)).toBe(true);
  });
});
