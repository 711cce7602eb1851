// Sitting sessions, the requests side: a transition of the pure reducer committed by one compare-and-set that also
// sets the person's due time in their partition's timer wheel, then its effects — a tick for that due time, the
// retained user state, the log listeners. Timed transitions run in src/app/nudge-delivery.ts.
import {
  applySensorEvent,
  nextDueAt,
  policyOf,
  sessionIdOf,
  snooze,
  view,
  type Policy,
  type SensorOutcome,
  type SnoozeResult,
} from '../domain/session.js';
import type { Profile } from '../domain/profile.js';
import type { UserState } from '../domain/user-state.js';
import type { Versioned } from '../store/state-store.js';
import { type Device, type LogEntry, NotFoundError, type Posture } from '../domain/types.js';
import { Ticks } from '../queues/ticks.js';
import type { AppContext } from './context.js';
import { logsOf } from './effects.js';
import { publicState, stateKey } from './public-state.js';

export interface SensorEventOptions {
  /** The message is an MQTT redelivery: its effects may never have run. */
  redelivered?: boolean;
  /** The registry version read for this message (Registry.version). */
  version?: number;
  /** The person's state, read already (alongside the registry version). */
  firstRead?: Promise<Versioned>;
}

export class Sessions {
  /** Called after a transition committed adherence entries (Home Assistant's compliance sensor listens). */
  readonly logListeners: Array<(userId: string, logs: LogEntry[]) => void> = [];
  readonly ticks: Ticks;

  constructor(private readonly ctx: AppContext) {
    this.ticks = new Ticks(ctx.queues, ctx.now, () => ctx.metrics.timerTickAdds.inc());
    // A person deleted and created again starts from a new state: drop what this process kept of theirs.
    ctx.registry.onChange((change) => {
      if (!change) ctx.store.cache.forgetAll();
      else for (const u of change.users ?? []) ctx.store.cache.forget(u);
    });
  }

  /** Does the next posture event of this person start from a state this process kept (no read needed)? */
  hasRecent(userId: string): boolean {
    return this.ctx.store.cache.has(userId);
  }

  /** Commit adherence entries that change no state (a pain entry, a method tried), then tell the listeners. */
  async appendLogs(userId: string, logs: LogEntry[]): Promise<void> {
    await this.ctx.store.transact(userId, (st) => ({ state: st, logs, changed: false, result: undefined }));
    this.notifyLogs(userId, logs);
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

  async profile(userId: string): Promise<Profile> {
    const p = await this.ctx.registry.getProfile(userId);
    if (!p) throw new NotFoundError('unknown_user', `no user ${userId}; create it with PUT /api/users/${userId}`);
    return p;
  }

  policy(profile: Profile): Policy {
    // One policy object per profile object (the registry's cache keeps the profile): the views and the retained-state
    // keys computed for a state are then found again for the next event of the same person.
    let p = this.policies.get(profile);
    if (!p) {
      p = policyOf(profile, this.ctx.config.timeScale);
      this.policies.set(profile, p);
    }
    return p;
  }

  private readonly policies = new WeakMap<Profile, Policy>();

  /** One posture observation from one device. */
  async sensorEvent(
    device: Device,
    posture: Posture,
    at: number,
    id?: string,
    opts: SensorEventOptions = {},
  ): Promise<SensorOutcome> {
    // The state this process last read or committed for the person, if any: exact while client tracking is live,
    // otherwise a hint (see src/store/state-cache.ts).
    const kept = opts.firstRead ? undefined : this.ctx.store.cache.get(device.userId);
    const hint = kept && !this.ctx.store.cache.trusted;
    const firstRead = opts.firstRead ?? (kept ? Promise.resolve(kept) : this.ctx.store.fetch(device.userId));
    const profile = await this.profile(device.userId).catch(async (err: unknown) => {
      await firstRead.catch(() => undefined);
      throw err;
    });
    const policy = this.policy(profile);
    const now = this.ctx.now();
    const step = (st: UserState) => {
      const t = applySensorEvent(
        st.session,
        { deviceId: device.deviceId, role: device.role, posture, at, id },
        policy,
        now,
      );
      return {
        state: { ...st, session: t.state },
        logs: logsOf(t.effects),
        changed: t.changed,
        result: t.result!,
        due: t.changed ? nextDueAt(t.state, policy) : undefined,
      };
    };
    let c = await this.ctx.store.transact(device.userId, step, { firstRead });
    // "No change" judged on a hint is not proof (a worker may have moved the state on): read and judge again. A
    // change needs no such check: the compare-and-set failed if the kept version was not the stored one.
    if (hint && !c.changed && c.logs.length === 0) {
      c = await this.ctx.store.transact(device.userId, step, { firstRead: this.ctx.store.fetch(device.userId) });
    }
    // A transition that changed nothing has no effects and the same public state: nothing to do after it.
    if (c.changed || c.logs.length > 0) await this.afterCommit(device.userId, c.logs, c.before, c.state, policy, c.due);
    if (c.result !== 'applied') {
      this.ctx.metrics.eventsStale.inc({ outcome: c.result });
      // A duplicate may be the redelivery of a message whose effects never ran: make sure they exist, the retained
      // state included (test/e2e/faults.test.ts: after a Redis kill it could stay stale until the next change).
      if (c.result === 'duplicate' || opts.redelivered) await this.reconcile(device.userId, { publishState: true });
    }
    return c.result;
  }

  /** Snooze from the API or a wearable button: moves the person's due time with the same commit. */
  async snooze(userId: string, minutes?: number): Promise<SnoozeResult> {
    const profile = await this.profile(userId);
    const policy = this.policy(profile);
    const now = this.ctx.now();
    const snoozeMs =
      minutes === undefined ? undefined : Math.max(1, Math.round((minutes * 60_000) / this.ctx.config.timeScale));
    const c = await this.ctx.store.transact(userId, (st) => {
      const t = snooze(st.session, policy, now, snoozeMs);
      return {
        state: { ...st, session: t.state },
        logs: logsOf(t.effects),
        changed: t.changed,
        result: t.result!,
        due: nextDueAt(t.state, policy),
      };
    });
    await this.afterCommit(userId, c.logs, c.before, c.state, policy, c.due);
    return c.result;
  }

  async ack(userId: string, deviceId?: string): Promise<void> {
    const profile = await this.profile(userId);
    const policy = this.policy(profile);
    const now = this.ctx.now();
    await this.ctx.store.transact(userId, (st) => {
      const cur = view(st.session, policy).cur;
      const entry: LogEntry = {
        type: 'nudge_acked',
        at: now,
        sessionId: cur ? sessionIdOf(st.session, cur.seq) : null,
        deviceId,
      };
      return { state: st, logs: [entry], changed: false, result: undefined };
    });
  }

  /**
   * What follows a committed transition. Its due time is already in the due set (same script); a tick must sweep
   * it when it comes. Then the retained state and the log listeners.
   */
  async afterCommit(
    userId: string,
    logs: LogEntry[],
    before: UserState,
    after: UserState,
    policy: Policy,
    due: number | null | 'keep' | undefined,
  ): Promise<void> {
    if (typeof due === 'number') await this.ticks.ensure(due);
    await this.publishStateIfChanged(userId, before, after, policy);
    this.notifyLogs(userId, logs);
  }

  async publishStateIfChanged(userId: string, before: UserState, after: UserState, policy: Policy, force = false) {
    // The key of the state committed here is kept with it: it serves as the "before" of this person's next event,
    // which starts from this state.
    if (!force && this.stateKeyOf(before, policy) === this.stateKeyOf(after, policy)) return;
    const next = publicState(after, policy, this.ctx.now());
    // Not awaited: the broker's PUBACK adds a round trip to every event and guarantees nothing more. MQTT.js sends
    // (and, while disconnected, queues) publishes in call order, so retained states still arrive in commit order.
    this.ctx.mqtt
      .publishJson(this.ctx.topics.userState(userId), next, { qos: 1, retain: true })
      .catch((err: unknown) => this.ctx.log.warn({ err, userId }, 'could not publish the retained state'));
  }

  /** What the retained state of `state` is published for (stateKey), computed once per state and policy. */
  private stateKeyOf(state: UserState, policy: Policy): string {
    const kept = this.stateKeys.get(state);
    if (kept && kept.policy === policy) return kept.key;
    const key = stateKey(state, policy);
    this.stateKeys.set(state, { policy, key });
    return key;
  }

  private readonly stateKeys = new WeakMap<UserState, { policy: Policy; key: string }>();

  /**
   * Put the person's due entry where the current state and policy say (a profile change moved it, a redelivered
   * event's effects may never have run, data from before the timer wheel), with its tick; with `publishState` the
   * retained state too, from the same read.
   */
  async reconcile(userId: string, opts: { publishState?: boolean } = {}): Promise<void> {
    const profile = await this.ctx.registry.getProfile(userId);
    if (!profile) return;
    const policy = this.policy(profile);
    const c = await this.ctx.store.transact(
      userId,
      (st) => ({ state: st, logs: [], changed: false, result: undefined, due: nextDueAt(st.session, policy) }),
      { writeDue: () => true },
    );
    await this.afterCommit(userId, [], c.before, c.state, policy, c.due);
    if (opts.publishState) await this.publishStateIfChanged(userId, c.state, c.state, policy, true);
  }

  /** Publish the retained state of a user as it is now (start-up, profile change). */
  async publishState(userId: string): Promise<void> {
    const profile = await this.ctx.registry.getProfile(userId);
    if (!profile) return;
    const { state } = await this.ctx.store.read(userId);
    await this.publishStateIfChanged(userId, state, state, this.policy(profile), true);
  }
}
