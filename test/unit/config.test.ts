import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envSchema, loadConfig } from '../../src/config.js';
import { TABLE_END, TABLE_START } from '../../scripts/gen-config-docs.js';
import { REPO_ROOT } from '../support/service-process.js';

const page = readFileSync(join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
const table = page.slice(page.indexOf(TABLE_START), page.indexOf(TABLE_END));
/** `| \`A\` | default | meaning |` rows of the environment table in docs/configuration.md. */
const rows = table
  .split('\n')
  .filter((l) => l.startsWith('| `'))
  .map((l) => {
    const [names = '', dflt = ''] = l.split('|').slice(1, 3);
    return { names: [...names.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]!), dflt: dflt.trim() };
  });

describe('docs/configuration.md environment table', () => {
  it('documents every variable the schema reads, and nothing else', () => {
    const documented = rows.flatMap((r) => r.names).sort();
    expect(documented).toEqual(Object.keys(envSchema.shape).sort());
  });

  it('gives the schema defaults', () => {
    const defaults = envSchema.parse({}) as Record<string, unknown>;
    for (const { names, dflt } of rows) {
      for (const name of names) {
        const d = defaults[name];
        if (d === undefined) expect(dflt, name).toMatch(/^unset/);
        else {
          const shown = Array.isArray(d) ? d.join(',') : typeof d === 'string' ? d : JSON.stringify(d);
          expect(dflt, name).toContain(`\`${shown}\``);
        }
      }
    }
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unknot-config-'));
  const file = (name: string, body: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
    return p;
  };

  it('fills every default from an empty environment', () => {
    const c = loadConfig({}, REPO_ROOT);
    expect(c).toMatchObject({
      mqtt: { url: undefined, embeddedPort: 1883 },
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'unknot', partitions: 64 },
      http: { host: '127.0.0.1', port: 8080 },
      topics: { base: 'unknot', z2m: 'zigbee2mqtt', haPrefix: 'homeassistant' },
      haDiscovery: true,
      timeScale: 1,
      logLevel: 'info',
    });
    expect([...c.roles]).toEqual(['api', 'ingest', 'worker']);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads REDIS_CLUSTER_NODES as the seed nodes of a Redis Cluster', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,redis-b:7001' }, REPO_ROOT);
    expect(c.redis.clusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b', port: 7001 },
    ]);
    expect(loadConfig({}, REPO_ROOT).redis.clusterNodes).toBeUndefined();
  });

  it.each([
    [{ HTTP_PORT: '70000' }, /^HTTP_PORT: .*0 to 65535.*"70000"/],
    [{ UNKNOT_TIME_SCALE: '-5' }, /^UNKNOT_TIME_SCALE:/],
    [{ MQTT_URL: 'http://broker' }, /^MQTT_URL:/],
    [{ UNKNOT_HA_DISCOVERY: 'maybe' }, /^UNKNOT_HA_DISCOVERY:/],
    [{ UNKNOT_REDIS_PREFIX: 'has space' }, /^UNKNOT_REDIS_PREFIX:/],
    [{ UNKNOT_API_TOKEN: 'short' }, /^UNKNOT_API_TOKEN: at least 16/],
    [{ HTTP_HOST: '192.168.1.5' }, /^HTTP_HOST: .*UNKNOT_API_TOKEN/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL:/],
    [{ REDIS_CLUSTER_NODES: 'redis://a:7000' }, /^REDIS_CLUSTER_NODES: host:port/],
    [{ REDIS_CLUSTER_NODES: 'a:7000,' }, /^REDIS_CLUSTER_NODES:/],
    [{ REDIS_CLUSTER_NODES: 'a:7000', UNKNOT_REDIS_PREFIX: '{unknot}' }, /^UNKNOT_REDIS_PREFIX: .*one shard/],
  ])('refuses %o with one line naming the variable', (env, pattern) => {
    expect(() => loadConfig(env, REPO_ROOT)).toThrow(ConfigError);
    try {
      loadConfig(env, REPO_ROOT);
    } catch (err) {
      expect((err as Error).message).toMatch(pattern);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('allows a public listener with a token, and empty variables mean unset', () => {
    const c = loadConfig({ HTTP_HOST: '0.0.0.0', UNKNOT_API_TOKEN: 'a-long-enough-token', MQTT_URL: '' }, REPO_ROOT);
    expect(c.http).toMatchObject({ host: '0.0.0.0', token: 'a-long-enough-token' });
    expect(c.mqtt.url).toBeUndefined();
  });

  it('reads defaults, users and devices from the config file, over the built-in defaults', () => {
    const p = file('ok.json', {
      defaults: { timezone: 'Europe/Berlin', breakAfterMinutes: 40 },
      users: [{ userId: 'alice', maxNudges: 2 }],
      devices: [
        { deviceId: 'alice-desk', userId: 'alice', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/fp1' },
      ],
    });
    const c = loadConfig({ UNKNOT_CONFIG: p }, REPO_ROOT);
    expect(c.file.users[0]).toMatchObject({
      userId: 'alice',
      timezone: 'Europe/Berlin',
      breakAfterMinutes: 40,
      maxNudges: 2,
      minBreakSeconds: 120,
    });
    expect(c.file.devices).toHaveLength(1);
  });

  it.each([
    ['not json', '{', /UNKNOT_CONFIG: cannot read/],
    ['bad user id', { users: [{ userId: 'a b' }] }, /users\.0.*userId/],
    [
      'bad profile value',
      { users: [{ userId: 'bob', breakAfterMinutes: 500 }] },
      /users\.0 \("bob"\)\.breakAfterMinutes/,
    ],
    [
      'device of an unknown user',
      { users: [], devices: [{ deviceId: 'd', userId: 'zoe', role: 'desk', protocol: 'unknot' }] },
      /devices\.0 \("d"\).*not declared/,
    ],
    [
      'device without a topic',
      { users: [{ userId: 'zoe' }], devices: [{ deviceId: 'd', userId: 'zoe', role: 'desk', protocol: 'tasmota' }] },
      /needs a "topic"/,
    ],
  ])('refuses a config file with %s', (name, body, pattern) => {
    const p = file(`${name.replace(/\W/g, '-')}.json`, body);
    expect(() => loadConfig({ UNKNOT_CONFIG: p }, REPO_ROOT)).toThrow(pattern);
  });
});

describe('the methods log settings (docs/concepts/methods.md)', () => {
  it('default to the rules’ own defaults, and a bad value stops start-up naming the variable', async () => {
    const { DEFAULT_METHOD_POLICY } = await import('../../src/domain/methods.js');
    const { DEFAULT_HEAT_BLOCKING_SYMPTOMS } = await import('../../src/domain/advice.js');
    const c = loadConfig({}, REPO_ROOT);
    const { helpedWithinHours, heatBlockingSymptoms, ...policy } = c.methods;
    expect(policy).toEqual(DEFAULT_METHOD_POLICY);
    expect(helpedWithinHours).toBe(3);
    expect(heatBlockingSymptoms).toEqual(DEFAULT_HEAT_BLOCKING_SYMPTOMS);
    const tuned = loadConfig(
      { UNKNOT_NO_IMPROVEMENT_WEEKS: '2', UNKNOT_HEAT_BLOCKING_SYMPTOMS: 'Numbness, pins and needles' },
      REPO_ROOT,
    );
    expect(tuned.methods.noImprovementWeeks).toBe(2);
    expect(tuned.methods.heatBlockingSymptoms).toEqual(['numbness', 'pins_and_needles']);
    expect(() => loadConfig({ UNKNOT_NO_IMPROVEMENT_WEEKS: '5' }, REPO_ROOT)).toThrow(
      /UNKNOT_NO_IMPROVEMENT_WEEKS: a whole number from 1 to 4/,
    );
    expect(() => loadConfig({ UNKNOT_METHODS_BIG_DROP: 'lots' }, REPO_ROOT)).toThrow(ConfigError);
  });
});
