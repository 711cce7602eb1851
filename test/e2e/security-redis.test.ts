// Redis in production: start-up refuses a Redis that may evict unknot's keys, and warns about one that could
// start evicting or that keeps nothing on disk. Each case runs against a private redis-server with that setting.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { uniqueNamespace } from '../support/namespace.js';
import { startService } from '../support/service-process.js';
import { runExpectingExit } from '../support/service-process.js';
import { freePort, killOnExit, pingRedis } from '../support/services.js';
import { eventually } from '../support/unknot.js';

const started: Array<{ child: ChildProcess; dir: string }> = [];
afterEach(() => {
  for (const { child, dir } of started.splice(0)) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

async function redisWith(args: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'unknot-redis-policy-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...args], {
    stdio: 'ignore',
  });
  killOnExit(child);
  started.push({ child, dir });
  const url = `redis://127.0.0.1:${port}`;
  await eventually(
    async () =>
      pingRedis(url).then(
        () => true,
        () => false,
      ),
    10_000,
    'private redis',
  );
  return url;
}

const envFor = (redisUrl: string) => {
  const ns = uniqueNamespace('sec-redis');
  return {
    REDIS_URL: redisUrl,
    MQTT_URL: inject('mqttUrl'),
    UNKNOT_REDIS_PREFIX: ns.prefix,
    UNKNOT_BASE_TOPIC: ns.baseTopic,
    UNKNOT_HA_DISCOVERY: 'false',
  };
};

const warningsOf = (logs: Array<{ json?: Record<string, unknown> }>) =>
  logs.filter((e) => e.json?.level === 40).map((e) => String(e.json?.msg));

describe('Redis start-up checks', () => {
  it('refuses a Redis with a memory limit and an evicting policy: exit 1, one line', async () => {
    const url = await redisWith([
      '--maxmemory',
      '100mb',
      '--maxmemory-policy',
      'allkeys-lru',
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    const r = await runExpectingExit(envFor(url));
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^unknot: REDIS_URL: maxmemory-policy is allkeys-lru with maxmemory 104857600, .*needs? noeviction/,
    );
  });

  it('warns about an evicting policy without a limit, and about a Redis that keeps nothing on disk', async () => {
    const url = await redisWith(['--maxmemory-policy', 'volatile-lru', '--save', '', '--appendonly', 'no']);
    const svc = await startService({ env: envFor(url), label: 'redis-warn' });
    try {
      const warnings = warningsOf(svc.logs());
      expect(warnings).toContainEqual(
        expect.stringMatching(/maxmemory-policy is volatile-lru; nothing is evicted while maxmemory is 0/),
      );
      expect(warnings).toContainEqual(
        expect.stringMatching(/keeps nothing on disk.*--appendonly yes --appendfsync everysec/),
      );
      expect((await svc.fetchJson('/readyz')).status).toBe(200);
    } finally {
      await svc.stop();
    }
  });

  it('says nothing about a Redis set up as docker-compose.yml runs it (AOF everysec, noeviction)', async () => {
    const url = await redisWith([
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
    ]);
    const svc = await startService({ env: envFor(url), label: 'redis-ok' });
    try {
      expect(warningsOf(svc.logs()).filter((m) => /Redis|maxmemory/.test(m))).toEqual([]);
    } finally {
      await svc.stop();
    }
  });
});
