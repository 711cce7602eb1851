// The adherence model (docs/concepts/adherence.md): per-day and total figures, session outcomes, weekly routines
// and pain trends, all folded from the adherence log. Pure: `now` and the time zone come in as arguments.
import { addLocalDays, localDate, weekdayOf, zonedToUtc } from './clock.js';
import { PAIN_AREAS, type LogEntry, type PainArea } from './types.js';

/** The figures of docs/concepts/adherence.md, plus the extensions the dashboard reads. */
export interface Figures {
  sittingMinutes: number;
  longestSittingMinutes: number;
  breaks: number;
  naturalBreaks: number;
  nudgesSent: number;
  followedWithin1: number;
  followedWithin3: number;
  followedWithin5: number;
  /** followedWithin5 / nudgedSessions, 3 decimals; null when no session was nudged. */
  compliance: number | null;
  snoozes: number;
  ignored: number;
  heatSessions: number;
  /** Heat time in minutes, 2 decimals (a 3-second session is 0.05, not 0.1). */
  heatMinutes: number;
  // Extensions
  /** Heat time in whole seconds: what the dashboard shows when a session was short. */
  heatSeconds: number;
  /** Sessions that ended in `break_taken` or `nudge_ignored`, each counted once: compliance's denominator. */
  nudgedSessions: number;
  /** Nudged sessions broken after the 5-minute window and not ignored. */
  followedLate: number;
  /** Followed sessions (not ignored) whose `break_taken` carries snoozes > 0. */
  snoozedThenFollowed: number;
  routinesStarted: number;
  routinesCompleted: number;
}

export interface DayFigures extends Figures {
  date: string;
}

export interface RoutineProgress {
  doneThisWeek: number;
  target: number;
  /** Monday of the current ISO week, in the user's time zone. */
  weekStart: string;
}

export interface PainPoint {
  at: number;
  level: number;
  /** Local date of `at` in the user's time zone. */
  date: string;
}

export interface PainTrend {
  area: PainArea;
  first: PainPoint;
  latest: PainPoint;
  trend: 'improving' | 'worse' | 'same';
}

export interface Summary {
  days: DayFigures[];
  total: Figures;
  routines: RoutineProgress;
  pain: PainTrend[];
}

export interface SummaryOptions {
  timezone: string;
  /** How many local dates, ending with today's. */
  days: number;
  now: number;
  routineTargetPerWeek: number;
  /** UNKNOT_TIME_SCALE: the 1/3/5-minute follow-up windows are divided by it. Default 1. */
  timeScale?: number;
  /**
   * The sitting session still open now, from the person's state (not the log: a session's sitting_started can be
   * merged away by a late event). Its sitting so far counts: someone seated for hours does not show 0 today.
   * `upSince` is when they got up, while the break has not lasted long enough to end the session.
   */
  openSession?: { startedAt: number; upSince: number | null } | null;
}

/** Follow-up windows of docs/concepts/adherence.md, in seconds at time scale 1. */
export const FOLLOW_UP_WINDOWS_SECONDS = [60, 180, 300] as const;

/**
 * How one sitting session ended. Mapped to Workrave's break statistics:
 * - `natural`        → natural: the user got up before any prompt.
 * - `followed_1|3|5` → prompted + taken: the break began within 1, 3 or 5 minutes of the first nudge.
 * - `followed_late`  → prompted + taken, but outside the 5-minute window (Workrave counts it as taken;
 *                      we keep it apart so that compliance only credits prompt follow-ups).
 * - `ignored`        → prompted + skipped: every escalation passed unanswered (`nudge_ignored`); Workrave's skip
 *                      is an explicit click, ours is inferred. A break after that does not make it followed.
 * - `open`           → prompted (or only started), not resolved yet.
 * The `snoozedThenFollowed` flag is Workrave's postponed followed by taken.
 */
export type SessionOutcomeKind =
  'natural' | 'followed_1' | 'followed_3' | 'followed_5' | 'followed_late' | 'ignored' | 'open';

export interface SessionOutcome {
  outcome: SessionOutcomeKind;
  snoozedThenFollowed: boolean;
}

const round = (n: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round((n + Number.EPSILON) * f) / f;
};

const byTime = (entries: readonly LogEntry[]): LogEntry[] =>
  entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.at - b.e.at || a.i - b.i)
    .map(({ e }) => e);

const followedKind = (latencySeconds: number, timeScale: number): SessionOutcomeKind => {
  const [w1, w3, w5] = FOLLOW_UP_WINDOWS_SECONDS.map((s) => s / timeScale) as [number, number, number];
  if (latencySeconds <= w1) return 'followed_1';
  if (latencySeconds <= w3) return 'followed_3';
  if (latencySeconds <= w5) return 'followed_5';
  return 'followed_late';
};

/** Classify one session from its own log entries (any order). */
export function outcomeOf(sessionEntries: readonly LogEntry[], options: { timeScale?: number } = {}): SessionOutcome {
  const timeScale = options.timeScale ?? 1;
  const sorted = byTime(sessionEntries);
  if (sorted.some((e) => e.type === 'nudge_ignored')) return { outcome: 'ignored', snoozedThenFollowed: false };
  const taken = sorted.find((e) => e.type === 'break_taken');
  if (taken) {
    return { outcome: followedKind(taken.latencySeconds, timeScale), snoozedThenFollowed: taken.snoozes > 0 };
  }
  if (sorted.some((e) => e.type === 'natural_break')) return { outcome: 'natural', snoozedThenFollowed: false };
  return { outcome: 'open', snoozedThenFollowed: false };
}

interface Accumulator {
  sittingSeconds: number;
  longestSittingSeconds: number;
  heatMs: number;
  counts: Omit<Figures, 'sittingMinutes' | 'longestSittingMinutes' | 'heatMinutes' | 'heatSeconds' | 'compliance'>;
}

const emptyAccumulator = (): Accumulator => ({
  sittingSeconds: 0,
  longestSittingSeconds: 0,
  heatMs: 0,
  counts: {
    breaks: 0,
    naturalBreaks: 0,
    nudgesSent: 0,
    followedWithin1: 0,
    followedWithin3: 0,
    followedWithin5: 0,
    snoozes: 0,
    ignored: 0,
    heatSessions: 0,
    nudgedSessions: 0,
    followedLate: 0,
    snoozedThenFollowed: 0,
    routinesStarted: 0,
    routinesCompleted: 0,
  },
});

const toFigures = (acc: Accumulator): Figures => {
  const c = acc.counts;
  return {
    sittingMinutes: round(acc.sittingSeconds / 60, 1),
    longestSittingMinutes: round(acc.longestSittingSeconds / 60, 1),
    breaks: c.breaks,
    naturalBreaks: c.naturalBreaks,
    nudgesSent: c.nudgesSent,
    followedWithin1: c.followedWithin1,
    followedWithin3: c.followedWithin3,
    followedWithin5: c.followedWithin5,
    compliance: c.nudgedSessions === 0 ? null : round(c.followedWithin5 / c.nudgedSessions, 3),
    snoozes: c.snoozes,
    ignored: c.ignored,
    heatSessions: c.heatSessions,
    heatMinutes: round(acc.heatMs / 60_000, 2),
    heatSeconds: Math.round(acc.heatMs / 1000),
    nudgedSessions: c.nudgedSessions,
    followedLate: c.followedLate,
    snoozedThenFollowed: c.snoozedThenFollowed,
    routinesStarted: c.routinesStarted,
    routinesCompleted: c.routinesCompleted,
  };
};

/**
 * [start, end) cut at every local midnight in `timezone`: a session from 23:00 to 01:00 is one hour on each day.
 * Returns [local date, ms] pairs in order.
 */
export function splitAtLocalMidnight(start: number, end: number, timezone: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  let from = start;
  // A bound on the loop: a corrupt entry spanning years must not spin here.
  for (let i = 0; from < end && i < 400; i++) {
    const date = localDate(from, timezone);
    const nextMidnight = zonedToUtc(addLocalDays(date, 1), '00:00', timezone);
    const cut = Math.min(end, nextMidnight > from ? nextMidnight : end);
    out.push([date, cut - from]);
    from = cut;
  }
  return out;
}

/**
 * Per-day and total figures over the `days` local dates ending with today's (in `timezone`).
 * Attribution: sitting time is counted as it happens, cut at local midnight (a session from 23:00 to
 * 01:00 gives an hour to each day), and the open session counts up to now (or up to when the person got up);
 * the longest sitting of a day is the longest session that ended that day, or the open one so far. A break (and
 * the follow-up outcome it settles) belongs to the local date the sitting ended (`breakStartedAt`, else `at`); an ignored session to the date of its
 * `nudge_ignored`; every other entry to the local date of its `at`. Outcomes are decided from the whole
 * log, so a session ignored before the range still does not count as followed inside it.
 */
export function summarize(entries: readonly LogEntry[], options: SummaryOptions): Summary {
  const { timezone, now } = options;
  const timeScale = options.timeScale ?? 1;
  if (!Number.isInteger(options.days) || options.days < 1) {
    throw new RangeError(`days must be a positive integer, got ${options.days}`);
  }
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be positive, got ${timeScale}`);

  const today = localDate(now, timezone);
  const dates = Array.from({ length: options.days }, (_, i) => addLocalDays(today, i - options.days + 1));
  const perDay = new Map(dates.map((d) => [d, emptyAccumulator()]));
  const total = emptyAccumulator();
  const sorted = byTime(entries);

  const sessions = new Map<string, LogEntry[]>();
  const heatOffAt = new Map<string, number>();
  for (const e of sorted) {
    // Sitting sessions only: heat sessions have ids of their own.
    if ('sessionId' in e && typeof e.sessionId === 'string' && e.type !== 'heat_on' && e.type !== 'heat_off') {
      let list = sessions.get(e.sessionId);
      if (!list) sessions.set(e.sessionId, (list = []));
      list.push(e);
    }
    // The first OFF of a heat session ends it; later reports (a watchdog after a manual OFF) add nothing.
    if (e.type === 'heat_off' && !heatOffAt.has(e.sessionId)) heatOffAt.set(e.sessionId, e.at);
  }
  const outcomes = new Map<string, SessionOutcome>();
  for (const [id, list] of sessions) outcomes.set(id, outcomeOf(list, { timeScale }));

  const add = (at: number, apply: (acc: Accumulator) => void): void => {
    const day = perDay.get(localDate(at, timezone));
    if (!day) return;
    apply(day);
    apply(total);
  };

  const addSitting = (start: number, end: number): void => {
    for (const [date, ms] of splitAtLocalMidnight(start, end, timezone)) {
      const day = perDay.get(date);
      if (!day) continue;
      day.sittingSeconds += ms / 1000;
      total.sittingSeconds += ms / 1000;
    }
  };

  const open = options.openSession;
  if (open && Number.isFinite(open.startedAt)) {
    const end = Math.max(open.startedAt, Math.min(now, open.upSince ?? now));
    addSitting(open.startedAt, end);
    add(end, (acc) => {
      acc.longestSittingSeconds = Math.max(acc.longestSittingSeconds, (end - open.startedAt) / 1000);
    });
  }

  for (const e of sorted) {
    switch (e.type) {
      case 'break_taken':
      case 'natural_break': {
        const outcome = outcomes.get(e.sessionId);
        const end = e.breakStartedAt ?? e.at;
        addSitting(end - e.sittingSeconds * 1000, end);
        add(end, (acc) => {
          const c = acc.counts;
          c.breaks += 1;
          acc.longestSittingSeconds = Math.max(acc.longestSittingSeconds, e.sittingSeconds);
          if (e.type === 'natural_break') {
            c.naturalBreaks += 1;
            return;
          }
          if (!outcome || outcome.outcome === 'ignored') return; // counted once, at its nudge_ignored
          if (sessions.get(e.sessionId)?.find((x) => x.type === 'break_taken') !== e) return; // one per session
          c.nudgedSessions += 1;
          if (outcome.outcome === 'followed_1') c.followedWithin1 += 1;
          if (outcome.outcome === 'followed_1' || outcome.outcome === 'followed_3') c.followedWithin3 += 1;
          if (outcome.outcome !== 'followed_late') c.followedWithin5 += 1;
          else c.followedLate += 1;
          if (outcome.snoozedThenFollowed) c.snoozedThenFollowed += 1;
        });
        break;
      }
      case 'nudge_ignored':
        add(e.at, (acc) => {
          acc.counts.ignored += 1;
          // A second nudge_ignored for the same session would be a logging slip; count the session once.
          if (sessions.get(e.sessionId)?.find((x) => x.type === 'nudge_ignored') === e) acc.counts.nudgedSessions += 1;
        });
        break;
      case 'nudge_sent':
        add(e.at, (acc) => (acc.counts.nudgesSent += 1));
        break;
      case 'nudge_snoozed':
        add(e.at, (acc) => (acc.counts.snoozes += 1));
        break;
      case 'heat_on': {
        // Real heat time: until the logged OFF; without one, until the planned auto-off (never past now).
        const plannedEnd = Number.isFinite(e.offAt) ? e.offAt : e.at + (e.minutes * 60_000) / timeScale;
        const end = heatOffAt.get(e.sessionId) ?? Math.min(plannedEnd, Math.max(now, e.at));
        const ms = Math.max(0, end - e.at);
        add(e.at, (acc) => {
          acc.counts.heatSessions += 1;
          acc.heatMs += ms;
        });
        break;
      }
      case 'routine_started':
        add(e.at, (acc) => (acc.counts.routinesStarted += 1));
        break;
      case 'routine_completed':
        add(e.at, (acc) => (acc.counts.routinesCompleted += 1));
        break;
      default:
        break;
    }
  }

  return {
    days: dates.map((date) => ({ date, ...toFigures(perDay.get(date) ?? emptyAccumulator()) })),
    total: toFigures(total),
    routines: weeklyRoutines(entries, { timezone, now, target: options.routineTargetPerWeek }),
    pain: painTrend(entries, { timezone }),
  };
}

/** Routines completed in the current ISO week (Monday to Sunday in the user's time zone). */
export function weeklyRoutines(
  entries: readonly LogEntry[],
  options: { timezone: string; now: number; target: number },
): RoutineProgress {
  const today = localDate(options.now, options.timezone);
  const weekStart = addLocalDays(today, 1 - weekdayOf(today));
  const weekEnd = addLocalDays(weekStart, 6);
  let doneThisWeek = 0;
  for (const e of entries) {
    if (e.type !== 'routine_completed') continue;
    const date = localDate(e.at, options.timezone);
    if (date >= weekStart && date <= weekEnd) doneThisWeek += 1;
  }
  return { doneThisWeek, target: options.target, weekStart };
}

/** First and latest pain level per area (areas in PAIN_AREAS order, only those ever logged). */
export function painTrend(entries: readonly LogEntry[], options: { timezone: string }): PainTrend[] {
  const byArea = new Map<PainArea, { first: PainPoint; latest: PainPoint }>();
  for (const e of byTime(entries)) {
    if (e.type !== 'pain_logged') continue;
    const point: PainPoint = { at: e.at, level: e.level, date: localDate(e.at, options.timezone) };
    const seen = byArea.get(e.area);
    if (seen) seen.latest = point;
    else byArea.set(e.area, { first: point, latest: point });
  }
  const out: PainTrend[] = [];
  for (const area of PAIN_AREAS) {
    const seen = byArea.get(area);
    if (!seen) continue;
    const { first, latest } = seen;
    const trend = latest.level < first.level ? 'improving' : latest.level > first.level ? 'worse' : 'same';
    out.push({ area, first, latest, trend });
  }
  return out;
}
