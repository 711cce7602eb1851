// The methods log read back (docs/concepts/methods.md): what was tried, how it went, what helps per method and area,
// the four-weeks-without-improvement check and when to offer the desk setup check. Pure: `now` and the policy come
// in as arguments. The rules follow the self-care guidance unknot is built on, quoted at each rule.
import {
  type DeskCheckAnswers,
  type LogEntry,
  METHOD_NAMES,
  type Method,
  type MethodFeeling,
  type MethodSource,
  type PainArea,
} from './types.js';
import type { HeatState, RoutineState } from './user-state.js';

type TriedEntry = Extract<LogEntry, { type: 'method_tried' }>;
type OutcomeEntry = Extract<LogEntry, { type: 'method_outcome' }>;
type DeskCheckEntry = Extract<LogEntry, { type: 'desk_check' }>;

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/** The thresholds of the rules below; the defaults are config's (src/config.ts, `UNKNOT_METHODS_*`, `UNKNOT_DESK_*`). */
export interface MethodPolicy {
  /** Outcomes a method needs in an area before it gets a verdict; fewer is "not enough data". */
  minOutcomes: number;
  /** An average pain drop of at least this many points (0–10 scale) is "helped a lot". */
  bigDrop: number;
  /** An average pain change within ± this many points is "no change"; a drop beyond it "helped a little". */
  smallChange: number;
  /** Weeks of regular care after which pain that has not improved is a reason to see a professional. */
  noImprovementWeeks: number;
  /** A drop in average pain (first week against last week) smaller than this many points is no improvement. */
  improvementPoints: number;
  /** A sitting stretch of at least this many minutes without a break is long sitting. */
  longSittingMinutes: number;
  /** Days, of the last seven, with long sitting that make "a week of long sitting" and offer the desk check. */
  deskCheckDays: number;
  /** After an answered desk check, it is offered again no sooner than this many days later. */
  deskCheckRepeatDays: number;
}

export const DEFAULT_METHOD_POLICY: MethodPolicy = Object.freeze({
  minOutcomes: 2,
  bigDrop: 2,
  smallChange: 0.5,
  noImprovementWeeks: 4,
  improvementPoints: 1,
  longSittingMinutes: 60,
  deskCheckDays: 5,
  deskCheckRepeatDays: 30,
});

export type Verdict = 'helped_a_lot' | 'helped_a_little' | 'no_change' | 'made_it_worse' | 'not_enough_data';

/** The plain-language label of each verdict, as the dashboard and the report show it. */
export const VERDICT_LABELS: Record<Verdict, string> = {
  helped_a_lot: 'helped a lot',
  helped_a_little: 'helped a little',
  no_change: 'no change',
  made_it_worse: 'made it worse',
  not_enough_data: 'not enough data',
};

/** One method tried, with its latest outcome when one was given. */
export interface MethodRecord {
  methodId: string;
  at: number;
  method: Method;
  /** The plain name: the person's own words for `other`, else the method's name. */
  name: string;
  area: PainArea;
  source: MethodSource;
  minutes?: number;
  note?: string;
  routineId?: string;
  heatSessionId?: string;
  painBefore?: number;
  outcome?: {
    at: number;
    feeling: MethodFeeling;
    painBefore?: number;
    painAfter?: number;
    note?: string;
  };
}

const nameOf = (e: Pick<TriedEntry, 'method' | 'name'>): string =>
  e.method === 'other' && e.name ? e.name : (e.name ?? METHOD_NAMES[e.method]);

/**
 * Methods tried up to `now` (from `since` when given), oldest first, each with its latest outcome up to `now`.
 * An outcome without a known method is ignored.
 */
export function methodRecords(entries: readonly LogEntry[], now: number, since = -Infinity): MethodRecord[] {
  const records = new Map<string, MethodRecord>();
  for (const e of entries) {
    if (e.type !== 'method_tried' || e.at > now || e.at < since || records.has(e.methodId)) continue;
    records.set(e.methodId, {
      methodId: e.methodId,
      at: e.at,
      method: e.method,
      name: nameOf(e),
      area: e.area,
      source: e.source,
      ...(e.minutes !== undefined ? { minutes: e.minutes } : {}),
      ...(e.note ? { note: e.note } : {}),
      ...(e.routineId ? { routineId: e.routineId } : {}),
      ...(e.heatSessionId ? { heatSessionId: e.heatSessionId } : {}),
      ...(e.painBefore !== undefined ? { painBefore: e.painBefore } : {}),
    });
  }
  const outcomes = entries
    .filter((e): e is OutcomeEntry => e.type === 'method_outcome' && e.at <= now)
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.at - b.e.at || a.i - b.i);
  for (const { e } of outcomes) {
    const r = records.get(e.methodId);
    if (!r) continue;
    r.outcome = {
      at: e.at,
      feeling: e.feeling,
      ...(e.painBefore !== undefined ? { painBefore: e.painBefore } : {}),
      ...(e.painAfter !== undefined ? { painAfter: e.painAfter } : {}),
      ...(e.note ? { note: e.note } : {}),
    };
  }
  return [...records.values()].sort((a, b) => a.at - b.at);
}

/** Pain before a method: the outcome's figure when it gave one, else the one logged with the method. */
const before = (r: MethodRecord): number | undefined => r.outcome?.painBefore ?? r.painBefore;

/** The change in pain a record shows (after − before, negative is better), or undefined without both figures. */
export function painChange(r: MethodRecord): number | undefined {
  const b = before(r);
  const a = r.outcome?.painAfter;
  return a === undefined || b === undefined ? undefined : a - b;
}

export interface WhatHelpsRow {
  method: Method;
  /** Plain name (the person's words for `other`; each different `other` is a row of its own). */
  name: string;
  area: PainArea;
  /** How often it was tried. */
  count: number;
  /** How many of those have an outcome. */
  withOutcome: number;
  better: number;
  same: number;
  worse: number;
  /** Average of (pain after − pain before) over the outcomes that gave both; null when none did. Negative is better. */
  averagePainChange: number | null;
  /** How many outcomes gave both figures. */
  withPainChange: number;
  verdict: Verdict;
  /** `VERDICT_LABELS[verdict]`. */
  label: string;
  lastTriedAt: number;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/**
 * The verdict for one method in one area. "Try methods and note the results": with at least `minOutcomes`
 * outcomes that give pain before and after, the average change decides (a drop of `bigDrop` or more helped a lot,
 * a drop beyond `smallChange` helped a little, a rise beyond it made it worse, else no change); with enough
 * outcomes but too few figures, the feelings decide (better +1, same 0, worse −1: a mean of ½ or more helped a
 * little, −½ or less made it worse).
 */
export function verdictOf(
  withOutcome: number,
  changes: readonly number[],
  feelings: { better: number; same: number; worse: number },
  policy: Pick<MethodPolicy, 'minOutcomes' | 'bigDrop' | 'smallChange'>,
): Verdict {
  if (withOutcome < policy.minOutcomes) return 'not_enough_data';
  if (changes.length >= policy.minOutcomes) {
    const avg = changes.reduce((s, c) => s + c, 0) / changes.length;
    if (avg <= -policy.bigDrop) return 'helped_a_lot';
    if (avg < -policy.smallChange) return 'helped_a_little';
    if (avg > policy.smallChange) return 'made_it_worse';
    return 'no_change';
  }
  const score = (feelings.better - feelings.worse) / withOutcome;
  if (score >= 0.5) return 'helped_a_little';
  if (score <= -0.5) return 'made_it_worse';
  return 'no_change';
}

/**
 * What helps, per method and area, for the methods tried from `since` up to `now`: how often, how many have an
 * outcome, the average change in pain and a plain-language label. Rows are sorted by area, then best first.
 */
export function whatHelps(
  entries: readonly LogEntry[],
  now: number,
  policy: Pick<MethodPolicy, 'minOutcomes' | 'bigDrop' | 'smallChange'> = DEFAULT_METHOD_POLICY,
  since = -Infinity,
): WhatHelpsRow[] {
  const groups = new Map<string, MethodRecord[]>();
  for (const r of methodRecords(entries, now, since)) {
    const key = `${r.area}\u0000${r.method}\u0000${r.method === 'other' ? r.name.toLowerCase() : ''}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const rows: WhatHelpsRow[] = [];
  for (const records of groups.values()) {
    const first = records[0];
    if (!first) continue;
    const withOutcome = records.filter((r) => r.outcome);
    const feelings = { better: 0, same: 0, worse: 0 };
    for (const r of withOutcome) if (r.outcome) feelings[r.outcome.feeling]++;
    const changes = withOutcome.map(painChange).filter((c): c is number => c !== undefined);
    const verdict = verdictOf(withOutcome.length, changes, feelings, policy);
    rows.push({
      method: first.method,
      name: first.name,
      area: first.area,
      count: records.length,
      withOutcome: withOutcome.length,
      ...feelings,
      averagePainChange: changes.length > 0 ? round1(changes.reduce((s, c) => s + c, 0) / changes.length) : null,
      withPainChange: changes.length,
      verdict,
      label: VERDICT_LABELS[verdict],
      lastTriedAt: Math.max(...records.map((r) => r.at)),
    });
  }
  const rank: Record<Verdict, number> = {
    helped_a_lot: 0,
    helped_a_little: 1,
    no_change: 2,
    made_it_worse: 3,
    not_enough_data: 4,
  };
  return rows.sort(
    (a, b) =>
      a.area.localeCompare(b.area) ||
      rank[a.verdict] - rank[b.verdict] ||
      (a.averagePainChange ?? 0) - (b.averagePainChange ?? 0) ||
      b.count - a.count ||
      a.name.localeCompare(b.name),
  );
}

export interface NoImprovement {
  area: PainArea;
  /** Start of the weeks of care looked at. */
  since: number;
  weeks: number;
  /** Methods tried for the area in those weeks. */
  methodsTried: number;
  /** Average pain in the first week and in the last week (0–10, one decimal). */
  firstWeekPain: number;
  lastWeekPain: number;
}

/** Pain readings for an area: pain log entries, and the before/after figures given with methods. */
function painReadings(entries: readonly LogEntry[], now: number): Map<PainArea, { at: number; level: number }[]> {
  const readings = new Map<PainArea, { at: number; level: number }[]>();
  const add = (area: PainArea, at: number, level: number | undefined) => {
    if (level === undefined || at > now) return;
    const list = readings.get(area);
    if (list) list.push({ at, level });
    else readings.set(area, [{ at, level }]);
  };
  for (const e of entries) if (e.type === 'pain_logged') add(e.area, e.at, e.level);
  for (const r of methodRecords(entries, now)) {
    add(r.area, r.at, before(r));
    if (r.outcome) add(r.area, r.outcome.at, r.outcome.painAfter);
  }
  return readings;
}

/**
 * "Expect steady improvement in one to four weeks": per area, when methods were tried for it in every one of the
 * last `noImprovementWeeks` weeks (regular care) and the average pain of the last week is not at least
 * `improvementPoints` below that of the first week (and not 0), nothing has improved. Needs pain readings in both
 * the first and the last week; without them it says nothing.
 */
export function noImprovement(
  entries: readonly LogEntry[],
  now: number,
  policy: Pick<MethodPolicy, 'noImprovementWeeks' | 'improvementPoints'> = DEFAULT_METHOD_POLICY,
): NoImprovement[] {
  const weeks = policy.noImprovementWeeks;
  if (!(weeks >= 1)) return [];
  const since = now - weeks * WEEK_MS;
  const records = methodRecords(entries, now, since);
  const readings = painReadings(entries, now);
  const out: NoImprovement[] = [];
  const areas = [...new Set(records.map((r) => r.area))].sort();
  for (const area of areas) {
    const tried = records.filter((r) => r.area === area);
    const weekOf = (at: number) => Math.min(weeks - 1, Math.floor((at - since) / WEEK_MS));
    const covered = new Set(tried.map((r) => weekOf(r.at)));
    if (covered.size < weeks) continue;
    const inWindow = (readings.get(area) ?? []).filter((p) => p.at >= since && p.at <= now);
    const first = inWindow.filter((p) => p.at < since + WEEK_MS);
    const last = inWindow.filter((p) => p.at > now - WEEK_MS);
    if (first.length === 0 || last.length === 0) continue;
    const avg = (ps: { level: number }[]) => ps.reduce((s, p) => s + p.level, 0) / ps.length;
    const firstWeekPain = avg(first);
    const lastWeekPain = avg(last);
    if (lastWeekPain === 0 || firstWeekPain - lastWeekPain >= policy.improvementPoints) continue;
    out.push({
      area,
      since,
      weeks,
      methodsTried: tried.length,
      firstWeekPain: round1(firstWeekPain),
      lastWeekPain: round1(lastWeekPain),
    });
  }
  return out;
}

export interface DeskCheckOffer {
  /** Whether to offer the desk setup check now. */
  offered: boolean;
  /** Days of the last seven (24-hour spans back from `now`) with a long sitting stretch. */
  longSittingDays: number;
  /** The latest answered check, if any. */
  lastCheck: { at: number; answers: DeskCheckAnswers; note?: string } | null;
  /** A sentence for the person: why it is offered, or when it was last answered. */
  message: string;
}

/**
 * "Fix the desk setup (screen at eye level, shoulders relaxed, feet flat)", offered when a week of long sitting is
 * logged: a sitting stretch of `longSittingMinutes` or more that ended in a break (taken after a nudge or natural)
 * on at least `deskCheckDays` of the last seven days, and no check answered in the last `deskCheckRepeatDays` days.
 */
export function deskCheckOffer(
  entries: readonly LogEntry[],
  now: number,
  policy: Pick<MethodPolicy, 'longSittingMinutes' | 'deskCheckDays' | 'deskCheckRepeatDays'> = DEFAULT_METHOD_POLICY,
): DeskCheckOffer {
  const days = new Set<number>();
  let lastCheck: DeskCheckEntry | null = null;
  for (const e of entries) {
    if (e.at > now) continue;
    if (e.type === 'desk_check' && (!lastCheck || e.at >= lastCheck.at)) lastCheck = e;
    if (
      (e.type === 'break_taken' || e.type === 'natural_break') &&
      e.at > now - WEEK_MS &&
      e.sittingSeconds >= policy.longSittingMinutes * 60
    ) {
      days.add(Math.floor((now - e.at) / DAY_MS));
    }
  }
  const recentCheck = lastCheck !== null && lastCheck.at > now - policy.deskCheckRepeatDays * DAY_MS;
  const offered = days.size >= policy.deskCheckDays && !recentCheck;
  const last = lastCheck
    ? { at: lastCheck.at, answers: lastCheck.answers, ...(lastCheck.note ? { note: lastCheck.note } : {}) }
    : null;
  const message = offered
    ? `You sat for ${policy.longSittingMinutes} minutes or more without a break on ${days.size} of the last 7 days. ` +
      'A quick check of your desk setup can take strain off your neck and shoulders: screen at eye level, shoulders ' +
      'relaxed, feet flat, a chair that supports your back, keyboard at elbow height.'
    : recentCheck
      ? 'Desk setup checked recently.'
      : 'No week of long sitting logged: the desk setup check is not due, but you can answer it any time.';
  return { offered, longSittingDays: days.size, lastCheck: last, message };
}

/** What a desk check's "no" answers mean to fix, in plain words. */
export const DESK_CHECK_ADVICE: Record<keyof DeskCheckAnswers, string> = {
  screenAtEyeLevel: 'raise or lower the screen so its top is at eye level',
  shouldersRelaxed: 'let your shoulders drop and relax; rest your forearms',
  feetFlat: 'put your feet flat on the floor or on a footrest',
  chairSupportsBack: 'adjust the chair or add a cushion so it supports your lower back',
  keyboardAtElbowHeight: 'bring the keyboard to elbow height, elbows bent about 90 degrees',
};

/** The advice for the questions answered "no", in question order. */
export function deskCheckFixes(answers: DeskCheckAnswers): string[] {
  return (Object.keys(DESK_CHECK_ADVICE) as (keyof DeskCheckAnswers)[])
    .filter((q) => !answers[q])
    .map((q) => DESK_CHECK_ADVICE[q]);
}

/**
 * The method a wearable's or Home Assistant's "that helped" refers to: the latest method tried in the last
 * `withinMs` up to `now`, or null.
 */
export function latestMethod(entries: readonly LogEntry[], now: number, withinMs: number): TriedEntry | null {
  let latest: TriedEntry | null = null;
  for (const e of entries) {
    if (e.type !== 'method_tried' || e.at > now || e.at < now - withinMs) continue;
    if (!latest || e.at >= latest.at) latest = e;
  }
  return latest;
}

/** How recent a pain entry must be for its area to name a routine or heat session started without one. */
export const AREA_FROM_PAIN_DAYS = 14;

/** The area of the latest pain entry of the last AREA_FROM_PAIN_DAYS days up to `now`, if any. */
export function latestPainArea(entries: readonly LogEntry[], now: number): PainArea | undefined {
  let latest: { at: number; area: PainArea } | undefined;
  for (const e of entries) {
    if (e.type !== 'pain_logged' || e.at > now || e.at < now - AREA_FROM_PAIN_DAYS * DAY_MS) continue;
    if (!latest || e.at >= latest.at) latest = e;
  }
  return latest?.area;
}

/** Deterministic method ids of the entries unknot makes itself: a retried commit cannot make two. */
export const routineMethodId = (routineId: string) => `routine-${routineId}`;
export const heatMethodId = (heatSessionId: string) => `heat-${heatSessionId}`;

/**
 * "Routines and heat sessions unknot ran are entered automatically": the `method_tried` entries that go into the
 * same commit as a transition's `routine_completed` (the routine, its area and the minutes of its steps that ran)
 * or `heat_off` that ends a session (heat, its area and how long it was on, in policy minutes). A heat session a
 * routine started is part of that routine's entry, not one of its own. `state` is the state after the transition.
 */
export function autoMethodEntries(
  logs: readonly LogEntry[],
  state: { routine?: RoutineState | null; heat?: HeatState },
  timeScale: number,
): LogEntry[] {
  const out: LogEntry[] = [];
  for (const e of logs) {
    const r = state.routine;
    if (e.type === 'routine_completed' && r && r.routineId === e.routineId) {
      const seconds = r.steps.filter((s) => !s.skipped).reduce((sum, s) => sum + s.seconds, 0);
      out.push({
        type: 'method_tried',
        at: e.at,
        methodId: routineMethodId(r.routineId),
        method: 'routine',
        name: `guided routine (${r.routine.replace(/_/g, ' ')})`,
        area: r.area ?? 'other',
        minutes: round1(seconds / 60),
        source: 'routine',
        routineId: r.routineId,
        ...(r.heatSessionId ? { heatSessionId: r.heatSessionId } : {}),
      });
    }
    const h = state.heat?.current;
    if (e.type === 'heat_off' && h && h.sessionId === e.sessionId && h.ended?.at === e.at && h.source !== 'routine') {
      const minutes = Math.min(h.minutes, round1(((h.ended.at - h.startedAt) * timeScale) / 60_000));
      out.push({
        type: 'method_tried',
        at: e.at,
        methodId: heatMethodId(h.sessionId),
        method: 'heat',
        area: h.area ?? 'other',
        minutes,
        source: 'heat',
        heatSessionId: h.sessionId,
      });
    }
  }
  return out;
}

/** A transition's log entries with the automatic methods-log entries added (see autoMethodEntries). */
export const withAutoMethods = (
  logs: LogEntry[],
  state: { routine?: RoutineState | null; heat?: HeatState },
  timeScale: number,
): LogEntry[] => {
  const auto = autoMethodEntries(logs, state, timeScale);
  return auto.length > 0 ? [...logs, ...auto] : logs;
};
