// Static configuration (UNKNOT_CONFIG): users and devices declared in the file work without any HTTP call, and a
// broken entry stops start-up with one line that names it, exit code 2 and no stack trace.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killOnExit } from '../support/services.js';
import { REPO_ROOT } from '../support/service-process.js';
import { harness, type Harness } from '../support/unknot.js';

let dir: string;
let h: Harness | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unknot-static-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function configFile(name: string, content: unknown): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify(content, null, 2));
  return path;
}

/** Runs the service to its exit (it must not get as far as running): exit code and output. */
async function runToExit(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HTTP_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const fp1 = { deviceId: 'ana-fp1', userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/desk fp1' };

describe('static configuration', () => {
  it('a user and a Zigbee2MQTT desk sensor from the file work without any HTTP call', async () => {
    h = await harness('static-ok');
    const file = await configFile('ok', {
      defaults: { timezone: 'Europe/Berlin', breakAfterMinutes: 40 },
      users: [{ userId: 'ana', name: 'Ana', breakAfterMinutes: 10 }],
      devices: [fp1],
    });
    const base = h.ns.baseTopic;
    await h.mqtt.subscribe([`${base}/users/ana/#`, `${h.env.HA_DISCOVERY_PREFIX}/+/unknot_ana/+/config`]);
    const svc = await h.start({ UNKNOT_CONFIG: file });
    await svc.waitForLog((e) => e.msg === 'static configuration applied');

    await h.mqtt.publish(`${h.env.Z2M_BASE_TOPIC}/office/desk fp1`, { presence: true, presence_event: 'enter', linkquality: 87 });
    await h.mqtt.waitFor(`${base}/users/ana/state`, (m) => (m.json as { posture: string }).posture === 'sitting');
    // The user's own breakAfterMinutes (10 → 1 s) wins over the file's defaults (40 → 4 s).
    const nudge = await h.mqtt.waitFor(`${base}/users/ana/nudge`, 15_000);
    expect(nudge.json).toMatchObject({ userId: 'ana', level: 1 });
    // The file's defaults fill what the user entry leaves out (the time zone), visible on the adherence topic.
    const figures = await h.mqtt.waitFor(`${base}/users/ana/adherence`);
    expect(figures.json).toMatchObject({ timezone: 'Europe/Berlin' });
    // And Home Assistant got the device, named after the profile.
    const cfg = await h.mqtt.waitFor(`${h.env.HA_DISCOVERY_PREFIX}/binary_sensor/unknot_ana/sitting/config`);
    expect(cfg.json).toMatchObject({ device: { name: expect.stringContaining('Ana') } });
  });

  it.each([
    ['a bad user id', { users: [{ userId: 'ana smith' }] }, 'users.0 ("ana smith").userId: 1–64 characters of [A-Za-z0-9_-]'],
    ['an unknown user in a device', { users: [{ userId: 'ana' }], devices: [{ ...fp1, userId: 'bob' }] }, 'devices.0 ("ana-fp1"): userId "bob" is not declared under "users"'],
    ['a protocol without a topic', { users: [{ userId: 'ana' }], devices: [{ ...fp1, topic: undefined }] }, 'devices.0 ("ana-fp1"): protocol zigbee2mqtt needs a "topic"'],
    ['a bad profile value', { users: [{ userId: 'ana' }, { userId: 'bo', breakAfterMinutes: 5 }] }, 'users.1 ("bo").breakAfterMinutes: Too small'],
    ['a misspelt profile field', { users: [{ userId: 'ana', breakAfterMinuts: 20 }] }, 'users.0 ("ana"): Unrecognized key: "breakAfterMinuts"'],
    ['a topic with a wildcard', { users: [{ userId: 'ana' }], devices: [{ ...fp1, topic: 'office/+' }] }, 'devices.0 ("ana-fp1"): topic: '],
  ])('%s stops start-up with one line naming the entry, exit code 2', async (_what, content, expected) => {
    h = await harness('static-bad');
    const file = await configFile(`bad-${Math.random().toString(16).slice(2)}`, content);
    const { code, stdout, stderr } = await runToExit({ ...h.env, UNKNOT_CONFIG: file });
    expect(code).toBe(2);
    const lines = stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^unknot: invalid configuration: UNKNOT_CONFIG \(/);
    expect(lines[0]).toContain(expected);
    expect(stderr + stdout).not.toMatch(/\n\s+at /);
    expect(stdout).not.toContain('unknot ready');
  });
});
