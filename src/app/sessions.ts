// Sitting sessions end to end: a transition of the pure reducer committed by one compare-and-set, then its
// effects — BullMQ jobs with deterministic ids, the retained user state, nudges on MQTT.
import { DelayedError, type Job } from 'bullmq';
import { adapters } from '../adapters/index.js';
import {
  applySensorEvent,
  commit,
  nextNudge,
  nudgeDue,
  nudgePublished,
  policyOf,
  sessionIdOf,
  sessionSummary,
  snooze,
  view,
  type Policy,
  type SensorOutcome,
  type SessionEffect,
  type SessionState,
  type SnoozeResult,
} from '../domain/session.js';
import type { Profile } from '../domain/profile.js';
import type { UserState } from '../domain/user-state.js';
import type { Versioned } from '../store/state-store.js';
import { UnknotError, type Device, type LogEntry, type Posture } from '../domain/types.js';
import { jobIds, type NudgeJob } from '../queues/queues.js';
import type { AppContext } from './context.js';
import { nudgeMessage } from './messages.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** A nudge due later than this is not looked up when its person sits back down (clock skew between processes). */
const RESUME_MARGIN_MS = 1000;

export const logsOf = (effects: SessionEffect[]): LogEntry[] =>
  effects.flatMap((e) => (e.kind === 'log' ? [e.entry] : []));

/** The retained `{base}/users/{userId}/state` payload (CONTRACT §4), also used by GET /api/users/{id}. */
export function publicState(state: UserState, policy: Policy, now: number) {
  const s = sessionSummary(state.session, policy, now);
  const heat = state.heat.current;
  const heatOn = !!heat && !heat.ended;
  return {
    posture: s.posture,
    since: iso(s.since),
    sittingSeconds: s.sittingSeconds,
    nextNudgeAt: iso(s.nextNudgeAt),
    heat: { on: heatOn, offAt: heatOn ? iso(heat.offAt) : null, sessionId: heatOn ? heat.sessionId : null, deviceId: heatOn ? heat.deviceId : null },
    sessionId: s.sessionId,
    sittingSince: iso(s.sittingSince),
    nudgesSent: s.nudgesSent,
    snoozes: s.snoozes,
    breakDue: s.breakDue,
    routine:
      state.routine && !state.routine.ended
        ? { routineId: state.routine.routineId, index: state.routine.index }
        : null,
    updatedAt: new Date(now).toISOString(),
  };
}

/** What changes the retained state is worth publishing for (not the ticking sittingSeconds or updatedAt). */
const stateKey = (p: ReturnType<typeof publicState>) =>
  JSON.stringify([p.posture, p.since, p.nextNudgeAt, p.heat, p.sessionId, p.nudgesSent, p.snoozes, p.breakDue, p.routine, p.sittingSince]);

export interface SensorEventOptions {
  /** The message is an MQTT redelivery: its effects may never have run. */
  redelivered?: boolean;
  /** The registry version read for this message (Registry.version). */
  version?: number;
  /** The person's state, read already (alongside the registry version). */
  firstRead?: Promise<Versioned>;
}

/** People whose last committed state this process keeps (see Sessions.recent). ~1 KB each. */
const RECENT_MAX = 50_000;

export class Sessions {
  /** Called after a transition committed adherence entries (Home Assistant's compliance sensor listens). */
  readonly logListeners: Array<(userId: string, logs: LogEntry[]) => void> = [];
  /**
   * The state (and version) this process last committed for a person's posture event. The next event of theirs
   * starts from it instead of a GET: the compare-and-set checks the version, and a state someone else moved on is
   * read and the transition run again. Dropped when the registry says the person changed (deleted and re-created).
   */
  private readonly recent = new Map<string, Versioned>();

  constructor(private readonly ctx: AppContext) {
    ctx.registry.onChange((change) => {
      if (!change) this.recent.clear();
      else for (const u of change.users ?? []) this.recent.delete(u);
    });
  }

  /** Does the next posture event of this person start from a state this process kept (no read needed)? */
  hasRecent(userId: string): boolean {
    return this.recent.has(userId);
  }

  private remember(userId: string, v: Versioned): void {
    this.recent.delete(userId);
    if (this.recent.size >= RECENT_MAX) this.recent.delete(this.recent.keys().next().value!);
    this.recent.set(userId, v);
  }

  /** Tell the listeners about committed entries; a listener's failure never fails the transition. */
  notifyLogs(userId: string, logs: LogEntry[]): void {
    if (logs.length === 0) return;
    for (const l of this.logListeners) {
      try {
        l(userId, logs);
      } catch (err) {
        this.ctx.log.warn({ err, userId }, 'log listener failed');
      }
    }
  }

  /** `version`: the registry version read for this event, to answer from the cache (Registry.version). */
  async profile(userId: string, version?: number): Promise<Profile> {
    const p = await this.ctx.registry.getProfile(userId, version);
    if (!p) throw new UnknotError('unknown_user', `no user ${userId}; create it with PUT /api/users/${userId}`, 404);
    return p;
  }

  policy(profile: Profile): Policy {
    return policyOf(profile, this.ctx.config.timeScale);
  }

  /** One posture observation from one device. */
  async sensorEvent(device: Device, posture: Posture, at: number, id?: string, opts: SensorEventOptions = {}): Promise<SensorOutcome> {
    const kept = opts.firstRead ? undefined : this.recent.get(device.userId);
    const firstRead = opts.firstRead ?? (kept ? Promise.resolve(kept) : this.ctx.store.read(device.userId));
    const profile = await this.profile(device.userId, opts.version).catch(async (err: unknown) => {
      await firstRead.catch(() => undefined);
      throw err;
    });
    const policy = this.policy(profile);
    const now = this.ctx.now();
    const step = (st: UserState) => {
      const t = applySensorEvent(st.session, { deviceId: device.deviceId, role: device.role, posture, at, id }, policy, now);
      return { state: { ...st, session: t.state }, logs: logsOf(t.effects), changed: t.changed, result: { outcome: t.result!, effects: t.effects } };
    };
    let c = await this.ctx.store.transact(device.userId, step, firstRead);
    // "No change" judged on a kept state is not proof (a worker may have moved the state on): read and judge again.
    // A change needs no such check: the compare-and-set failed if the kept version was not the stored one.
    if (kept && !c.changed && c.logs.length === 0) c = await this.ctx.store.transact(device.userId, step);
    this.remember(device.userId, { v: c.v, state: c.changed || c.logs.length > 0 ? c.state : c.before });
    // A transition that changed nothing has no effects and the same public state: nothing to do after it.
    if (c.changed || c.result.effects.length > 0) await this.afterCommit(device.userId, c.result.effects, c.before, c.state, policy, profile);
    if (c.result.outcome !== 'applied') {
      this.ctx.metrics.eventsStale.inc({ outcome: c.result.outcome });
      // A duplicate may be the redelivery of a message whose effects never ran: make sure they exist, the retained
      // state included (test/e2e/faults.test.ts: after a Redis kill it could stay stale until the next change).
      if (c.result.outcome === 'duplicate' || opts.redelivered) await this.reconcile(device.userId, { publishState: true });
    }
    return c.result.outcome;
  }

  /** Snooze from the API or a wearable button. */
  async snooze(userId: string, minutes?: number): Promise<SnoozeResult> {
    const profile = await this.profile(userId);
    const policy = this.policy(profile);
    const now = this.ctx.now();
    const snoozeMs = minutes === undefined ? undefined : Math.max(1, Math.round((minutes * 60_000) / this.ctx.config.timeScale));
    const c = await this.ctx.store.transact(userId, (st) => {
      const t = snooze(st.session, policy, now, snoozeMs);
      return { state: { ...st, session: t.state }, logs: logsOf(t.effects), changed: t.changed, result: { r: t.result!, effects: t.effects } };
    });
    await this.afterCommit(userId, c.result.effects, c.before, c.state, policy, profile);
    return c.result.r;
  }

  async ack(userId: string, deviceId?: string): Promise<void> {
    const profile = await this.profile(userId);
    const policy = this.policy(profile);
    const now = this.ctx.now();
    await this.ctx.store.transact(userId, (st) => {
      const cur = view(st.session, policy).cur;
      const entry: LogEntry = { type: 'nudge_acked', at: now, sessionId: cur ? sessionIdOf(st.session, cur.seq) : null, deviceId };
      return { state: st, logs: [entry], changed: false, result: undefined };
    });
  }

  /** A BullMQ job of the `nudges` queue fired. */
  async processJob(job: Job<NudgeJob>, token?: string): Promise<string> {
    const data = job.data;
    // The state is read alongside the profile: one round trip.
    const firstRead = this.ctx.store.read(data.userId);
    firstRead.catch(() => undefined); // awaited by the transaction below, or dropped with the job
    // The registry version lets the profile and the device list come from this process's cache.
    const version = await this.ctx.registry.version();
    const profile = await this.ctx.registry.getProfile(data.userId, version);
    if (!profile) return 'user gone';
    const policy = this.policy(profile);
    const now = this.ctx.now();
    if (data.kind === 'break-check') {
      const c = await this.ctx.store.transact(
        data.userId,
        (st) => {
          const t = commit(st.session, policy, now);
          return { state: { ...st, session: t.state }, logs: logsOf(t.effects), changed: t.changed, result: t.effects };
        },
        firstRead,
      );
      await this.afterCommit(data.userId, c.result, c.before, c.state, policy, profile);
      return 'checked';
    }
    const c = await this.ctx.store.transact(
      data.userId,
      (st) => {
        const t = nudgeDue(st.session, data.sessionId, data.level, policy, now);
        return { state: { ...st, session: t.state }, logs: logsOf(t.effects), changed: t.changed, result: { r: t.result!, effects: t.effects } };
      },
      firstRead,
    );
    await this.afterCommit(data.userId, c.result.effects, c.before, c.state, policy, profile);
    const r = c.result.r;
    const log = this.ctx.log.child({ userId: data.userId, sessionId: data.sessionId });
    if (r.kind === 'wait') {
      log.debug({ level: data.level, until: iso(r.until), why: r.why }, 'nudge waits');
      // Marked held, so that sitting back down sooner brings it forward again (Queues.ensureAt).
      if (data.kind === 'nudge' && data.heldUntil !== r.until) await job.updateData({ ...data, heldUntil: r.until });
      await job.moveToDelayed(Math.max(r.until, Date.now() + 1), token);
      throw new DelayedError();
    }
    if (r.kind === 'sent' || (r.kind === 'already' && !r.published)) {
      // Sent but not recorded as published: a worker died in between, or its publish failed. The broker's retained
      // record of the last nudge it got says which (publishNudge), so a nudge that went out is not sent twice.
      if (r.kind === 'already' && (await this.ctx.mqtt.retainedHas(this.ctx.topics.userLastNudge(data.userId), 'nudgeId', r.nudgeId))) {
        await this.recordPublished(data.userId, data.sessionId, r.level);
        log.warn({ level: r.level, nudgeId: r.nudgeId }, 'nudge was delivered by a worker that stopped before recording it: not sent again');
        return `delivered ${r.level}`;
      }
      await this.publishNudge(data.userId, data.sessionId, r.level, r.nudgeId, c.state.session, policy, profile, now, version);
      // Usually nobody wrote since the first commit, so its result stands in for a fresh read.
      await this.recordPublished(data.userId, data.sessionId, r.level, { v: c.v, state: c.state });
      this.ctx.metrics.nudgeLateness.observe(Math.max(0, Date.now() - data.dueAt) / 1000);
      log.info({ level: r.level, nudgeId: r.nudgeId, lateMs: Date.now() - data.dueAt }, 'nudge sent');
      return `sent ${r.level}`;
    }
    if (r.kind === 'ignored_logged') log.info('nudges ignored; no more for this session');
    return r.kind;
  }

  private async recordPublished(userId: string, sessionId: string, level: number, known?: Versioned): Promise<void> {
    await this.ctx.store.transact(
      userId,
      (st) => {
        const t = nudgePublished(st.session, sessionId, level);
        return { state: { ...st, session: t.state }, logs: [], changed: t.changed, result: undefined };
      },
      known ? Promise.resolve(known) : undefined,
    );
  }

  private async publishNudge(
    userId: string,
    sessionId: string,
    level: number,
    nudgeId: string,
    s: SessionState,
    policy: Policy,
    profile: Profile,
    now: number,
    version?: number,
  ): Promise<void> {
    const cur = s.base.cur;
    const sittingSeconds = cur ? Math.round((now - cur.startedAt) / 100) / 10 : 0;
    // The words speak in policy time, so a demo at a fast time scale still says "30 minutes".
    const message = nudgeMessage(level, sittingSeconds * this.ctx.config.timeScale, policy.maxNudges);
    const { topics, mqtt } = this.ctx;
    const devices = await this.ctx.registry.devicesOf(userId, version);
    const at = new Date(now).toISOString();
    // All in one go, on one connection, so the broker takes them in this order: the retained record last, so that
    // when it holds this nudgeId the nudge and the device commands reached the broker too.
    const sent = [
      mqtt.publishJson(
        topics.userNudge(userId),
        // event_type lets a Home Assistant `event` entity take the payload as it is.
        { nudgeId, userId, level, sittingSeconds, message, at, sessionId, maxNudges: profile.maxNudges, event_type: 'nudge' },
        { qos: 1 },
      ),
      ...devices
        .filter((d) => d.role === 'wearable' || d.role === 'hub')
        .flatMap((d) => adapters[d.protocol].format(d, { command: 'nudge', nudgeId, level, message }, topics))
        .map((m) => mqtt.publish(m)),
      mqtt.publishJson(topics.userLastNudge(userId), { nudgeId, level, at }, { qos: 1, retain: true }),
    ];
    await Promise.all(sent);
    this.ctx.metrics.nudgesSent.inc({ level: String(level) });
  }

  /** Runs a committed transition's effects. Every effect is idempotent, so running one twice is harmless. */
  async afterCommit(
    userId: string,
    effects: SessionEffect[],
    before: UserState,
    after: UserState,
    policy: Policy,
    profile: Profile,
  ): Promise<void> {
    const { queues } = this.ctx;
    await Promise.all(
      effects.map(async (e) => {
        switch (e.kind) {
          case 'schedule_nudge':
            // Back from a short interruption with the nudge still ahead: its job has not run, so it is where it was.
            if (e.resumed && e.dueAt > Date.now() + RESUME_MARGIN_MS) return undefined;
            return (e.fresh ? queues.addNew.bind(queues) : queues.ensureAt.bind(queues))(
              queues.nudges,
              jobIds.nudge(userId, e.sessionId, e.level),
              { kind: 'nudge', userId, sessionId: e.sessionId, level: e.level, dueAt: e.dueAt },
              e.dueAt,
            );
          case 'schedule_break_check':
            // Its id names the interruption, and its due time follows from it: it never needs moving.
            return queues.addNew(
              queues.nudges,
              jobIds.breakCheck(userId, e.sessionId, e.upSince),
              { kind: 'break-check', userId, sessionId: e.sessionId, upSince: e.upSince, dueAt: e.dueAt },
              e.dueAt,
            );
          case 'session_ended': {
            const ids = Array.from({ length: profile.maxNudges + 1 }, (_, i) => jobIds.nudge(userId, e.sessionId, i + 1));
            return Promise.all(ids.map((id) => queues.removeIfWaiting(queues.nudges, id)));
          }
          default:
            return undefined;
        }
      }),
    );
    await this.publishStateIfChanged(userId, before, after, policy);
    this.notifyLogs(userId, logsOf(effects));
  }

  async publishStateIfChanged(userId: string, before: UserState, after: UserState, policy: Policy, force = false) {
    const now = this.ctx.now();
    const next = publicState(after, policy, now);
    if (!force && stateKey(publicState(before, policy, now)) === stateKey(next)) return;
    // Not awaited: the broker's PUBACK adds a round trip to every event and guarantees nothing more. MQTT.js sends
    // (and, while disconnected, queues) publishes in call order, so retained states still arrive in commit order.
    this.ctx.mqtt
      .publishJson(this.ctx.topics.userState(userId), next, { qos: 1, retain: true })
      .catch((err: unknown) => this.ctx.log.warn({ err, userId }, 'could not publish the retained state'));
  }

  /**
   * Make sure the jobs the current state calls for exist (after a crash between commit and effects), and with
   * `publishState` the retained state too, from the same read.
   */
  async reconcile(userId: string, opts: { publishState?: boolean } = {}): Promise<void> {
    const profile = await this.ctx.registry.getProfile(userId);
    if (!profile) return;
    const policy = this.policy(profile);
    const { state } = await this.ctx.store.read(userId);
    const fs = view(state.session, policy);
    const effects: SessionEffect[] = [];
    const cur = fs.cur;
    // The nudge job follows the current policy also during an interruption: sitting back down then trusts it to be
    // where that policy puts it (the `resumed` effect).
    const n = cur ? nextNudge(fs, state.session.book, policy) : null;
    if (cur && n) effects.push({ kind: 'schedule_nudge', sessionId: sessionIdOf(state.session, cur.seq), level: n.level, dueAt: n.dueAt });
    if (cur && cur.upSince !== null) {
      effects.push({
        kind: 'schedule_break_check',
        sessionId: sessionIdOf(state.session, cur.seq),
        upSince: cur.upSince,
        dueAt: cur.upSince + policy.minBreakMs,
      });
    }
    if (fs.completed.length > 0) {
      // Breaks the events already show but nobody committed: a break check now settles them.
      effects.push({ kind: 'schedule_break_check', sessionId: 'reconcile', upSince: this.ctx.now(), dueAt: this.ctx.now() });
    }
    await this.afterCommit(userId, effects, state, state, policy, profile);
    if (opts.publishState) await this.publishStateIfChanged(userId, state, state, policy, true);
  }

  /** Publish the retained state of a user as it is now (start-up, profile change). */
  async publishState(userId: string): Promise<void> {
    const profile = await this.ctx.registry.getProfile(userId);
    if (!profile) return;
    const { state } = await this.ctx.store.read(userId);
    await this.publishStateIfChanged(userId, state, state, this.policy(profile), true);
  }
}
