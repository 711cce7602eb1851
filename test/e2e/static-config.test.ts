// Static configuration (UNKNOT_CONFIG): users and devices declared in the file work without any HTTP call, and a
// broken entry stops start-up with one line that names it, exit code 2 and no stack trace.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { inProcessHarness, type InProcessHarness } from '../support/in-process.js';
import { runExpectingExit } from '../support/service-process.js';
import { harness, type Harness } from '../support/unknot.js';

// A start-up that only exits can still take tens of seconds on a loaded machine (tsx compiles first): the wait is
// generous so that load never turns into a SIGKILL (exit code null); a fast machine does not wait longer.
const EXIT_WAIT_MS = 50_000;

let dir: string;
let h: Harness | InProcessHarness | undefined;

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

/** A whole process must stop with exit code 2 and exactly one stack-free line on stderr, starting like this. */
async function expectOneLineExit2(env: Record<string, string>, expected: string) {
  const { code, stdout, stderr } = await runExpectingExit({ LOG_LEVEL: 'info', ...env }, EXIT_WAIT_MS);
  expect(code).toBe(2);
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^unknot: invalid configuration: UNKNOT_CONFIG \(/);
  expect(lines[0]).toContain(expected);
  expect(stderr + stdout).not.toMatch(/\n\s+at /);
  expect(stdout).not.toContain('unknot ready');
}

const fp1 = { deviceId: 'ana-fp1', userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/desk fp1' };

describe('static configuration', () => {
  it('a user and a Zigbee2MQTT desk sensor from the file work without any HTTP call', async () => {
    const ih = (h = await inProcessHarness('static-ok'));
    const file = await configFile('ok', {
      defaults: { timezone: 'Europe/Berlin', breakAfterMinutes: 40 },
      users: [{ userId: 'ana', name: 'Ana', breakAfterMinutes: 10 }],
      devices: [fp1],
    });
    const base = ih.ns.baseTopic;
    await ih.mqtt.subscribe([`${base}/users/ana/#`, `${ih.env.HA_DISCOVERY_PREFIX}/+/unknot_ana/+/config`]);
    // main() returns once the file is applied (that is the order of start-up).
    await ih.start({ UNKNOT_CONFIG: file });

    await ih.mqtt.publish(`${ih.env.Z2M_BASE_TOPIC}/office/desk fp1`, {
      presence: true,
      presence_event: 'enter',
      linkquality: 87,
    });
    await ih.mqtt.waitFor(`${base}/users/ana/state`, (m) => (m.json as { posture: string }).posture === 'sitting');
    // The user's own breakAfterMinutes (10 → 1 s) wins over the file's defaults (40 → 4 s).
    const nudge = await ih.mqtt.waitFor(`${base}/users/ana/nudge`, 15_000);
    expect(nudge.json).toMatchObject({ userId: 'ana', level: 1 });
    // The file's defaults fill what the user entry leaves out (the time zone), visible on the adherence topic.
    const figures = await ih.mqtt.waitFor(`${base}/users/ana/adherence`);
    expect(figures.json).toMatchObject({ timezone: 'Europe/Berlin' });
    // And Home Assistant got the device, named after the profile.
    const cfg = await ih.mqtt.waitFor(`${ih.env.HA_DISCOVERY_PREFIX}/binary_sensor/unknot_ana/sitting/config`);
    expect(cfg.json).toMatchObject({ device: { name: expect.stringContaining('Ana') } });
  });

  // What the file's own schema refuses is checked on loadConfig (no process needed); main() prints
  // "unknot: invalid configuration: <message>" and exits 2, which the whole-process cases below prove once.
  it.each([
    [
      'a bad user id',
      { users: [{ userId: 'ana smith' }] },
      'users.0 ("ana smith").userId: 1–64 characters of [A-Za-z0-9_-]',
    ],
    [
      'an unknown user in a device',
      { users: [{ userId: 'ana' }], devices: [{ ...fp1, userId: 'bob' }] },
      'devices.0 ("ana-fp1"): userId "bob" is not declared under "users"',
    ],
    [
      'a protocol without a topic',
      { users: [{ userId: 'ana' }], devices: [{ ...fp1, topic: undefined }] },
      'devices.0 ("ana-fp1"): protocol zigbee2mqtt needs a "topic"',
    ],
    [
      'a bad profile value',
      { users: [{ userId: 'ana' }, { userId: 'bo', breakAfterMinutes: 5 }] },
      'users.1 ("bo").breakAfterMinutes: Too small',
    ],
    [
      'a misspelt profile field',
      { users: [{ userId: 'ana', breakAfterMinuts: 20 }] },
      'users.0 ("ana"): Unrecognized key: "breakAfterMinuts"',
    ],
  ])('%s is a configuration error of one line naming the entry', async (_what, content, expected) => {
    const file = await configFile(`bad-${Math.random().toString(16).slice(2)}`, content);
    let caught: unknown;
    try {
      loadConfig({ UNKNOT_CONFIG: file });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toMatch(/^UNKNOT_CONFIG \(/);
    expect(message).toContain(expected);
    expect(message).not.toContain('\n');
  });

  it('a schema error stops the process: exit code 2, one line, no stack trace', async () => {
    h = await harness('static-bad');
    const file = await configFile('bad-process', { users: [{ userId: 'ana', breakAfterMinuts: 20 }] });
    await expectOneLineExit2(
      { ...h.env, UNKNOT_CONFIG: file },
      'users.0 ("ana"): Unrecognized key: "breakAfterMinuts"',
    );
  }, 120_000);

  it('a device topic only the registry refuses (a wildcard) stops the process the same way', async () => {
    // Checked while the file is applied, after Redis and MQTT are up: a different path to the same exit.
    h = await harness('static-bad');
    const file = await configFile('bad-topic', {
      users: [{ userId: 'ana' }],
      devices: [{ ...fp1, topic: 'office/+' }],
    });
    await expectOneLineExit2({ ...h.env, UNKNOT_CONFIG: file }, 'devices.0 ("ana-fp1"): topic: ');
  }, 120_000);
});
