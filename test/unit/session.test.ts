import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultProfile, profileSchema } from '../../src/domain/profile.js';
import {
  applySensorEvent,
  CATCH_UP_MS,
  commit,
  lateHold,
  MAX_TAIL,
  newSessionState,
  nudgeDue,
  nudgePublished,
  nudgeUnconfirmed,
  policyOf,
  sessionSummary,
  snooze,
  view,
  type Policy,
  type SensorEvent,
  type SessionEffect,
  type SessionState,
} from '../../src/domain/session.js';
import type { Posture, Role } from '../../src/domain/types.js';

const MIN = 60_000;
const T0 = Date.parse('2026-11-24T09:00:00Z');
const policy: Policy = policyOf(defaultProfile(), 1); // 30 min, 120 s break, 5 min escalation, 3 nudges, 2 snoozes

const ev = (posture: Posture, at: number, deviceId = 'desk', role: Role = 'desk', id?: string): SensorEvent => ({
  deviceId,
  role,
  posture,
  at,
  ...(id ? { id } : {}),
});

const logs = (effects: SessionEffect[]) => effects.flatMap((e) => (e.kind === 'log' ? [e.entry] : []));

/** Feed events in order, collecting every effect. */
function feed(s: SessionState, events: SensorEvent[], p = policy) {
  const effects: SessionEffect[] = [];
  for (const e of events) {
    const t = applySensorEvent(s, e, p, e.at);
    s = t.state;
    effects.push(...t.effects);
  }
  return { state: s, effects };
}

describe('sitting session', () => {
  it('starts at the first sitting evidence and schedules level 1 after breakAfterMinutes', () => {
    const { state, effects } = feed(newSessionState('e'), [ev('sitting', T0)]);
    expect(logs(effects)).toEqual([{ type: 'sitting_started', at: T0, sessionId: 'e1', startedAt: T0 }]);
    expect(effects).toContainEqual({
      kind: 'schedule_nudge',
      sessionId: 'e1',
      level: 1,
      dueAt: T0 + 30 * MIN,
      fresh: true,
    });
    expect(sessionSummary(state, policy, T0 + MIN)).toMatchObject({
      posture: 'sitting',
      sittingSeconds: 60,
      nextNudgeAt: T0 + 30 * MIN,
    });
  });

  it('repeated sitting evidence changes nothing that matters and schedules nothing new', () => {
    const a = feed(newSessionState('e'), [ev('sitting', T0)]);
    const b = applySensorEvent(a.state, ev('sitting', T0 + 5 * MIN), policy, T0 + 5 * MIN);
    expect(b.effects).toEqual([]);
    expect(view(b.state, policy).cur).toEqual(view(a.state, policy).cur);
  });

  it('escalates every escalateAfterMinutes up to maxNudges, then logs ignored once', () => {
    let s = feed(newSessionState('e'), [ev('sitting', T0)]).state;
    const sent: number[] = [];
    let at = T0 + 30 * MIN;
    for (let level = 1; level <= 3; level++) {
      const t = nudgeDue(s, 'e1', level, policy, at);
      expect(t.result).toMatchObject({ kind: 'sent', level });
      s = t.state;
      sent.push(level);
      const next = t.effects.find((e) => e.kind === 'schedule_nudge');
      expect(next).toMatchObject({ level: level + 1, dueAt: at + 5 * MIN });
      at += 5 * MIN;
    }
    const ignored = nudgeDue(s, 'e1', 4, policy, at);
    expect(ignored.result).toEqual({ kind: 'ignored_logged' });
    expect(logs(ignored.effects).map((e) => e.type)).toEqual(['nudge_ignored']);
    expect(nudgeDue(ignored.state, 'e1', 4, policy, at + 1).result).toMatchObject({ kind: 'stale' });
    expect(sessionSummary(ignored.state, policy, at).nextNudgeAt).toBeNull();
  });

  it('does not send a level twice when its job runs again', () => {
    const s = feed(newSessionState('e'), [ev('sitting', T0)]).state;
    const first = nudgeDue(s, 'e1', 1, policy, T0 + 30 * MIN);
    const again = nudgeDue(first.state, 'e1', 1, policy, T0 + 30 * MIN + 10);
    expect(again.result).toMatchObject({ kind: 'already', level: 1, published: false });
    expect(logs(again.effects).filter((e) => e.type === 'nudge_sent')).toHaveLength(0);
  });

  it('a nudge recorded as published before its publish counts as unpublished while its mark stands, and only it', () => {
    const s = feed(newSessionState('e'), [ev('sitting', T0)]).state;
    const sent = nudgeDue(s, 'e1', 1, policy, T0 + 30 * MIN).state;
    const recorded = nudgePublished(sent, 'e1', 1).state;
    expect(nudgeDue(recorded, 'e1', 1, policy, T0 + 30 * MIN + 10).result).toMatchObject({ published: true });
    const unconfirmed = nudgeUnconfirmed(recorded, 'e1-1');
    expect(nudgeDue(unconfirmed, 'e1', 1, policy, T0 + 30 * MIN + 10).result).toMatchObject({
      kind: 'already',
      level: 1,
      published: false,
    });
    // Another level's, another session's or an unknown id: nothing changes.
    for (const id of ['e1-2', 'e0-1', 'x']) expect(nudgeUnconfirmed(recorded, id)).toBe(recorded);
    expect(nudgeUnconfirmed(s, 'e1-1')).toBe(s);
  });

  it('waits when a nudge job fires early', () => {
    const s = feed(newSessionState('e'), [ev('sitting', T0)]).state;
    expect(nudgeDue(s, 'e1', 1, policy, T0 + 10 * MIN).result).toEqual({
      kind: 'wait',
      until: T0 + 30 * MIN,
      why: 'not due yet',
    });
  });

  it('a short interruption keeps the session and its original start', () => {
    const up = feed(newSessionState('e'), [ev('sitting', T0), ev('standing', T0 + 10 * MIN)]);
    const back = applySensorEvent(up.state, ev('sitting', T0 + 11 * MIN), policy, T0 + 11 * MIN);
    // Its nudge is still due when it was: marked resumed, so no job needs looking up while that is ahead.
    expect(back.effects).toEqual([
      { kind: 'schedule_nudge', sessionId: 'e1', level: 1, dueAt: T0 + 30 * MIN, resumed: true },
    ]);
    const state = back.state;
    const fs = view(state, policy);
    expect(fs.cur).toEqual({ seq: 1, startedAt: T0, upSince: null });
    const c = commit(state, policy, T0 + 20 * MIN);
    expect(logs(c.effects)).toEqual([]);
  });

  it('standing before the nudge for minBreakSeconds is a natural break, confirmed by the break check', () => {
    const { state, effects } = feed(newSessionState('e'), [ev('sitting', T0), ev('standing', T0 + 20 * MIN)]);
    expect(effects).toContainEqual({
      kind: 'schedule_break_check',
      sessionId: 'e1',
      upSince: T0 + 20 * MIN,
      dueAt: T0 + 22 * MIN,
    });
    const early = commit(state, policy, T0 + 21 * MIN);
    expect(logs(early.effects)).toEqual([]);
    const c = commit(state, policy, T0 + 22 * MIN);
    expect(logs(c.effects)).toEqual([
      {
        type: 'natural_break',
        at: T0 + 22 * MIN,
        sessionId: 'e1',
        sittingSeconds: 1200,
        breakStartedAt: T0 + 20 * MIN,
      },
    ]);
    expect(c.effects).toContainEqual({ kind: 'session_ended', sessionId: 'e1' });
    // A level-1 job that fires afterwards is stale.
    expect(nudgeDue(c.state, 'e1', 1, policy, T0 + 30 * MIN).result).toMatchObject({ kind: 'stale' });
    // Committing again logs nothing more.
    expect(logs(commit(c.state, policy, T0 + 23 * MIN).effects)).toEqual([]);
  });

  it('a break after a nudge is logged as break_taken with the latency from the first nudge and the snoozes', () => {
    let s = feed(newSessionState('e'), [ev('sitting', T0)]).state;
    s = nudgeDue(s, 'e1', 1, policy, T0 + 30 * MIN).state;
    const sn = snooze(s, policy, T0 + 31 * MIN);
    expect(sn.result).toMatchObject({ ok: true, nextNudgeAt: T0 + 41 * MIN, snoozes: 1 });
    s = feed(sn.state, [ev('away', T0 + 33 * MIN)]).state;
    const c = commit(s, policy, T0 + 35 * MIN);
    expect(logs(c.effects)).toEqual([
      {
        type: 'break_taken',
        at: T0 + 35 * MIN,
        sessionId: 'e1',
        sittingSeconds: 33 * 60,
        nudged: true,
        latencySeconds: 180,
        snoozes: 1,
        breakStartedAt: T0 + 33 * MIN,
      },
    ]);
  });

  it('sitting again after a long enough gap starts a new session even before anything commits', () => {
    const { state, effects } = feed(newSessionState('e'), [
      ev('sitting', T0),
      ev('away', T0 + 10 * MIN),
      ev('sitting', T0 + 20 * MIN),
    ]);
    expect(logs(effects).map((e) => e.type)).toEqual(['sitting_started', 'sitting_started']);
    const c = commit(state, policy, T0 + 21 * MIN);
    expect(logs(c.effects).map((e) => [e.type, (e as { sessionId?: string }).sessionId])).toEqual([
      ['natural_break', 'e1'],
    ]);
    expect(view(c.state, policy).cur).toMatchObject({ seq: 2, startedAt: T0 + 20 * MIN });
  });

  it('snooze: limited to maxSnoozes per session, and nothing to snooze without a session', () => {
    expect(snooze(newSessionState('e'), policy, T0).result).toEqual({ ok: false, code: 'nothing_to_snooze' });
    let s = feed(newSessionState('e'), [ev('sitting', T0)]).state;
    s = nudgeDue(s, 'e1', 1, policy, T0 + 30 * MIN).state;
    const a = snooze(s, policy, T0 + 30 * MIN);
    const b = snooze(a.state, policy, T0 + 31 * MIN);
    expect(b.result).toMatchObject({ ok: true, snoozes: 2, nextNudgeAt: T0 + 41 * MIN });
    expect(snooze(b.state, policy, T0 + 32 * MIN).result).toEqual({ ok: false, code: 'snooze_limit' });
    // The snoozed level fires at the new time, not before.
    expect(nudgeDue(b.state, 'e1', 2, policy, T0 + 35 * MIN).result).toMatchObject({
      kind: 'wait',
      until: T0 + 41 * MIN,
    });
    expect(nudgeDue(b.state, 'e1', 2, policy, T0 + 41 * MIN).result).toMatchObject({ kind: 'sent', level: 2 });
  });

  it('snooze before the first nudge moves it by snoozeMinutes; every snooze moves the nudge', () => {
    const s = feed(newSessionState('e'), [ev('sitting', T0)]).state;
    // 20 minutes into a 30-minute limit: the first nudge was due at 30, now at 40.
    const a = snooze(s, policy, T0 + 20 * MIN);
    expect(a.result).toEqual({ ok: true, snoozes: 1, nextNudgeAt: T0 + 40 * MIN });
    expect(a.effects).toContainEqual({ kind: 'schedule_nudge', sessionId: 'e1', level: 1, dueAt: T0 + 40 * MIN });
    expect(logs(a.effects)).toEqual([
      { type: 'nudge_snoozed', at: T0 + 20 * MIN, sessionId: 'e1', until: T0 + 40 * MIN },
    ]);
    expect(sessionSummary(a.state, policy, T0 + 20 * MIN).nextNudgeAt).toBe(T0 + 40 * MIN);
    // A second one right away moves it again.
    const b = snooze(a.state, policy, T0 + 21 * MIN);
    expect(b.result).toEqual({ ok: true, snoozes: 2, nextNudgeAt: T0 + 50 * MIN });
    expect(nudgeDue(b.state, 'e1', 1, policy, T0 + 30 * MIN).result).toMatchObject({
      kind: 'wait',
      until: T0 + 50 * MIN,
    });
    expect(nudgeDue(b.state, 'e1', 1, policy, T0 + 50 * MIN).result).toMatchObject({ kind: 'sent', level: 1 });
    // Close to the nudge (less than snoozeMinutes left), a snooze still means snoozeMinutes from now.
    expect(snooze(s, policy, T0 + 25 * MIN).result).toMatchObject({ ok: true, nextNudgeAt: T0 + 35 * MIN });
  });

  it('a decision that fell due during an outage waits, uncommitted, until ingest caught up: a stand-up from then counts', () => {
    const s = feed(newSessionState('e'), [ev('sitting', T0)]).state;
    // Redis was away from 29 to 40 min; the nudge was due at 30. Ingest has caught up at 40 min + CATCH_UP_MS.
    const back = T0 + 40 * MIN;
    const caughtUpAt = back + CATCH_UP_MS;
    expect(lateHold(T0 + 30 * MIN, back + 50, caughtUpAt)).toBe(caughtUpAt);
    const held = nudgeDue(s, 'e1', 1, policy, back + 50, caughtUpAt);
    expect(held).toEqual({
      state: s,
      effects: [],
      changed: false,
      result: { kind: 'wait', until: caughtUpAt, why: 'ingest catching up after an outage' },
    });
    // The stand-up of 31 min, waiting at the broker during the outage, arrives and still counts (not stale).
    const up = applySensorEvent(held.state, ev('standing', T0 + 31 * MIN), policy, back + 1_000);
    expect(up.result).toBe('applied');
    // Deciding at caughtUpAt: she took a break by herself; no nudge, nothing ignored.
    const decided = nudgeDue(up.state, 'e1', 1, policy, caughtUpAt, caughtUpAt);
    expect(decided.result).toEqual({ kind: 'stale', why: 'session over' });
    expect(logs(decided.effects).map((e) => e.type)).toEqual(['natural_break']);
    // Without the hold, the same late decision would have dropped her stand-up and nudged her.
    const hasty = nudgeDue(s, 'e1', 1, policy, back + 50);
    expect(hasty.result).toMatchObject({ kind: 'sent' });
    expect(applySensorEvent(hasty.state, ev('standing', T0 + 31 * MIN), policy, back + 1_000).result).toBe('stale');
    // Nothing to catch up from (no outage, or long over): decide now.
    expect(lateHold(T0 + 30 * MIN, T0 + 30 * MIN, 0)).toBeNull();
    expect(lateHold(caughtUpAt + 1, caughtUpAt + 2, caughtUpAt)).toBeNull();
  });

  it('outside active hours a nudge waits for the window, in the user time zone', () => {
    const profile = profileSchema.parse({
      timezone: 'Europe/Berlin',
      activeHours: { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' },
    });
    const p = policyOf(profile, 1);
    // Friday 2026-11-27 16:45 Berlin (15:45Z): due 17:15 Berlin, outside → Monday 09:00 Berlin (08:00Z).
    const fri = Date.parse('2026-11-27T15:45:00Z');
    const { effects } = feed(newSessionState('e'), [ev('sitting', fri)], p);
    const monday = Date.parse('2026-11-30T08:00:00Z');
    expect(effects).toContainEqual({ kind: 'schedule_nudge', sessionId: 'e1', level: 1, dueAt: monday, fresh: true });
  });

  it('time scale divides policy durations only', () => {
    const p = policyOf(defaultProfile(), 60);
    expect(p.breakAfterMs).toBe(30_000);
    expect(p.minBreakMs).toBe(2_000);
    const { state } = feed(newSessionState('e'), [ev('sitting', T0)], p);
    expect(sessionSummary(state, p, T0 + 10_000).sittingSeconds).toBe(10);
  });

  it('drops duplicates by id and events older than a committed decision', () => {
    let s = feed(newSessionState('e'), [ev('sitting', T0, 'desk', 'desk', 'a1')]).state;
    expect(applySensorEvent(s, ev('sitting', T0, 'desk', 'desk', 'a1'), policy, T0 + 1).result).toBe('duplicate');
    s = commit(s, policy, T0 + 30 * MIN).state;
    expect(applySensorEvent(s, ev('away', T0 + MIN), policy, T0 + 30 * MIN).result).toBe('stale');
  });
});

describe('fusion in the session', () => {
  it('a watch that says walking after the desk last reported ends the sitting, and a break follows', () => {
    const { state } = feed(newSessionState('e'), [ev('sitting', T0), ev('moving', T0 + 20 * MIN, 'watch', 'wearable')]);
    expect(view(state, policy).posture).toBe('moving');
    expect(logs(commit(state, policy, T0 + 23 * MIN).effects).map((e) => e.type)).toEqual(['natural_break']);
  });

  it('an empty chair outranks a desk sensor that still sees someone', () => {
    const { state } = feed(newSessionState('e'), [
      ev('sitting', T0, 'chair', 'chair'),
      ev('sitting', T0 + 1000, 'desk', 'desk'),
      ev('away', T0 + 10 * MIN, 'chair', 'chair'),
    ]);
    expect(view(state, policy).posture).toBe('standing');
    expect(view(state, policy).cur?.upSince).toBe(T0 + 10 * MIN);
  });
});

// Property: any order and duplication of the same sensor events ends in the same state as the sorted,
// de-duplicated sequence (within MAX_TAIL unique events; older ones are folded and late ones dropped).
describe('order and duplication independence', () => {
  const devices: Array<[string, Role]> = [
    ['desk', 'desk'],
    ['chair', 'chair'],
    ['watch', 'wearable'],
  ];
  const eventArb = fc.record({
    dev: fc.integer({ min: 0, max: devices.length - 1 }),
    posture: fc.constantFrom<Posture>('sitting', 'standing', 'moving', 'away'),
    minute: fc.integer({ min: 0, max: 90 }),
    withId: fc.boolean(),
  });
  const p = policyOf(defaultProfile(), 1);

  const toEvents = (raw: Array<{ dev: number; posture: Posture; minute: number; withId: boolean }>) => {
    const seen = new Set<string>();
    const out: SensorEvent[] = [];
    raw.forEach((r, i) => {
      const [deviceId, role] = devices[r.dev]!;
      const e = ev(r.posture, T0 + r.minute * MIN, deviceId, role, r.withId ? `id${i}` : undefined);
      const key = `${deviceId}|${e.at}|${e.posture}`;
      if (!r.withId && seen.has(key)) return;
      seen.add(key);
      out.push(e);
    });
    return out;
  };

  it('the view of each state a stream of events goes through is the fold of its events, however it was computed', () => {
    // view() keeps each state's view, and a transition by the newest event extends the view it started from: a
    // state rebuilt from its data (no kept view) must give the same.
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: MAX_TAIL * 3 }), (raw) => {
        const now = T0 + 200 * MIN;
        let s = newSessionState('e');
        for (const e of toEvents(raw).sort((x, y) => x.at - y.at)) {
          s = applySensorEvent(s, e, p, now).state;
          expect(view(s, p)).toEqual(view(structuredClone(s), p));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds for any permutation with duplicates', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: MAX_TAIL }).chain((raw) => {
          const events = toEvents(raw);
          return fc.tuple(
            fc.constant(events),
            fc.shuffledSubarray([...events, ...events, ...events], {
              minLength: events.length * 3,
              maxLength: events.length * 3,
            }),
          );
        }),
        ([events, shuffledWithDuplicates]) => {
          const now = T0 + 200 * MIN;
          const sorted = [...events].sort(
            (a, b) => a.at - b.at || a.deviceId.localeCompare(b.deviceId) || a.posture.localeCompare(b.posture),
          );
          let a = newSessionState('e');
          for (const e of sorted) a = applySensorEvent(a, e, p, now).state;
          let b = newSessionState('e');
          for (const e of shuffledWithDuplicates) b = applySensorEvent(b, e, p, now).state;
          expect(b).toEqual(a);
          // And what a commit then decides is the same too.
          expect(logs(commit(b, p, now).effects)).toEqual(logs(commit(a, p, now).effects));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('duplicates alone never add a log entry', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (raw, dupIdx) => {
          const events = toEvents(raw).sort((x, y) => x.at - y.at);
          const once = feed(newSessionState('e'), events, p);
          const withDups: SensorEvent[] = [];
          events.forEach((e, i) => {
            withDups.push(e);
            if (dupIdx.includes(i)) withDups.push({ ...e });
          });
          const twice = feed(newSessionState('e'), withDups, p);
          expect(logs(twice.effects)).toEqual(logs(once.effects));
          expect(twice.state).toEqual(once.state);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('committing twice never logs a break twice', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: MAX_TAIL }),
        fc.integer({ min: 0, max: 300 }),
        (raw, extra) => {
          const events = toEvents(raw).sort((x, y) => x.at - y.at);
          const s = feed(newSessionState('e'), events, p).state;
          const now = T0 + (90 + extra) * MIN;
          const first = commit(s, p, now);
          const second = commit(first.state, p, now + 1000);
          expect(logs(second.effects).filter((e) => e.type === 'break_taken' || e.type === 'natural_break')).toEqual(
            [],
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
