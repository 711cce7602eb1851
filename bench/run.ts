// `npm run bench [-- --quick] [--users N] [--cpu-prof DIR] [--only a,b,c,d,g] [--cluster] [--nudges K [--seated N]]`:
// unknot's benchmark (issue 6).
// Measures the infrastructure alone, then the real service (`node --import tsx src/main.ts`) as a child process:
// ingest throughput, commit and end-to-end latency at a fixed rate, nudge lateness with many pending nudges, Redis
// memory per user, per-event cost as the user count grows, and one vs two ingest instances. Progress goes to
// stderr; stdout gets the table and, last, one JSON line. Every wait is bounded; everything started is stopped.
import { randomBytes } from 'node:crypto';
import { cpus, freemem, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { cleanupRedisPrefix } from '../test/support/namespace.js';
import { errorMessage, startServices, withTimeout } from '../test/support/services.js';
import { mqttBaseline, redisBaseline } from './baseline.js';
import { closeClient, connectClient, WindowedPublisher } from './mqtt-load.js';
import {
  CLEANUP_RESERVE_MS,
  ensureTime,
  ingestPhase,
  latencyPhase,
  OutOfTime,
  populationPhase,
  registerPopulation,
  SEED_LEAD_FACTOR,
  SEED_LEAD_MS,
  scaleOutRun,
  timeLeft,
  waitCommitted,
  warmUp,
  type Bench,
  type PopulationPlan,
  type PopulationResult,
  type Registered,
  type Target,
} from './phases.js';
import { seatBulk } from './bulk.js';
import { MixedStream, PROFILE, PROFILE_NO_NUDGE } from './population.js';
import { clusterShare, SHARD_SHARE_TARGET } from './cluster.js';
import { Progress } from './progress.js';
import { Scrape } from './prom.js';
import { headline, renderTable, type Results } from './report.js';
import { codeFingerprint, progressOf, spawnUnknot, type UnknotProcess } from './service.js';

const PHASES = ['a', 'b', 'c', 'd', 'g'] as const;
type Phase = (typeof PHASES)[number];

interface Options {
  quick: boolean;
  cluster?: boolean;
  users: number;
  cpuProf?: string;
  only: Set<Phase>;
  /** (d) as a nudge-rate run: K people due over the spread, seated in bulk (of `seated` people in all). */
  nudges?: number;
  seated?: number;
  /** With --nudges: worker processes (more than one: the nudges spread over them, ingest in a process of its own). */
  workers?: number;
}

const USAGE = `usage: npm run bench -- [--quick] [--users N] [--cpu-prof DIR] [--only a,b,c,d,g] [--cluster]
                       [--nudges K [--seated N]]
  --cluster      also start a 3-master Redis Cluster (with replicas), register people on it and report the share
                 of people per shard (target: none above 40 %)
  --quick        under a minute: shorter runs, at most 10k users, (f) and (g) only if time is left
  --users N      simulated users of the ingest and latency phases (default 1000)
  --cpu-prof DIR write a V8 CPU profile of every unknot process started into DIR (open in Chrome DevTools)
  --only LIST    run only these phases: a raw baseline, b ingest, c latency at 5,000/s,
                 d nudges + memory + per-event cost (d, e, f), g one vs two ingest instances
  --nudges K     (d) is instead one run of the timer wheel at a real rate: K people, registered and seated straight
                 into Redis (as for 1M), due evenly over the spread (30 s with --quick, else 60 s: K = 50000 with
                 --quick is the 100k-over-60-s rate); lateness and the worker's and Redis's cost per nudge
  --seated N     with --nudges: N people seated in all (K of them due, the others sitting with the longest break)
  --workers W    with --nudges: W worker processes (UNKNOT_ROLES=api,worker) share the nudges, beside one
                 api,ingest process (default 1: one process with every role)`;

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, users: 1000, only: new Set(PHASES) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--cluster') o.cluster = true;
    else if (a === '--users') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 10 || n > 1_000_000) usage('--users must be an integer from 10 to 1000000');
      o.users = n;
    } else if (a === '--nudges' || a === '--seated') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 100 || n > 1_000_000) usage(`${a} must be an integer from 100 to 1000000`);
      if (a === '--nudges') o.nudges = n;
      else o.seated = n;
    } else if (a === '--workers') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 8) usage('--workers must be an integer from 1 to 8');
      o.workers = n;
    } else if (a === '--cpu-prof') o.cpuProf = value();
    else if (a === '--only') {
      const list = value()
        .split(',')
        .map((s) => s.trim());
      if (list.some((p) => !(PHASES as readonly string[]).includes(p)))
        usage(`--only takes phases from ${PHASES.join(',')}`);
      o.only = new Set(list as Phase[]);
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else usage(`unknown argument ${a}`);
  }
  if (o.seated !== undefined && o.nudges === undefined) usage('--seated goes with --nudges');
  if (o.workers !== undefined && o.nudges === undefined) usage('--workers goes with --nudges');
  if (o.seated !== undefined && o.nudges !== undefined && o.seated < o.nudges)
    usage('--seated must be at least --nudges');
  return o;
}

function usage(why: string): never {
  process.stderr.write(`bench: ${why}\n${USAGE}\n`);
  process.exit(2);
}

/** Durations and sizes of the two modes. --quick must end within 60 s on a 2-core machine, setup included. */
const PLAN = {
  quick: {
    budgetMs: 55_000,
    rawSeconds: 1,
    redisSeconds: 0.2,
    ingestSeconds: 2.5,
    latencySeconds: 5,
    /** How long a backlog (c) may leave behind, in seconds of the service's measured throughput. */
    latencyDrainSeconds: 2,
    populations: [10_000],
    spreadSeconds: 30,
    graceSeconds: 2,
    /** After the grace period, keep waiting this long while nudges still arrive (the worker's backlog). */
    backlogSeconds: 0,
    costEvents: 2_000,
    scaleSeconds: 1.2,
    million: false,
  },
  full: {
    budgetMs: 45 * 60_000,
    rawSeconds: 5,
    redisSeconds: 1,
    ingestSeconds: 15,
    latencySeconds: 10,
    latencyDrainSeconds: 25,
    populations: [10_000, 100_000],
    spreadSeconds: 60,
    graceSeconds: 15,
    backlogSeconds: 240,
    costEvents: 10_000,
    scaleSeconds: 8,
    million: true,
  },
};

/** Starting two unknot processes at once on a 2-core machine (measured ~4.3 s). */
const G_START_MS = 4500;
/** 1M users are set up only if that is expected to take at most this long. */
const MILLION_SETUP_LIMIT_MS = 10 * 60_000;
const LATENCY_RATE = 5000;

const opts = parseArgs(process.argv.slice(2));
const plan = opts.quick ? PLAN.quick : PLAN.full;
const t0 = Date.now();
/** A nudge-rate run (--nudges) takes what it takes: set-up, the spread, and room for a backlog. */
const nudgeRunMs = opts.nudges
  ? ((opts.seated ?? opts.nudges) / 1000) * 2 * 1000 + (plan.spreadSeconds + plan.graceSeconds + 60) * 1000
  : 0;
const deadline = t0 + plan.budgetMs + nudgeRunMs;
const runId = `bench-${randomBytes(4).toString('hex')}`;
const progress = new Progress(deadline);
const results: Results = { quick: opts.quick, header: [], populations: [], scaleOut: {}, notes: [], seconds: 0 };
const note = (line: string) => {
  results.notes.push(line);
  progress.note(line);
};

// ------------------------------------------------------------------------------------------ cleanup

const cleanups: Array<{ what: string; fn: () => Promise<unknown>; timeoutMs?: number }> = [];
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await withTimeout(c.fn(), c.timeoutMs ?? 60_000, c.what);
      } catch (err) {
        process.stderr.write(`bench: cleanup: ${c.what}: ${errorMessage(err)}\n`);
      }
    }
  })();
  return cleaning;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress.stop();
    process.stderr.write(`\nbench: ${signal}: stopping everything it started (again to force)\n`);
    void cleanup().finally(() => {
      results.notes.push(`interrupted by ${signal}`);
      finish(130);
    });
  });
}

function finish(code: number): never {
  progress.stop();
  results.seconds = (Date.now() - t0) / 1000;
  process.stdout.write(`${renderTable(results)}\n${JSON.stringify(headline(results))}\n`);
  process.exit(code);
}

// ------------------------------------------------------------------------------------------ pieces

let bench: Bench;
/** The service's code when the run started (see codeFingerprint). */
let firstCode = '';
const codesNoted = new Set<string>();
const sharedRedis = !!process.env.REDIS_URL?.trim();
const sharedMqtt = !!process.env.MQTT_URL?.trim();
/** Retained user states the service published on a shared broker: cleared at the end. */
const retained: Array<{ base: string; tag: string; users: number }> = [];

async function startUnknot(
  label: string,
  prefix: string,
  base: string,
  extra: Record<string, string> = {},
): Promise<UnknotProcess> {
  const env: Record<string, string> = {
    REDIS_URL: bench.redisUrl,
    MQTT_URL: bench.mqttUrl,
    UNKNOT_REDIS_PREFIX: prefix,
    UNKNOT_BASE_TOPIC: base,
    UNKNOT_HA_DISCOVERY: 'false',
    LOG_LEVEL: 'warn',
    ...extra,
  };
  const nodeArgs = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${resolve(opts.cpuProf, label)}`] : [];
  if (sharedMqtt && !extra.MQTT_SHARED_GROUP) {
    // The ingest session is persistent (clean: false) under a stable client id: end it on the shared broker, once
    // the process is gone (cleanups run in reverse order, so this one is registered before the stop).
    const clientId = `unknot-${prefix}-${base}-ingest`.replace(/[^A-Za-z0-9_-]/g, '_');
    cleanups.push({
      what: `ending the persistent MQTT session of ${label}`,
      fn: async () => closeClient(await connectClient(bench.mqttUrl, 'session-cleanup', { clientId, clean: true })),
    });
  }
  const code = await codeFingerprint();
  const p = await spawnUnknot({
    label,
    env,
    nodeArgs,
    readyTimeoutMs: Math.min(30_000, Math.max(5_000, timeLeft(bench))),
  });
  cleanups.push({ what: `stopping ${label}`, fn: () => p.stop() });
  if (code !== firstCode && !codesNoted.has(code)) {
    codesNoted.add(code);
    note(
      `src/ or workers/ changed during the run: ${label} runs code ${code}, the run started with ${firstCode}; figures of processes started before and after differ in code`,
    );
  }
  return p;
}

async function stopUnknot(p: UnknotProcess): Promise<void> {
  const i = cleanups.findIndex((c) => c.what === `stopping ${p.label}`);
  if (i >= 0) cleanups.splice(i, 1);
  await p.stop();
}

/** Runs one phase; a limit or a failure becomes a note and the run goes on with the next phase. */
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  if (interrupted) return undefined;
  progress.begin(name);
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OutOfTime) note(err.message);
    else note(`${name}: failed: ${errorMessage(err).split('\n').slice(0, 6).join(' | ')}`);
    return undefined;
  }
}

function recordIncomplete(what: string | undefined) {
  if (what) note(what);
}

async function clearRetained(client: MqttClient): Promise<void> {
  const pub = new WindowedPublisher(client, 500);
  const until = Date.now() + 60_000;
  for (const r of retained) {
    // An empty retained message deletes the retained one.
    for (let i = 0; i < r.users && Date.now() < until; i++)
      await pub.publish(`${r.base}/users/${r.tag}u${i}/state`, '', true);
    await pub.publish(`${r.base}/bridge/state`, '', true);
  }
  await pub.drain(10_000);
}

// ------------------------------------------------------------------------------------------ the run

async function run(): Promise<void> {
  progress.start();
  progress.begin(`setup: Redis and MQTT (run ${runId}${opts.quick ? ', quick' : ''})`);
  const services = await withTimeout(startServices(), 40_000, 'Redis and the MQTT broker');
  cleanups.push({ what: 'stopping Redis and the MQTT broker', fn: () => services.stop() });
  const admin = new Redis(services.redisUrl, { maxRetriesPerRequest: 3 });
  admin.on('error', () => undefined);
  cleanups.push({ what: 'closing the Redis connection', fn: () => admin.quit().catch(() => admin.disconnect()) });
  if (sharedRedis) {
    // Millions of keys after a 1M run: SCAN + UNLINK takes a while.
    cleanups.push({
      what: `deleting the Redis keys under ${runId}`,
      fn: () => cleanupRedisPrefix(services.redisUrl, runId),
      timeoutMs: 10 * 60_000,
    });
  }
  const client = await connectClient(services.mqttUrl, 'load');
  cleanups.push({ what: 'closing the load generator', fn: () => closeClient(client) });
  if (sharedMqtt) cleanups.push({ what: 'clearing retained user states', fn: () => clearRetained(client) });
  bench = {
    quick: opts.quick,
    redisUrl: services.redisUrl,
    mqttUrl: services.mqttUrl,
    admin,
    client,
    progress,
    deadline,
    note,
  };

  // What the figures were measured on.
  const server = await admin.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(server)?.[1] ?? '?';
  const config = async (key: string) => ((await admin.config('GET', key).catch(() => [])) as string[])[1] ?? '?';
  const hz = await config('hz');
  const load = loadavg()[0]!;
  firstCode = await codeFingerprint();
  results.code = firstCode;
  results.header = [
    `unknot benchmark${opts.quick ? ' (--quick)' : ''} — ${new Date(t0).toISOString()}, run ${runId}, code ${firstCode} (hash of src/ and workers/)`,
    `machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load average ${load.toFixed(2)} at start, node ${process.version}`,
    `services: ${services.source}`,
    `redis ${redisVersion}: hz ${hz}, maxmemory-policy ${await config('maxmemory-policy')}, appendonly ${await config('appendonly')}, hash-max-listpack-value ${await config('hash-max-listpack-value')}`,
  ];
  if (load > cpus().length * 0.75) {
    note(
      `the machine was busy before the run (load average ${load.toFixed(2)} on ${cpus().length} cores): expect lower, noisier figures`,
    );
  }
  if (hz !== '?' && Number(hz) < 100)
    note(`Redis runs with hz ${hz}: BullMQ's delayed jobs fire later than with hz 100 (docs/configuration.md)`);

  // (a) the infrastructure alone, on a quiet machine (before any unknot process starts).
  if (opts.only.has('a')) {
    await phase('(a) raw baseline: MQTT QoS 1 and Redis', async () => {
      progress.update('MQTT QoS 1 publish → subscribe');
      results.raw = await mqttBaseline(bench.mqttUrl, `${runId}-raw`, plan.rawSeconds, 200, 10_000);
      recordIncomplete(results.raw.incomplete);
      progress.update('MQTT QoS 1 with one Redis write per message', 0.45);
      const keyPrefix = `${runId}-rawset`;
      results.rawWithRedis = await mqttBaseline(bench.mqttUrl, `${runId}-rawset`, plan.rawSeconds, 200, 10_000, {
        url: bench.redisUrl,
        keyPrefix,
      });
      recordIncomplete(results.rawWithRedis.incomplete);
      await cleanupRedisPrefix(bench.redisUrl, keyPrefix);
      progress.update('Redis round trips', 0.8);
      results.redis = await redisBaseline(bench.redisUrl, runId, plan.redisSeconds);
    });
  }

  if (opts.cluster && !interrupted) {
    await phase('Redis Cluster: people per shard', async () => {
      const users = Math.max(opts.users, 10_000);
      progress.update(`3-master cluster, ${users} people`);
      const share = await clusterShare(`${runId}-cluster`, users, Date.now() + 5 * 60_000);
      results.cluster = share;
      note(
        `Redis Cluster (${share.masters} masters): people per shard ${share.peoplePerShard.map((s) => `${(s * 100).toFixed(1)} %`).join(' / ')} of ${share.users} (target: none above ${SHARD_SHARE_TARGET * 100} %${share.maxShare <= SHARD_SHARE_TARGET ? ', met' : ', MISSED'}); keys per shard ${share.keysPerShard.join(' / ')}`,
      );
    });
  }

  const need = (p: Phase) => opts.only.has(p) && !interrupted;
  const bStream = new MixedStream('b', opts.users);
  // Filled in by the phases (an object, so that TypeScript does not narrow what the closures assign).
  const st: {
    main?: Target;
    /** Events sent to `main` and its committed count before them (to wait out a backlog). */
    mainSent: number;
    mainBaseline: number;
    /** Ingest events per second in (b), and new-session events per second (warm-up, seeding). */
    sustainable: number;
    seedRate: number;
    /** Users registered a second (while the processes start: a low estimate). */
    registerRate: number;
  } = { mainSent: 0, mainBaseline: 0, sustainable: 0, seedRate: 0, registerRate: 0 };

  if (need('b') || need('c') || (opts.quick && ((need('d') && !opts.nudges) || need('g')))) {
    await phase('starting unknot', async () => {
      const prefix = `${runId}-${opts.quick ? 'q' : 's1'}`;
      const starting: Array<Promise<unknown>> = [];
      const s1 = startUnknot('unknot', prefix, prefix);
      starting.push(s1);
      const registering = (async () => {
        if (!(need('b') || need('c') || need('g'))) return;
        progress.update(`registering ${opts.users} users while unknot starts`);
        const r = await registerPopulation(bench, prefix, 'b', opts.users, deadline - CLEANUP_RESERVE_MS);
        st.registerRate = r.users / Math.max(1e-3, r.seconds);
      })();
      starting.push(registering);
      const settled = await Promise.allSettled(starting);
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      const p = await s1;
      st.main = { label: 'unknot', prefix, base: prefix, ingest: [p], worker: p };
      if (sharedMqtt) retained.push({ base: prefix, tag: 'b', users: opts.users });
      st.mainBaseline = progressOf(await p.scrape()).committed;
    });
  }

  // (b) sustained ingest
  if (need('b') && st.main) {
    const t = st.main;
    await phase(`(b) sustained ingest, ${opts.users} users`, async () => {
      const r = await ingestPhase(bench, t, bStream, plan.ingestSeconds);
      results.ingest = r;
      st.mainSent += r.users + r.events;
      st.sustainable = r.perSec;
      st.seedRate = r.warmupPerSec;
      recordIncomplete(r.incomplete);
      if (r.benchCpuShare > 0.8)
        note(
          `(b) the load generator itself used ${Math.round(r.benchCpuShare * 100)}% of a core: the ingest figure may be limited by the benchmark`,
        );
    });
  }

  // (c) latency at a fixed rate
  if (need('c') && st.main) {
    const t = st.main;
    await phase(`(c) latency at ${LATENCY_RATE} events/s`, async () => {
      if (!results.ingest) {
        st.seedRate = await warmUp(bench, t.base, t.ingest, bStream);
        st.mainSent += bStream.users;
      }
      const r = await latencyPhase(
        bench,
        t,
        bStream,
        LATENCY_RATE,
        plan.latencySeconds,
        (st.sustainable || st.seedRate) * plan.latencyDrainSeconds,
      );
      results.latency = r;
      st.mainSent += r.sent;
      recordIncomplete(r.incomplete);
    });
  }

  // (d) (e) (f) populations
  if (need('d') && opts.nudges) await bulkNudgePhase(opts.seated ?? opts.nudges, opts.nudges);
  else if (need('d')) {
    for (const [idx, wanted] of plan.populations.entries()) {
      if (interrupted) break;
      const pop = await phase(`(d)(e)(f) ${wanted.toLocaleString('en-US')} users with a pending nudge`, async () => {
        let t: Target;
        let registered: Registered;
        let users = wanted;
        let spreadSeconds = plan.spreadSeconds;
        let costEvents = plan.costEvents;
        const guess = st.seedRate || 500;
        const costRate = st.sustainable || guess;
        const regRate = results.populations.at(-1)?.registerPerSec || st.registerRate || 3000;
        if (opts.quick && st.main) {
          t = st.main;
          // A backlog left by (c) would be measured along with the nudges: wait for it (bounded).
          if (
            st.mainSent > 0 &&
            !(await waitCommitted(t.ingest, st.mainSent, st.mainBaseline, Math.min(10_000, timeLeft(bench))))
          ) {
            note('(d) the backlog of (c) was still being processed when (d) started');
          }
          // Fit the quick budget, keeping time for (f) and (g): fewer users than planned rather than no figures.
          // The first 1000 are registered anyway and tell how fast registering goes now.
          progress.update('registering 1000 users');
          registered = await registerPopulation(bench, t.prefix, 'p', 1000, deadline - CLEANUP_RESERVE_MS);
          const regRateNow = registered.users / Math.max(1e-3, registered.seconds);
          // What comes after (d): (f) goes first when time is short, then (g) (which then skips itself).
          const laterF = (Math.min(plan.costEvents, users) / costRate) * 1000 + 1500;
          const laterG = need('g') ? G_START_MS + plan.scaleSeconds * 2000 + 3000 : 0;
          const fit = (spread: number, later: number) => {
            const room =
              timeLeft(bench) - spread * 1000 - (spread > 0 ? plan.graceSeconds * 1000 : 0) - SEED_LEAD_MS - later;
            // Each user beyond the first 1000 is registered and seated; the first 1000 only seated.
            const n = (room / 1000 + 1000 / regRateNow) / (1 / regRateNow + SEED_LEAD_FACTOR / guess);
            return Math.min(users, Math.floor(n / 1000) * 1000);
          };
          let later = laterF + laterG;
          if (fit(spreadSeconds, later) < 1000) {
            later = laterG;
            costEvents = 0;
          }
          if (fit(spreadSeconds, later) < 1000) later = 0;
          if (fit(spreadSeconds, later) < 1000) {
            // Not even 1000 users and the nudge window: keep memory and per-event cost, drop the window.
            spreadSeconds = 0;
            costEvents = plan.costEvents;
            later = laterF + laterG;
            note(
              `(d) --quick: no nudge figures, the ${plan.spreadSeconds} s nudge window does not fit in the time left (~${Math.round(guess)} users seated a second)`,
            );
          }
          if (costEvents === 0) note('(f) --quick: skipped to leave time for the nudge window of (d)');
          const fitted = Math.max(1000, fit(spreadSeconds, later));
          if (fitted < users) {
            note(
              `(d) --quick: ${fitted} of the ${wanted} users (registered at ~${Math.round(regRateNow)}/s, seated at ~${Math.round(guess)}/s: ${wanted} do not fit the 60 s budget)`,
            );
            users = fitted;
          }
          if (users > 1000) {
            progress.update(`registering ${users} users`);
            registered = await registerPopulation(
              bench,
              t.prefix,
              'p',
              users - 1000,
              deadline - CLEANUP_RESERVE_MS,
              registered,
            );
          }
          if (sharedMqtt) retained.push({ base: t.base, tag: 'p', users });
        } else {
          const needMs =
            (users / regRate +
              (users / guess) * SEED_LEAD_FACTOR +
              plan.spreadSeconds +
              plan.graceSeconds +
              plan.costEvents / costRate) *
              1000 +
            SEED_LEAD_MS +
            5000;
          ensureTime(bench, `(d) ${users} users`, needMs);
          const prefix = `${runId}-n${users}`;
          const p = await startUnknot(`unknot-${users}`, prefix, prefix);
          t = { label: p.label, prefix, base: prefix, ingest: [p], worker: p };
          progress.update(`registering ${users} users`);
          registered = await registerPopulation(bench, prefix, 'p', users, deadline - CLEANUP_RESERVE_MS);
          if (sharedMqtt) retained.push({ base: prefix, tag: 'p', users });
        }
        let r: PopulationResult;
        try {
          r = await populationPhase(bench, t, {
            tag: 'p',
            users,
            registered,
            spreadSeconds,
            graceSeconds: plan.graceSeconds,
            backlogSeconds: plan.backlogSeconds,
            costEvents,
            seedRateGuess: guess,
          });
        } finally {
          // A population of its own has its own process: stop it before the next one starts.
          if (t !== st.main) await stopUnknot(t.worker);
        }
        if (t === st.main) st.mainSent += users + r.costEvents;
        for (const line of r.incomplete) note(line);
        return r;
      });
      if (pop) {
        results.populations.push(pop);
        // Later populations are scheduled with what this one measured.
        st.seedRate = pop.seedPerSec;
      }
      if (!pop && idx === 0 && !opts.quick) break;
    }
    if (plan.million && !interrupted) await millionPhase();
  }

  // (g) one and two ingest instances sharing one subscription
  if (need('g') && !interrupted) {
    await phase('(g) one and two ingest instances (MQTT 5 shared subscription)', async () => {
      let base: string;
      let ingest: UnknotProcess[];
      let stream: MixedStream;
      const backlog = Math.max(1000, Math.round(2 * (st.sustainable || st.seedRate || 500)));
      const env = { UNKNOT_ROLES: 'api,ingest', MQTT_SHARED_GROUP: 'bench' };
      if (opts.quick && st.main) {
        // Two ingest-only processes on the main process's Redis prefix (it runs the workers) and users, on a topic
        // tree of their own, sharing one MQTT 5 subscription. `api` gives them a /metrics endpoint.
        ensureTime(bench, '(g)', G_START_MS + plan.scaleSeconds * 2000 + 3000);
        const prefix = st.main.prefix;
        base = `${prefix}g`;
        progress.update('starting two ingest instances');
        ingest = await Promise.all([
          startUnknot('ingest-1', prefix, base, env),
          startUnknot('ingest-2', prefix, base, env),
        ]);
        stream = bStream;
        if (sharedMqtt) retained.push({ base, tag: 'b', users: opts.users });
        if (!results.ingest && !results.latency) await warmUp(bench, base, ingest, stream);
      } else {
        ensureTime(bench, '(g)', plan.scaleSeconds * 2000 + 25_000);
        const prefix = `${runId}-g`;
        base = prefix;
        progress.update('starting a worker and two ingest instances');
        const [, first, second] = await Promise.all([
          startUnknot('worker', prefix, prefix, { UNKNOT_ROLES: 'api,worker' }),
          startUnknot('ingest-1', prefix, base, env),
          startUnknot('ingest-2', prefix, base, env),
          registerPopulation(bench, prefix, 'g', opts.users, deadline - CLEANUP_RESERVE_MS),
        ]);
        ingest = [first, second];
        stream = new MixedStream('g', opts.users);
        if (sharedMqtt) retained.push({ base, tag: 'g', users: opts.users });
        await warmUp(bench, base, ingest, stream);
      }
      const two = await scaleOutRun(bench, base, ingest, stream, plan.scaleSeconds, backlog);
      results.scaleOut.two = two;
      recordIncomplete(two.incomplete);
      progress.update('stopping the second instance');
      await stopUnknot(ingest[1]!);
      const one = await scaleOutRun(bench, base, [ingest[0]!], stream, plan.scaleSeconds, backlog);
      results.scaleOut.one = one;
      recordIncomplete(one.incomplete);
    });
  }
}

/**
 * `--nudges K [--seated N]`: the timer wheel at a real rate, without the full run's populations. N people registered
 * and seated straight into Redis (bench/bulk.ts), K of them due evenly over the spread, one service process; then
 * lateness and cost per nudge as (d) reports them. No memory or per-event cost figures.
 */
async function bulkNudgePhase(N: number, K: number): Promise<void> {
  const pop = await phase(
    `(d) ${K.toLocaleString('en-US')} nudges due over ${plan.spreadSeconds} s, ${N.toLocaleString('en-US')} people seated`,
    async () => {
      const prefix = `${runId}-k${K}`;
      const registered = await registerBulkPeople(bench, prefix, N, K);
      const W = opts.workers ?? 1;
      const p = await startUnknot(`unknot-k${K}`, prefix, prefix, W > 1 ? { UNKNOT_ROLES: 'api,ingest' } : {});
      const workers =
        W > 1
          ? await Promise.all(
              Array.from({ length: W }, (_, i) =>
                startUnknot(`worker-${i + 1}-k${K}`, prefix, prefix, { UNKNOT_ROLES: 'api,worker' }),
              ),
            )
          : [];
      if (sharedMqtt) retained.push({ base: prefix, tag: 'p', users: N });
      const worker = W > 1 ? together(`workers-k${K}`, workers) : p;
      const t: Target = { label: p.label, prefix, base: prefix, ingest: [p], worker };
      try {
        const r = await populationPhase(
          bench,
          t,
          bulkSeatedPlan(bench, prefix, N, K, registered, { backlogSeconds: 60, costEvents: 0 }),
        );
        for (const line of r.incomplete) note(line);
        return r;
      } finally {
        await Promise.all([p, ...workers].map((q) => stopUnknot(q)));
      }
    },
  );
  if (pop) results.populations.push(pop);
}

/** People 0 … K−1 get a nudge due in the window; the others sit with the longest break. */
const nudgedFirst = (K: number) => (i: number) => (i < K ? PROFILE : PROFILE_NO_NUDGE);

/** N people (tag `p`) registered in bulk straight into Redis, K of them to be nudged. */
function registerBulkPeople(b: Bench, prefix: string, N: number, K: number): Promise<Registered> {
  return registerPopulation(b, prefix, 'p', N, b.deadline - CLEANUP_RESERVE_MS, undefined, nudgedFirst(K));
}

/** (d)(e)(f) for people registered by registerBulkPeople and seated in bulk straight into Redis. */
function bulkSeatedPlan(
  b: Bench,
  prefix: string,
  N: number,
  K: number,
  registered: Registered,
  more: Pick<PopulationPlan, 'backlogSeconds' | 'costEvents'>,
): PopulationPlan {
  const regRate = registered.users / Math.max(1e-3, registered.seconds);
  return {
    tag: 'p',
    users: N,
    registered,
    spreadSeconds: plan.spreadSeconds,
    graceSeconds: plan.graceSeconds,
    ...more,
    // The first nudge falls due after the seating is expected to end: assume it is slower than registering.
    seedRateGuess: regRate / 1.5,
    nudgeUsers: K,
    bulkSeat: (seatedAt) =>
      seatBulk(b.redisUrl, prefix, 'p', N, seatedAt, nudgedFirst(K), {
        deadline: b.deadline - CLEANUP_RESERVE_MS,
        onProgress: (n) => progress.update(`seating in bulk: ${n}/${N}`, (0.3 * n) / N),
      }),
  };
}

/**
 * Several worker processes seen as one: their metrics scraped together (counters, CPU and histogram buckets add
 * up), so that (d)'s figures per nudge cover them all.
 */
function together(label: string, procs: UnknotProcess[]): UnknotProcess {
  return {
    label,
    pid: procs[0]!.pid,
    baseUrl: procs[0]!.baseUrl,
    scrape: async (timeoutMs) => {
      const all = await Promise.all(procs.map((q) => q.scrape(timeoutMs)));
      return new Scrape(
        all.flatMap((s) => s.samples),
        Date.now(),
      );
    },
    gone: () => procs.map((q) => q.gone()).find((why) => why !== undefined),
    tail: () => procs.map((q) => `${q.label}:\n${q.tail()}`).join('\n'),
    stop: async () => {
      await Promise.all(procs.map((q) => q.stop()));
    },
  };
}

/** Of the 1M people, these many have a nudge due in the window (the rest sit with the longest break). */
const MILLION_NUDGED = 100_000;

/**
 * 1M people, registered and seated straight into Redis with the service's own store code (bench/bulk.ts), when
 * that is expected to fit in ~10 minutes (estimated from the bulk registration of the smaller populations) and in
 * memory. 100k of them get a nudge due over the spread: nudge lateness with 1M seated. Then the per-event cost.
 */
async function millionPhase(): Promise<void> {
  const N = 1_000_000;
  const K = MILLION_NUDGED;
  const last: PopulationResult | undefined = results.populations.at(-1);
  if (!last) {
    results.millionSkipped = 'no smaller population was measured to estimate it from';
    note(`(f) 1M users: skipped, ${results.millionSkipped}`);
    return;
  }
  // The slowest rate seen so far: bigger populations have not been faster. Seating writes about as much as
  // registering (a state, a log entry, a due entry), so the set-up takes about twice the registration.
  const registerPerSec = Math.min(...results.populations.map((p) => p.registerPerSec));
  const setupMs = ((2 * N) / registerPerSec) * 1000;
  const measureMs = (plan.spreadSeconds + plan.graceSeconds) * 1000 + 60_000;
  const bytes = last.bytesPerUser * N;
  let why: string | undefined;
  if (setupMs > MILLION_SETUP_LIMIT_MS) {
    why = `setting it up would take ~${Math.round(setupMs / 60_000)} min (registering at ${Math.round(registerPerSec)} users/s), more than ${MILLION_SETUP_LIMIT_MS / 60_000} min`;
  } else if (bytes > freemem() * 0.5) {
    why = `it would need ~${Math.round(bytes / 2 ** 20)} MiB of Redis, more than half the free memory`;
  } else if (timeLeft(bench) < setupMs * 1.3 + measureMs) {
    why = 'not enough of the time budget left';
  }
  if (why) {
    results.millionSkipped = why;
    note(`(f) 1M users: skipped, ${why}`);
    return;
  }
  const pop = await phase(
    `(d)(e)(f) 1,000,000 users seated, ${K.toLocaleString('en-US')} of them with a nudge due`,
    async () => {
      // An estimate can be wrong: give the set-up at most half as long again as the limit, then stop it.
      const b: Bench = {
        ...bench,
        deadline: Math.min(bench.deadline, Date.now() + MILLION_SETUP_LIMIT_MS * 1.5 + measureMs),
      };
      const prefix = `${runId}-n${N}`;
      // The service starts first, as for 10k and 100k (and as a deployment that grew through its service): its
      // start-up passes over every person (heat and routine reconciliation, due-time indexing) then find no one.
      // Started after a bulk load, they read all 1M people one after the other, for minutes, while (d) and (f) were
      // measured (up to the run of 2026-12-02). The people are still ones this process has never read.
      const p = await startUnknot('unknot-1M', prefix, prefix);
      if (sharedMqtt) retained.push({ base: prefix, tag: 'p', users: N });
      const t: Target = { label: p.label, prefix, base: prefix, ingest: [p], worker: p };
      let r: PopulationResult;
      try {
        const registered = await registerBulkPeople(b, prefix, N, K);
        r = await populationPhase(
          b,
          t,
          bulkSeatedPlan(b, prefix, N, K, registered, {
            backlogSeconds: plan.backlogSeconds,
            costEvents: plan.costEvents,
          }),
        );
      } finally {
        await stopUnknot(p);
      }
      for (const line of r.incomplete) note(line);
      return r;
    },
  );
  if (pop) results.populations.push(pop);
}

try {
  await run();
} catch (err) {
  note(`setup failed: ${errorMessage(err).split('\n').slice(0, 8).join(' | ')}`);
  progress.stop();
  await cleanup();
  finish(1);
}
if (!interrupted) {
  progress.begin('stopping everything');
  await cleanup();
  if (Date.now() > deadline)
    note(`the run took ${Math.round((Date.now() - t0) / 1000)} s, past its ${plan.budgetMs / 1000} s budget`);
  finish(0);
}
