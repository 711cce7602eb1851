// Heat-pad sessions end to end: a transition of src/domain/heat.ts committed by one compare-and-set (with its
// adherence entries), then its effects — BullMQ jobs with deterministic ids, the sweep's index, the retained user
// state — and the ON/OFF commands, each claimed, published and recorded so that it goes out once.
import { randomBytes } from 'node:crypto';
import { adapters } from '../adapters/index.js';
import { ADVICE_LOOKBACK_DAYS, adviseProfessional } from '../domain/advice.js';
import {
  heatPolicyOf,
  heatReconcile,
  heatSummary,
  offDue,
  offReleased,
  offSent,
  onDue,
  onReleased,
  onSent,
  padGone,
  padReport,
  startHeat,
  stopHeat,
  type HeatEffect,
  type HeatSource,
  type HeatTransition,
  type OffOutcome,
} from '../domain/heat.js';
import type { Profile } from '../domain/profile.js';
import type { PainArea } from '../domain/types.js';
import type { HeatState, UserState } from '../domain/user-state.js';
import {
  type Command,
  type Device,
  type HeatOffReason,
  InvalidInputError,
  NotFoundError,
  type OutboundMessage,
  UnknotError,
} from '../domain/types.js';
import { warnUnlessRedisAway } from '../dependencies.js';
import { jobIds, type HeatJob } from '../queues/queues.js';
import type { AppContext } from './context.js';
import { InvariantError, logsOf } from './effects.js';
import { scanStates } from './state-scan.js';
import { latestPainArea, withAutoMethods } from '../domain/methods.js';
import type { Sessions } from './sessions.js';
import type { UserHooks } from './users.js';

export interface HeatStartOptions {
  /** Minutes of heat; absent: the profile's `heat.defaultMinutes`. Anything but a number > 0 is `invalid_minutes`. */
  minutes?: unknown;
  /** Which heat pad; absent: the user's first (by deviceId). */
  deviceId?: string;
  /** Who asks. `homeassistant` is accepted as another name for `ha`. */
  source: HeatSource | 'homeassistant';
  /** The pain area the heat is for (its methods-log entry); absent: the latest pain logged, else `other`. */
  area?: PainArea;
}

/** Times are epoch ms here; the HTTP layer turns them into ISO 8601. */
export interface HeatStarted {
  sessionId: string;
  deviceId: string;
  minutes: number;
  startedAt: number;
  offAt: number;
}

export interface HeatStopped {
  sessionId: string;
  stoppedAt: number;
  /** Whether the OFF was published before stop() returned (if not, a job retries it at once). */
  offSent: boolean;
}

type OffResult = OffOutcome['kind'] | 'sent';

const DAY_MS = 86_400_000;
/** How long a stop waits inline for an ON in flight before leaving its OFF to the job. */
const INLINE_OFF_WAIT_MS = 1_000;
/** Sessions the sweep takes on in one run; the rest wait for the next (they are oldest-first). */
const SWEEP_BATCH = 200;
/** Users whose heat pads this process remembers for a stop without Redis (oldest forgotten first). */
const KNOWN_PADS_MAX = 100_000;
/** A stop made without Redis is recorded when Redis is back: tried this often, for at most this long. */
const PENDING_STOP_RETRY_MS = 250;
const PENDING_STOP_MAX_MS = 3_600_000;

const iso = (ms: number) => new Date(ms).toISOString();

export class Heat {
  /** Claims carry a token unique to one attempt in one process. */
  private readonly instance = randomBytes(4).toString('hex');
  private attempt = 0;
  /** Commands this process published whose record has not committed yet: a retry only records them. */
  private readonly unrecorded = new Set<string>();
  /**
   * Heat pads this process has read, by user: where a stop sends its OFF when Redis is away (stopWithoutRedis).
   * Filled whenever a pad is read for a command or a start, so the instance that switched a pad on knows it.
   */
  private readonly knownPads = new Map<string, Map<string, Device>>();
  /** Users whose stop went out without Redis and still has to be recorded, retried until Redis takes it. */
  private readonly pendingStops = new Set<string>();

  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
  ) {}

  private token(): string {
    this.attempt = (this.attempt + 1) % Number.MAX_SAFE_INTEGER;
    return `${this.instance}-${this.attempt}`;
  }

  private member = (userId: string, sessionId: string) => `${userId}.${sessionId}`;
  /** The heat sweep's index of the user's partition. */
  private heatDue = (userId: string) => this.ctx.keys.heatDue(this.ctx.keys.partitionOf(userId));

  /** Commit one pure heat transition (with its log entries) by compare-and-set. */
  private transact<R>(userId: string, fn: (heat: HeatState, st: UserState) => HeatTransition<R>) {
    return this.ctx.store.transact(userId, (st) => {
      const t = fn(st.heat, st);
      // A session that ends goes into the methods log in the same commit (docs/concepts/methods.md).
      const logs = withAutoMethods(logsOf(t.effects), { heat: t.state }, this.ctx.config.timeScale);
      return { state: { ...st, heat: t.state }, logs, changed: t.changed, result: t };
    });
  }

  // ------------------------------------------------------------------------------------------ requests

  /** Switch heat on (API, button, routine, Home Assistant). Throws UnknotError with the refusal's code. */
  async start(userId: string, opts: HeatStartOptions): Promise<HeatStarted> {
    const profile = await this.sessions.profile(userId);
    const source: HeatSource = opts.source === 'homeassistant' ? 'ha' : opts.source;
    const now = this.ctx.now();
    const [devices, entries] = await Promise.all([
      this.ctx.registry.devicesOf(userId),
      // What the advice needs: medical-first reasons look back ADVICE_LOOKBACK_DAYS.
      this.ctx.adherence.read(userId, now - (ADVICE_LOOKBACK_DAYS + 1) * DAY_MS, now + 1),
    ]);
    for (const d of devices) this.rememberPad(d);
    const advice = adviseProfessional(entries, profile.contraindications, now, this.ctx.config.methods);
    const policy = heatPolicyOf(profile, this.ctx.config.timeScale);
    // The area the session is for, for its methods-log entry: the request's, else the latest pain logged.
    const area = opts.area ?? latestPainArea(entries, now);
    const c = await this.transact(userId, (heat, st) => {
      const t = startHeat(
        heat,
        {
          minutes: opts.minutes,
          deviceId: opts.deviceId,
          source,
          devices,
          heatBlocked: advice.heatBlocked,
          ...(advice.heatBlockedReason ? { heatBlockedReason: advice.heatBlockedReason } : {}),
          epoch: st.session.epoch,
        },
        policy,
        now,
      );
      return t.result.ok && area && t.state.current
        ? { ...t, state: { ...t.state, current: { ...t.state.current, area } } }
        : t;
    });
    await this.afterCommit(userId, c.result.effects, c.before, c.state, profile);
    const r = c.result.result;
    const log = this.ctx.log.child({ userId });
    if (!r.ok) {
      log.info({ code: r.code, source, detail: r.detail }, 'heat refused');
      throw new UnknotError(r.code, r.detail, r.kind);
    }
    const s = r.session;
    this.ctx.metrics.heatSessions.inc();
    log.info(
      { sessionId: s.sessionId, deviceId: s.deviceId, minutes: s.minutes, offAt: iso(s.offAt), source },
      'heat on',
    );
    return { sessionId: s.sessionId, deviceId: s.deviceId, minutes: s.minutes, startedAt: s.startedAt, offAt: s.offAt };
  }

  /** Switch heat off now; the OFF is published before this returns. 404 `not_on` when nothing is on. */
  async stop(userId: string, reason: HeatOffReason = 'manual'): Promise<HeatStopped> {
    const profile = await this.sessions.profile(userId);
    const now = this.ctx.now();
    const c = await this.transact(userId, (heat) => stopHeat(heat, reason, now));
    const r = c.result.result;
    if (!r.ok) throw new NotFoundError('not_on', 'heat is not on');
    this.ctx.log.info({ userId, sessionId: r.sessionId, reason }, 'heat stopped');
    const sent = await this.afterCommit(userId, c.result.effects, c.before, c.state, profile);
    return { sessionId: r.sessionId, stoppedAt: r.stoppedAt, offSent: sent.includes(r.sessionId) };
  }

  private rememberPad(device: Device): void {
    const pads = this.knownPads.get(device.userId) ?? new Map<string, Device>();
    if (device.role === 'heatpad') pads.set(device.deviceId, device);
    else pads.delete(device.deviceId);
    // A pad given to someone else is no longer this user's.
    for (const [userId, other] of this.knownPads) if (userId !== device.userId) other.delete(device.deviceId);
    if (pads.size > 0) this.knownPads.set(device.userId, pads);
    else this.knownPads.delete(device.userId);
    if (this.knownPads.size > KNOWN_PADS_MAX) this.knownPads.delete(this.knownPads.keys().next().value!);
  }

  /**
   * Stop with Redis away (DELETE …/heat): the state cannot be read or written, but the pad must go off. Sends OFF
   * to every heat pad of the user this process knows (from its own reads and the registry cache) and records the
   * stop once Redis is back. Returns the devices the OFF went to (none: nothing was sent).
   */
  async stopWithoutRedis(userId: string): Promise<{ deviceIds: string[]; failed: string[] }> {
    const pads = new Map(this.knownPads.get(userId));
    for (const d of this.ctx.registry.peekDevicesOf(userId)) if (d.role === 'heatpad') pads.set(d.deviceId, d);
    const deviceIds: string[] = [];
    const failed: string[] = [];
    await Promise.all(
      [...pads.values()].map(async (d) => {
        try {
          await this.publish(d, { command: 'heat', state: 'off', sessionId: 'none', reason: 'manual' }, 'manual');
          deviceIds.push(d.deviceId);
        } catch (err) {
          failed.push(d.deviceId);
          this.ctx.log.error({ err, userId, deviceId: d.deviceId }, 'heat OFF without Redis failed');
        }
      }),
    );
    deviceIds.sort();
    this.ctx.log.warn(
      { userId, deviceIds, failed },
      'heat stop with Redis unavailable: OFF sent directly; recorded once Redis is back',
    );
    if (deviceIds.length > 0) this.recordStopLater(userId);
    return { deviceIds, failed };
  }

  /** Retries the stop until Redis takes it, so the session is logged as stopped and its timers end. */
  private recordStopLater(userId: string): void {
    if (this.pendingStops.has(userId)) return;
    this.pendingStops.add(userId);
    const giveUpAt = this.ctx.now() + PENDING_STOP_MAX_MS;
    const attempt = async () => {
      try {
        await this.stop(userId, 'manual');
        this.ctx.log.info({ userId }, 'heat stop sent during the Redis outage is now recorded');
      } catch (err) {
        if (!(err instanceof UnknotError) && this.ctx.now() < giveUpAt) {
          setTimeout(() => void attempt(), PENDING_STOP_RETRY_MS).unref();
          return;
        }
      }
      this.pendingStops.delete(userId);
    };
    setTimeout(() => void attempt(), PENDING_STOP_RETRY_MS).unref();
  }

  /** A `heat_on` / `heat_off` button action. A heat pad with its own button switches itself. */
  async button(device: Device, action: 'heat_on' | 'heat_off', minutes?: number): Promise<void> {
    if (action === 'heat_off') {
      await this.stop(device.userId, 'manual');
      return;
    }
    await this.start(device.userId, {
      minutes,
      ...(device.role === 'heatpad' ? { deviceId: device.deviceId } : {}),
      source: 'button',
    });
  }

  /** What GET /api/users/{userId}/heat shows. */
  async status(userId: string) {
    const profile = await this.sessions.profile(userId);
    const { state } = await this.ctx.store.read(userId);
    return heatSummary(state.heat, heatPolicyOf(profile, this.ctx.config.timeScale), this.ctx.now());
  }

  // ------------------------------------------------------------------------------------------ watchdog

  /** A heat pad reported its state (ingest). */
  async padReport(device: Device, report: 'on' | 'off', at: number): Promise<void> {
    if (device.role !== 'heatpad')
      throw new InvalidInputError('wrong_role', 'only a device with role heatpad reports heat state');
    this.rememberPad(device);
    const profile = await this.ctx.registry.getProfile(device.userId);
    const now = this.ctx.now();
    const c = await this.transact(device.userId, (heat) => padReport(heat, device.deviceId, report, at, now));
    const r = c.result.result;
    const log = this.ctx.log.child({ userId: device.userId, deviceId: device.deviceId });
    if (r.kind === 'watchdog')
      log.warn({ report, sessionId: r.sessionId }, 'watchdog: heat pad on without a live session; switching it off');
    else if (r.kind === 'ended')
      log.info({ sessionId: r.sessionId, reason: r.reason }, 'heat pad reported off: session ended');
    else log.debug({ report, outcome: r }, 'heat pad report');
    await this.afterCommit(device.userId, c.result.effects, c.before, c.state, profile, device);
  }

  // ---------------------------------------------------------------------------------------------- jobs

  /**
   * What a job of the `heat` queue asks for (workers/heat-worker.ts runs the queue): what happened, or when to run
   * the job again.
   */
  async runJob(data: HeatJob): Promise<string | { until: number }> {
    switch (data.kind) {
      case 'heat-on':
        return this.sendOn(data.userId, data.sessionId);
      case 'heat-off': {
        const r = await this.sendOff(data.userId, data.sessionId);
        if (typeof r === 'object') return r;
        if (r === 'sent' && this.ctx.now() - data.dueAt > 1000) {
          this.ctx.log.warn(
            { userId: data.userId, sessionId: data.sessionId, lateMs: this.ctx.now() - data.dueAt },
            'heat OFF went out late',
          );
        }
        return r;
      }
      case 'heat-reconcile':
        await this.reconcile(data.userId);
        return 'reconciled';
      case 'heat-sweep':
        return `swept ${await this.sweep()}`;
      default:
        return 'unknown job';
    }
  }

  /**
   * The ON of a session: claim, publish, record. Returns what happened, or when to look again. An ON is published
   * only while its session is live and before its offAt.
   */
  async sendOn(userId: string, sessionId: string): Promise<string | { until: number }> {
    const key = `on.${this.member(userId, sessionId)}`;
    const log = this.ctx.log.child({ userId, sessionId });
    if (this.unrecorded.has(key)) return this.recordOn(userId, sessionId, key);
    const token = this.token();
    const now = this.ctx.now();
    const c = await this.transact(userId, (heat) => onDue(heat, sessionId, token, now));
    const r = c.result.result;
    if (r.kind === 'wait') return { until: r.until };
    if (r.kind === 'stale') {
      log.info({ why: r.why }, 'stale heat ON dropped');
      return 'stale';
    }
    if (r.kind === 'already') return 'already';
    const device = await this.ctx.registry.getDevice(r.deviceId);
    if (device) this.rememberPad(device);
    if (!device || device.role !== 'heatpad') {
      // Deleting or re-addressing a pad ends its session (hooks below); nothing to switch on.
      await this.transact(userId, (heat) => onReleased(heat, sessionId, token));
      log.warn({ deviceId: r.deviceId }, 'heat pad is gone: ON not sent');
      return 'no_device';
    }
    try {
      await this.publish(
        device,
        { command: 'heat', state: 'on', sessionId, autoOffSeconds: r.autoOffSeconds },
        'start',
      );
    } catch (err) {
      await this.transact(userId, (heat) => onReleased(heat, sessionId, token)).catch(() => undefined);
      throw err;
    }
    this.unrecorded.add(key);
    log.info({ deviceId: r.deviceId, autoOffSeconds: r.autoOffSeconds, protocol: device.protocol }, 'heat ON sent');
    return this.recordOn(userId, sessionId, key);
  }

  private async recordOn(userId: string, sessionId: string, key: string): Promise<string> {
    const c = await this.transact(userId, (heat) => onSent(heat, sessionId, this.ctx.now()));
    this.unrecorded.delete(key);
    const resend = c.result.result.resendOff;
    if (resend) {
      // The OFF overtook this ON (our claim had lapsed): the pad must hear OFF last.
      const cur = c.state.heat.current;
      const device = cur ? await this.ctx.registry.getDevice(cur.deviceId) : null;
      this.ctx.log.warn({ userId, sessionId }, 'heat ON went out after its OFF: sending OFF again');
      if (device) await this.publish(device, { command: 'heat', state: 'off', sessionId, reason: resend }, resend);
    }
    return 'sent';
  }

  /**
   * The OFF of a session: end it if it is due (timer), claim, publish, record. Returns what happened, or when to
   * look again (not due yet, or the ON or another OFF is in flight). Shared by the OFF job, the sweep, a manual stop
   * and the watchdog.
   */
  async sendOff(userId: string, sessionId: string): Promise<OffResult | { until: number }> {
    const key = `off.${this.member(userId, sessionId)}`;
    if (this.unrecorded.has(key)) return this.recordOff(userId, sessionId, key);
    const token = this.token();
    const now = this.ctx.now();
    const c = await this.transact(userId, (heat) => offDue(heat, sessionId, token, now));
    const r = c.result.result;
    if (c.result.effects.length > 0) {
      // The timer ended the session here: log it, show it in the user state.
      const profile = await this.ctx.registry.getProfile(userId);
      await this.afterCommit(userId, c.result.effects, c.before, c.state, profile);
    }
    const log = this.ctx.log.child({ userId, sessionId });
    if (r.kind === 'done') {
      await this.ctx.redis.zrem(this.heatDue(userId), this.member(userId, sessionId));
      return 'done';
    }
    if (r.kind === 'not_due' || r.kind === 'wait') return { until: r.until };
    // Taken over from a process that died while publishing: the broker's retained record says whether it got there.
    if (
      r.takeover &&
      (await this.ctx.mqtt.retainedHas(this.ctx.topics.userLastHeatOff(userId), 'sessionId', sessionId))
    ) {
      log.warn(
        { deviceId: r.deviceId },
        'heat OFF was delivered by a process that stopped before recording it: not sent again',
      );
      return this.recordOff(userId, sessionId, key);
    }
    const device = await this.ctx.registry.getDevice(r.deviceId);
    if (device) this.rememberPad(device);
    try {
      if (device) {
        await this.publish(device, { command: 'heat', state: 'off', sessionId, reason: r.reason }, r.reason, {
          topic: this.ctx.topics.userLastHeatOff(userId),
          payload: JSON.stringify({ sessionId, at: new Date(this.ctx.now()).toISOString() }),
          qos: 1,
          retain: true,
        });
      } else {
        // Deleting a pad sends its OFF (hooks below); if that failed, its own auto-off is what is left.
        log.error({ deviceId: r.deviceId }, 'heat pad is gone from the registry: no address to send its OFF to');
      }
    } catch (err) {
      await this.transact(userId, (heat) => offReleased(heat, sessionId, token)).catch(() => undefined);
      throw err;
    }
    this.unrecorded.add(key);
    const lateMs = this.ctx.now() - r.offAt;
    log.info({ deviceId: r.deviceId, reason: r.reason, ...(r.reason === 'timer' ? { lateMs } : {}) }, 'heat OFF sent');
    return this.recordOff(userId, sessionId, key);
  }

  private async recordOff(userId: string, sessionId: string, key: string): Promise<'sent'> {
    await this.transact(userId, (heat) => offSent(heat, sessionId));
    this.unrecorded.delete(key);
    await this.ctx.redis.zrem(this.heatDue(userId), this.member(userId, sessionId));
    return 'sent';
  }

  /**
   * Sessions past their OFF time whose OFF is not recorded as published: a failed or lost job, a crash. Runs every
   * few seconds (a BullMQ job scheduler) and at worker start. Cheap: one ZRANGEBYSCORE per partition on a small
   * sorted set, pipelined.
   */
  async sweep(): Promise<number> {
    const now = this.ctx.now();
    const { keys } = this.ctx;
    // One command a partition, not one pipeline: on a Redis Cluster a pipeline must stay in one slot, and the
    // partitions' indexes are on every shard (auto-pipelining still sends them together, per node).
    const replies = await Promise.all(
      Array.from({ length: keys.partitions }, (_, n) =>
        this.ctx.redis.zrangebyscore(keys.heatDue(n), '-inf', now, 'LIMIT', 0, SWEEP_BATCH).catch((err: unknown) => {
          warnUnlessRedisAway(this.ctx, err, 'heat sweep', () =>
            this.ctx.log.warn({ err, partition: n }, 'heat sweep could not read a partition; next sweep tries again'),
          );
          return [] as string[];
        }),
      ),
    );
    const due = replies.flatMap((members, n) => members.map((member) => ({ n, member })));
    let sent = 0;
    await Promise.all(
      due.map(async ({ n, member }) => {
        const [userId, sessionId] = member.split('.');
        if (!userId || !sessionId) {
          await this.ctx.redis.zrem(keys.heatDue(n), member);
          return;
        }
        try {
          const r = await this.sendOff(userId, sessionId);
          if (r === 'sent') {
            sent += 1;
            this.ctx.log.warn({ userId, sessionId }, 'heat sweep sent an OFF that its job had not');
          } else if (typeof r === 'object' && r.until > now) {
            // Not due yet (e.g. after a restart): score it by when it is.
            await this.ctx.redis.zadd(keys.heatDue(n), 'XX', r.until, member);
          }
        } catch (err) {
          this.ctx.log.error({ err, userId, sessionId }, 'heat sweep could not send OFF; next sweep tries again');
        }
      }),
    );
    return sent;
  }

  /** Make sure the jobs the user's heat state calls for exist (worker start, after a crash). */
  async reconcile(userId: string): Promise<void> {
    const profile = await this.ctx.registry.getProfile(userId);
    if (!profile) return;
    const { state } = await this.ctx.store.read(userId);
    const effects = heatReconcile(state.heat, this.ctx.now());
    if (effects.length > 0) await this.afterCommit(userId, effects, state, state, profile);
  }

  /**
   * Every person whose stored heat state calls for jobs (worker start): the scan reads states in chunks and parses
   * only those with a heat part; `reconcile` reads again the few whose state asks for something.
   */
  async reconcileAll(): Promise<void> {
    const now = this.ctx.now();
    try {
      await scanStates(this.ctx, '"heat":', async (userId, state) => {
        if (heatReconcile(state.heat, now).length > 0) await this.reconcile(userId);
      });
    } catch (err) {
      // Redis away (or the process stopping): the sweep of the heat index still runs every few seconds.
      warnUnlessRedisAway(this.ctx, err, 'heat reconcile', () => this.ctx.log.warn({ err }, 'heat reconcile failed'));
    }
  }

  // ------------------------------------------------------------------------------------------- effects

  /**
   * Runs a committed transition's effects; every one is idempotent. Returns the sessions whose OFF went out here.
   * For a new session the index entry and the OFF job are in place before the ON job exists.
   */
  private async afterCommit(
    userId: string,
    effects: HeatEffect[],
    before: UserState,
    after: UserState,
    profile: Profile | null,
    reporter?: Device,
  ): Promise<string[]> {
    const { queues, redis } = this.ctx;
    const offNow: string[] = [];
    for (const e of effects) {
      switch (e.kind) {
        case 'schedule_off':
          await redis.zadd(this.heatDue(userId), e.dueAt, this.member(userId, e.sessionId));
          await queues.ensureAt(
            queues.heat,
            jobIds.heatOff(userId, e.sessionId),
            { kind: 'heat-off', userId, sessionId: e.sessionId, dueAt: e.dueAt },
            e.dueAt,
          );
          break;
        case 'schedule_on':
          await queues.ensureAt(
            queues.heat,
            jobIds.heatOn(userId, e.sessionId),
            { kind: 'heat-on', userId, sessionId: e.sessionId },
            e.dueAt,
          );
          break;
        case 'send_off':
          // Indexed as due now first: if this process dies before the OFF is recorded, the sweep finds it.
          await redis.zadd(this.heatDue(userId), this.ctx.now(), this.member(userId, e.sessionId));
          offNow.push(e.sessionId);
          break;
        case 'session_done':
          await redis.zrem(this.heatDue(userId), this.member(userId, e.sessionId));
          await queues.removeIfWaiting(queues.heat, jobIds.heatOn(userId, e.sessionId));
          await queues.removeIfWaiting(queues.heat, jobIds.heatOff(userId, e.sessionId));
          break;
        case 'publish_off': {
          const device = reporter?.deviceId === e.deviceId ? reporter : await this.ctx.registry.getDevice(e.deviceId);
          if (device)
            await this.publish(
              device,
              { command: 'heat', state: 'off', sessionId: e.sessionId, reason: e.reason },
              e.reason,
            );
          break;
        }
        case 'log':
          break;
      }
    }
    // The OFF first: the retained state and the listeners can wait a millisecond, the pad should not.
    const sent: string[] = [];
    for (const sessionId of offNow) {
      if (await this.offAtOnce(userId, sessionId)) sent.push(sessionId);
    }
    if (profile) await this.sessions.publishStateIfChanged(userId, before, after, this.sessions.policy(profile));
    this.sessions.notifyLogs(userId, logsOf(effects));
    return sent;
  }

  /**
   * OFF now (stop, watchdog). An ON being published this very moment is waited for (briefly: it takes milliseconds),
   * so that a DELETE answers with the OFF sent; otherwise its job is moved to now and retries with backoff.
   */
  private async offAtOnce(userId: string, sessionId: string): Promise<boolean> {
    let until = this.ctx.now();
    const giveUpAt = until + INLINE_OFF_WAIT_MS;
    try {
      for (;;) {
        const r = await this.sendOff(userId, sessionId);
        if (r === 'sent' || r === 'done') return r === 'sent';
        until = typeof r === 'object' ? r.until : until;
        if (until > giveUpAt) break;
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, until - this.ctx.now())));
      }
    } catch (err) {
      this.ctx.log.error({ err, userId, sessionId }, 'heat OFF failed; its job retries');
    }
    try {
      const { queues } = this.ctx;
      await queues.ensureAt(
        queues.heat,
        jobIds.heatOff(userId, sessionId),
        { kind: 'heat-off', userId, sessionId, dueAt: until },
        until,
      );
    } catch (err) {
      this.ctx.log.error({ err, userId, sessionId }, 'could not reschedule the heat OFF; the sweep sends it');
    }
    return false;
  }

  /**
   * `record`: a retained message published right behind the command, on the same connection and in the same go,
   * so that the broker holding it means the command got there too.
   */
  private async publish(device: Device, command: Command, reason: string, record?: OutboundMessage): Promise<void> {
    const messages = adapters[device.protocol].format(device, command, this.ctx.topics);
    if (messages.length === 0)
      throw new InvariantError(
        'no_heat_command',
        `protocol ${device.protocol} has no heat command for device ${device.deviceId}`,
      );
    await Promise.all([...messages, ...(record ? [record] : [])].map((m) => this.ctx.mqtt.publish(m)));
    if (command.command === 'heat') this.ctx.metrics.heatCommands.inc({ state: command.state, reason });
  }

  // -------------------------------------------------------------------------------------- device hooks

  /**
   * A heat pad deleted, re-addressed or given away mid-session: the session ends and the old address gets its OFF
   * now (no job could reach it afterwards). A deleted user's pads get an OFF too: their state is gone with them.
   */
  userHooks(): UserHooks {
    const gone = async (device: Device) => {
      const now = this.ctx.now();
      const c = await this.transact(device.userId, (heat) => padGone(heat, device.deviceId, now));
      const r = c.result.result;
      const profile = await this.ctx.registry.getProfile(device.userId);
      await this.afterCommit(device.userId, c.result.effects, c.before, c.state, profile);
      if (r.sendOff) {
        this.ctx.log.info(
          { userId: device.userId, deviceId: device.deviceId, sessionId: r.sessionId },
          'heat pad removed mid-session: OFF sent',
        );
        await this.publish(
          device,
          { command: 'heat', state: 'off', sessionId: r.sessionId, reason: r.reason },
          r.reason,
        );
      }
    };
    const guard = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        this.ctx.log.error({ err }, `heat: ${what} failed`);
      }
    };
    return {
      deviceDeleted: (device) =>
        guard('device deleted', async () => {
          this.knownPads.get(device.userId)?.delete(device.deviceId);
          if (device.role === 'heatpad') await gone(device);
        }),
      deviceChanged: (device, previous) =>
        guard('device changed', async () => {
          this.rememberPad(device);
          if (previous?.role !== 'heatpad') return;
          const moved =
            device.role !== 'heatpad' ||
            device.userId !== previous.userId ||
            device.protocol !== previous.protocol ||
            device.topic !== previous.topic ||
            // Another relay of the same device (`channel`): the old one still needs its OFF.
            (device.channel ?? null) !== (previous.channel ?? null);
          if (moved) await gone(previous);
        }),
      userDeleted: (userId, devices) =>
        guard('user deleted', async () => {
          for (const d of devices.filter((x) => x.role === 'heatpad')) {
            await this.publish(d, { command: 'heat', state: 'off', sessionId: 'none', reason: 'manual' }, 'manual');
          }
        }),
    };
  }
}
