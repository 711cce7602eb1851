// The measuring phases (b)–(g) of the benchmark. Each one is bounded in count and time, reads the service's
// progress from its own /metrics, and returns what it measured; a limit that cut it short is said in `incomplete`.
import type { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { registerBulk } from './bulk.js';
import { runLoad, type LoadEvent, type LoadResult } from './load.js';
import { closeClient, connectClient, sleep } from './mqtt-load.js';
import type { Profile } from '../src/domain/profile.js';
import { Keys } from '../src/store/keys.js';
import {
  BREAK_AFTER_MINUTES,
  deviceId,
  MixedStream,
  PROFILE,
  postureEvent,
  userId,
  type StreamEvent,
} from './population.js';
import {
  fractionAtOrBelow,
  histogramDelta,
  histogramQuantile,
  mergeHistograms,
  type HistogramDelta,
  type Scrape,
} from './prom.js';
import type { Progress } from './progress.js';
import { progressOf, type UnknotProcess } from './service.js';
import { summarize, type Summary } from './stats.js';

/** Time kept back from every phase for stopping processes and cleaning up. */
export const CLEANUP_RESERVE_MS = 3_000;

export interface Bench {
  quick: boolean;
  redisUrl: string;
  mqttUrl: string;
  /** The benchmark's own Redis connection (INFO, commandstats). */
  admin: Redis;
  /** The load generator's MQTT connection. */
  client: MqttClient;
  progress: Progress;
  /** Epoch ms by which the whole run must be over. */
  deadline: number;
  note(line: string): void;
}

/** A running unknot deployment: the processes that ingest and the one whose workers send nudges. */
export interface Target {
  label: string;
  prefix: string;
  base: string;
  ingest: UnknotProcess[];
  worker: UnknotProcess;
}

export const timeLeft = (b: Bench) => b.deadline - Date.now() - CLEANUP_RESERVE_MS;

export class OutOfTime extends Error {}

/** Targets that are also bucket bounds of the service's histograms (src/metrics.ts). */
const COMMIT_TARGET_S = 0.02;
const LATENESS_TARGET_S = 0.25;

/** The first nudge falls due this long after the seeding starts: its expected duration × factor + ms. */
export const SEED_LEAD_FACTOR = 1.25;
export const SEED_LEAD_MS = 1500;

/** Fails the phase early, saying so, when fewer than `needMs` are left of the run's time budget. */
export function ensureTime(b: Bench, what: string, needMs: number): void {
  const left = timeLeft(b);
  if (left < needMs) {
    throw new OutOfTime(
      `${what}: skipped, it needs about ${Math.ceil(needMs / 1000)} s and ${Math.max(0, Math.floor(left / 1000))} s of the time budget are left`,
    );
  }
}

const eventTopic = (base: string, device: string) => `${base}/devices/${device}/event`;
const asLoad = (base: string, e: StreamEvent): LoadEvent => ({
  topic: eventTopic(base, e.device),
  payload: postureEvent(e.posture, e.at),
});

const ms = (seconds: number) => seconds * 1000;
const perSec = (n: number, r: LoadResult) => n / Math.max(1e-3, (r.tDone - r.tFirst) / 1000);

export interface Quantiles {
  p50Ms: number | null;
  p99Ms: number | null;
  /** Exact (the histogram's _sum / _count). */
  meanMs: number | null;
  /** Share at or below the target (exact when the target is a bucket bound, as 20 ms and 250 ms are). */
  withinTarget: number | null;
  /** The p99 fell in the histogram's +Inf bucket: the value is a lower bound. */
  overflow: boolean;
  count: number;
}

export function bucketed(h: HistogramDelta, targetSeconds?: number): Quantiles {
  const p50 = histogramQuantile(h, 0.5);
  const p99 = histogramQuantile(h, 0.99);
  return {
    p50Ms: p50 ? p50.value * 1000 : null,
    p99Ms: p99 ? p99.value * 1000 : null,
    meanMs: h.count > 0 ? (h.sum / h.count) * 1000 : null,
    withinTarget: targetSeconds === undefined ? null : fractionAtOrBelow(h, targetSeconds),
    overflow: !!p99?.overflow,
    count: h.count,
  };
}

const commitHistogram = (r: LoadResult): HistogramDelta =>
  mergeHistograms(r.after.map((a, i) => histogramDelta(r.before[i], a, 'unknot_event_to_commit_seconds')));

// ------------------------------------------------------------------------------------------ Redis counters

export interface RedisCounters {
  calls: Map<string, number>;
  cpuSeconds: number;
  usedMemory: number;
}

export async function redisCounters(redis: Redis): Promise<RedisCounters> {
  const [stats, cpu, memory] = await Promise.all([redis.info('commandstats'), redis.info('cpu'), redis.info('memory')]);
  const calls = new Map<string, number>();
  for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(m[1]!, Number(m[2]));
  const num = (text: string, key: string) => Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    calls,
    cpuSeconds: num(cpu, 'used_cpu_user') + num(cpu, 'used_cpu_sys'),
    usedMemory: num(memory, 'used_memory'),
  };
}

/** Redis commands per event between two readings, the most frequent first (commands run inside Lua count too). */
export function commandsPerEvent(before: RedisCounters, after: RedisCounters, events: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [cmd, n] of after.calls) {
    const d = n - (before.calls.get(cmd) ?? 0);
    if (d > 0) out.push([cmd, d / events]);
  }
  return out.sort((a, b) => b[1] - a[1]);
}

// ------------------------------------------------------------------------------------------ (b) ingest

export interface IngestResult {
  users: number;
  warmupPerSec: number;
  events: number;
  perSec: number;
  seconds: number;
  cpuMsPerEvent: number;
  redisCpuMsPerEvent: number;
  commit: Quantiles;
  commandsPerEvent: Array<[string, number]>;
  /** Share of one core the load generator used while publishing. */
  benchCpuShare: number;
  incomplete?: string;
}

/** Warm-up (one sitting event per user: a session and a nudge job each), then a time-boxed mixed stream. */
export async function ingestPhase(b: Bench, t: Target, stream: MixedStream, seconds: number): Promise<IngestResult> {
  const { progress } = b;
  const U = stream.users;
  const warmLimit = Math.min(ms(60), timeLeft(b) - ms(seconds) - 2000);
  if (warmLimit < 2000) throw new OutOfTime(`(b) ingest: skipped, no time left for the warm-up`);
  progress.update(`warm-up: one sitting event for each of ${U} users`);
  const warm = await runLoad({
    label: '(b) warm-up',
    client: b.client,
    services: t.ingest,
    count: U,
    next: () => asLoad(t.base, stream.take(Date.now())),
    maxBacklog: 2000,
    publishDeadline: Date.now() + warmLimit,
    drainDeadline: Date.now() + warmLimit,
    onProgress: (c) => progress.update(`warm-up: ${c}/${U} users seated`, (0.2 * c) / U),
  });
  if (warm.incomplete) throw new Error(`${warm.incomplete} (warm-up of ${U} users)`);
  const warmupPerSec = perSec(U, warm);

  ensureTime(b, '(b) ingest', ms(seconds) + 2000);
  const redis0 = await redisCounters(b.admin);
  const drainLimit = Math.min(ms(30), timeLeft(b) - ms(seconds));
  const started = Date.now();
  const r = await runLoad({
    label: '(b) ingest',
    client: b.client,
    services: t.ingest,
    count: 10_000_000,
    durationMs: ms(seconds),
    next: () => asLoad(t.base, stream.take(Date.now())),
    // About a second of work queued: never starves the service, never piles up in the broker.
    maxBacklog: Math.max(500, Math.round(warmupPerSec)),
    publishDeadline: started + ms(seconds) + 1000,
    drainDeadline: started + ms(seconds) + drainLimit,
    onProgress: (c, sent) =>
      progress.update(`${c} of ${sent} events committed`, 0.2 + (0.8 * (Date.now() - started)) / ms(seconds)),
  });
  const redis1 = await redisCounters(b.admin);
  const events = r.committed;
  return {
    users: U,
    warmupPerSec,
    events,
    perSec: perSec(events, r),
    seconds: (r.tDone - r.tFirst) / 1000,
    cpuMsPerEvent: (r.cpuSeconds * 1000) / Math.max(1, events),
    redisCpuMsPerEvent: ((redis1.cpuSeconds - redis0.cpuSeconds) * 1000) / Math.max(1, events),
    commit: bucketed(commitHistogram(r)),
    commandsPerEvent: commandsPerEvent(redis0, redis1, Math.max(1, events)),
    benchCpuShare: r.benchCpuSeconds / Math.max(1e-3, r.publishSeconds),
    incomplete: r.incomplete,
  };
}

// ------------------------------------------------------------------------------------------ (c) latency

export interface LatencyResult {
  targetRate: number;
  achievedRate: number;
  seconds: number;
  sent: number;
  committed: number;
  commit: Quantiles;
  e2e: Summary | null;
  /** State changes sent whose retained state message never came within the time limit. */
  e2eMissing: number;
  abandoned: boolean;
  incomplete?: string;
}

/**
 * Paced publishing at `rate` events/s. Commit latency from the service's histogram; end to end, publish →
 * the retained `{base}/users/{userId}/state` message of the same change (matched by user and `since` = the
 * event's `at`), through the broker both ways.
 */
export async function latencyPhase(
  b: Bench,
  t: Target,
  stream: MixedStream,
  rate: number,
  seconds: number,
  maxBacklog: number,
): Promise<LatencyResult> {
  const { progress } = b;
  ensureTime(b, '(c) latency', ms(seconds) + 3000);
  const sub = await connectClient(b.mqttUrl, 'state-sub');
  const pending = new Map<string, number>();
  const samples: number[] = [];
  const prefixLen = `${t.base}/users/`.length;
  sub.on('message', (topic, payload) => {
    const user = topic.slice(prefixLen, topic.lastIndexOf('/'));
    let since: unknown;
    try {
      since = (JSON.parse(payload.toString()) as { since?: unknown }).since;
    } catch {
      return;
    }
    if (typeof since !== 'string') return;
    const key = `${user}|${Date.parse(since)}`;
    const sentAt = pending.get(key);
    if (sentAt === undefined) return;
    samples.push(performance.now() - sentAt);
    pending.delete(key);
  });
  try {
    await sub.subscribeAsync(`${t.base}/users/+/state`, { qos: 1 });
    await sleep(200); // the retained states of every user arrive first; none of them is pending
    // A service that cannot keep up piles the broker's queue up without end: stop publishing once `maxBacklog`
    // events wait (a few seconds of its measured throughput), so the drain stays bounded.
    const abandonBacklog = Math.max(2000, Math.round(maxBacklog));
    const started = Date.now();
    const drainLimit = Math.max(2000, Math.min(ms(30), timeLeft(b) - ms(seconds)));
    const r = await runLoad({
      label: '(c) latency',
      client: b.client,
      services: t.ingest,
      count: Math.round(rate * seconds),
      rate,
      abandonBacklog,
      window: 500,
      next: () => {
        const e = stream.take(Date.now());
        const key = `${e.user}|${e.at}`;
        return { ...asLoad(t.base, e), onSent: e.change ? (ts) => pending.set(key, ts) : undefined };
      },
      publishDeadline: started + ms(seconds) + 2000,
      drainDeadline: started + ms(seconds) + drainLimit,
      pollMs: 250,
      onProgress: (c, sent) =>
        progress.update(`${sent} sent at ${rate}/s, ${c} committed`, Math.min(1, (Date.now() - started) / ms(seconds))),
    });
    // The last retained states are on their way.
    const until = Date.now() + 1000;
    while (pending.size > 0 && Date.now() < until) await sleep(20);
    let incomplete = r.incomplete;
    if (r.abandoned) {
      incomplete ??= `(c) latency: the service fell behind ${rate}/s — publishing stopped after ${r.sent} events (${r.publishSeconds.toFixed(1)} s) with ${abandonBacklog} waiting`;
    }
    return {
      targetRate: rate,
      achievedRate: r.sent / Math.max(1e-3, r.publishSeconds),
      seconds: r.publishSeconds,
      sent: r.sent,
      committed: r.committed,
      commit: bucketed(commitHistogram(r), COMMIT_TARGET_S),
      e2e: summarize(samples),
      e2eMissing: pending.size,
      abandoned: r.abandoned,
      incomplete,
    };
  } finally {
    await closeClient(sub);
  }
}

// ------------------------------------------------------------------------------------------ (d)(e)(f) population

export interface Registered {
  users: number;
  seconds: number;
  memBefore: number;
  memAfter: number;
}

/** Registers users `start` … `start + users - 1` of `tag`; `more` continues an earlier call's accounting. */
export async function registerPopulation(
  b: Bench,
  prefix: string,
  tag: string,
  users: number,
  deadline: number,
  more?: Registered,
  /** One profile for all, or each user's (by index). */
  profile?: Profile | ((i: number) => Profile),
): Promise<Registered> {
  const memBefore = more?.memBefore ?? (await redisCounters(b.admin)).usedMemory;
  const start = more?.users ?? 0;
  const r = await registerBulk(
    b.redisUrl,
    prefix,
    tag,
    users,
    typeof profile === 'function' ? profile : () => profile ?? PROFILE,
    {
      start,
      deadline,
      onProgress: (n) => b.progress.update(`registering users: ${start + n}/${start + users}`, n / users),
    },
  );
  if (r.written < users)
    throw new OutOfTime(`registering ${users} users: only ${r.written} written before the time limit`);
  const memAfter = (await redisCounters(b.admin)).usedMemory;
  return { users: start + users, seconds: (more?.seconds ?? 0) + r.ms / 1000, memBefore, memAfter };
}

export interface PopulationResult {
  users: number;
  registerPerSec: number;
  seedPerSec: number;
  seedCpuMsPerEvent: number;
  /** How late the seeding finished after the first nudge fell due (0: on time). */
  seedOverrunMs: number;
  bytesPerUser: number;
  registryBytesPerUser: number;
  sessionBytesPerUser: number;
  pendingNudgeJobs: number | null;
  lateness: Summary | null;
  latenessMissing: number;
  serviceLateness: Quantiles | null;
  /** While the nudges went out (nothing else running): per nudge sent. */
  nudgeCost: { workerCpuMs: number; redisCpuMs: number; commands: Array<[string, number]> } | null;
  costEvents: number;
  costPerSec: number;
  cpuMsPerEvent: number;
  /** Of which garbage collection, ms per event. */
  gcMsPerEvent: number;
  /**
   * (f) again, the same people once more right after: what an event costs once the service has just read them (its
   * caches warm at every population size; the first pass is cold for people the service has never read, as at 1M).
   */
  repeatCpuMsPerEvent: number;
  spreadSeconds: number;
  /** MEMORY USAGE of one seated user's keys, right after the seeding. */
  keySample: Array<[string, number]>;
  /** Users with a nudge in the window (the first ones; the others sit with no nudge due while measured). */
  nudgeUsers: number;
  /** Seated straight into Redis (bench/bulk.ts), not by one MQTT event each: no seeding CPU figure. */
  seededInBulk: boolean;
  /** Tick jobs asked for while seating, per user seated (the ingest hot path's share of the timer wheel). */
  seedTickAddsPerUser: number | null;
  /** While the nudges went out: timer-wheel tick jobs run and tick adds, all processes together. */
  ticks: { sweeps: number; adds: number } | null;
  incomplete: string[];
}

export interface PopulationPlan {
  tag: string;
  users: number;
  registered: Registered;
  /** Nudges due evenly over this many seconds; 0: due far in the future, lateness not measured. */
  spreadSeconds: number;
  graceSeconds: number;
  /**
   * Past the grace period, go on waiting (at most this long) while nudges still arrive: the lateness figures
   * then show how far behind the worker fell, and the cost run does not share the CPU with its backlog.
   */
  backlogSeconds: number;
  /** Events of the per-event cost run (distinct users, a stride through the population). */
  costEvents: number;
  /** Expected sitting events per second (to schedule the first nudge after the seeding). */
  seedRateGuess: number;
  /** Only users 0 … nudgeUsers − 1 get a nudge in the window (default: all); the others just sit. */
  nudgeUsers?: number;
  /** Seat everyone straight into Redis (bench/bulk.ts) instead of by one MQTT event each. */
  bulkSeat?: (seatedAt: (i: number) => number) => Promise<{ written: number; ms: number; tickAdds: number }>;
}

/**
 * Every user sits down once with `at` = due − 10 min, so each holds a session and a nudge job due within the
 * spread; then memory per user, the nudges' lateness as a subscriber sees it, and the per-event cost of a mixed
 * stream over existing users.
 */
export async function populationPhase(b: Bench, t: Target, plan: PopulationPlan): Promise<PopulationResult> {
  const { progress } = b;
  const N = plan.users;
  const K = Math.min(N, plan.nudgeUsers ?? N);
  const incomplete: string[] = [];
  const sub = await connectClient(b.mqttUrl, 'nudge-sub');
  const due = new Float64Array(N);
  const lateness: number[] = [];
  const userPrefix = `${plan.tag}u`;
  const userIndex = (id: string) => (id.startsWith(userPrefix) ? Number(id.slice(userPrefix.length)) : -1);
  const prefixLen = `${t.base}/users/`.length;
  let collecting = true;
  sub.on('message', (topic, payload) => {
    const now = Date.now();
    if (!collecting) return;
    const idx = userIndex(topic.slice(prefixLen, topic.lastIndexOf('/')));
    if (!(idx >= 0 && idx < N) || due[idx] === 0) return;
    try {
      if ((JSON.parse(payload.toString()) as { level?: number }).level !== 1) return;
    } catch {
      return;
    }
    lateness.push(now - due[idx]!);
    due[idx] = 0; // one per user
  });
  try {
    await sub.subscribeAsync(`${t.base}/users/+/nudge`, { qos: 1 });
    const workerBefore = await t.worker.scrape();

    // Seeding. The first nudge falls due once the seeding should be over (with room to spare), so the nudges are
    // measured on their own. Without a nudge window the users just sit down now (`at` = now); their profile then
    // has the longest break (PROFILE_NO_NUDGE), so no nudge falls due while they are measured.
    const seedSeconds = N / Math.max(50, plan.seedRateGuess);
    const measureNudges = plan.spreadSeconds > 0;
    const t0 = Date.now() + Math.round(ms(seedSeconds * SEED_LEAD_FACTOR) + SEED_LEAD_MS);
    const spreadMs = ms(plan.spreadSeconds);
    for (let i = 0; i < K; i++) due[i] = t0 + ((i + 0.5) * spreadMs) / K;
    const breakMs = BREAK_AFTER_MINUTES * 60_000;
    const seatedAt = (i: number) => (measureNudges && i < K ? Math.round(due[i]! - breakMs) : Date.now());
    const memSeed0 = (await redisCounters(b.admin)).usedMemory;
    const seedLimit = Math.max(5000, timeLeft(b) - (measureNudges ? spreadMs + ms(plan.graceSeconds) : 0));
    const started = Date.now();
    let seedPerSec: number;
    let seedCpuMsPerEvent = NaN;
    let seedTickAdds: number | null = null;
    if (plan.bulkSeat) {
      const bulk = await plan.bulkSeat(seatedAt);
      if (bulk.written < N)
        throw new OutOfTime(`seating ${N} users in bulk: only ${bulk.written} before the time limit`);
      seedPerSec = N / Math.max(1e-3, bulk.ms / 1000);
      seedTickAdds = bulk.tickAdds;
    } else {
      const seed = await runLoad({
        label: `(d) seeding ${N} users`,
        client: b.client,
        services: t.ingest,
        count: N,
        next: (i) => ({
          topic: eventTopic(t.base, `${plan.tag}d${i}`),
          payload: postureEvent('sitting', seatedAt(i)),
        }),
        maxBacklog: Math.max(2000, Math.round(plan.seedRateGuess)),
        publishDeadline: started + seedLimit,
        drainDeadline: started + seedLimit,
        onProgress: (c) => progress.update(`seeding: ${c}/${N} users seated`, (0.3 * c) / N),
      });
      if (seed.incomplete) throw new OutOfTime(`${seed.incomplete}; the nudge phase needs every user seated`);
      seedPerSec = perSec(N, seed);
      seedCpuMsPerEvent = (seed.cpuSeconds * 1000) / N;
    }
    const seedEnd = Date.now();
    const memSeed1 = (await redisCounters(b.admin)).usedMemory;
    const afterSeed = await t.worker.scrape();
    const delayed = (s: Scrape) => s.sum('unknot_queue_jobs', { queue: 'nudges', state: 'delayed' });
    const pending = delayed(afterSeed) - delayed(workerBefore);
    const tickAdds = (s: Scrape) => s.sum('unknot_timer_tick_adds_total');
    const tickSweeps = (s: Scrape) => s.sum('unknot_timer_sweeps_total', { kind: 'tick' });
    seedTickAdds = (seedTickAdds ?? 0) + tickAdds(afterSeed) - tickAdds(workerBefore);
    const keySample = await sampleUserKeys(b.admin, t.prefix, plan.tag, Math.floor(N / 2)).catch(() => []);
    const seedOverrunMs = measureNudges ? Math.max(0, seedEnd - t0) : 0;
    if (seedOverrunMs > 0) {
      incomplete.push(
        `seeding ${N} users ended ${seedOverrunMs} ms after the first nudge fell due (guessed ${Math.round(plan.seedRateGuess)}/s, ran at ${Math.round(seedPerSec)}/s): the earliest nudges' lateness includes that backlog`,
      );
    }

    // (d) nudges
    let serviceLateness: Quantiles | null = null;
    let nudgeCost: PopulationResult['nudgeCost'] = null;
    let ticks: PopulationResult['ticks'] = null;
    if (measureNudges) {
      while (Date.now() < t0 - 300) {
        progress.update(`seated; the first nudge falls due in ${Math.ceil((t0 - Date.now()) / 1000)} s`, 0.3);
        await sleep(Math.min(250, t0 - 300 - Date.now()));
      }
      const [w0, r0] = await Promise.all([t.worker.scrape(), redisCounters(b.admin)]);
      const end = t0 + spreadMs + ms(plan.graceSeconds);
      const hardEnd = Math.min(end, b.deadline - 2000);
      while (lateness.length < K && Date.now() < hardEnd) {
        progress.update(
          `nudges: ${lateness.length}/${K} received`,
          0.3 + (0.6 * Math.max(0, Date.now() - t0)) / spreadMs,
        );
        await sleep(100);
      }
      if (lateness.length < K && hardEnd < end) {
        incomplete.push(
          `(d) the time budget ended ${Math.round((t0 + spreadMs - hardEnd) / 1000)} s before the last nudge was due: ${K - lateness.length} of ${K} nudges not seen`,
        );
      } else if (lateness.length < K) {
        const late = K - lateness.length;
        // The worker is behind: follow its backlog while it makes progress (bounded).
        const backlogEnd = Math.min(Date.now() + ms(plan.backlogSeconds), b.deadline - CLEANUP_RESERVE_MS - 2000);
        let last = lateness.length;
        let lastMove = Date.now();
        while (lateness.length < K && Date.now() < backlogEnd && Date.now() - lastMove < 5000) {
          progress.update(`nudges: ${lateness.length}/${K} received (the worker is behind)`, 0.9);
          await sleep(200);
          if (lateness.length > last) {
            last = lateness.length;
            lastMove = Date.now();
          }
        }
        const caughtUp = lateness.length - (K - late);
        const waited = Math.round((Date.now() - end) / 1000);
        incomplete.push(
          `(d) ${late} of ${K} nudges had not arrived ${plan.graceSeconds} s after the last was due` +
            (lateness.length === K ? `; they all came within the next ${waited} s (the worker fell behind)` : '') +
            (lateness.length < K
              ? `; ${caughtUp} more came in the next ${waited} s, ${K - lateness.length} never`
              : ''),
        );
      }
      collecting = false;
      const [workerAfter, r1] = await Promise.all([t.worker.scrape(), redisCounters(b.admin)]);
      serviceLateness = bucketed(
        histogramDelta(workerBefore, workerAfter, 'unknot_nudge_lateness_seconds'),
        LATENESS_TARGET_S,
      );
      const sent = Math.max(1, workerAfter.sum('unknot_nudges_sent_total') - w0.sum('unknot_nudges_sent_total'));
      nudgeCost = {
        workerCpuMs: ((progressOf(workerAfter).cpuSeconds - progressOf(w0).cpuSeconds) * 1000) / sent,
        redisCpuMs: ((r1.cpuSeconds - r0.cpuSeconds) * 1000) / sent,
        commands: commandsPerEvent(r0, r1, sent),
      };
      ticks = { sweeps: tickSweeps(workerAfter) - tickSweeps(w0), adds: tickAdds(workerAfter) - tickAdds(w0) };
    }

    // (f) per-event cost over existing users: distinct users, spread over the whole population.
    let costPerSec = NaN;
    let cpuMsPerEvent = NaN;
    let gcMsPerEvent = NaN;
    let repeatCpuMsPerEvent = NaN;
    const M = Math.min(plan.costEvents, N);
    const costLimit = timeLeft(b);
    if (M > 0 && costLimit > 3000) {
      if (measureNudges && lateness.length < K) {
        incomplete.push(
          `(f) at ${N} users ran while the worker still had nudges to send: its CPU figure includes theirs`,
        );
      }
      const stride = N / M;
      const stream = new MixedStream(plan.tag, M, (k) => Math.floor(k * stride), true);
      const pass = (label: string, limit: number) => {
        const cStart = Date.now();
        return runLoad({
          label: `(f) per-event cost at ${N} users${label}`,
          client: b.client,
          services: t.ingest,
          count: M,
          next: () => asLoad(t.base, stream.take(Date.now())),
          maxBacklog: Math.max(1000, Math.min(5000, Math.round(plan.seedRateGuess))),
          publishDeadline: cStart + limit,
          drainDeadline: cStart + limit,
          onProgress: (c) => progress.update(`per-event cost${label}: ${c}/${M} events`, 0.9 + (0.1 * c) / M),
        });
      };
      const cStart = Date.now();
      const cost = await pass('', costLimit);
      if (cost.incomplete) incomplete.push(cost.incomplete);
      costPerSec = perSec(cost.committed, cost);
      cpuMsPerEvent = (cost.cpuSeconds * 1000) / Math.max(1, cost.committed);
      gcMsPerEvent = (cost.gcSeconds * 1000) / Math.max(1, cost.committed);
      // The same people again (the stream goes round them once more), if the first pass left as much time again.
      const repeatLimit = timeLeft(b);
      if (!cost.incomplete && repeatLimit > 2 * (Date.now() - cStart) + 1000) {
        const again = await pass(', again', repeatLimit);
        if (!again.incomplete) repeatCpuMsPerEvent = (again.cpuSeconds * 1000) / Math.max(1, again.committed);
      }
    } else if (M > 0) {
      incomplete.push(`(f) per-event cost at ${N} users: skipped, out of time`);
    }

    const reg = plan.registered;
    const registryBytes = reg.memAfter - reg.memBefore;
    const sessionBytes = memSeed1 - memSeed0;
    return {
      users: N,
      registerPerSec: reg.users / Math.max(1e-3, reg.seconds),
      seedPerSec,
      seedCpuMsPerEvent,
      seedOverrunMs,
      bytesPerUser: registryBytes / reg.users + sessionBytes / N,
      registryBytesPerUser: registryBytes / reg.users,
      sessionBytesPerUser: sessionBytes / N,
      pendingNudgeJobs: Number.isFinite(pending) ? pending : null,
      lateness: summarize(lateness),
      latenessMissing: measureNudges ? K - lateness.length : 0,
      serviceLateness,
      nudgeCost,
      costEvents: M,
      costPerSec,
      cpuMsPerEvent,
      gcMsPerEvent,
      repeatCpuMsPerEvent,
      spreadSeconds: measureNudges ? plan.spreadSeconds : 0,
      keySample,
      nudgeUsers: measureNudges ? K : 0,
      seededInBulk: !!plan.bulkSeat,
      seedTickAddsPerUser: seedTickAdds === null ? null : seedTickAdds / N,
      ticks,
      incomplete,
    };
  } finally {
    await closeClient(sub);
  }
}

/** Redis MEMORY USAGE of one seated user's keys and their partition's due set, for the breakdown in the report. */
export async function sampleUserKeys(
  redis: Redis,
  prefix: string,
  tag: string,
  i: number,
): Promise<Array<[string, number]>> {
  const user = userId(tag, i);
  const keys = new Keys(prefix);
  const list: Array<[string, string]> = [
    ['person: profile and device ids', keys.person(user)],
    ['device', keys.device(deviceId(tag, i))],
    ['state', keys.state(user)],
    ['adherence log', keys.log(user)],
  ];
  // No job per person: their due time is one member of their partition's due set, shared with the partition's others.
  list.push([
    `partition due set (${await redis.zcard(keys.due(keys.partitionOf(user)))} people)`,
    keys.due(keys.partitionOf(user)),
  ]);
  // The Redis type is looked up rather than assumed: the service's storage changes as it is optimised.
  const out: Array<[string, number]> = [];
  for (const [label, key] of list) {
    const [type, n] = await Promise.all([
      redis.type(key),
      redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0').catch(() => null),
    ]);
    if (typeof n === 'number') out.push([`${label} (${type})`, n]);
  }
  return out;
}

// ------------------------------------------------------------------------------------------ (g) scale-out

export interface ScaleOutRun {
  instances: number;
  events: number;
  perSec: number;
  cpuMsPerEvent: number;
  /** Events each instance committed (how evenly the shared subscription split them). */
  split: number[];
  incomplete?: string;
}

export async function scaleOutRun(
  b: Bench,
  base: string,
  ingest: UnknotProcess[],
  stream: MixedStream,
  seconds: number,
  backlog: number,
): Promise<ScaleOutRun> {
  ensureTime(b, `(g) ${ingest.length} instance(s)`, ms(seconds) + 2000);
  const started = Date.now();
  const drainLimit = Math.min(ms(20), timeLeft(b) - ms(seconds));
  const r = await runLoad({
    label: `(g) ${ingest.length} ingest instance(s)`,
    client: b.client,
    services: ingest,
    count: 10_000_000,
    durationMs: ms(seconds),
    next: () => asLoad(base, stream.take(Date.now())),
    maxBacklog: backlog,
    publishDeadline: started + ms(seconds) + 1000,
    drainDeadline: started + ms(seconds) + drainLimit,
    onProgress: (c, sent) =>
      b.progress.update(
        `${ingest.length} instance(s): ${c} of ${sent} committed`,
        (Date.now() - started) / ms(seconds),
      ),
  });
  const split = r.after.map((a, i) => {
    const before = r.before[i];
    return progressOf(a).committed - (before ? progressOf(before).committed : 0);
  });
  return {
    instances: ingest.length,
    events: r.committed,
    perSec: perSec(r.committed, r),
    cpuMsPerEvent: (r.cpuSeconds * 1000) / Math.max(1, r.committed),
    split,
    incomplete: r.incomplete,
  };
}

/** Seats every user of `stream` once (its warm-up) through `ingest`. */
export async function warmUp(b: Bench, base: string, ingest: UnknotProcess[], stream: MixedStream): Promise<number> {
  const U = stream.users;
  const limit = Math.min(ms(60), timeLeft(b));
  const started = Date.now();
  const r = await runLoad({
    label: 'warm-up',
    client: b.client,
    services: ingest,
    count: U,
    next: () => asLoad(base, stream.take(Date.now())),
    maxBacklog: 2000,
    publishDeadline: started + limit,
    drainDeadline: started + limit,
    onProgress: (c) => b.progress.update(`warm-up: ${c}/${U} users seated`),
  });
  if (r.incomplete) throw new Error(`${r.incomplete} (warm-up)`);
  return perSec(U, r);
}

/** Waits until the services have committed everything sent to them (a backlog left by an earlier phase). */
export async function waitCommitted(
  services: UnknotProcess[],
  total: number,
  baseline: number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const scrapes: Scrape[] = await Promise.all(services.map((s) => s.scrape()));
    const done = scrapes.reduce((s, x) => s + progressOf(x).committed + progressOf(x).rejected, 0) - baseline;
    if (done >= total) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}
