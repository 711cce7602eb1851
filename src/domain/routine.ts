// Guided self-care routines (docs/concepts/routines.md) as a pure reducer: start, a step falling due, stop. The IO edges
// (src/app/routines.ts) start the heat session a heat step needs, publish the steps and schedule the jobs that
// these functions ask for. Pure: `now`, the time scale and the heat outcome come in as arguments.
import type { RoutineState, RoutineStepState, UserState } from './user-state.js';
import type { Command, LogEntry } from './types.js';

export type StepKind = RoutineStepState['kind'];

export interface RoutineStepDef {
  step: string;
  kind: StepKind;
  seconds: number;
  message: string;
}

// The common self-care checklist for a muscle knot in the neck or upper back: steady pressure, heat, then two
// gentle stretches each held 30 s and done twice. Upper-trapezius side bend and doorway chest stretch are the
// two most often given for a desk posture (rounded shoulders, head forward).
const NECK_STRETCH =
  'Sit tall and let your right ear sink towards your right shoulder. Rest your right hand lightly on your head, ' +
  'keep your left shoulder relaxed and down. You should feel a gentle pull along the side of your neck, not pain.';
const CHEST_STRETCH =
  'Stand in a doorway with your forearms on the frame, elbows at shoulder height. Step one foot forward until you ' +
  'feel a gentle stretch across your chest and the front of your shoulders. Keep your back straight and breathe.';

export const ROUTINES = {
  daily_checklist: [
    {
      step: 'pressure',
      kind: 'pressure',
      seconds: 60,
      message:
        'Press steadily on the knot with your fingertips or a massage ball for 60 seconds. Firm but comfortable: ' +
        'ease off if it hurts sharply. Breathe slowly.',
    },
    {
      step: 'heat',
      kind: 'heat',
      seconds: 600,
      message: 'Heat: the heat pad is switching on. Lay it over the knot for 10 minutes and relax your shoulders.',
    },
    {
      step: 'neck_side_stretch',
      kind: 'stretch',
      seconds: 30,
      message: `Neck side stretch: ${NECK_STRETCH} Hold for 30 seconds.`,
    },
    {
      step: 'neck_side_stretch',
      kind: 'stretch',
      seconds: 30,
      message:
        'Neck side stretch once more: ear towards shoulder, shoulder on the other side down. Hold for 30 seconds.',
    },
    {
      step: 'doorway_chest_stretch',
      kind: 'stretch',
      seconds: 30,
      message: `Doorway chest stretch: ${CHEST_STRETCH} Hold for 30 seconds.`,
    },
    {
      step: 'doorway_chest_stretch',
      kind: 'stretch',
      seconds: 30,
      message: 'Doorway chest stretch once more: forearms on the frame, step forward gently. Hold for 30 seconds.',
    },
  ],
} as const satisfies Record<string, readonly RoutineStepDef[]>;

export type RoutineName = keyof typeof ROUTINES;
export const ROUTINE_NAMES = Object.keys(ROUTINES) as RoutineName[];
export const DEFAULT_ROUTINE: RoutineName = 'daily_checklist';
export const isRoutineName = (name: unknown): name is RoutineName =>
  typeof name === 'string' && Object.prototype.hasOwnProperty.call(ROUTINES, name);

/** A step job that fires this early (clock skew between processes) still counts as due. */
export const STEP_DUE_TOLERANCE_MS = 50;

/** Why a heat step is skipped: the heat service's refusal codes, plus ours. */
export const HEAT_SKIP_MESSAGES: Record<string, string> = {
  no_heat_pad: 'no heat pad is set up for you',
  contraindicated: 'heat is refused for now because of what is in your profile or pain log; get medical advice first',
  already_on: 'the heat pad is already on, so keep it on the knot while you go on',
  cooling_down: 'the heat pad needs a rest after its last session',
  too_long: 'your heat limit is shorter than this step',
  invalid_minutes: 'your heat settings do not allow this step',
  heat_unavailable: 'heat is not available on this unknot service',
};

export const heatSkipMessage = (reason: string): string =>
  `Heat skipped: ${HEAT_SKIP_MESSAGES[reason] ?? reason.replace(/_/g, ' ')}. Go straight on to the stretches.`;

/** The steps of a routine, with their durations divided by the time scale (UNKNOT_TIME_SCALE, docs/configuration.md). */
export function planRoutine(name: RoutineName, timeScale: number): RoutineStepState[] {
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be positive, got ${timeScale}`);
  return ROUTINES[name].map((d) => ({
    step: d.step,
    kind: d.kind,
    seconds: d.seconds,
    durationMs: Math.max(1, Math.round((d.seconds * 1000) / timeScale)),
    message: d.message,
  }));
}

export const routineIdOf = (epoch: string, seq: number) => `${epoch}r${seq}`;

export const isRunning = (r: RoutineState | null | undefined): r is RoutineState => !!r && !r.ended;

/** What the heat service answered when the heat step began. */
export type HeatOutcome =
  { ok: true; sessionId: string; minutes: number; startedAt: number; offAt: number } | { ok: false; reason: string };

export type RoutineEffect =
  | { kind: 'log'; entry: LogEntry }
  /** Send the commands of steps `published + 1 … index` (they began in this transition). */
  | { kind: 'publish_steps'; routineId: string; from: number; to: number }
  /** The job that ends step `index - 1` and begins step `index` (or completes the routine). */
  | { kind: 'schedule_step'; routineId: string; index: number; dueAt: number }
  | { kind: 'cancel_step'; routineId: string; index: number }
  | { kind: 'stop_heat'; heatSessionId: string };

type Slice = Pick<UserState, 'routine' | 'routineSeq'>;

export interface RoutineTransition<R> {
  routine: RoutineState | null;
  routineSeq: number;
  effects: RoutineEffect[];
  changed: boolean;
  result: R;
}

const unchanged = <R>(s: Slice, result: R): RoutineTransition<R> => ({
  routine: s.routine,
  routineSeq: s.routineSeq,
  effects: [],
  changed: false,
  result,
});

/**
 * Enter step `index` at `now`: log it, publish it and schedule the next one. A heat step needs the heat outcome;
 * a skipped step (heat refused) does not wait, so the next step is entered at once. `index === steps.length`
 * completes the routine.
 */
function enter(
  r0: RoutineState,
  index: number,
  now: number,
  heat: HeatOutcome | undefined,
  effects: RoutineEffect[],
): { routine: RoutineState; needsHeat: boolean } {
  let r = r0;
  for (let i = index; ; i++) {
    if (i >= r.steps.length) {
      r = {
        ...r,
        index: r.steps.length,
        stepStartedAt: now,
        stepEndsAt: now,
        ended: { at: now, outcome: 'completed' },
      };
      effects.push({ kind: 'log', entry: { type: 'routine_completed', at: now, routineId: r.routineId } });
      return { routine: r, needsHeat: false };
    }
    const step = r.steps[i]!;
    let durationMs = step.durationMs;
    let steps = r.steps;
    let heatSessionId = r.heatSessionId;
    let stepEndsAt = now + durationMs;
    let stepStartedAt = now;
    if (step.kind === 'heat') {
      if (!heat) return { routine: r, needsHeat: true };
      if (!heat.ok) {
        steps = steps.map((s, k) =>
          k === i ? { ...s, skipped: heat.reason, message: heatSkipMessage(heat.reason) } : s,
        );
        r = { ...r, steps, index: i, stepStartedAt: now, stepEndsAt: now };
        effects.push({
          kind: 'log',
          entry: {
            type: 'routine_step',
            at: now,
            routineId: r.routineId,
            index: i,
            step: step.step,
            seconds: 0,
            skipped: true,
            reason: heat.reason,
          },
        });
        continue;
      }
      // The step is the heat session: it began when the pad was switched on and ends at its auto-off (its
      // minutes may be capped by the profile).
      stepStartedAt = Math.min(now, heat.startedAt);
      stepEndsAt = Math.max(stepStartedAt + 1, heat.offAt);
      durationMs = stepEndsAt - stepStartedAt;
      const minutes = Math.round(heat.minutes * 10) / 10;
      steps = steps.map((s, k) =>
        k === i
          ? {
              ...s,
              seconds: Math.round(heat.minutes * 60),
              durationMs,
              message:
                minutes === 10
                  ? s.message
                  : `Heat: the heat pad is switching on. Lay it over the knot for ${minutes} minute${minutes === 1 ? '' : 's'} and relax your shoulders.`,
            }
          : s,
      );
      heatSessionId = heat.sessionId;
    }
    r = { ...r, steps, index: i, stepStartedAt, stepEndsAt, ...(heatSessionId ? { heatSessionId } : {}) };
    effects.push({
      kind: 'log',
      entry: {
        type: 'routine_step',
        at: now,
        routineId: r.routineId,
        index: i,
        step: step.step,
        seconds: round3(durationMs / 1000),
        ...(step.kind === 'heat' && heatSessionId ? { heatSessionId } : {}),
      },
    });
    effects.push({ kind: 'schedule_step', routineId: r.routineId, index: i + 1, dueAt: stepEndsAt });
    return { routine: r, needsHeat: false };
  }
}

function withPublish(r: RoutineState, before: RoutineState | null, effects: RoutineEffect[]): RoutineEffect[] {
  const from = before && before.routineId === r.routineId ? before.index + 1 : 0;
  const to = Math.min(r.index, r.steps.length - 1);
  // Logs first (they commit with the state), then what goes out.
  return to >= from ? [...effects, { kind: 'publish_steps', routineId: r.routineId, from, to }] : effects;
}

export type StartResult =
  | { ok: true; routineId: string; needsHeat: false }
  | { ok: false; code: 'routine_running'; routineId: string }
  | { ok: false; code: 'needs_heat'; routineId: string };

/** Start a routine: refused while one is running. `epoch` makes routine ids unique per user state. */
export function startRoutine(
  s: Slice,
  name: RoutineName,
  epoch: string,
  timeScale: number,
  now: number,
  heat?: HeatOutcome,
): RoutineTransition<StartResult> {
  if (isRunning(s.routine)) return unchanged(s, { ok: false, code: 'routine_running', routineId: s.routine.routineId });
  const seq = s.routineSeq + 1;
  const routineId = routineIdOf(epoch, seq);
  const steps = planRoutine(name, timeScale);
  const fresh: RoutineState = {
    routineId,
    routine: name,
    startedAt: now,
    steps,
    index: -1,
    stepStartedAt: now,
    stepEndsAt: now,
    published: -1,
    ended: null,
    seq,
  };
  const effects: RoutineEffect[] = [
    { kind: 'log', entry: { type: 'routine_started', at: now, routineId, routine: name } },
  ];
  const e = enter(fresh, 0, now, heat, effects);
  if (e.needsHeat) return unchanged(s, { ok: false, code: 'needs_heat', routineId });
  return {
    routine: e.routine,
    routineSeq: seq,
    effects: withPublish(e.routine, null, effects),
    changed: true,
    result: { ok: true, routineId, needsHeat: false },
  };
}

export type StepDueResult =
  | { kind: 'advanced'; index: number; completed: boolean }
  | { kind: 'already'; index: number }
  | { kind: 'wait'; until: number }
  | { kind: 'needs_heat'; index: number }
  | { kind: 'stale'; why: string };

/** The step job for (routineId, index) fired: begin that step, wait, or drop the job as stale. */
export function stepDue(
  s: Slice,
  routineId: string,
  index: number,
  now: number,
  heat?: HeatOutcome,
): RoutineTransition<StepDueResult> {
  const r = s.routine;
  if (!r || r.routineId !== routineId) return unchanged(s, { kind: 'stale', why: 'routine replaced or gone' });
  if (index <= r.index) return unchanged(s, { kind: 'already', index });
  if (r.ended) return unchanged(s, { kind: 'stale', why: `routine ${r.ended.outcome}` });
  if (index !== r.index + 1) return unchanged(s, { kind: 'stale', why: `step ${index} is not next` });
  if (now < r.stepEndsAt - STEP_DUE_TOLERANCE_MS) return unchanged(s, { kind: 'wait', until: r.stepEndsAt });
  const effects: RoutineEffect[] = [];
  const e = enter(r, index, now, heat, effects);
  if (e.needsHeat) return unchanged(s, { kind: 'needs_heat', index });
  return {
    routine: e.routine,
    routineSeq: s.routineSeq,
    effects: withPublish(e.routine, r, effects),
    changed: true,
    result: { kind: 'advanced', index: e.routine.index, completed: !!e.routine.ended },
  };
}

export type StopResult =
  | { ok: true; routineId: string; index: number; heatSessionId: string | null }
  | { ok: false; code: 'no_routine' | 'unknown_routine' };

/** Stop the running routine (`routineId` undefined: whichever is running). Logs `routine_abandoned`. */
export function stopRoutine(
  s: Slice,
  routineId: string | undefined,
  now: number,
  reason: string,
): RoutineTransition<StopResult> {
  const r = s.routine;
  if (!isRunning(r)) return unchanged(s, { ok: false, code: 'no_routine' });
  if (routineId !== undefined && r.routineId !== routineId) return unchanged(s, { ok: false, code: 'unknown_routine' });
  const current = r.steps[r.index];
  const heatSessionId = current?.kind === 'heat' && !current.skipped && r.heatSessionId ? r.heatSessionId : null;
  const effects: RoutineEffect[] = [
    { kind: 'log', entry: { type: 'routine_abandoned', at: now, routineId: r.routineId, reason } },
    { kind: 'cancel_step', routineId: r.routineId, index: r.index + 1 },
    ...(heatSessionId ? [{ kind: 'stop_heat' as const, heatSessionId }] : []),
  ];
  return {
    routine: { ...r, ended: { at: now, outcome: 'abandoned', reason } },
    routineSeq: s.routineSeq,
    effects,
    changed: true,
    result: { ok: true, routineId: r.routineId, index: r.index, heatSessionId },
  };
}

/**
 * Steps up to `index` went out on MQTT at `publishedAt`: remember it, so a retried job does not send them again.
 * A timed step runs its full length from the moment the person was told (a late publish does not shorten it);
 * the heat step keeps the heat session's own end.
 */
export function stepsPublished(
  s: Slice,
  routineId: string,
  index: number,
  publishedAt: number,
): RoutineTransition<undefined> {
  const r = s.routine;
  if (!r || r.routineId !== routineId || r.published >= index) return unchanged(s, undefined);
  const step = r.steps[r.index];
  const anchored =
    isRunning(r) && r.index === index && step && step.kind !== 'heat' && !step.skipped
      ? Math.max(r.stepEndsAt, publishedAt + step.durationMs)
      : r.stepEndsAt;
  return {
    routine: { ...r, published: index, stepEndsAt: anchored },
    routineSeq: s.routineSeq,
    effects: [],
    changed: true,
    result: undefined,
  };
}

/** Steps that began but whose command has not gone out yet (a crash between commit and publish). */
export function unpublished(r: RoutineState | null): { from: number; to: number } | null {
  if (!isRunning(r)) return null;
  const to = Math.min(r.index, r.steps.length - 1);
  return to > r.published ? { from: r.published + 1, to } : null;
}

/** The canonical command for one step (docs/concepts/routines.md); `seconds` is how long it really runs (time scale applied). */
export function stepCommand(r: RoutineState, index: number): Extract<Command, { command: 'routine_step' }> {
  const s = r.steps[index];
  if (!s) throw new RangeError(`routine ${r.routineId} has no step ${index}`);
  return {
    command: 'routine_step',
    routineId: r.routineId,
    index,
    of: r.steps.length,
    step: s.step,
    seconds: s.skipped ? 0 : round3(s.durationMs / 1000),
    message: s.message,
    ...(s.skipped ? { skipped: true, reason: s.skipped } : {}),
  };
}

/** The routine as the API shows it: steps with their state, the running one, when it ends. */
export function routineView(r: RoutineState, now: number) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    routineId: r.routineId,
    routine: r.routine,
    status: r.ended ? r.ended.outcome : 'running',
    startedAt: iso(r.startedAt),
    endedAt: r.ended ? iso(r.ended.at) : null,
    ...(r.ended?.reason ? { reason: r.ended.reason } : {}),
    index: Math.min(r.index, r.steps.length),
    of: r.steps.length,
    step: r.ended ? null : (r.steps[r.index]?.step ?? null),
    stepEndsAt: r.ended ? null : iso(r.stepEndsAt),
    secondsLeft: r.ended ? 0 : round3(Math.max(0, r.stepEndsAt - now) / 1000),
    heatSessionId: r.heatSessionId ?? null,
    steps: r.steps.map((s, i) => stepView(s, i, r.steps.length, r, now)),
  };
}

function stepView(s: RoutineStepState, index: number, of: number, r: RoutineState, _now: number) {
  const status = s.skipped
    ? 'skipped'
    : index < r.index || (r.ended?.outcome === 'completed' && index < of)
      ? 'done'
      : index === r.index && !r.ended
        ? 'running'
        : index === r.index && r.ended?.outcome === 'abandoned'
          ? 'stopped'
          : 'to_do';
  return {
    index,
    step: s.step,
    kind: s.kind,
    seconds: s.seconds,
    runSeconds: s.skipped ? 0 : round3(s.durationMs / 1000),
    message: s.message,
    status,
    ...(s.skipped ? { reason: s.skipped } : {}),
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
