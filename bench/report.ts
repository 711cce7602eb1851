// The report: a readable table on stdout, then one JSON line with the headline figures.
import type { MqttBaseline, RedisBaseline } from './baseline.js';
import type { IngestResult, LatencyResult, PopulationResult, Quantiles, ScaleOutRun } from './phases.js';
import { BUCKET_MS } from '../src/queues/ticks.js';

export interface Results {
  quick: boolean;
  /** Hash of src/ and workers/ when the run started. */
  code?: string;
  header: string[];
  raw?: MqttBaseline;
  /** The same bare subscriber writing each message to Redis once (a ceiling for a service that keeps events). */
  rawWithRedis?: MqttBaseline;
  redis?: RedisBaseline;
  ingest?: IngestResult;
  latency?: LatencyResult;
  populations: PopulationResult[];
  millionSkipped?: string;
  scaleOut: { one?: ScaleOutRun; two?: ScaleOutRun };
  notes: string[];
  /** --cluster: the share of people per shard of a 3-master Redis Cluster. */
  cluster?: import('./cluster.js').ClusterShare;
  seconds: number;
}

const int = (n: number | null | undefined) =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : Math.round(n).toLocaleString('en-US');
const dec = (n: number | null | undefined, d = 2) =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(d);
const msq = (q: Quantiles | null | undefined) =>
  q && q.p50Ms !== null ? `${dec(q.p50Ms, 1)} / ${q.overflow ? '>' : ''}${dec(q.p99Ms, 1)} ms` : '—';
const mean = (q: Quantiles | null | undefined) => (q && q.meanMs !== null ? `mean ${dec(q.meanMs, 1)} ms` : '');
const usersLabel = (n: number) =>
  n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${Math.round(n / 1000)}k` : String(n);

type Verdict = 'met' | 'MISSED' | '';
const verdict = (ok: boolean | null): Verdict => (ok === null ? '' : ok ? 'met' : 'MISSED');

const TARGET = { ratio: 0.6, commitP99Ms: 20, latenessP99Ms: 250, bytesPerUser: 2048, costGrowth: 0.2, rate: 5000 };

export interface Headline {
  ingestRatio: number | null;
  ingestPerSec: number | null;
  rawQos1PerSec: number | null;
  redisRoundTripsPerSec: number | null;
  commitP50Ms: number | null;
  commitP99Ms: number | null;
  e2eP50Ms: number | null;
  e2eP99Ms: number | null;
  nudgeLatenessP50Ms: number | null;
  nudgeLatenessP99Ms: number | null;
  nudgeLatenessMaxMs: number | null;
  bytesPerUser: number | null;
  users: number | null;
  cpuMsPerEventAt10k: number | null;
  cpuMsPerEventAt100k: number | null;
  ingestPerSecTwoInstances: number | null;
  [more: string]: unknown;
}

const round = (n: number | null | undefined, d = 3) =>
  n === null || n === undefined || !Number.isFinite(n) ? null : Number(n.toFixed(d));

export function headline(r: Results): Headline {
  const at = (n: number) => r.populations.find((p) => p.users === n);
  // The biggest population whose every user had a nudge due (the 1M one has 100k of them: its own figure).
  const nudged = [...r.populations]
    .filter((p) => p.spreadSeconds > 0 && p.nudgeUsers === p.users)
    .sort((a, b) => b.users - a.users)[0];
  const million = at(1_000_000);
  const c1m = million?.cpuMsPerEvent;
  const biggest = [...r.populations].sort((a, b) => b.users - a.users)[0];
  const c10 = at(10_000)?.cpuMsPerEvent;
  const c100 = at(100_000)?.cpuMsPerEvent;
  const ratio = r.ingest && r.raw ? r.ingest.perSec / r.raw.perSec : null;
  return {
    ingestRatio: round(ratio),
    ingestPerSec: round(r.ingest?.perSec, 0),
    rawQos1PerSec: round(r.raw?.perSec, 0),
    rawQos1WithRedisWritePerSec: round(r.rawWithRedis?.perSec, 0),
    rawWithRedisWriteRatio: round(r.rawWithRedis && r.raw ? r.rawWithRedis.perSec / r.raw.perSec : null),
    redisRoundTripsPerSec: round(r.redis?.pingPerSec, 0),
    commitP50Ms: round(r.latency?.commit.p50Ms),
    commitP99Ms: round(r.latency?.commit.p99Ms),
    commitMeanMs: round(r.latency?.commit.meanMs),
    commitWithin20MsShare: round(r.latency?.commit.withinTarget, 4),
    e2eP50Ms: round(r.latency?.e2e?.p50),
    e2eP99Ms: round(r.latency?.e2e?.p99),
    nudgeLatenessP50Ms: round(nudged?.lateness?.p50, 1),
    nudgeLatenessP99Ms: round(nudged?.lateness?.p99, 1),
    nudgeLatenessMaxMs: round(nudged?.lateness?.max, 1),
    bytesPerUser: round(biggest?.bytesPerUser, 0),
    users: biggest?.users ?? null,
    cpuMsPerEventAt10k: round(c10),
    cpuMsPerEventAt100k: round(c100),
    ingestPerSecTwoInstances: round(r.scaleOut.two?.perSec, 0),
    ingestPerSecOneInstanceShared: round(r.scaleOut.one?.perSec, 0),
    cpuMsPerEventAt1M: round(c1m),
    perEventCostGrowth10kTo1M: c10 && c1m ? round(c1m / c10 - 1) : null,
    nudgeLatenessP50MsAt1M: round(million?.spreadSeconds ? million.lateness?.p50 : null, 1),
    nudgeLatenessP99MsAt1M: round(million?.spreadSeconds ? million.lateness?.p99 : null, 1),
    nudgeUsersAt1M: million?.nudgeUsers ?? null,
    setupSecondsAt1M: round(
      million ? million.users / million.registerPerSec + million.users / million.seedPerSec : null,
      0,
    ),
    tickJobs: nudged?.ticks?.sweeps ?? null,
    tickAdds: nudged?.ticks?.adds ?? null,
    tickAddsPerSeedEvent: round(nudged?.seedTickAddsPerUser, 4),
    tickJobsAt1M: million?.ticks?.sweeps ?? null,
    gcMsPerEventAt10k: round(at(10_000)?.gcMsPerEvent),
    gcMsPerEventAt100k: round(at(100_000)?.gcMsPerEvent),
    repeatCpuMsPerEventAt10k: round(at(10_000)?.repeatCpuMsPerEvent),
    repeatCpuMsPerEventAt100k: round(at(100_000)?.repeatCpuMsPerEvent),
    repeatCpuMsPerEventAt1M: round(million?.repeatCpuMsPerEvent),
    perEventCostGrowth10kTo100k: c10 && c100 ? round(c100 / c10 - 1) : null,
    simulatedUsers: r.ingest?.users ?? null,
    latencyRateAchieved: round(r.latency?.achievedRate, 0),
    commitP99Overflow: r.latency?.commit.overflow ?? null,
    nudgeUsers: nudged?.users ?? null,
    nudgesMissing: nudged?.latenessMissing ?? null,
    redisPipelinedOpsPerSec: round(r.redis?.pipelinedPerSec, 0),
    serviceCpuMsPerEvent: round(r.ingest?.cpuMsPerEvent),
    redisCpuMsPerEvent: round(r.ingest?.redisCpuMsPerEvent),
    peoplePerShardMax: r.cluster?.maxShare ?? null,
    peoplePerShard: r.cluster?.peoplePerShard ?? null,
    quick: r.quick,
    code: r.code ?? null,
    complete: r.notes.length === 0,
    seconds: round(r.seconds, 1),
  };
}

export function renderTable(r: Results): string {
  const rows: Array<[string, string, string, Verdict]> = [];
  const row = (what: string, value: string, target = '', v: Verdict = '') => rows.push([what, value, target, v]);
  const h = headline(r);

  if (r.raw)
    row('(a) raw MQTT QoS 1 publish → subscribe (received)', `${int(r.raw.perSec)} /s`, `window ${r.raw.window}`);
  if (r.rawWithRedis) {
    const ratio = r.raw ? ` (${dec(r.rawWithRedis.perSec / r.raw.perSec, 3)} of raw)` : '';
    row(
      '(a) the same subscriber + one Redis SET per message',
      `${int(r.rawWithRedis.perSec)} /s`,
      `a ceiling for keeping events${ratio}`,
    );
  }
  if (r.redis) {
    row('(a) Redis sequential round trips (PING)', `${int(r.redis.pingPerSec)} /s`);
    row('(a) Redis sequential GET', `${int(r.redis.getPerSec)} /s`);
    row('(a) Redis auto-pipelined GET (1000 in flight)', `${int(r.redis.pipelinedPerSec)} /s`);
  }
  if (r.ingest) {
    const i = r.ingest;
    row(
      `(b) unknot ingest, ${int(i.users)} users, ~half state changes`,
      `${int(i.perSec)} /s`,
      `${int(i.events)} events`,
    );
    row(
      '(b) ingest ratio (unknot ÷ raw QoS 1)',
      dec(h.ingestRatio, 3),
      `≥ ${TARGET.ratio}`,
      verdict(h.ingestRatio === null ? null : h.ingestRatio >= TARGET.ratio),
    );
    row('(b) first event per user (new session + nudge job)', `${int(i.warmupPerSec)} /s`);
    row('(b) service CPU per event (user + system)', `${dec(i.cpuMsPerEvent, 3)} ms`);
    row('(b) Redis CPU per event', `${dec(i.redisCpuMsPerEvent, 3)} ms`);
    row('(b) event → commit p50 / p99 (bucketed)', msq(i.commit), `${mean(i.commit)}, under full load`);
  }
  if (r.latency) {
    const l = r.latency;
    row(
      `(c) paced publishing, target ${int(l.targetRate)} /s`,
      `${int(l.achievedRate)} /s`,
      `${int(l.sent)} events, ${dec(l.seconds, 1)} s`,
    );
    const ok =
      l.commit.p99Ms === null ? null : l.commit.p99Ms < TARGET.commitP99Ms && !l.commit.overflow && !l.abandoned;
    row(
      '(c) event → commit p50 / p99 (histogram, bucketed)',
      msq(l.commit),
      `p99 < ${TARGET.commitP99Ms} ms; ${mean(l.commit)}`,
      verdict(ok),
    );
    if (l.commit.withinTarget !== null)
      row(
        `(c) events committed within ${TARGET.commitP99Ms} ms (exact: a bucket bound)`,
        `${dec(l.commit.withinTarget * 100, 1)} %`,
        '≥ 99 %',
      );
    row(
      '(c) publish → retained state p50 / p99 (exact)',
      l.e2e ? `${dec(l.e2e.p50, 1)} / ${dec(l.e2e.p99, 1)} ms` : '—',
      `${int(l.e2e?.count ?? 0)} changes${l.e2eMissing ? `, ${int(l.e2eMissing)} missing` : ''}`,
    );
  }
  for (const p of r.populations) {
    const n = usersLabel(p.users);
    if (p.spreadSeconds > 0) {
      const ok = p.lateness ? p.lateness.p99 < TARGET.latenessP99Ms && p.latenessMissing === 0 : null;
      const judged = p.nudgeUsers === 100_000;
      const pending = p.nudgeUsers === p.users ? n : `${usersLabel(p.nudgeUsers)} of ${n} seated`;
      row(
        `(d) nudge lateness p50 / p99 / max, ${pending} pending over ${p.spreadSeconds} s`,
        p.lateness ? `${dec(p.lateness.p50, 1)} / ${dec(p.lateness.p99, 1)} / ${dec(p.lateness.max, 1)} ms` : '—',
        `p99 < ${TARGET.latenessP99Ms} ms${judged ? '' : ' (at 100k)'}`,
        judged ? verdict(ok) : '',
      );
      if (p.ticks)
        row(
          `(d) tick jobs run / tick adds while the nudges went out, ${n}`,
          `${int(p.ticks.sweeps)} / ${int(p.ticks.adds)}`,
          `one per ${BUCKET_MS} ms bucket with someone due, at most ${int((p.spreadSeconds * 1000) / BUCKET_MS)}`,
        );
      if (p.latenessMissing > 0) row(`(d) nudges missing, ${n}`, int(p.latenessMissing));
      row(
        `(d) service's own lateness histogram p50 / p99, ${n}`,
        msq(p.serviceLateness),
        `bucketed${p.serviceLateness?.withinTarget != null ? `; ${dec(p.serviceLateness.withinTarget * 100, 1)} % within ${TARGET.latenessP99Ms} ms` : ''}`,
      );
      if (p.nudgeCost) {
        row(
          `(d) service / Redis CPU per nudge sent, ${n}`,
          `${dec(p.nudgeCost.workerCpuMs, 3)} / ${dec(p.nudgeCost.redisCpuMs, 3)} ms`,
          `${int(p.nudgeUsers / p.spreadSeconds)} nudges/s due`,
        );
      }
    }
    row(
      `(e) Redis per active user, ${n} (registry + session/job)`,
      `${int(p.bytesPerUser)} B`,
      `< ${TARGET.bytesPerUser} B (${int(p.registryBytesPerUser)} + ${int(p.sessionBytesPerUser)})`,
      verdict(Number.isFinite(p.bytesPerUser) ? p.bytesPerUser < TARGET.bytesPerUser : null),
    );
    if (p.pendingNudgeJobs !== null)
      row(
        `(e) delayed tick jobs after seating ${n} users`,
        int(p.pendingNudgeJobs),
        `one per ${BUCKET_MS} ms bucket with someone due (or less); no job per user`,
      );
    row(
      p.seededInBulk ? `(f) seated in bulk straight into Redis, ${n}` : `(f) first sitting event per user, ${n}`,
      `${int(p.seedPerSec)} /s`,
      p.seededInBulk
        ? `registered at ${int(p.registerPerSec)} /s`
        : `${dec(p.seedCpuMsPerEvent, 3)} ms CPU/event; ${dec(p.seedTickAddsPerUser, 4)} tick adds/event`,
    );
    if (p.costEvents > 0 && Number.isFinite(p.cpuMsPerEvent)) {
      row(
        `(f) per-event cost, ${n} existing users`,
        `${dec(p.cpuMsPerEvent, 3)} ms CPU`,
        `${int(p.costPerSec)} /s, ${int(p.costEvents)} events, GC ${dec(p.gcMsPerEvent, 3)} ms/event`,
      );
      if (Number.isFinite(p.repeatCpuMsPerEvent))
        row(
          `(f) the same users again right after, ${n}`,
          `${dec(p.repeatCpuMsPerEvent, 3)} ms CPU`,
          'their look-ups now answered by the caches, at every population size',
        );
    }
  }
  if (h.perEventCostGrowth10kTo100k !== null) {
    const g = h.perEventCostGrowth10kTo100k as number;
    row(
      '(f) per-event CPU growth 10k → 100k users',
      `${g >= 0 ? '+' : ''}${dec(g * 100, 1)} %`,
      `within ±${TARGET.costGrowth * 100} %`,
      verdict(Math.abs(g) <= TARGET.costGrowth),
    );
  }
  if (h.perEventCostGrowth10kTo1M !== null) {
    const g = h.perEventCostGrowth10kTo1M as number;
    row(
      '(f) per-event CPU growth 10k → 1M users',
      `${g >= 0 ? '+' : ''}${dec(g * 100, 1)} %`,
      `within ±${TARGET.costGrowth * 100} %`,
      verdict(Math.abs(g) <= TARGET.costGrowth),
    );
  }
  if (r.millionSkipped) row('(f) 1M users', 'skipped', r.millionSkipped.slice(0, 60));
  if (r.scaleOut.one) {
    const o = r.scaleOut.one;
    row(
      '(g) one ingest instance (shared group, MQTT 5)',
      `${int(o.perSec)} /s`,
      `${dec(o.cpuMsPerEvent, 3)} ms CPU/event`,
    );
  }
  if (r.scaleOut.two) {
    const t = r.scaleOut.two;
    const gain = r.scaleOut.one ? ` (×${dec(t.perSec / r.scaleOut.one.perSec, 2)})` : '';
    row('(g) two ingest instances', `${int(t.perSec)} /s${gain}`, `split ${t.split.map(int).join(' / ')}`);
  }

  const w0 = Math.max(...rows.map((x) => x[0].length), 10);
  const w1 = Math.max(...rows.map((x) => x[1].length), 5);
  const w2 = Math.max(...rows.map((x) => x[2].length), 6);
  const line = (a: string, b: string, c: string, d: string) =>
    `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c.padEnd(w2)}  ${d}`.trimEnd();
  const out: string[] = [...r.header, ''];
  out.push(line('figure', 'value', 'target / detail', ''), '-'.repeat(w0 + w1 + w2 + 14));
  for (const [a, b, c, d] of rows) out.push(line(a, b, c, d));

  if (r.ingest && r.ingest.commandsPerEvent.length > 0) {
    out.push(
      '',
      `Redis commands per ingested event in (b), most frequent first (commands inside Lua scripts count too):`,
    );
    out.push(
      `  ${r.ingest.commandsPerEvent
        .slice(0, 12)
        .map(([c, n]) => `${c} ${dec(n, 2)}`)
        .join(', ')}`,
    );
  }
  const nudged = [...r.populations].reverse().find((p) => p.nudgeCost && p.nudgeCost.commands.length > 0);
  if (nudged?.nudgeCost) {
    out.push('', `Redis commands per nudge sent in (d), ${usersLabel(nudged.users)} users:`);
    out.push(
      `  ${nudged.nudgeCost.commands
        .slice(0, 12)
        .map(([c, n]) => `${c} ${dec(n, 2)}`)
        .join(', ')}`,
    );
  }
  const sample = [...r.populations].reverse().find((p) => p.keySample.length > 0);
  if (sample) {
    out.push('', `Redis MEMORY USAGE of one seated user's keys (${usersLabel(sample.users)} population):`);
    out.push(`  ${sample.keySample.map(([k, n]) => `${k} ${int(n)} B`).join(', ')}`);
  }
  out.push('', 'Percentiles marked "bucketed" are interpolated inside the service\'s Prometheus histogram buckets');
  out.push(
    '(0.5, 1, 2, 5, 10, 20, 50, 100, 250 ms, …): only as fine as the bucket they fall in. The others are exact.',
  );
  if (r.notes.length > 0) {
    out.push('', 'Notes (limits hit, phases skipped or cut short):');
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  out.push('', `Finished in ${dec(r.seconds, 1)} s.`);
  return out.join('\n');
}
