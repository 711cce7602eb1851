// The timed transition of one person whose due time came (claimed from the timer wheel by src/app/due-sweep.ts):
// settle breaks, send the nudge or log "ignored", and set the next due time, all in one commit; then publish the
// nudge. The commit records the nudge as published before it is, and marks it in the partition's publishing hash;
// the sweep clears the mark once the publish is confirmed. A mark left behind (the worker died, or the publish
// failed) sends the next run to the broker's retained last-nudge record to find out whether the nudge went out.
import { adapters } from '../adapters/index.js';
import {
  dueStep,
  lateHold,
  nextDueAt,
  nudgePublished,
  nudgeUnconfirmed,
  type Policy,
  type SessionState,
} from '../domain/session.js';
import type { Profile } from '../domain/profile.js';
import type { Device } from '../domain/types.js';
import type { Versioned } from '../store/state-store.js';
import type { AppContext } from './context.js';
import { logsOf } from './effects.js';
import { nudgeMessage } from './messages.js';
import type { Sessions } from './sessions.js';

/** What a sweep read for a person together with the others of a wave (absent: read here). */
export interface Prefetched {
  state?: Versioned;
  profile?: Profile | null;
  /** The person's field of the partition's publishing hash (null: none). */
  publishing?: string | null;
}

/** What one due person's transition came to, for the sweep. */
export interface DueDone {
  outcome: string;
  /** The person's publishing mark, if any, may go: the stored state says what went out (false: it must stay). */
  settled: boolean;
}

const sessionOfNudge = (nudgeId: string) => nudgeId.slice(0, nudgeId.lastIndexOf('-'));

/** What one due person's commit came to: dueStep's result, or held until ingest has caught up after an outage. */
type DueResult = NonNullable<ReturnType<typeof dueStep>['result']> | { kind: 'held'; until: number };

export class NudgeDelivery {
  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
  ) {}

  /**
   * Run the due transition of one claimed person. Every step is idempotent: a second run sends nothing twice. The
   * caller clears the person's publishing mark once this returns `settled` (src/app/due-sweep.ts, its release).
   */
  async processDue(userId: string, pre: Prefetched = {}): Promise<DueDone> {
    // The state is read alongside the profile (from this process's registry cache as a rule): one round trip. A
    // sweep reads both for a whole wave of people at once (`pre`).
    const firstRead = pre.state ? Promise.resolve(pre.state) : this.ctx.store.read(userId);
    firstRead.catch(() => undefined); // awaited by the transaction below, or dropped with the person
    // The devices too (a nudge goes to them), so that sending waits for no other read: a round trip fewer.
    const devices = this.ctx.registry.devicesOf(userId);
    devices.catch(() => undefined); // awaited by publishNudge, or dropped
    const marked =
      pre.publishing !== undefined
        ? Promise.resolve(pre.publishing)
        : this.ctx.redis.hget(this.ctx.keys.publishing(this.ctx.keys.partitionOf(userId)), userId);
    marked.catch(() => undefined); // awaited below, or dropped with the person
    const profile = pre.profile !== undefined ? pre.profile : await this.ctx.registry.getProfile(userId);
    if (!profile) return { outcome: 'user gone', settled: true };
    const mark = await marked;
    const policy = this.sessions.policy(profile);
    const now = this.ctx.now();
    const caughtUpAt = this.ctx.health?.caughtUpAt() ?? 0;
    const c = await this.ctx.store.transact<DueResult>(
      userId,
      (st) => {
        // A nudge marked as publishing was never confirmed: judged as sent but not published.
        const session = mark ? nudgeUnconfirmed(st.session, mark) : st.session;
        // Due during an outage: wait for the events of the gap before judging (domain rule, lateHold).
        const dueAt = nextDueAt(session, policy);
        const hold = dueAt === null ? null : lateHold(dueAt, now, caughtUpAt);
        if (hold !== null)
          return { state: st, logs: [], changed: false, result: { kind: 'held', until: hold }, due: hold };
        const t = dueStep(session, policy, now);
        const r = t.result!;
        if (!t.changed) return { state: st, logs: [], changed: false, result: r, due: nextDueAt(session, policy) };
        // A nudge to send is recorded as published in this same commit, and marked as publishing until confirmed.
        const next = r.kind === 'sent' ? nudgePublished(t.state, sessionOfNudge(r.nudgeId), r.level).state : t.state;
        return {
          state: { ...st, session: next },
          logs: logsOf(t.effects),
          changed: true,
          result: r,
          due: nextDueAt(next, policy),
          publishing: r.kind === 'sent' ? r.nudgeId : undefined,
        };
      },
      // The claim took the person out of the due set: the commit puts them back even when nothing else changed.
      { firstRead, writeDue: () => true },
    );
    await this.sessions.afterCommit(userId, c.logs, c.before, c.state, policy, c.due);
    const r = c.result;
    if (r.kind === 'held') return { outcome: 'held', settled: false };
    if (r.kind !== 'sent' && !(r.kind === 'already' && !r.published)) {
      if (r.kind === 'ignored_logged') this.ctx.log.info({ userId }, 'nudges ignored; no more for this session');
      return { outcome: r.kind, settled: true };
    }
    const sessionId = sessionOfNudge(r.nudgeId);
    // The person's fields on each line rather than a child logger: one object fewer per nudge sent.
    const log = this.ctx.log;
    // Sent but not recorded as published: a worker died in between, or its publish failed. The broker's retained
    // record of the last nudge it got says which (publishNudge), so a nudge that went out is not sent twice.
    if (
      r.kind === 'already' &&
      (await this.ctx.mqtt.retainedHas(this.ctx.topics.userLastNudge(userId), 'nudgeId', r.nudgeId))
    ) {
      await this.recordPublished(userId, sessionId, r.level);
      log.warn(
        { userId, sessionId, level: r.level, nudgeId: r.nudgeId },
        'nudge was delivered by a worker that stopped before recording it: not sent again',
      );
      return { outcome: `delivered ${r.level}`, settled: true };
    }
    await this.publishNudge(userId, sessionId, r.level, r.nudgeId, c.state.session, policy, profile, now, devices);
    // A nudge sent now was recorded as published by its commit; one found unpublished is recorded now (usually
    // nobody wrote since the first commit, so its result stands in for a fresh read).
    if (r.kind === 'already') await this.recordPublished(userId, sessionId, r.level, { v: c.v, state: c.state });
    const dueAt = nextDueAt(c.before.session, policy);
    const lateMs = dueAt === null ? 0 : Math.max(0, this.ctx.now() - dueAt);
    if (r.kind === 'sent') this.ctx.metrics.nudgeLateness.observe(lateMs / 1000);
    log.info({ userId, sessionId, level: r.level, nudgeId: r.nudgeId, lateMs }, 'nudge sent');
    return { outcome: `sent ${r.level}`, settled: true };
  }

  private async recordPublished(userId: string, sessionId: string, level: number, known?: Versioned): Promise<void> {
    await this.ctx.store.transact(
      userId,
      (st) => {
        const t = nudgePublished(st.session, sessionId, level);
        // Publication changes no due time: the entry stays as the commit that sent the nudge set it.
        return { state: { ...st, session: t.state }, logs: [], changed: t.changed, result: undefined, due: 'keep' };
      },
      known ? { firstRead: Promise.resolve(known) } : {},
    );
  }

  protected async publishNudge(
    userId: string,
    sessionId: string,
    level: number,
    nudgeId: string,
    s: SessionState,
    policy: Policy,
    profile: Profile,
    now: number,
    devicesRead: Promise<Device[]>,
  ): Promise<void> {
    const cur = s.base.cur;
    const sittingSeconds = cur ? Math.round((now - cur.startedAt) / 100) / 10 : 0;
    // The words speak in policy time, so a demo at a fast time scale still says "30 minutes".
    const message = nudgeMessage(level, sittingSeconds * this.ctx.config.timeScale, policy.maxNudges);
    const { topics, mqtt } = this.ctx;
    const devices = await devicesRead;
    const at = new Date(now).toISOString();
    // All in one go, on one connection, so the broker takes them in this order: the retained record last, so that
    // when it holds this nudgeId the nudge and the device commands reached the broker too.
    const sent = [
      mqtt.publishJson(
        topics.userNudge(userId),
        // event_type lets a Home Assistant `event` entity take the payload as it is.
        {
          nudgeId,
          userId,
          level,
          sittingSeconds,
          message,
          at,
          sessionId,
          maxNudges: profile.maxNudges,
          event_type: 'nudge',
        },
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
}
