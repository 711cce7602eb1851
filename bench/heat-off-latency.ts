// How late does a heat pad's OFF go out after its offAt? Starts the real service (and a private Redis and Mosquitto
// on free ports unless REDIS_URL / MQTT_URL are set), runs many short heat sessions at a fast time scale on several
// users at once, and measures on the wire: OFF received − offAt, and ON received − the request's startedAt.
//
//   npx tsx bench/heat-off-latency.ts [sessions=60] [users=12]
//   BENCH_TIME_SCALE=600 (default; 1–20 minutes of heat last 0.1–2 s), BENCH_LOG_LEVEL=info
//
// Everything it started is stopped at the end (and on Ctrl-C: the children are killed with the process).
import { randomBytes } from 'node:crypto';
import { connectClient, type ReceivedMessage } from '../test/support/mqtt-client.js';
import { cleanupRedisPrefix } from '../test/support/namespace.js';
import { startService, type ServiceHandle } from '../test/support/service-process.js';
import { startServices } from '../test/support/services.js';

const SESSIONS = Number(process.argv[2] ?? 60);
const USERS = Number(process.argv[3] ?? 12);
const TIME_SCALE = process.env.BENCH_TIME_SCALE ?? '600';

interface Session {
  userId: string;
  sessionId: string;
  startedAt: number;
  offAt: number;
  on?: ReceivedMessage;
  off?: ReceivedMessage;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function describe(name: string, values: number[]) {
  const s = [...values].sort((x, y) => x - y);
  const row = {
    what: name,
    n: s.length,
    min: s[0],
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s[s.length - 1],
    mean: Math.round((s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)) * 10) / 10,
  };
  return row;
}

async function main() {
  const id = `bench-heat-${randomBytes(4).toString('hex')}`;
  console.log(`heat OFF latency: ${SESSIONS} sessions over ${USERS} users, UNKNOT_TIME_SCALE=${TIME_SCALE}`);
  const services = await startServices();
  console.log(`servers: ${services.source}`);
  let svc: ServiceHandle | undefined;
  const mqtt = await connectClient(services.mqttUrl);
  try {
    svc = await startService({
      label: 'bench-heat',
      env: {
        REDIS_URL: services.redisUrl,
        MQTT_URL: services.mqttUrl,
        UNKNOT_REDIS_PREFIX: id,
        UNKNOT_BASE_TOPIC: id,
        Z2M_BASE_TOPIC: `${id}-z2m`,
        UNKNOT_HA_DISCOVERY: 'false',
        UNKNOT_TIME_SCALE: TIME_SCALE,
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      },
    });
    const api = svc;
    await mqtt.subscribe(`${id}/devices/+/command`);
    const users = Array.from({ length: USERS }, (_, i) => `u${i}`);
    for (const userId of users) {
      const u = await api.fetchJson(`/api/users/${userId}`, {
        method: 'PUT',
        json: { heatCooldownMinutes: 0, heat: { defaultMinutes: 10, maxMinutes: 20 } },
      });
      const d = await api.fetchJson(`/api/devices/${userId}-pad`, {
        method: 'PUT',
        json: { userId, role: 'heatpad', protocol: 'unknot' },
      });
      if (u.status !== 200 || d.status !== 200) throw new Error(`setup failed: ${JSON.stringify([u.body, d.body])}`);
    }

    const sessions = new Map<string, Session>();
    const byId = (m: ReceivedMessage) => sessions.get((m.json as { sessionId?: string })?.sessionId ?? '');

    // Each user runs sessions back to back (random 1–20 minutes, i.e. 0.1–2 s at 600×), starting at random moments,
    // so OFFs fall due scattered, sometimes many at once.
    let started = 0;
    const runUser = async (userId: string) => {
      await sleep(Math.random() * 1000);
      while (started < SESSIONS) {
        started += 1;
        const minutes = 1 + Math.floor(Math.random() * 20);
        const r = await api.fetchJson(`/api/users/${userId}/heat`, { method: 'POST', json: { minutes } });
        if (r.status !== 201) throw new Error(`POST heat ${userId}: ${r.status} ${JSON.stringify(r.body)}`);
        const b = r.body as { sessionId: string; startedAt: string; offAt: string };
        const s: Session = {
          userId,
          sessionId: b.sessionId,
          startedAt: Date.parse(b.startedAt),
          offAt: Date.parse(b.offAt),
        };
        sessions.set(s.sessionId, s);
        const off = await mqtt.waitFor(
          `${id}/devices/${userId}-pad/command`,
          (m) =>
            (m.json as { state?: string; sessionId?: string }).state === 'off' &&
            (m.json as { sessionId?: string }).sessionId === s.sessionId,
          30_000,
        );
        s.off = off;
        await sleep(Math.random() * 300);
      }
    };
    const t0 = Date.now();
    await Promise.all(users.map(runUser));
    await sleep(2500); // a sweep period: anything sent twice would show now
    for (const m of mqtt.messages(`${id}/devices/+/command`)) {
      const s = byId(m);
      if (s && (m.json as { state: string }).state === 'on') s.on ??= m;
    }
    const all = [...sessions.values()];
    const counts = mqtt.messages(`${id}/devices/+/command`).length;
    const offLate = all.map((s) => s.off!.receivedAt - s.offAt);
    const onLate = all.filter((s) => s.on).map((s) => s.on!.receivedAt - s.startedAt);
    const rows = [describe('OFF received − offAt (ms)', offLate), describe('ON received − startedAt (ms)', onLate)];
    console.log(
      `\n${all.length} sessions in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${counts} commands on the wire (expected ${all.length * 2})`,
    );
    console.table(rows);
    console.log(
      JSON.stringify({ sessions: all.length, commands: counts, timeScale: Number(TIME_SCALE), results: rows }),
    );
    if (counts !== all.length * 2) process.exitCode = 1;
  } finally {
    await svc?.stop();
    await mqtt.end();
    await cleanupRedisPrefix(services.redisUrl, id).catch(() => undefined);
    await services.stop();
  }
}

await main();
