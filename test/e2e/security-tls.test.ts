// Broker security for real deployments: unknot over mqtts:// with a CA file, a password and (optionally) a client
// certificate, against a private Mosquitto that allows no anonymous client. A broker that refuses unknot at
// start-up stops it with one clear line; a TLS file that cannot be read is a configuration error (exit 2).
// The service runs in-process; what each refusal says is checked on the MQTT gateway's start (the error main()
// prints), and one wrong password runs the real process for the exit code and the single stderr line.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { MqttGateway } from '../../src/mqtt/gateway.js';
import { Topics } from '../../src/mqtt/topics.js';
import { InfraError } from '../../src/errors.js';
import { startInProcess } from '../support/in-process.js';
import { cleanupRedisPrefix, uniqueNamespace } from '../support/namespace.js';
import { runExpectingExit } from '../support/service-process.js';
import { connectOnce, freePort, makePki, startMosquitto, type Broker, type Pki } from '../support/secure-broker.js';
import { adherence, eventually, putDevice, putUser } from '../support/unknot.js';

// A start-up that only exits can still take tens of seconds on a loaded machine (tsx compiles first): the wait is
// generous so that load never turns into a SIGKILL (exit code null); a fast machine does not wait longer.
const EXIT_WAIT_MS = 50_000;

const SERVICE_PASSWORD = 'service-secret-1';
let pki: Pki;
let broker: Broker;
let tlsUrl: string;
/** The listener that also demands a client certificate. */
let mtlsUrl: string;

beforeAll(async () => {
  pki = makePki();
  const [port, mtlsPort] = [await freePort(), await freePort()];
  tlsUrl = `mqtts://127.0.0.1:${port}`;
  mtlsUrl = `mqtts://127.0.0.1:${mtlsPort}`;
  broker = await startMosquitto(
    (dir) => {
      const passwd = join(dir, 'passwd');
      writeFileSync(passwd, '');
      execFileSync('mosquitto_passwd', ['-b', passwd, 'unknot', SERVICE_PASSWORD]);
      execFileSync('mosquitto_passwd', ['-b', passwd, 'desk', 'desk-secret-1']);
      const tls = [`cafile ${pki.caCert}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`];
      return [
        'allow_anonymous false',
        `password_file ${passwd}`,
        `listener ${port} 127.0.0.1`,
        ...tls,
        `listener ${mtlsPort} 127.0.0.1`,
        ...tls,
        'require_certificate true',
      ];
    },
    async () =>
      (
        await connectOnce(tlsUrl, { ca: readFileSync(pki.caCert), username: 'desk', password: 'desk-secret-1' })
      ).endAsync(),
  );
}, 60_000);

afterAll(async () => {
  await broker?.stop();
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

const baseEnv = (label: string) => {
  const ns = uniqueNamespace(label);
  return {
    ns,
    env: {
      REDIS_URL: inject('redisUrl'),
      MQTT_URL: tlsUrl,
      MQTT_CA_FILE: pki.caCert,
      MQTT_USERNAME: 'unknot',
      MQTT_PASSWORD: SERVICE_PASSWORD,
      UNKNOT_REDIS_PREFIX: ns.prefix,
      UNKNOT_BASE_TOPIC: ns.baseTopic,
      HA_DISCOVERY_PREFIX: `${ns.baseTopic}-ha`,
      UNKNOT_TIME_SCALE: '600',
      UNKNOT_API_RATE_LIMIT: '0',
      HTTP_PORT: '0',
      LOG_LEVEL: 'silent',
    } as Record<string, string | undefined>,
  };
};

/**
 * What start-up says when the broker refuses: the gateway's start() with the options main() builds from the
 * same env. main() prints exactly this message after "unknot: " and exits 1 (the whole-process case below).
 */
async function refusal(env: Record<string, string | undefined>): Promise<string> {
  const config = loadConfig(env);
  const gateway = new MqttGateway(
    {
      url: config.mqtt.url!,
      username: config.mqtt.username,
      password: config.mqtt.password,
      tls: config.mqtt.tls,
      clientIdPrefix: 'unknot-test',
      ingestClientId: 'unknot-test-ingest',
      maxInFlight: 64,
    },
    new Topics(config.topics),
    pino({ level: 'silent' }),
  );
  let caught: unknown;
  try {
    await gateway.start();
  } catch (err) {
    caught = err;
  } finally {
    await gateway.stop().catch(() => undefined);
  }
  expect(caught).toBeInstanceOf(InfraError);
  const message = (caught as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

/** The ConfigError loadConfig throws (main() prints "unknot: invalid configuration: <message>" and exits 2). */
function configError(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('loadConfig accepted the configuration');
}

/** Start-up refusals print one line on stderr, no stack trace. */
const oneLine = (stderr: string) => {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\bat .*\.[tj]s:\d+/);
  return lines[0]!;
};

describe('unknot over TLS with a password', () => {
  it('connects with mqtts://, MQTT_CA_FILE and credentials, and processes a device event sent over TLS', async () => {
    const { ns, env } = baseEnv('tls');
    const svc = await startInProcess(env, 'tls');
    try {
      expect(svc.ctx.config.mqtt.url).toBe(tlsUrl);
      expect(await svc.fetchJson('/readyz')).toMatchObject({ status: 200, body: { mqtt: 'up', redis: 'up' } });
      await putUser(svc, 'tia');
      await putDevice(svc, 'tia-desk', { userId: 'tia', role: 'desk', protocol: 'unknot' });
      const device = await connectOnce(tlsUrl, {
        ca: readFileSync(pki.caCert),
        username: 'desk',
        password: 'desk-secret-1',
      });
      await device.subscribeAsync(`${ns.baseTopic}/users/tia/state`, { qos: 1 });
      const state = new Promise<Record<string, unknown>>((resolve) => {
        device.on('message', (_t, p) => {
          const s = JSON.parse(p.toString()) as Record<string, unknown>;
          if (s.posture === 'sitting') resolve(s);
        });
      });
      await device.publishAsync(
        `${ns.baseTopic}/devices/tia-desk/event`,
        JSON.stringify({ type: 'posture', posture: 'sitting' }),
        { qos: 1 },
      );
      expect(await state).toMatchObject({ posture: 'sitting' });
      const entries = await eventually(
        async () => {
          const e = await adherence(svc, 'tia');
          return e.length > 0 ? e : undefined;
        },
        10_000,
        'sitting_started',
      );
      expect(entries.map((e) => e.type)).toEqual(['sitting_started']);
      await device.endAsync();
    } finally {
      await svc.stop();
      await cleanupRedisPrefix(inject('redisUrl'), ns.prefix);
    }
  });

  it('with a client certificate, connects to a listener that demands one', async () => {
    const { ns, env } = baseEnv('mtls');
    const svc = await startInProcess(
      { ...env, MQTT_URL: mtlsUrl, MQTT_CERT_FILE: pki.clientCert, MQTT_KEY_FILE: pki.clientKey },
      'mtls',
    );
    try {
      expect(await svc.fetchJson('/readyz')).toMatchObject({ status: 200, body: { mqtt: 'up' } });
    } finally {
      await svc.stop();
      await cleanupRedisPrefix(inject('redisUrl'), ns.prefix);
    }
    // Without it, the broker ends the handshake: unknot says it cannot connect and exits.
    const without = await refusal({ ...env, MQTT_URL: mtlsUrl });
    expect(without).toMatch(
      new RegExp(
        `^MQTT_URL: cannot connect to ${mtlsUrl.replace(/\./g, '\\.')}: .*set MQTT_CERT_FILE and MQTT_KEY_FILE$`,
      ),
    );
  });
});

describe('a broker that refuses unknot at start-up', () => {
  it('wrong password: exit 1 with one line naming MQTT_USERNAME and MQTT_PASSWORD', async () => {
    const { env } = baseEnv('tls-badpw');
    const r = await runExpectingExit({ ...env, MQTT_PASSWORD: 'not-the-password' }, EXIT_WAIT_MS);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(
      /^unknot: MQTT_URL: cannot connect to mqtts:\/\/127\.0\.0\.1:\d+: .*(Not authorized|Bad username or password).*check MQTT_USERNAME and MQTT_PASSWORD/,
    );
    expect(r.stderr).not.toContain('not-the-password');
  }, 120_000);

  it('no credentials at all: refused the same way (the broker allows no anonymous client)', async () => {
    const { env } = baseEnv('tls-anon');
    expect(await refusal({ ...env, MQTT_USERNAME: undefined, MQTT_PASSWORD: undefined })).toMatch(
      /cannot connect.*check MQTT_USERNAME and MQTT_PASSWORD/,
    );
  });

  it.each([
    ['no MQTT_CA_FILE (the system CAs do not know this one)', undefined],
    ['a CA that did not sign the broker', 'other'],
  ])('%s: exit 1, the certificate is not trusted, set MQTT_CA_FILE', async (_what, ca) => {
    const { env } = baseEnv('tls-noca');
    const r = await refusal({ ...env, MQTT_CA_FILE: ca === 'other' ? pki.otherCaCert : undefined });
    expect(r).toMatch(/cannot connect to mqtts:.*certificate.*not trusted: set MQTT_CA_FILE/);
  });

  it('a plain mqtt:// URL on the TLS port: exit 1 instead of hanging', async () => {
    const { env } = baseEnv('tls-plain');
    const r = await refusal({ ...env, MQTT_URL: tlsUrl.replace('mqtts:', 'mqtt:'), MQTT_CA_FILE: undefined });
    expect(r).toMatch(/^MQTT_URL: cannot connect to mqtt:\/\/127\.0\.0\.1:\d+/);
  });
});

describe('TLS files are configuration', () => {
  it.each([
    [
      { MQTT_CA_FILE: '/nonexistent/ca.pem' },
      /^unknot: invalid configuration: MQTT_CA_FILE: cannot read \/nonexistent\/ca\.pem: file not found$/,
    ],
    [
      { MQTT_CA_FILE: 'package.json' },
      /^unknot: invalid configuration: MQTT_CA_FILE: .*package\.json is not a PEM file/,
    ],
    [
      { MQTT_CERT_FILE: 'CLIENT_CERT' },
      /^unknot: invalid configuration: MQTT_KEY_FILE: a client certificate needs both/,
    ],
    [
      { MQTT_URL: 'mqtt://127.0.0.1:1883' },
      /^unknot: invalid configuration: MQTT_CA_FILE: set, but MQTT_URL is not a TLS URL/,
    ],
  ])('%o is a configuration error of one line', (extra, pattern) => {
    const { env } = baseEnv('tls-conf');
    const given = Object.fromEntries(
      Object.entries(extra).map(([k, v]) => [k, v === 'CLIENT_CERT' ? pki.clientCert : v]),
    );
    expect(`unknot: invalid configuration: ${configError({ ...env, ...given })}`).toMatch(pattern);
  });
});
