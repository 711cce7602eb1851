// The sitting session as a pure reducer: (state, input, policy, now) → {state, effects}.
//
// A user's state has two parts:
// - `base`, a fold of every sensor event up to `horizon`, plus the committed bookkeeping of the current
//   session (nudges sent, snoozes) in `book`;
// - `tail`, the sensor events since then, kept sorted by time and folded on demand.
// Sensor events only ever insert into the tail, so the sitting picture they give does not depend on the order
// or duplication in which they arrive. Timed transitions (a nudge falling due, a break check, a snooze) are
// commits: they fold the tail into the base, log what ended, and move the horizon to `now - LATE_SLACK_MS`.
// An event older than the horizon arrives too late to change history and is dropped as stale.
import { fuse, type Evidence, type FusedPosture } from './fusion.js';
import { nextActiveTime } from './clock.js';
import type { Profile } from './profile.js';
import type { LogEntry, Posture, Role } from './types.js';

/** How far behind a commit an event may still arrive and count (several ingest instances race by ms). */
export const LATE_SLACK_MS = 5_000;
/** Sensor events kept unfolded; older ones are folded into the base (and later ones than those stay exact). */
export const MAX_TAIL = 16;
/** A nudge job that fires this early (clock skew between processes) still counts as due. */
export const DUE_TOLERANCE_MS = 50;
/**
 * After an outage (Redis or the broker away) ingest needs a moment to apply the sensor events that waited at the
 * broker. A timed decision that fell due before then waits until ingest has caught up (lateHold). Real ms.
 */
export const CATCH_UP_MS = 3_000;

export interface Policy {
  breakAfterMs: number;
  minBreakMs: number;
  escalateMs: number;
  maxNudges: number;
  snoozeMs: number;
  maxSnoozes: number;
  timezone: string;
  activeHours: Profile['activeHours'];
}

/** Policy durations divided by the time scale (docs/concepts/sessions-and-nudges.md: measured values stay real time). */
export function policyOf(profile: Profile, timeScale: number): Policy {
  const s = (ms: number) => Math.max(1, Math.round(ms / timeScale));
  return {
    breakAfterMs: s(profile.breakAfterMinutes * 60_000),
    minBreakMs: s(profile.minBreakSeconds * 1000),
    escalateMs: s(profile.escalateAfterMinutes * 60_000),
    maxNudges: profile.maxNudges,
    snoozeMs: s(profile.snoozeMinutes * 60_000),
    maxSnoozes: profile.maxSnoozes,
    timezone: profile.timezone,
    activeHours: profile.activeHours,
  };
}

export interface SensorEvent {
  deviceId: string;
  role: Role;
  posture: Posture;
  at: number;
  id?: string;
}

export interface Sitting {
  seq: number;
  startedAt: number;
  /** When the current interruption (standing, moving, away) began; null while seated. */
  upSince: number | null;
}

export interface FoldState {
  evidence: Record<string, Evidence>;
  posture: FusedPosture;
  since: number;
  seq: number;
  cur: Sitting | null;
  /** Sessions that the events show ended by a break, not yet committed (logged). */
  completed: Array<Sitting & { upSince: number }>;
}

export interface Book {
  seq: number;
  nudgesSent: number;
  nudgesPublished: number;
  firstNudgeAt: number | null;
  lastNudgeAt: number | null;
  snoozes: number;
  snoozedUntil: number | null;
  ignored: boolean;
}

export interface SessionState {
  /** Random per user state, so session ids never repeat after a user is deleted and created again. */
  epoch: string;
  horizon: number;
  base: FoldState;
  tail: SensorEvent[];
  startedSeq: number;
  book: Book | null;
}

export const emptyFold = (): FoldState => ({
  evidence: {},
  posture: 'unknown',
  since: 0,
  seq: 0,
  cur: null,
  completed: [],
});

export const newSessionState = (epoch: string): SessionState => ({
  epoch,
  horizon: 0,
  base: emptyFold(),
  tail: [],
  startedSeq: 0,
  book: null,
});

export const sessionIdOf = (s: Pick<SessionState, 'epoch'>, seq: number) => `${s.epoch}${seq}`;

const cmpEvent = (a: SensorEvent, b: SensorEvent) =>
  a.at - b.at ||
  (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0) ||
  (a.posture < b.posture ? -1 : a.posture > b.posture ? 1 : 0) ||
  ((a.id ?? '') < (b.id ?? '') ? -1 : (a.id ?? '') > (b.id ?? '') ? 1 : 0);

const sameContent = (a: SensorEvent, b: SensorEvent) =>
  a.deviceId === b.deviceId && a.at === b.at && a.posture === b.posture;

/** The same event again: the same id from the same device, or the same reading at the same time. */
const sameEvent = (a: SensorEvent, b: SensorEvent) =>
  (a.id !== undefined && a.id === b.id && a.deviceId === b.deviceId) || sameContent(a, b);

/** One sensor event folded in. Events must come in sorted order; older evidence than a device's own is ignored. */
export function foldEvent(fs: FoldState, ev: SensorEvent, minBreakMs: number): FoldState {
  const prev = fs.evidence[ev.deviceId];
  if (prev && prev.at > ev.at) return fs;
  const evidence = { ...fs.evidence, [ev.deviceId]: { role: ev.role, posture: ev.posture, at: ev.at } };
  const posture = fuse(evidence);
  const since = posture === fs.posture ? fs.since : ev.at;
  let { seq, cur } = fs;
  let completed = fs.completed;
  if (posture === 'sitting') {
    if (!cur) {
      seq += 1;
      cur = { seq, startedAt: ev.at, upSince: null };
    } else if (cur.upSince !== null) {
      if (ev.at - cur.upSince >= minBreakMs) {
        completed = [...completed, { ...cur, upSince: cur.upSince }];
        seq += 1;
        cur = { seq, startedAt: ev.at, upSince: null };
      } else {
        cur = { ...cur, upSince: null };
      }
    }
  } else if (posture !== 'unknown' && cur) {
    const upSince = cur.upSince ?? ev.at;
    if (ev.at - upSince >= minBreakMs) {
      completed = [...completed, { ...cur, upSince }];
      cur = null;
    } else if (cur.upSince === null) {
      cur = { ...cur, upSince };
    }
  }
  return { evidence, posture, since, seq, cur, completed };
}

/** The sitting picture now: the base with the tail folded in. */
export function view(s: SessionState, policy: Policy): FoldState {
  // States are never changed in place, so a state's view is computed once: one event's transition, its due time and
  // its retained state each ask for the views of the same two states (the one read and the one committed).
  const memo = views.get(s);
  if (memo && memo.minBreakMs === policy.minBreakMs) return memo.fs;
  let fs = s.base;
  for (const ev of s.tail) fs = foldEvent(fs, ev, policy.minBreakMs);
  views.set(s, { minBreakMs: policy.minBreakMs, fs });
  return fs;
}

/** The last view of each state (the fold depends on the state and the policy's minBreakMs only). */
const views = new WeakMap<SessionState, { minBreakMs: number; fs: FoldState }>();

export type SessionEffect =
  | { kind: 'log'; entry: LogEntry }
  /**
   * `fresh`: no job for this session and level can exist yet (a new session, the next level).
   * `resumed`: the person sat back down after a short interruption and the nudge is due when it was before it, so
   * its job is where it was unless it fell due during the interruption (and was held back by the processor).
   */
  | { kind: 'schedule_nudge'; sessionId: string; level: number; dueAt: number; fresh?: boolean; resumed?: boolean }
  | { kind: 'schedule_break_check'; sessionId: string; upSince: number; dueAt: number }
  | { kind: 'session_ended'; sessionId: string }
  | { kind: 'publish_nudge'; sessionId: string; nudgeId: string; level: number; sittingSeconds: number };

export interface Transition<R = undefined> {
  state: SessionState;
  effects: SessionEffect[];
  changed: boolean;
  result?: R;
}

export type SensorOutcome = 'applied' | 'duplicate' | 'stale';

/** A sensor event: insert into the sorted tail (dedup, drop stale), then derive effects. Never commits. */
export function applySensorEvent(
  s: SessionState,
  ev: SensorEvent,
  policy: Policy,
  now: number,
): Transition<SensorOutcome> {
  if (ev.at < s.horizon) return { state: s, effects: [], changed: false, result: 'stale' };
  const twin = s.tail.findIndex((t) => sameEvent(t, ev));
  if (twin >= 0) {
    // Keep one canonical copy (the smallest id) so which twin came first does not matter.
    const kept = s.tail[twin]!;
    if (sameContent(kept, ev) && (ev.id ?? '') < (kept.id ?? '')) {
      const tail = s.tail.map((t, i) => (i === twin ? ev : t));
      return { state: { ...s, tail }, effects: [], changed: true, result: 'duplicate' };
    }
    return { state: s, effects: [], changed: false, result: 'duplicate' };
  }
  const before = view(s, policy);
  const prevEvidence = before.evidence[ev.deviceId];
  if (prevEvidence && prevEvidence.at > ev.at && s.tail.length === 0) {
    // Older than what this device already said, and nothing to re-sort it among: it cannot change anything.
    return { state: s, effects: [], changed: false, result: 'stale' };
  }
  let tail = [...s.tail, ev].sort(cmpEvent);
  let base = s.base;
  let horizon = s.horizon;
  if (tail.length > MAX_TAIL) {
    const folded = tail.slice(0, tail.length - MAX_TAIL);
    for (const e of folded) base = foldEvent(base, e, policy.minBreakMs);
    tail = tail.slice(folded.length);
    horizon = Math.max(horizon, folded[folded.length - 1]!.at + 1);
  }
  const next: SessionState = { ...s, base, tail, horizon };
  // The usual event is the newest: the view of the new state is then the old view with this event folded in (the
  // same left fold over the same events), not a fold of the whole tail again.
  if (tail[tail.length - 1] === ev)
    views.set(next, { minBreakMs: policy.minBreakMs, fs: foldEvent(before, ev, policy.minBreakMs) });
  return { ...derive(s, next, policy, now, before), result: 'applied' };
}

/** When the next nudge of the current session is due, and which level it is; null when none will come. */
export function nextNudge(fs: FoldState, book: Book | null, policy: Policy): { level: number; dueAt: number } | null {
  const cur = fs.cur;
  if (!cur) return null;
  const b = book && book.seq === cur.seq ? book : null;
  if (b?.ignored) return null;
  const sent = b?.nudgesSent ?? 0;
  const level = sent + 1;
  const last = b?.lastNudgeAt ?? cur.startedAt;
  let due = sent === 0 ? cur.startedAt + policy.breakAfterMs : last + policy.escalateMs;
  if (level > policy.maxNudges) return { level, dueAt: due }; // the "ignored" check, not a nudge
  if (b?.snoozedUntil && b.snoozedUntil > due) due = b.snoozedUntil;
  return { level, dueAt: nextActiveTime(due, policy.activeHours, policy.timezone) };
}

/** Effects that follow from going from `prev` to `next` without a commit: a new session, an interruption. */
function derive(
  prev: SessionState,
  next: SessionState,
  policy: Policy,
  now: number,
  before = view(prev, policy),
): Transition {
  const after = view(next, policy);
  const effects: SessionEffect[] = [];
  // A late event can merge two sessions into one, so the counter may go down: never past what the view has.
  let startedSeq = Math.min(next.startedSeq, after.seq);
  const started = [...after.completed, ...(after.cur ? [after.cur] : [])].filter((x) => x.seq > startedSeq);
  for (const x of started) {
    effects.push({
      kind: 'log',
      entry: {
        type: 'sitting_started',
        at: Math.min(now, Math.max(x.startedAt, 0)),
        sessionId: sessionIdOf(next, x.seq),
        startedAt: x.startedAt,
      },
    });
  }
  startedSeq = after.seq;
  effects.push(...scheduling(before, prev.book, after, next.book, next, policy));
  const state = startedSeq === next.startedSeq ? next : { ...next, startedSeq };
  return { state, effects, changed: true };
}

/** Jobs to (re)schedule when the sitting picture or the bookkeeping changed what is due. */
function scheduling(
  before: FoldState,
  bookBefore: Book | null,
  after: FoldState,
  bookAfter: Book | null,
  s: SessionState,
  policy: Policy,
): SessionEffect[] {
  const effects: SessionEffect[] = [];
  const cur = after.cur;
  if (cur && cur.upSince === null) {
    const n = nextNudge(after, bookAfter, policy);
    const sameSession = before.cur?.seq === cur.seq;
    const was = sameSession ? nextNudge(before, bookBefore, policy) : null;
    const resumed = !!was && before.cur?.upSince !== null && was.level === n?.level && was.dueAt === n.dueAt;
    if (n && (!was || resumed || was.level !== n.level || was.dueAt !== n.dueAt)) {
      const fresh = !sameSession || (!!was && was.level !== n.level);
      effects.push({
        kind: 'schedule_nudge',
        sessionId: sessionIdOf(s, cur.seq),
        level: n.level,
        dueAt: n.dueAt,
        ...(fresh ? { fresh } : {}),
        ...(resumed ? { resumed } : {}),
      });
    }
  }
  if (cur && cur.upSince !== null && (before.cur?.seq !== cur.seq || before.cur.upSince !== cur.upSince)) {
    effects.push({
      kind: 'schedule_break_check',
      sessionId: sessionIdOf(s, cur.seq),
      upSince: cur.upSince,
      dueAt: cur.upSince + policy.minBreakMs,
    });
  }
  return effects;
}

/**
 * Fold the tail into the base and log every break that has reached its length by `now`. Every timed
 * transition starts with this, so what it decides on is settled history.
 */
export function commit(s: SessionState, policy: Policy, now: number): Transition {
  const fs = view(s, policy);
  const effects: SessionEffect[] = [];
  let book = s.book;
  const ended: Array<Sitting & { upSince: number }> = [...fs.completed];
  let cur = fs.cur;
  if (cur && cur.upSince !== null && now - cur.upSince >= policy.minBreakMs) {
    ended.push({ ...cur, upSince: cur.upSince });
    cur = null;
  }
  for (const x of ended) {
    const sessionId = sessionIdOf(s, x.seq);
    const b = book && book.seq === x.seq ? book : null;
    const sittingSeconds = round1((x.upSince - x.startedAt) / 1000);
    const at = x.upSince + policy.minBreakMs;
    if (b && b.nudgesSent > 0) {
      effects.push({
        kind: 'log',
        entry: {
          type: 'break_taken',
          at,
          sessionId,
          sittingSeconds,
          nudged: true,
          latencySeconds: round1(Math.max(0, x.upSince - (b.firstNudgeAt ?? x.upSince)) / 1000),
          snoozes: b.snoozes,
          breakStartedAt: x.upSince,
        },
      });
    } else {
      effects.push({
        kind: 'log',
        entry: { type: 'natural_break', at, sessionId, sittingSeconds, breakStartedAt: x.upSince },
      });
    }
    effects.push({ kind: 'session_ended', sessionId });
    if (b) book = null;
  }
  const base: FoldState = { ...fs, cur, completed: [] };
  const next: SessionState = {
    ...s,
    base,
    tail: [],
    horizon: Math.max(s.horizon, now - LATE_SLACK_MS),
    book,
  };
  const changed = ended.length > 0 || s.tail.length > 0 || next.horizon !== s.horizon;
  const d = derive(s, next, policy, now);
  return { state: d.state, effects: [...effects, ...d.effects], changed };
}

/**
 * The one rule for timed decisions after an outage: a decision (nudge, "ignored", break check) due at `dueAt`
 * that fell due before ingest caught up (`caughtUpAt`: when the last outage ended plus CATCH_UP_MS) waits until
 * then, without committing. Committing earlier would move the horizon past the events of the gap, so a person who
 * stood up during the outage would be nudged, or logged as ignoring the nudge, and their stand-up dropped as
 * stale. Returns when to decide, or null to decide now. Whatever fires timers calls this first.
 */
export function lateHold(dueAt: number, now: number, caughtUpAt: number): number | null {
  return dueAt < caughtUpAt && now < caughtUpAt ? caughtUpAt : null;
}

export type NudgeOutcome =
  | { kind: 'sent'; level: number; nudgeId: string }
  | { kind: 'ignored_logged' }
  | { kind: 'already'; level: number; nudgeId: string; published: boolean }
  | { kind: 'wait'; until: number; why: string }
  | { kind: 'stale'; why: string };

export const nudgeIdOf = (sessionId: string, level: number) => `${sessionId}-${level}`;

/** The nudge book of session `seq`: the stored one, or a fresh one when the book is of an earlier session. */
function bookOf(s: SessionState, seq: number): Book {
  if (s.book && s.book.seq === seq) return s.book;
  return {
    seq,
    nudgesSent: 0,
    nudgesPublished: 0,
    firstNudgeAt: null,
    lastNudgeAt: null,
    snoozes: 0,
    snoozedUntil: null,
    ignored: false,
  };
}

/**
 * A nudge job fired for (session, level): send it, log "ignored", wait, or drop it as stale. `caughtUpAt`: see
 * lateHold (0: no outage to catch up from).
 */
export function nudgeDue(
  s0: SessionState,
  sessionId: string,
  level: number,
  policy: Policy,
  now: number,
  caughtUpAt = 0,
): Transition<NudgeOutcome> {
  if (caughtUpAt > now) {
    const pre = view(s0, policy);
    const due = pre.cur && sessionIdOf(s0, pre.cur.seq) === sessionId ? nextNudge(pre, s0.book, policy) : null;
    const until = due && due.level === level ? lateHold(due.dueAt, now, caughtUpAt) : null;
    // No commit: the horizon stays, so the events of the gap still count when they arrive.
    if (until !== null)
      return {
        state: s0,
        effects: [],
        changed: false,
        result: { kind: 'wait', until, why: 'ingest catching up after an outage' },
      };
  }
  const c = commit(s0, policy, now);
  const s = c.state;
  const effects = [...c.effects];
  const fs = s.base;
  const cur = fs.cur;
  const done = (result: NudgeOutcome, state = s, more: SessionEffect[] = []): Transition<NudgeOutcome> => ({
    state,
    effects: [...effects, ...more],
    changed: c.changed || state !== s,
    result,
  });
  if (!cur || sessionIdOf(s, cur.seq) !== sessionId) return done({ kind: 'stale', why: 'session over' });
  const book = bookOf(s, cur.seq);
  if (level <= book.nudgesSent) {
    return done({
      kind: 'already',
      level,
      nudgeId: nudgeIdOf(sessionId, level),
      published: book.nudgesPublished >= level,
    });
  }
  if (book.ignored) return done({ kind: 'stale', why: 'session ignored' });
  const n = nextNudge(fs, book, policy);
  if (!n || n.level !== level) return done({ kind: 'stale', why: `level ${level} is not next` });
  if (n.dueAt > now + DUE_TOLERANCE_MS) return done({ kind: 'wait', until: n.dueAt, why: 'not due yet' });
  if (cur.upSince !== null) {
    // Up but not yet for a whole break: decide once the break would be complete.
    return done({ kind: 'wait', until: cur.upSince + policy.minBreakMs + 1, why: 'user is up' });
  }
  if (level > policy.maxNudges) {
    const next = { ...s, book: { ...book, ignored: true } };
    return done({ kind: 'ignored_logged' }, next, [
      { kind: 'log', entry: { type: 'nudge_ignored', at: now, sessionId, nudges: book.nudgesSent } },
    ]);
  }
  const nudgeId = nudgeIdOf(sessionId, level);
  const nextBook: Book = {
    ...book,
    nudgesSent: level,
    firstNudgeAt: book.firstNudgeAt ?? now,
    lastNudgeAt: now,
  };
  const next = { ...s, book: nextBook };
  const more: SessionEffect[] = [
    { kind: 'log', entry: { type: 'nudge_sent', at: now, sessionId, nudgeId, level } },
    ...scheduling(fs, book, fs, nextBook, next, policy),
  ];
  return done({ kind: 'sent', level, nudgeId }, next, more);
}

/** The nudge of `level` went out on MQTT; remember that so a retried job does not send it again. */
export function nudgePublished(s: SessionState, sessionId: string, level: number): Transition {
  const b = s.book;
  if (!b || sessionIdOf(s, b.seq) !== sessionId || b.nudgesPublished >= level) {
    return { state: s, effects: [], changed: false };
  }
  return { state: { ...s, book: { ...b, nudgesPublished: level } }, effects: [], changed: true };
}

/**
 * A nudge recorded as published when it was sent, before its publish (one commit rather than two), whose publish was
 * never confirmed: its worker died, or the publish failed. Back to "sent, not published", so that the next due step
 * finds out whether it went out. Any other nudge id (an earlier session's, an earlier level's) changes nothing.
 */
export function nudgeUnconfirmed(s: SessionState, nudgeId: string): SessionState {
  const b = s.book;
  if (!b || b.nudgesPublished < 1 || nudgeIdOf(sessionIdOf(s, b.seq), b.nudgesPublished) !== nudgeId) return s;
  return { ...s, book: { ...b, nudgesPublished: b.nudgesPublished - 1 } };
}

export type SnoozeResult =
  { ok: true; nextNudgeAt: number; snoozes: number } | { ok: false; code: 'nothing_to_snooze' | 'snooze_limit' };

/**
 * Snooze: the next nudge comes `snoozeMs` from now, or `snoozeMs` later than it would have if that is later still
 * (snoozing before the first nudge); at most `maxSnoozes` times a session.
 */
export function snooze(
  s0: SessionState,
  policy: Policy,
  now: number,
  snoozeMs = policy.snoozeMs,
): Transition<SnoozeResult> {
  const c = commit(s0, policy, now);
  const s = c.state;
  const cur = s.base.cur;
  const fail = (code: 'nothing_to_snooze' | 'snooze_limit'): Transition<SnoozeResult> => ({
    ...c,
    result: { ok: false, code },
  });
  if (!cur) return fail('nothing_to_snooze');
  const book = bookOf(s, cur.seq);
  if (book.ignored) return fail('nothing_to_snooze');
  if (book.snoozes >= policy.maxSnoozes) return fail('snooze_limit');
  const was = nextNudge(s.base, book, policy);
  if (!was || was.level > policy.maxNudges) return fail('nothing_to_snooze');
  // Always a move: snoozeMs from now, or, when the nudge is further off than that (a snooze before the first
  // nudge), snoozeMs after it was due. A snooze that moved nothing would still use one up.
  const until = now + snoozeMs > was.dueAt ? now + snoozeMs : was.dueAt + snoozeMs;
  const nextBook: Book = { ...book, snoozes: book.snoozes + 1, snoozedUntil: until };
  const next = { ...s, book: nextBook };
  const n = nextNudge(s.base, nextBook, policy)!;
  const sessionId = sessionIdOf(s, cur.seq);
  return {
    state: next,
    changed: true,
    effects: [
      ...c.effects,
      { kind: 'log', entry: { type: 'nudge_snoozed', at: now, sessionId, until: n.dueAt } },
      ...scheduling(s.base, book, s.base, nextBook, next, policy),
    ],
    result: { ok: true, nextNudgeAt: n.dueAt, snoozes: nextBook.snoozes },
  };
}

/** What the retained user state topic and GET /api/users/{id} show of the session. */
export function sessionSummary(s: SessionState, policy: Policy, now: number) {
  const fs = view(s, policy);
  const cur = fs.cur;
  const n = cur && cur.upSince === null ? nextNudge(fs, s.book, policy) : null;
  return {
    posture: fs.posture,
    since: fs.posture === 'unknown' ? null : fs.since,
    sessionId: cur ? sessionIdOf(s, cur.seq) : null,
    sittingSince: cur?.startedAt ?? null,
    sittingSeconds: cur ? round1(Math.max(0, (cur.upSince ?? now) - cur.startedAt) / 1000) : 0,
    nextNudgeAt: n && n.level <= policy.maxNudges ? n.dueAt : null,
    nudgesSent: cur && s.book?.seq === cur.seq ? s.book.nudgesSent : 0,
    snoozes: cur && s.book?.seq === cur.seq ? s.book.snoozes : 0,
    breakDue: !!(cur && s.book?.seq === cur.seq && s.book.nudgesSent > 0 && cur.upSince === null),
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * When this person next needs a timed transition: the next nudge, escalation or "ignored" check while seated, the
 * moment an interruption becomes a whole break while up, or a break the events already show but nobody committed.
 * null when nothing is due. The timer wheel keeps exactly this as the person's score in their partition's due set.
 */
export function nextDueAt(s: SessionState, policy: Policy): number | null {
  const fs = view(s, policy);
  let due = Infinity;
  for (const x of fs.completed) due = Math.min(due, x.upSince + policy.minBreakMs);
  const cur = fs.cur;
  if (cur && cur.upSince !== null) due = Math.min(due, cur.upSince + policy.minBreakMs);
  else if (cur) {
    const n = nextNudge(fs, s.book, policy);
    if (n) due = Math.min(due, n.dueAt);
  }
  return due === Infinity ? null : due;
}

export type DueOutcome = NudgeOutcome | { kind: 'checked' };

/**
 * The timed transition of a person whose due time came: settle finished breaks, and send the nudge (or log
 * "ignored") when one is due. A nudge recorded as sent but not as published (its worker died in between) comes
 * back as `already` so the caller can find out whether it went out.
 */
export function dueStep(s: SessionState, policy: Policy, now: number): Transition<DueOutcome> {
  const c = commit(s, policy, now);
  const cur = c.state.base.cur;
  if (!cur) return { ...c, result: { kind: 'checked' } };
  const sessionId = sessionIdOf(c.state, cur.seq);
  const book = c.state.book && c.state.book.seq === cur.seq ? c.state.book : null;
  if (book && book.nudgesSent > book.nudgesPublished) return nudgeDue(s, sessionId, book.nudgesSent, policy, now);
  const n = nextNudge(c.state.base, c.state.book, policy);
  if (cur.upSince === null && n && n.dueAt <= now + DUE_TOLERANCE_MS)
    return nudgeDue(s, sessionId, n.level, policy, now);
  return { ...c, result: { kind: 'checked' } };
}
