// The UNKNOT_CONFIG file: how a user entry, `defaults` and the built-in defaults combine, and the one-line errors
// that name the broken entry (the process-level behaviour — exit code 2 — is in test/e2e/static-config.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'unknot-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function load(content: unknown) {
  const file = join(dir, `c${n++}.json`);
  writeFileSync(file, JSON.stringify(content));
  return loadConfig({ UNKNOT_CONFIG: file });
}
function error(content: unknown): string {
  try {
    load(content);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('UNKNOT_CONFIG users', () => {
  it('takes each field from the user entry, else from defaults, else the built-in default', () => {
    const c = load({
      defaults: { timezone: 'Europe/Berlin', breakAfterMinutes: 40 },
      users: [{ userId: 'ana', breakAfterMinutes: 20, name: 'Ana' }, { userId: 'bo' }],
    });
    expect(c.file.users[0]).toMatchObject({
      userId: 'ana',
      name: 'Ana',
      timezone: 'Europe/Berlin',
      breakAfterMinutes: 20,
      minBreakSeconds: 120,
    });
    expect(c.file.users[1]).toMatchObject({
      userId: 'bo',
      timezone: 'Europe/Berlin',
      breakAfterMinutes: 40,
      maxNudges: 3,
    });
  });

  it('names the entry, the field and the value in one line', () => {
    expect(error({ users: [{ userId: 'ana' }, { userId: 'bo', breakAfterMinutes: 5 }] })).toMatch(
      /^UNKNOT_CONFIG \(.+\): users\.1 \("bo"\)\.breakAfterMinutes: Too small: .* \(got 5\)$/,
    );
    expect(error({ users: [{ userId: 'a/b' }] })).toContain(
      'users.0 ("a/b").userId: 1–64 characters of [A-Za-z0-9_-] (got "a/b")',
    );
    expect(error({ users: [{ userId: 'ana', timezone: 'Mars/Olympus' }] })).toContain(
      'users.0 ("ana").timezone: expected an IANA time zone',
    );
    expect(error({ users: [{ userId: 'ana', snooze: 5 }] })).toContain('users.0 ("ana"): Unrecognized key: "snooze"');
    expect(error({ users: [{ userId: 'ana' }, { userId: 'ana' }] })).toContain('users.1 ("ana"): duplicate userId');
    for (const message of [
      error({ users: [{ userId: 'ana', breakAfterMinutes: 5 }] }),
      error({ defaults: { maxNudges: 9 } }),
    ]) {
      expect(message).not.toContain('\n');
    }
  });
});

describe('UNKNOT_CONFIG devices', () => {
  const desk = { deviceId: 'desk-1', userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/fp1' };

  it('accepts a device of a declared user', () => {
    const c = load({
      users: [{ userId: 'ana' }],
      devices: [desk, { deviceId: 'watch', userId: 'ana', role: 'wearable', protocol: 'unknot' }],
    });
    expect(c.file.devices.map((d) => d.deviceId)).toEqual(['desk-1', 'watch']);
  });

  it('names the device in every refusal', () => {
    const users = [{ userId: 'ana' }];
    expect(error({ users, devices: [{ ...desk, userId: 'bob' }] })).toContain(
      'devices.0 ("desk-1"): userId "bob" is not declared under "users"',
    );
    expect(error({ users, devices: [{ ...desk, topic: undefined }] })).toContain(
      'devices.0 ("desk-1"): protocol zigbee2mqtt needs a "topic"',
    );
    expect(error({ users, devices: [desk, desk] })).toContain('devices.1 ("desk-1"): duplicate deviceId');
    expect(error({ users, devices: [{ ...desk, role: 'seat' }] })).toContain(
      'devices.0 ("desk-1").role: Invalid option',
    );
    expect(error({ users, devices: [{ ...desk, deviceId: 'desk 1' }] })).toContain(
      'devices.0 ("desk 1").deviceId: 1–64 characters',
    );
    expect(error({ users, devices: [{ ...desk, friendlyName: 'x' }] })).toContain(
      'devices.0 ("desk-1"): Unrecognized key: "friendlyName"',
    );
  });
});
