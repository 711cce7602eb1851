// Guided routines end to end (docs/concepts/routines.md): a transition of the pure routine reducer committed by one
// compare-and-set, then its effects — the heat session a heat step needs, step commands to the user's
// wearables and hubs, and chained delayed BullMQ jobs with deterministic ids that time the steps.
import { adapters } from '../adapters/index.js';
import { weeklyRoutines } from '../domain/adherence.js';
import { adviseProfessional } from '../domain/advice.js';
import { localDate } from '../domain/clock.js';
import type { Profile } from '../domain/profile.js';
import type { HeatControl } from '../domain/heat.js';
import {
  DEFAULT_ROUTINE,
  isRoutineName,
  isRunning,
  planRoutine,
  ROUTINE_NAMES,
  routineView,
  startRoutine,
  stepCommand,
  stepDue,
  stepsPublished,
  stopRoutine,
  unpublished,
  type HeatOutcome,
  type RoutineEffect,
  type RoutineName,
  type RoutineTransition,
} from '../domain/routine.js';
import { ConflictError, InvalidInputError, NotFoundError, type PainArea, UnknotError } from '../domain/types.js';
import type { UserState } from '../domain/user-state.js';
import { jobIds, type RoutineJob } from '../queues/queues.js';
import type { Committed } from '../store/state-store.js';
import type { AppContext } from './context.js';
import { InvariantError, logsOf } from './effects.js';
import { latestPainArea, withAutoMethods } from '../domain/methods.js';
import type { Sessions } from './sessions.js';

/** Minutes of heat the checklist asks for; capped by the user's own heat limit. */
const ROUTINE_HEAT_MINUTES = 10;
/** How far back the pain log is read for "is heat refused" (the advice looks back 30 days). */
const ADVICE_WINDOW_MS = 45 * 86_400_000;

const toMs = (t: string | number): number => (typeof t === 'number' ? t : Date.parse(t));

export type StopReason = 'stopped_via_api' | 'stopped_on_device';

export class Routines {
  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
    private readonly heat: HeatControl | null = null,
  ) {}

  /** POST /api/users/{userId}/routines */
  async start(userId: string, name: string | undefined, area?: PainArea) {
    const profile = await this.sessions.profile(userId);
    const routine = name ?? DEFAULT_ROUTINE;
    if (!isRoutineName(routine)) {
      throw new InvalidInputError(
        'unknown_routine',
        `no routine ${JSON.stringify(routine)}; available: ${ROUTINE_NAMES.join(', ')}`,
      );
    }
    const expectSkip = await this.expectedHeatSkip(userId, profile, routine);
    const now = this.ctx.now();
    // The area the routine is for, for its methods-log entry: the request's, else the latest pain logged.
    const forArea = area ?? latestPainArea(await this.ctx.adherence.read(userId, now - ADVICE_WINDOW_MS, now + 1), now);
    let heat: HeatOutcome | undefined;
    for (;;) {
      const c = await this.transact(userId, (st) => {
        const t = startRoutine(st, routine, st.session.epoch, this.ctx.config.timeScale, now, heat);
        return t.changed && t.routine && forArea ? { ...t, routine: { ...t.routine, area: forArea } } : t;
      });
      const r = c.result.result;
      if (!r.ok && r.code === 'needs_heat') {
        if (heat)
          throw new InvariantError(
            'heat_step_loop',
            `routine ${r.routineId}: the heat step still needs heat after it was given`,
          );
        heat = await this.startHeat(userId, profile, now);
        continue;
      }
      if (!r.ok) {
        if (heat?.ok) await this.stopHeat(userId, heat.sessionId, c.state);
        throw new ConflictError(
          'routine_running',
          `routine ${r.routineId} is still running; stop it with DELETE /api/users/${userId}/routines/${r.routineId}`,
        );
      }
      await this.afterCommit(userId, c, profile);
      const routineState = (await this.ctx.store.read(userId)).state.routine ?? c.state.routine!;
      this.ctx.log.info({ userId, routineId: r.routineId, routine }, 'routine started');
      const view = routineView(routineState, this.ctx.now());
      if (expectSkip) {
        for (const s of view.steps) if (s.kind === 'heat' && s.status === 'to_do') Object.assign(s, { expectSkip });
      }
      return view;
    }
  }

  /** DELETE /api/users/{userId}/routines/{routineId}, or a wearable's routine_stop (routineId undefined). */
  async stop(userId: string, routineId: string | undefined, reason: StopReason) {
    const profile = await this.sessions.profile(userId);
    const now = this.ctx.now();
    const c = await this.transact(userId, (st) => stopRoutine(st, routineId, now, reason));
    const r = c.result.result;
    if (!r.ok) {
      throw routineId === undefined
        ? new ConflictError('no_routine', 'no routine is running')
        : new NotFoundError('unknown_routine', `routine ${routineId} is not running for ${userId}`);
    }
    await this.afterCommit(userId, c, profile);
    this.ctx.log.info({ userId, routineId: r.routineId, index: r.index, reason }, 'routine stopped');
    return {
      routineId: r.routineId,
      stoppedAt: new Date(now).toISOString(),
      index: r.index,
      heatStopped: r.heatSessionId !== null,
    };
  }

  /** GET /api/users/{userId}/routines: the current (or last) routine and this week's progress. */
  async list(userId: string) {
    const profile = await this.sessions.profile(userId);
    const now = this.ctx.now();
    const { state } = await this.ctx.store.read(userId);
    const r = state.routine;
    const entries = await this.ctx.adherence.read(userId, now - 8 * 86_400_000, now + 1);
    const week = weeklyRoutines(entries, { timezone: profile.timezone, now, target: profile.routineTargetPerWeek });
    const recent = new Map<string, { routineId: string; routine: string; startedAt: string; outcome: string }>();
    for (const e of entries) {
      if (e.type === 'routine_started' && localDate(e.at, profile.timezone) >= week.weekStart) {
        recent.set(e.routineId, {
          routineId: e.routineId,
          routine: e.routine,
          startedAt: new Date(e.at).toISOString(),
          outcome: 'running',
        });
      } else if (e.type === 'routine_completed' || e.type === 'routine_abandoned') {
        const o = recent.get(e.routineId);
        if (o) o.outcome = e.type === 'routine_completed' ? 'completed' : 'abandoned';
      }
    }
    return {
      current: isRunning(r) ? routineView(r, now) : null,
      last: r && !isRunning(r) ? routineView(r, now) : null,
      week: { ...week, remaining: Math.max(0, week.target - week.doneThisWeek) },
      recent: [...recent.values()],
      available: ROUTINE_NAMES.map((n) => ({
        routine: n,
        steps: planRoutine(n, 1).map((s) => ({ step: s.step, kind: s.kind, seconds: s.seconds })),
      })),
    };
  }

  /**
   * A job of the `routines` queue fired (workers/routine-worker.ts runs the queue): the running step is over, begin
   * the next one (or complete). Returns what happened, or when to run the job again.
   */
  async runStep(data: RoutineJob): Promise<string | { until: number }> {
    const { userId, routineId, index } = data;
    const profile = await this.ctx.registry.getProfile(userId);
    if (!profile) return 'user gone';
    const log = this.ctx.log.child({ userId, routineId });
    let heat: HeatOutcome | undefined;
    for (;;) {
      const now = this.ctx.now();
      const c = await this.transact(userId, (st) => stepDue(st, routineId, index, now, heat));
      const r = c.result.result;
      if (r.kind === 'needs_heat' && !heat) {
        heat = await this.startHeat(userId, profile, now);
        continue;
      }
      // We switched heat on but the routine moved on meanwhile (stopped, replaced): switch it off again.
      if (heat?.ok && r.kind !== 'advanced') await this.stopHeat(userId, heat.sessionId, c.state);
      await this.afterCommit(userId, c, profile);
      switch (r.kind) {
        case 'wait':
          return { until: r.until };
        case 'advanced':
          log.info(
            { index: r.index, step: c.state.routine?.steps[r.index]?.step ?? null, completed: r.completed },
            r.completed ? 'routine completed' : 'routine step',
          );
          return r.completed ? 'completed' : `step ${r.index}`;
        case 'already':
          // A retry after a crash between commit and effects: make sure they happened.
          await this.reconcile(userId);
          return 'already';
        case 'stale':
          log.debug({ index, why: r.why }, 'stale routine step dropped');
          return `stale: ${r.why}`;
        default:
          return r.kind;
      }
    }
  }

  /** Make sure a running routine's next job exists and its begun steps went out (start-up, retries). */
  async reconcile(userId: string): Promise<void> {
    const profile = await this.ctx.registry.getProfile(userId);
    if (!profile) return;
    const { state } = await this.ctx.store.read(userId);
    const r = state.routine;
    if (!isRunning(r)) return;
    const effects: RoutineEffect[] = [
      { kind: 'schedule_step', routineId: r.routineId, index: r.index + 1, dueAt: r.stepEndsAt },
    ];
    const todo = unpublished(r);
    if (todo) effects.push({ kind: 'publish_steps', routineId: r.routineId, ...todo });
    await this.runEffects(userId, effects, state);
  }

  private transact<R>(
    userId: string,
    fn: (st: UserState) => RoutineTransition<R>,
  ): Promise<Committed<RoutineTransition<R>>> {
    return this.ctx.store.transact(userId, (st) => {
      const t = fn(st);
      return {
        state: t.changed ? { ...st, routine: t.routine, routineSeq: t.routineSeq } : st,
        // A completed routine goes into the methods log in the same commit (docs/concepts/methods.md).
        logs: withAutoMethods(logsOf(t.effects), { routine: t.routine }, this.ctx.config.timeScale),
        changed: t.changed,
        result: t,
      };
    });
  }

  private async afterCommit(userId: string, c: Committed<RoutineTransition<unknown>>, profile: Profile): Promise<void> {
    await this.runEffects(userId, c.result.effects, c.state);
    await this.sessions.publishStateIfChanged(userId, c.before, c.state, this.sessions.policy(profile));
    this.sessions.notifyLogs(userId, logsOf(c.result.effects));
  }

  private async runEffects(userId: string, effects: RoutineEffect[], state: UserState): Promise<void> {
    const { queues } = this.ctx;
    // Publish first: a step's time runs from when it went out, so the next step's job is due after that.
    let latest = state;
    for (const e of effects) {
      if (e.kind === 'publish_steps') latest = await this.publishSteps(userId, e.routineId, e.from, e.to, latest);
    }
    for (const e of effects) {
      switch (e.kind) {
        case 'schedule_step': {
          const r = latest.routine;
          const dueAt = r && r.routineId === e.routineId && r.index + 1 === e.index ? r.stepEndsAt : e.dueAt;
          await queues.ensureAt<RoutineJob>(
            queues.routines,
            jobIds.routineStep(userId, e.routineId, e.index),
            { kind: 'routine-step', userId, routineId: e.routineId, index: e.index, dueAt },
            dueAt,
          );
          break;
        }
        case 'cancel_step':
          await queues.removeIfWaiting(queues.routines, jobIds.routineStep(userId, e.routineId, e.index));
          break;
        case 'stop_heat':
          await this.stopHeat(userId, e.heatSessionId, state);
          break;
        default:
          break;
      }
    }
  }

  /** Send the commands of the steps that began, in order; returns the state with them marked as sent. */
  private async publishSteps(
    userId: string,
    routineId: string,
    from: number,
    to: number,
    state: UserState,
  ): Promise<UserState> {
    const r = state.routine;
    if (!r || r.routineId !== routineId) return state;
    const devices = (await this.ctx.registry.devicesOf(userId)).filter(
      (d) => d.role === 'wearable' || d.role === 'hub',
    );
    for (let i = Math.max(from, r.published + 1); i <= to; i++) {
      const command = stepCommand(r, i);
      // In order: a wearable shows the steps as they come.
      for (const m of devices.flatMap((d) => adapters[d.protocol].format(d, command, this.ctx.topics)))
        await this.ctx.mqtt.publish(m);
    }
    const publishedAt = this.ctx.now();
    const c = await this.ctx.store.transact(userId, (st) => {
      const t = stepsPublished(st, routineId, to, publishedAt);
      return { state: t.changed ? { ...st, routine: t.routine } : st, logs: [], changed: t.changed, result: undefined };
    });
    return c.state;
  }

  /** The heat step begins: a real heat-pad session, or the reason it is skipped. */
  private async startHeat(userId: string, profile: Profile, now: number): Promise<HeatOutcome> {
    // Fever, swelling or an injury in the pain log refuses heat until cleared (safety first, so this reason wins).
    const entries = await this.ctx.adherence.read(userId, now - ADVICE_WINDOW_MS, now + 1);
    if (adviseProfessional(entries, profile.contraindications, now, this.ctx.config.methods).heatBlocked)
      return { ok: false, reason: 'contraindicated' };
    if (!this.heat) return { ok: false, reason: 'heat_unavailable' };
    const minutes = Math.min(ROUTINE_HEAT_MINUTES, profile.heat.maxMinutes);
    try {
      const s = await this.heat.start(userId, { minutes, source: 'routine' });
      return {
        ok: true,
        sessionId: s.sessionId,
        minutes: s.minutes,
        startedAt: toMs(s.startedAt),
        offAt: toMs(s.offAt),
      };
    } catch (err) {
      if (err instanceof UnknotError) {
        this.ctx.log.info({ userId, code: err.code, detail: err.message }, 'routine heat step skipped');
        return { ok: false, reason: err.code };
      }
      throw err;
    }
  }

  /** Switch off a heat session the routine started, if it is still the one running. */
  private async stopHeat(userId: string, heatSessionId: string, state: UserState): Promise<void> {
    if (!this.heat) return;
    const fresh = (await this.ctx.store.read(userId)).state;
    const cur = fresh.heat.current ?? state.heat.current;
    if (!cur || cur.sessionId !== heatSessionId || cur.ended) return;
    try {
      await this.heat.stop(userId, 'manual');
    } catch (err) {
      if (!(err instanceof UnknotError)) throw err;
    }
  }

  /** What POST /routines can already tell about the heat step (the step itself decides when it begins). */
  private async expectedHeatSkip(userId: string, profile: Profile, routine: RoutineName): Promise<string | null> {
    if (!planRoutine(routine, 1).some((s) => s.kind === 'heat')) return null;
    const now = this.ctx.now();
    const entries = await this.ctx.adherence.read(userId, now - ADVICE_WINDOW_MS, now + 1);
    if (adviseProfessional(entries, profile.contraindications, now, this.ctx.config.methods).heatBlocked)
      return 'contraindicated';
    if (!this.heat) return 'heat_unavailable';
    const devices = await this.ctx.registry.devicesOf(userId);
    if (!devices.some((d) => d.role === 'heatpad')) return 'no_heat_pad';
    return null;
  }
}
