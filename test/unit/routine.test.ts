import { describe, expect, it } from 'vitest';
import {
  heatSkipMessage,
  isRoutineName,
  planRoutine,
  routineView,
  startRoutine,
  stepCommand,
  stepDue,
  stepsPublished,
  STEP_DUE_TOLERANCE_MS,
  stopRoutine,
  unpublished,
  type HeatOutcome,
  type RoutineEffect,
  type RoutineTransition,
} from '../../src/domain/routine.js';
import type { UserState } from '../../src/domain/user-state.js';

type Slice = Pick<UserState, 'routine' | 'routineSeq'>;

const T0 = Date.parse('2026-03-02T08:00:00Z');
const empty = (): Slice => ({ routine: null, routineSeq: 0 });
const apply = <R>(s: Slice, t: RoutineTransition<R>): Slice =>
  t.changed ? { routine: t.routine, routineSeq: t.routineSeq } : s;
const kinds = (effects: RoutineEffect[]) => effects.map((e) => (e.kind === 'log' ? `log:${e.entry.type}` : e.kind));
const heatOn = (offAt: number, minutes = 10, startedAt = offAt - minutes * 60_000): HeatOutcome => ({
  ok: true,
  sessionId: 'h1',
  minutes,
  startedAt,
  offAt,
});

/** Start at T0 (scale 1) and return the state plus the transition. */
const started = (scale = 1) => {
  const t = startRoutine(empty(), 'daily_checklist', 'ep', scale, T0);
  return { s: apply(empty(), t), t };
};

describe('planRoutine', () => {
  it('is the self-care checklist: pressure 60 s, heat 10 min, two stretches held 30 s, each twice', () => {
    const plan = planRoutine('daily_checklist', 1);
    expect(plan.map((s) => [s.step, s.kind, s.seconds])).toEqual([
      ['pressure', 'pressure', 60],
      ['heat', 'heat', 600],
      ['neck_side_stretch', 'stretch', 30],
      ['neck_side_stretch', 'stretch', 30],
      ['doorway_chest_stretch', 'stretch', 30],
      ['doorway_chest_stretch', 'stretch', 30],
    ]);
    for (const s of plan) expect(s.message.length).toBeGreaterThan(20);
    expect(plan[0]!.message).toContain('60 seconds');
    expect(plan[2]!.message).toContain('30 seconds');
  });

  it('divides step durations by the time scale, never below 1 ms', () => {
    expect(planRoutine('daily_checklist', 60).map((s) => s.durationMs)).toEqual([1000, 10_000, 500, 500, 500, 500]);
    expect(planRoutine('daily_checklist', 1e9).every((s) => s.durationMs === 1)).toBe(true);
    expect(() => planRoutine('daily_checklist', 0)).toThrow(RangeError);
  });

  it('knows its routine names', () => {
    expect(isRoutineName('daily_checklist')).toBe(true);
    expect(isRoutineName('toString')).toBe(false);
    expect(isRoutineName(undefined)).toBe(false);
  });
});

describe('startRoutine', () => {
  it('begins step 0, logs it, publishes it and schedules the next step when this one is over', () => {
    const { s, t } = started();
    expect(t.result).toEqual({ ok: true, routineId: 'epr1', needsHeat: false });
    expect(kinds(t.effects)).toEqual(['log:routine_started', 'log:routine_step', 'schedule_step', 'publish_steps']);
    expect(t.effects).toContainEqual({ kind: 'schedule_step', routineId: 'epr1', index: 1, dueAt: T0 + 60_000 });
    expect(t.effects).toContainEqual({ kind: 'publish_steps', routineId: 'epr1', from: 0, to: 0 });
    expect(s.routine).toMatchObject({
      routineId: 'epr1',
      index: 0,
      stepEndsAt: T0 + 60_000,
      published: -1,
      ended: null,
    });
    expect(s.routineSeq).toBe(1);
  });

  it('refuses while one runs, and gives a fresh id once it has ended', () => {
    const { s } = started();
    const again = startRoutine(s, 'daily_checklist', 'ep', 1, T0 + 1000);
    expect(again.changed).toBe(false);
    expect(again.result).toEqual({ ok: false, code: 'routine_running', routineId: 'epr1' });
    const stopped = apply(s, stopRoutine(s, undefined, T0 + 2000, 'stopped_via_api'));
    const next = startRoutine(stopped, 'daily_checklist', 'ep', 1, T0 + 3000);
    expect(next.result).toMatchObject({ ok: true, routineId: 'epr2' });
  });
});

describe('stepDue', () => {
  it('waits when the job fires early, and accepts a job a little early', () => {
    const { s } = started();
    expect(stepDue(s, 'epr1', 1, T0 + 30_000).result).toEqual({ kind: 'wait', until: T0 + 60_000 });
    expect(stepDue(s, 'epr1', 1, T0 + 60_000 - STEP_DUE_TOLERANCE_MS).result).toMatchObject({ kind: 'needs_heat' });
  });

  it('asks for the heat outcome at the heat step, and times the step by the heat session', () => {
    const { s } = started();
    const ask = stepDue(s, 'epr1', 1, T0 + 60_000);
    expect(ask).toMatchObject({ changed: false, effects: [], result: { kind: 'needs_heat', index: 1 } });
    const now = T0 + 60_000;
    const t = stepDue(s, 'epr1', 1, now, heatOn(now + 600_000));
    expect(t.result).toEqual({ kind: 'advanced', index: 1, completed: false });
    expect(t.routine).toMatchObject({ index: 1, heatSessionId: 'h1', stepEndsAt: now + 600_000 });
    expect(t.effects).toContainEqual({
      kind: 'log',
      entry: {
        type: 'routine_step',
        at: now,
        routineId: 'epr1',
        index: 1,
        step: 'heat',
        seconds: 600,
        heatSessionId: 'h1',
      },
    });
    expect(t.effects).toContainEqual({ kind: 'schedule_step', routineId: 'epr1', index: 2, dueAt: now + 600_000 });
    expect(t.effects).toContainEqual({ kind: 'publish_steps', routineId: 'epr1', from: 1, to: 1 });
  });

  it('shortens the heat step and its message when the heat session is shorter', () => {
    const { s } = started();
    const now = T0 + 60_000;
    const t = stepDue(s, 'epr1', 1, now, heatOn(now + 300_000, 5));
    const cmd = stepCommand(t.routine!, 1);
    expect(cmd).toMatchObject({ step: 'heat', seconds: 300 });
    expect(cmd.message).toContain('5 minutes');
  });

  it('skips a refused heat step with the reason and begins the next step at once', () => {
    const { s } = started();
    const now = T0 + 60_000;
    const t = stepDue(s, 'epr1', 1, now, { ok: false, reason: 'no_heat_pad' });
    expect(t.result).toEqual({ kind: 'advanced', index: 2, completed: false });
    expect(kinds(t.effects)).toEqual(['log:routine_step', 'log:routine_step', 'schedule_step', 'publish_steps']);
    expect(t.effects[0]).toMatchObject({
      entry: { index: 1, step: 'heat', skipped: true, reason: 'no_heat_pad', seconds: 0 },
    });
    expect(t.effects).toContainEqual({ kind: 'schedule_step', routineId: 'epr1', index: 3, dueAt: now + 30_000 });
    expect(t.effects).toContainEqual({ kind: 'publish_steps', routineId: 'epr1', from: 1, to: 2 });
    const skipped = stepCommand(t.routine!, 1);
    expect(skipped).toMatchObject({
      command: 'routine_step',
      index: 1,
      of: 6,
      step: 'heat',
      seconds: 0,
      skipped: true,
      reason: 'no_heat_pad',
    });
    expect(skipped.message).toBe(heatSkipMessage('no_heat_pad'));
    expect(skipped.message).toContain('no heat pad');
  });

  it('runs to completion and logs routine_completed once', () => {
    let { s } = started();
    let now = T0 + 60_000;
    s = apply(s, stepDue(s, 'epr1', 1, now, { ok: false, reason: 'contraindicated' }));
    for (const index of [3, 4, 5]) {
      now += 30_000;
      const t = stepDue(s, 'epr1', index, now);
      expect(t.result).toEqual({ kind: 'advanced', index, completed: false });
      s = apply(s, t);
    }
    now += 30_000;
    const done = stepDue(s, 'epr1', 6, now);
    expect(done.result).toEqual({ kind: 'advanced', index: 6, completed: true });
    expect(kinds(done.effects)).toEqual(['log:routine_completed']);
    s = apply(s, done);
    expect(s.routine!.ended).toEqual({ at: now, outcome: 'completed' });
    // A retried completion job, or a late one, changes nothing.
    expect(stepDue(s, 'epr1', 6, now + 5).result).toEqual({ kind: 'already', index: 6 });
    expect(routineView(s.routine!, now)).toMatchObject({ status: 'completed', step: null, secondsLeft: 0 });
    expect(routineView(s.routine!, now).steps.map((x) => x.status)).toEqual([
      'done',
      'skipped',
      'done',
      'done',
      'done',
      'done',
    ]);
  });

  it('drops stale jobs: another routine, a step that is not next, a stopped routine', () => {
    const { s } = started();
    expect(stepDue(s, 'other', 1, T0 + 60_000).result).toMatchObject({ kind: 'stale' });
    expect(stepDue(s, 'epr1', 3, T0 + 60_000).result).toMatchObject({ kind: 'stale' });
    expect(stepDue(s, 'epr1', 0, T0 + 60_000).result).toEqual({ kind: 'already', index: 0 });
    const stopped = apply(s, stopRoutine(s, 'epr1', T0 + 1000, 'stopped_via_api'));
    const t = stepDue(stopped, 'epr1', 1, T0 + 60_000);
    expect(t).toMatchObject({ changed: false, effects: [], result: { kind: 'stale', why: 'routine abandoned' } });
    expect(stepDue(empty(), 'epr1', 1, T0).result).toMatchObject({ kind: 'stale' });
  });
});

describe('stopRoutine', () => {
  it('logs routine_abandoned with the reason and cancels the next step job', () => {
    const { s } = started();
    const t = stopRoutine(s, 'epr1', T0 + 1000, 'stopped_on_device');
    expect(t.result).toEqual({ ok: true, routineId: 'epr1', index: 0, heatSessionId: null });
    expect(t.effects).toEqual([
      {
        kind: 'log',
        entry: { type: 'routine_abandoned', at: T0 + 1000, routineId: 'epr1', reason: 'stopped_on_device' },
      },
      { kind: 'cancel_step', routineId: 'epr1', index: 1 },
    ]);
    expect(t.routine!.ended).toEqual({ at: T0 + 1000, outcome: 'abandoned', reason: 'stopped_on_device' });
    expect(routineView(t.routine!, T0 + 1000).steps[0]!.status).toBe('stopped');
  });

  it('stops the heat session when stopped during the heat step', () => {
    const { s } = started();
    const now = T0 + 60_000;
    const during = apply(s, stepDue(s, 'epr1', 1, now, heatOn(now + 600_000)));
    const t = stopRoutine(during, undefined, now + 5000, 'stopped_via_api');
    expect(t.result).toMatchObject({ ok: true, heatSessionId: 'h1' });
    expect(t.effects).toContainEqual({ kind: 'stop_heat', heatSessionId: 'h1' });
    // After the heat step, stopping leaves heat alone (its own timer switched it off).
    const after = apply(during, stepDue(during, 'epr1', 2, now + 600_000));
    expect(stopRoutine(after, undefined, now + 601_000, 'x').effects.map((e) => e.kind)).not.toContain('stop_heat');
  });

  it('refuses when nothing runs or the id is not the running routine', () => {
    expect(stopRoutine(empty(), undefined, T0, 'x').result).toEqual({ ok: false, code: 'no_routine' });
    const { s } = started();
    expect(stopRoutine(s, 'nope', T0, 'x').result).toEqual({ ok: false, code: 'unknown_routine' });
    const stopped = apply(s, stopRoutine(s, 'epr1', T0, 'x'));
    expect(stopRoutine(stopped, 'epr1', T0, 'x').result).toEqual({ ok: false, code: 'no_routine' });
  });
});

describe('publishing', () => {
  it('remembers what went out so a retry does not resend it, and finds what did not', () => {
    const { s } = started();
    expect(unpublished(s.routine)).toEqual({ from: 0, to: 0 });
    const p = apply(s, stepsPublished(s, 'epr1', 0, T0));
    expect(unpublished(p.routine)).toBeNull();
    expect(stepsPublished(p, 'epr1', 0, T0).changed).toBe(false);
    expect(stepsPublished(p, 'other', 3, T0).changed).toBe(false);
  });

  it('gives a step its full length from when it went out, so a late publish does not shorten it', () => {
    const { s } = started();
    const late = apply(s, stepsPublished(s, 'epr1', 0, T0 + 400));
    expect(late.routine).toMatchObject({ published: 0, stepEndsAt: T0 + 60_400 });
    expect(stepDue(late, 'epr1', 1, T0 + 60_000).result).toEqual({ kind: 'wait', until: T0 + 60_400 });
    // Published on time (or "before" the commit, by clock skew): the planned end stands.
    expect(apply(s, stepsPublished(s, 'epr1', 0, T0 - 5)).routine).toMatchObject({ stepEndsAt: T0 + 60_000 });
  });

  it('keeps the heat step ending with the heat session, however late it went out', () => {
    const { s } = started();
    const now = T0 + 60_000;
    const during = apply(s, stepDue(s, 'epr1', 1, now, heatOn(now + 600_000, 10, now)));
    const p = apply(during, stepsPublished(during, 'epr1', 1, now + 2000));
    expect(p.routine).toMatchObject({ published: 1, stepEndsAt: now + 600_000 });
  });

  it('formats the contract command with the scaled seconds', () => {
    const { s } = started(60);
    expect(stepCommand(s.routine!, 0)).toEqual({
      command: 'routine_step',
      routineId: 'epr1',
      index: 0,
      of: 6,
      step: 'pressure',
      seconds: 1,
      message: expect.stringContaining('Press steadily'),
    });
    expect(() => stepCommand(s.routine!, 9)).toThrow(RangeError);
  });
});

describe('the heat step timing', () => {
  it('runs from the moment the pad went on to its auto-off, even when the step is committed a little later', () => {
    const { s } = started();
    const padOn = T0 + 60_010;
    const t = stepDue(s, 'epr1', 1, padOn + 170, heatOn(padOn + 600_000, 10, padOn));
    expect(t.routine).toMatchObject({ stepStartedAt: padOn, stepEndsAt: padOn + 600_000 });
    expect(stepCommand(t.routine!, 1).seconds).toBe(600);
  });
});
