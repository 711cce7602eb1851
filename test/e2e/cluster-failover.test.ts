// Redis Cluster failover under load: kill -9 of one master in the middle of an ingest burst; its replica takes
// over (cluster-node-timeout 1 s) and every QoS 1 event is applied exactly once. The cluster is this file's own
// (3 masters, one replica each), so the kill disturbs no other test. Figures go to test-artifacts/faults.json.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { counter, inBatches, metricsOf, recordFigures } from '../support/fault-figures.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { adherence, eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';

let cluster: TestRedisCluster;
let h: Harness | undefined;

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);

afterAll(async () => {
  await h?.close().catch(() => undefined);
  await cluster?.stop();
});

describe('kill -9 of a Redis Cluster master during an ingest burst', () => {
  it('its replica takes over, and every event is applied once: none lost, no session doubled', async () => {
    const N = 120;
    h = await harness(
      'cluster-failover',
      { UNKNOT_TIME_SCALE: '1', UNKNOT_HA_DISCOVERY: 'false', REDIS_CLUSTER_NODES: cluster.nodesSpec },
      { redisUrl: inject('redisUrl'), mqttUrl: inject('mqttUrl') },
    );
    const hh = h;
    const svc = await hh.start({}, 'cluster-failover');
    const ids = Array.from({ length: N }, (_, i) => `f${i}`);
    await inBatches(ids, 8, async (u) => {
      await putUser(svc, u, {});
      await putDevice(svc, `${u}-desk`, { userId: u, role: 'desk', protocol: 'unknot' });
    });
    const base = hh.ns.baseTopic;
    await hh.mqtt.subscribe(`${base}/users/+/state`);
    const sitting = () =>
      new Set(
        hh.mqtt
          .messages(`${base}/users/+/state`)
          .filter((m) => (m.json as { posture?: string }).posture === 'sitting')
          .map((m) => m.topic.split('/')[2]!),
      );

    const mastersBefore = await cluster.masters();
    expect(mastersBefore).toHaveLength(3);
    const victim = mastersBefore[0]!;
    const burst = Promise.all(
      ids.map((u) =>
        hh.mqtt.publish(`${base}/devices/${u}-desk/event`, {
          type: 'posture',
          posture: 'sitting',
          id: `${u}-sit`,
          at: Date.now(),
        }),
      ),
    );
    await hh.mqtt.waitForCount(
      `${base}/users/+/state`,
      5,
      (m) => (m.json as { posture?: string }).posture === 'sitting',
      15_000,
    );
    const killedAt = Date.now();
    cluster.kill(victim);
    const appliedBeforeKill = sitting().size;
    expect(appliedBeforeKill).toBeLessThan(N); // the kill came in the middle of the burst
    await burst;

    await eventually(
      async () => ids.every((u) => sitting().has(u)) || undefined,
      45_000,
      `every user sitting (got ${sitting().size} of ${N})`,
    );
    const allAppliedMs = Date.now() - killedAt;
    const mastersAfter = await eventually(
      async () => {
        const m = await cluster.masters();
        return m.length === 3 && !m.includes(victim) ? m : undefined;
      },
      15_000,
      'a replica promoted in place of the killed master',
    );
    await sleep(1_000); // time for a doubled session to show

    const counts = new Map<string, number>();
    await inBatches(ids, 8, async (u) =>
      counts.set(u, (await adherence(svc, u)).filter((e) => e.type === 'sitting_started').length),
    );
    const metrics = await metricsOf(svc);
    const figures = {
      eventsSent: N,
      appliedBeforeKill,
      allAppliedSecondsAfterKill: Math.round(allAppliedMs / 100) / 10,
      eventsLost: [...counts.values()].filter((n) => n === 0).length,
      doubledSessions: [...counts.values()].filter((n) => n > 1).length,
      deliveries: counter(metrics, 'unknot_events_received_total'),
      duplicatesSeen: counter(metrics, 'unknot_events_stale_total', 'outcome="duplicate"'),
      promoted: mastersAfter.filter((p) => !mastersBefore.includes(p)).join(','),
    };
    await recordFigures('cluster-master-kill9-mid-burst', figures);
    expect(figures.eventsLost).toBe(0);
    expect(figures.doubledSessions).toBe(0);
    expect((await svc.fetchJson('/readyz')).status).toBe(200);
  }, 150_000);
});
