// `npx tsx bench/memory-probe.ts <redis-url> [N]`: Redis bytes per person of the bench's bulk layout (N people
// registered with Registry.putNewPeople and seated with the commit script, bench/bulk.ts), registry and session
// parts from used_memory, and MEMORY USAGE of one person's keys. Needs an empty Redis of its own (refuses another).
import { Redis } from 'ioredis';
import { registerBulk, seatBulk } from './bulk.js';
import { PROFILE } from './population.js';
import { sampleUserKeys } from './phases.js';

const url = process.argv[2]!;
const N = Number(process.argv[3] ?? 100_000);
const admin = new Redis(url);
const mem = async () => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
if ((await admin.dbsize()) > 0) throw new Error(`${url} is not empty: give the probe a Redis of its own`);
const m0 = await mem();
const prefix = 'bench-c8bf11af-n100000';
const r = await registerBulk(url, prefix, 'p', N, () => PROFILE);
const m1 = await mem();
const now = Date.now();
const s = await seatBulk(
  url,
  prefix,
  'p',
  N,
  (i) => now - 5 * 60_000 + (i % 60_000),
  () => PROFILE,
);
const m2 = await mem();
console.log(
  JSON.stringify({
    N,
    regMs: Math.round(r.ms),
    seatMs: Math.round(s.ms),
    registry: (m1 - m0) / N,
    session: (m2 - m1) / N,
    total: (m2 - m0) / N,
    keys: await admin.dbsize(),
  }),
);
console.log((await sampleUserKeys(admin, prefix, 'p', Math.floor(N / 2))).map(([k, v]) => `${k} ${v}`).join(', '));
admin.disconnect();
