// The retained `{base}/users/{userId}/state` payload, also what GET /api/users/{id} shows.
import { sessionSummary, type Policy } from '../domain/session.js';
import type { RoutineState, UserState } from '../domain/user-state.js';

export const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

/** The running routine: where it is (Home Assistant's routine-progress sensor and step announcements read it). */
function routineSummary(r: RoutineState) {
  const step = r.steps[r.index];
  return {
    routineId: r.routineId,
    index: r.index,
    routine: r.routine,
    steps: r.steps.length,
    step: step?.step ?? null,
    kind: step?.kind ?? null,
    seconds: step?.seconds ?? null,
    message: step?.message ?? null,
  };
}

export function publicState(state: UserState, policy: Policy, now: number) {
  const s = sessionSummary(state.session, policy, now);
  const heat = state.heat.current;
  const heatOn = !!heat && !heat.ended;
  return {
    posture: s.posture,
    since: iso(s.since),
    sittingSeconds: s.sittingSeconds,
    nextNudgeAt: iso(s.nextNudgeAt),
    heat: {
      on: heatOn,
      offAt: heatOn ? iso(heat.offAt) : null,
      sessionId: heatOn ? heat.sessionId : null,
      deviceId: heatOn ? heat.deviceId : null,
    },
    sessionId: s.sessionId,
    sittingSince: iso(s.sittingSince),
    nudgesSent: s.nudgesSent,
    snoozes: s.snoozes,
    breakDue: s.breakDue,
    routine: state.routine && !state.routine.ended ? routineSummary(state.routine) : null,
    updatedAt: new Date(now).toISOString(),
  };
}

/**
 * What changes the retained state is worth publishing for (not the ticking sittingSeconds or updatedAt): equal keys,
 * equal retained states but for those. Built from the state without the public form (no date strings); it does
 * not depend on the time.
 */
export function stateKey(state: UserState, policy: Policy): string {
  const s = sessionSummary(state.session, policy, 0);
  const heat = state.heat.current;
  const heatOn = !!heat && !heat.ended;
  return JSON.stringify([
    s.posture,
    s.since,
    s.nextNudgeAt,
    heatOn ? [heat.offAt, heat.sessionId, heat.deviceId] : null,
    s.sessionId,
    s.nudgesSent,
    s.snoozes,
    s.breakDue,
    state.routine && !state.routine.ended ? routineSummary(state.routine) : null,
    s.sittingSince,
  ]);
}
