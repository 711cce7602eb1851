// `npx tsx bench/cold-probe.ts <redis-url> <N> <M> [cpu-prof-dir] [passes]`: service CPU per event for M people
// (a stride through N bulk-loaded ones) the service has never read (pass `cold`), then the same people again
// (`warm`, `warm2`). PROBE_IDLE=k first waits (up to k × 5 s) until the idle service uses < 0.2 s CPU per 5 s (its
// start-up passes over every person are over). Needs an empty Redis of its own (refuses another); starts a broker.
import { Redis } from 'ioredis';
import { registerBulk, seatBulk } from './bulk.js';
import { closeClient, connectClient } from './mqtt-load.js';
import { runLoad } from './load.js';
import { MixedStream, PROFILE_NO_NUDGE, postureEvent } from './population.js';
import { spawnUnknot } from './service.js';
import { startServices } from '../test/support/services.js';

const url = process.argv[2]!;
const N = Number(process.argv[3] ?? 20_000);
const M = Number(process.argv[4] ?? 5_000);
const prof = process.argv[5];
const admin = new Redis(url);
if ((await admin.dbsize()) > 0) throw new Error(`${url} is not empty: give the probe a Redis of its own`);
process.env.REDIS_URL = url;
const svcs = await startServices();
const prefix = 'probe';
await registerBulk(url, prefix, 'p', N, () => PROFILE_NO_NUDGE);
const now = Date.now();
await seatBulk(
  url,
  prefix,
  'p',
  N,
  () => now - 60_000,
  () => PROFILE_NO_NUDGE,
);
// As the bench's bulk load left it before it recorded the meta fields (a first start then re-indexed everyone).
if (process.env.PROBE_NO_META) await admin.del(`${prefix}:meta`);
const p = await spawnUnknot({
  label: 'probe',
  env: {
    REDIS_URL: url,
    MQTT_URL: svcs.mqttUrl,
    UNKNOT_REDIS_PREFIX: prefix,
    UNKNOT_BASE_TOPIC: prefix,
    UNKNOT_HA_DISCOVERY: 'false',
  },
  nodeArgs: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [],
});
const cpu = async () => (await p.scrape()).sum('process_cpu_seconds_total');
for (let k = 0; k < Number(process.env.PROBE_IDLE ?? 0); k++) {
  const c0 = await cpu();
  await new Promise((r) => setTimeout(r, 5000));
  const used = (await cpu()) - c0;
  console.log(`idle after start, 5 s: ${used.toFixed(2)} s CPU`);
  if (used < 0.2) break;
}
const client = await connectClient(svcs.mqttUrl, 'probe');
const stride = N / M;
const stream = new MixedStream('p', M, (k) => Math.floor(k * stride), true);
const pass = async (label: string) => {
  const t = Date.now();
  const r = await runLoad({
    label,
    client,
    services: [p],
    count: M,
    next: () => {
      const e = stream.take(Date.now());
      return { topic: `${prefix}/devices/${e.device}/event`, payload: postureEvent(e.posture, e.at) };
    },
    maxBacklog: 1000,
    publishDeadline: t + 120_000,
    drainDeadline: t + 120_000,
  });
  console.log(
    `${label}: ${r.committed} committed, ${((r.cpuSeconds * 1000) / r.committed).toFixed(3)} ms CPU/event, GC ${((r.gcSeconds * 1000) / r.committed).toFixed(3)} ms/event${r.incomplete ? ` (${r.incomplete})` : ''}`,
  );
};
const passes = (process.argv[6] ?? 'cold,warm,warm2').split(',');
for (const label of passes) await pass(label);
await closeClient(client);
await p.stop();
await svcs.stop();
admin.disconnect();
