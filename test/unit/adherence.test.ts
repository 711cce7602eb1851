import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { outcomeOf, painTrend, summarize, weeklyRoutines, type Figures } from '../../src/domain/adherence.js';
import type { LogEntry } from '../../src/domain/types.js';

const at = (iso: string): number => Date.parse(iso);
const S = 1000;

// Builders for log entries; times are ISO strings in UTC.
const nudge = (sessionId: string, t: string, level = 1): LogEntry => ({
  type: 'nudge_sent',
  at: at(t),
  sessionId,
  nudgeId: `${sessionId}-${level}`,
  level,
});
const snoozed = (sessionId: string, t: string): LogEntry => ({
  type: 'nudge_snoozed',
  at: at(t),
  sessionId,
  until: at(t) + 600 * S,
});
const taken = (
  sessionId: string,
  breakStartedAt: string,
  o: { sittingSeconds: number; latencySeconds: number; snoozes?: number },
): LogEntry => ({
  type: 'break_taken',
  at: at(breakStartedAt) + 120 * S, // logged when the break reached minBreakSeconds
  sessionId,
  sittingSeconds: o.sittingSeconds,
  nudged: true,
  latencySeconds: o.latencySeconds,
  snoozes: o.snoozes ?? 0,
  breakStartedAt: at(breakStartedAt),
});
const natural = (sessionId: string, breakStartedAt: string, sittingSeconds: number): LogEntry => ({
  type: 'natural_break',
  at: at(breakStartedAt) + 120 * S,
  sessionId,
  sittingSeconds,
  breakStartedAt: at(breakStartedAt),
});
const ignored = (sessionId: string, t: string): LogEntry => ({
  type: 'nudge_ignored',
  at: at(t),
  sessionId,
  nudges: 3,
});
const heatOn = (sessionId: string, t: string, minutes: number): LogEntry => ({
  type: 'heat_on',
  at: at(t),
  sessionId,
  minutes,
  deviceId: 'pad',
  offAt: at(t) + minutes * 60 * S,
});
const heatOff = (sessionId: string, t: string): LogEntry => ({
  type: 'heat_off',
  at: at(t),
  sessionId,
  reason: 'manual',
  deviceId: 'pad',
});
const pain = (t: string, area: 'neck' | 'shoulders' | 'lower_back', level: number): LogEntry => ({
  type: 'pain_logged',
  at: at(t),
  area,
  level,
});

const zero: Figures = {
  sittingMinutes: 0,
  longestSittingMinutes: 0,
  breaks: 0,
  naturalBreaks: 0,
  nudgesSent: 0,
  followedWithin1: 0,
  followedWithin3: 0,
  followedWithin5: 0,
  compliance: null,
  snoozes: 0,
  ignored: 0,
  heatSessions: 0,
  heatMinutes: 0,
  heatSeconds: 0,
  nudgedSessions: 0,
  followedLate: 0,
  snoozedThenFollowed: 0,
  routinesStarted: 0,
  routinesCompleted: 0,
};

describe('summarize', () => {
  // Los Angeles is UTC-7 in May: local midnight is 07:00 UTC.
  const tz = 'America/Los_Angeles';
  const now = at('2024-05-08T20:00:00Z'); // Wednesday 13:00 local
  const log: LogEntry[] = [
    // Sunday 2024-05-05 local — outside a 3-day range, even the entry that is Monday in UTC.
    natural('s0', '2024-05-05T20:00:00Z', 900),
    natural('s0b', '2024-05-06T06:30:00Z', 900), // 23:30 local on Sunday
    // Monday 2024-05-06 local
    { type: 'sitting_started', at: at('2024-05-06T16:00:00Z'), sessionId: 's1', startedAt: at('2024-05-06T16:00:00Z') },
    natural('s1', '2024-05-06T16:25:00Z', 1500),
    nudge('s2', '2024-05-06T17:30:00Z'),
    taken('s2', '2024-05-06T17:30:45Z', { sittingSeconds: 1845, latencySeconds: 45 }),
    nudge('s3', '2024-05-06T20:00:00Z'),
    taken('s3', '2024-05-06T20:02:30Z', { sittingSeconds: 1950, latencySeconds: 150 }),
    // 23:00 local on Monday, already Tuesday in UTC.
    nudge('s4', '2024-05-07T06:00:00Z'),
    taken('s4', '2024-05-07T06:04:00Z', { sittingSeconds: 2047, latencySeconds: 240 }),
    // Tuesday 2024-05-07 local
    nudge('s5', '2024-05-07T16:30:00Z', 1),
    snoozed('s5', '2024-05-07T16:31:00Z'),
    nudge('s5', '2024-05-07T16:41:00Z', 2),
    nudge('s5', '2024-05-07T16:46:00Z', 3),
    taken('s5', '2024-05-07T16:48:00Z', { sittingSeconds: 3480, latencySeconds: 1080, snoozes: 1 }),
    nudge('s6', '2024-05-07T18:00:00Z', 1),
    nudge('s6', '2024-05-07T18:05:00Z', 2),
    nudge('s6', '2024-05-07T18:10:00Z', 3),
    ignored('s6', '2024-05-07T18:15:00Z'),
    taken('s6', '2024-05-07T18:40:00Z', { sittingSeconds: 4200, latencySeconds: 2400 }),
    heatOn('h1', '2024-05-07T19:00:00Z', 10),
    heatOff('h1', '2024-05-07T19:04:00Z'),
    heatOn('h2', '2024-05-07T19:30:00Z', 15),
    { type: 'routine_started', at: at('2024-05-07T20:00:00Z'), routineId: 'r1', routine: 'daily_checklist' },
    { type: 'routine_completed', at: at('2024-05-07T20:05:00Z'), routineId: 'r1' },
    // Wednesday 2024-05-08 local (today)
    natural('s7', '2024-05-08T15:00:00Z', 600),
    heatOn('h3', '2024-05-08T19:55:00Z', 10), // still on at `now`
  ];

  const expectedDays = [
    {
      ...zero,
      date: '2024-05-06',
      sittingMinutes: 122.4, // (1500 + 1845 + 1950 + 2047) s
      longestSittingMinutes: 34.1,
      breaks: 4,
      naturalBreaks: 1,
      nudgesSent: 3,
      followedWithin1: 1,
      followedWithin3: 2,
      followedWithin5: 3,
      nudgedSessions: 3,
      compliance: 1,
    },
    {
      ...zero,
      date: '2024-05-07',
      sittingMinutes: 128,
      longestSittingMinutes: 70,
      breaks: 2,
      nudgesSent: 6,
      nudgedSessions: 2,
      compliance: 0,
      followedLate: 1,
      snoozedThenFollowed: 1,
      snoozes: 1,
      ignored: 1,
      heatSessions: 2,
      heatMinutes: 19, // 4 until the manual OFF + 15 planned with no OFF logged
      heatSeconds: 1140,
      routinesStarted: 1,
      routinesCompleted: 1,
    },
    {
      ...zero,
      date: '2024-05-08',
      sittingMinutes: 10,
      longestSittingMinutes: 10,
      breaks: 1,
      naturalBreaks: 1,
      heatSessions: 1,
      heatMinutes: 5, // running: counted up to now
      heatSeconds: 300,
    },
  ];

  it('gives exact per-day figures for a known day in Los Angeles, oldest day first', () => {
    const summary = summarize(log, { timezone: tz, days: 3, now, routineTargetPerWeek: 3 });
    expect(summary.days).toEqual(expectedDays);
  });

  it('gives totals over the whole range', () => {
    const summary = summarize(log, { timezone: tz, days: 3, now, routineTargetPerWeek: 3 });
    expect(summary.total).toEqual({
      ...zero,
      sittingMinutes: 260.4,
      longestSittingMinutes: 70,
      breaks: 7,
      naturalBreaks: 2,
      nudgesSent: 9,
      followedWithin1: 1,
      followedWithin3: 2,
      followedWithin5: 3,
      nudgedSessions: 5,
      compliance: 0.6,
      followedLate: 1,
      snoozedThenFollowed: 1,
      snoozes: 1,
      ignored: 1,
      heatSessions: 3,
      heatMinutes: 24,
      heatSeconds: 1440,
      routinesStarted: 1,
      routinesCompleted: 1,
    });
  });

  it('does not depend on the order of the input', () => {
    const forward = summarize(log, { timezone: tz, days: 3, now, routineTargetPerWeek: 3 });
    const backward = summarize([...log].reverse(), { timezone: tz, days: 3, now, routineTargetPerWeek: 3 });
    expect(backward).toEqual(forward);
  });

  it('includes empty days so the range always has exactly `days` dates ending today', () => {
    const summary = summarize(log, { timezone: tz, days: 7, now, routineTargetPerWeek: 3 });
    expect(summary.days.map((d) => d.date)).toEqual([
      '2024-05-02',
      '2024-05-03',
      '2024-05-04',
      '2024-05-05',
      '2024-05-06',
      '2024-05-07',
      '2024-05-08',
    ]);
    expect(summary.days[0]).toEqual({ ...zero, date: '2024-05-02' });
    expect(summary.days[3]).toMatchObject({ breaks: 2, naturalBreaks: 2, sittingMinutes: 30 });
  });

  it('puts a break just after local midnight in Tokyo on the new day although UTC is still on the old one', () => {
    const tokyo = 'Asia/Tokyo'; // UTC+9
    const entries = [
      natural('a', '2024-05-06T14:59:00Z', 600), // 23:59 local, Monday
      natural('b', '2024-05-06T15:30:00Z', 1200), // 00:30 local, Tuesday
    ];
    const summary = summarize(entries, {
      timezone: tokyo,
      days: 2,
      now: at('2024-05-07T03:00:00Z'),
      routineTargetPerWeek: 3,
    });
    expect(summary.days.map((d) => [d.date, d.breaks, d.sittingMinutes])).toEqual([
      ['2024-05-06', 1, 10],
      ['2024-05-07', 1, 20],
    ]);
  });

  it('counts the open session as it happens: seated for three hours shows three hours today, not 0', () => {
    const berlin = 'Europe/Berlin'; // UTC+1 in December
    const startedAt = at('2024-12-03T08:00:00Z'); // 09:00 local
    const nowHere = at('2024-12-03T11:00:00Z');
    const entries: LogEntry[] = [{ type: 'sitting_started', at: startedAt, sessionId: 'open', startedAt }];
    const options = { timezone: berlin, days: 1, now: nowHere, routineTargetPerWeek: 3 };
    // Before: only a break counted sitting, so this showed 0.
    expect(summarize(entries, options).total.sittingMinutes).toBe(0);
    const s = summarize(entries, { ...options, openSession: { startedAt, upSince: null } });
    expect(s.total).toMatchObject({ sittingMinutes: 180, longestSittingMinutes: 180, breaks: 0 });
    // Got up 10 minutes ago, the break not long enough yet to end the session: sitting stops at getting up.
    const up = summarize(entries, { ...options, openSession: { startedAt, upSince: nowHere - 600_000 } });
    expect(up.total.sittingMinutes).toBe(170);
  });

  it('cuts sitting at local midnight: a session from 23:00 to 01:00 gives an hour to each day', () => {
    const berlin = 'Europe/Berlin';
    const entries = [natural('late', '2024-12-03T00:00:00Z', 7200)]; // 23:00 → 01:00 local, break on Tuesday
    const s = summarize(entries, {
      timezone: berlin,
      days: 2,
      now: at('2024-12-03T09:00:00Z'),
      routineTargetPerWeek: 3,
    });
    expect(s.days.map((d) => [d.date, d.sittingMinutes, d.breaks])).toEqual([
      ['2024-12-02', 60, 0],
      ['2024-12-03', 60, 1],
    ]);
    // The open session across midnight, seen at 02:00 local: an hour yesterday, two today.
    const startedAt = at('2024-12-02T22:00:00Z');
    const open = summarize([], {
      timezone: berlin,
      days: 2,
      now: at('2024-12-03T01:00:00Z'),
      routineTargetPerWeek: 3,
      openSession: { startedAt, upSince: null },
    });
    expect(open.days.map((d) => [d.date, d.sittingMinutes])).toEqual([
      ['2024-12-02', 60],
      ['2024-12-03', 120],
    ]);
  });

  it('cuts at the local midnight of a DST change (New York, 2024-11-03 has 25 hours)', () => {
    const ny = 'America/New_York';
    // 22:00 EDT on Nov 2 (02:00Z Nov 3) to 02:00 EST on Nov 3 (07:00Z): 2 h before midnight, 3 h after.
    const entries = [natural('dst', '2024-11-03T07:00:00Z', 5 * 3600)];
    const s = summarize(entries, { timezone: ny, days: 2, now: at('2024-11-03T15:00:00Z'), routineTargetPerWeek: 3 });
    expect(s.days.map((d) => [d.date, d.sittingMinutes])).toEqual([
      ['2024-11-02', 120],
      ['2024-11-03', 180],
    ]);
  });

  it('rounds heat time honestly: a 3-second session is 3 s (0.05 min), not 6 s', () => {
    const entries = [heatOn('short', '2024-05-08T19:00:00Z', 10), heatOff('short', '2024-05-08T19:00:03Z')];
    const s = summarize(entries, { timezone: tz, days: 1, now, routineTargetPerWeek: 3 });
    expect(s.total).toMatchObject({ heatSessions: 1, heatSeconds: 3, heatMinutes: 0.05 });
  });

  it('divides the follow-up windows by the time scale', () => {
    // At time scale 60 the 1/3/5-minute windows are 1, 3 and 5 real seconds.
    const entries = [
      taken('a', '2024-05-06T10:00:00Z', { sittingSeconds: 30, latencySeconds: 1 }),
      taken('b', '2024-05-06T10:01:00Z', { sittingSeconds: 30, latencySeconds: 2.5 }),
      taken('c', '2024-05-06T10:02:00Z', { sittingSeconds: 30, latencySeconds: 5 }),
      taken('d', '2024-05-06T10:03:00Z', { sittingSeconds: 30, latencySeconds: 6 }),
    ];
    const options = { timezone: 'UTC', days: 1, now: at('2024-05-06T12:00:00Z'), routineTargetPerWeek: 3 };
    expect(summarize(entries, { ...options, timeScale: 60 }).total).toMatchObject({
      followedWithin1: 1,
      followedWithin3: 2,
      followedWithin5: 3,
      followedLate: 1,
      nudgedSessions: 4,
      compliance: 0.75,
    });
    // At real time every one of them is within the first minute.
    expect(summarize(entries, options).total).toMatchObject({ followedWithin1: 4, compliance: 1 });
  });

  it('does not count a session ignored before the range as followed inside it', () => {
    const entries = [
      ignored('s', '2024-05-05T23:50:00Z'),
      taken('s', '2024-05-06T00:20:00Z', { sittingSeconds: 5000, latencySeconds: 2000 }),
    ];
    const summary = summarize(entries, {
      timezone: 'UTC',
      days: 1,
      now: at('2024-05-06T12:00:00Z'),
      routineTargetPerWeek: 3,
    });
    expect(summary.total).toMatchObject({
      breaks: 1,
      nudgedSessions: 0,
      ignored: 0,
      followedLate: 0,
      compliance: null,
    });
  });

  it('rounds compliance to three decimals', () => {
    const entries = [
      taken('a', '2024-05-06T10:00:00Z', { sittingSeconds: 1800, latencySeconds: 10 }),
      ignored('b', '2024-05-06T11:00:00Z'),
      ignored('c', '2024-05-06T12:00:00Z'),
    ];
    const summary = summarize(entries, {
      timezone: 'UTC',
      days: 1,
      now: at('2024-05-06T13:00:00Z'),
      routineTargetPerWeek: 3,
    });
    expect(summary.total.compliance).toBe(0.333);
  });

  it('adds weekly routines and pain trends to the summary', () => {
    const summary = summarize(log, { timezone: tz, days: 3, now, routineTargetPerWeek: 4 });
    expect(summary.routines).toEqual({ doneThisWeek: 1, target: 4, weekStart: '2024-05-06' });
    expect(summary.pain).toEqual([]);
  });

  it('rejects a range that is not a positive whole number of days', () => {
    expect(() => summarize([], { timezone: 'UTC', days: 0, now, routineTargetPerWeek: 3 })).toThrow(RangeError);
  });

  it('keeps totals equal to the sum of the days for every count', () => {
    const start = at('2024-05-01T00:00:00Z');
    const end = at('2024-05-11T00:00:00Z');
    const kinds = [
      'nudge_sent',
      'nudge_snoozed',
      'break_taken',
      'natural_break',
      'nudge_ignored',
      'heat_on',
      'heat_off',
      'routine_started',
      'routine_completed',
    ] as const;
    const raw = fc.record({
      kind: fc.constantFrom(...kinds),
      at: fc.integer({ min: start - 2 * 86_400_000, max: end }),
      session: fc.integer({ min: 0, max: 12 }),
      latency: fc.integer({ min: 0, max: 900 }),
      sitting: fc.integer({ min: 0, max: 8000 }),
      snoozes: fc.integer({ min: 0, max: 2 }),
    });
    const toEntry = (r: {
      kind: (typeof kinds)[number];
      at: number;
      session: number;
      latency: number;
      sitting: number;
      snoozes: number;
    }): LogEntry => {
      const sessionId = `s${r.session}`;
      switch (r.kind) {
        case 'nudge_sent':
          return { type: r.kind, at: r.at, sessionId, nudgeId: `${sessionId}-1`, level: 1 };
        case 'nudge_snoozed':
          return { type: r.kind, at: r.at, sessionId, until: r.at + 600_000 };
        case 'break_taken':
          return {
            type: r.kind,
            at: r.at + 120_000,
            sessionId,
            sittingSeconds: r.sitting,
            nudged: true,
            latencySeconds: r.latency,
            snoozes: r.snoozes,
            breakStartedAt: r.at,
          };
        case 'natural_break':
          return { type: r.kind, at: r.at + 120_000, sessionId, sittingSeconds: r.sitting, breakStartedAt: r.at };
        case 'nudge_ignored':
          return { type: r.kind, at: r.at, sessionId, nudges: 3 };
        case 'heat_on':
          return { type: r.kind, at: r.at, sessionId, minutes: 10, deviceId: 'pad', offAt: r.at + 600_000 };
        case 'heat_off':
          return { type: r.kind, at: r.at, sessionId, reason: 'timer', deviceId: 'pad' };
        case 'routine_started':
          return { type: r.kind, at: r.at, routineId: sessionId, routine: 'daily_checklist' };
        case 'routine_completed':
          return { type: r.kind, at: r.at, routineId: sessionId };
      }
    };
    const counts = [
      'breaks',
      'naturalBreaks',
      'nudgesSent',
      'followedWithin1',
      'followedWithin3',
      'followedWithin5',
      'snoozes',
      'ignored',
      'heatSessions',
      'nudgedSessions',
      'followedLate',
      'snoozedThenFollowed',
      'routinesStarted',
      'routinesCompleted',
    ] as const;
    fc.assert(
      fc.property(
        fc.array(raw, { maxLength: 60 }),
        fc.constantFrom('UTC', 'America/Los_Angeles', 'Asia/Tokyo', 'Europe/Berlin'),
        fc.integer({ min: 1, max: 10 }),
        fc.constantFrom(1, 60),
        (rows, timezone, days, timeScale) => {
          const s = summarize(rows.map(toEntry), { timezone, days, now: end, routineTargetPerWeek: 3, timeScale });
          expect(s.days).toHaveLength(days);
          for (const key of counts) {
            expect(s.total[key]).toBe(s.days.reduce((sum, d) => sum + d[key], 0));
          }
          expect(s.total.followedWithin1).toBeLessThanOrEqual(s.total.followedWithin3);
          expect(s.total.followedWithin3).toBeLessThanOrEqual(s.total.followedWithin5);
          expect(s.total.followedWithin5 + s.total.followedLate).toBeLessThanOrEqual(s.total.nudgedSessions);
          expect(s.total.naturalBreaks).toBeLessThanOrEqual(s.total.breaks);
          expect(s.total.longestSittingMinutes).toBe(Math.max(0, ...s.days.map((d) => d.longestSittingMinutes)));
          const c = s.total.compliance;
          if (s.total.nudgedSessions === 0) expect(c).toBeNull();
          else expect(c).toBeCloseTo(s.total.followedWithin5 / s.total.nudgedSessions, 3);
        },
      ),
    );
  });
});

describe('outcomeOf', () => {
  it('classifies a break before any nudge as natural', () => {
    expect(outcomeOf([natural('s', '2024-05-06T10:00:00Z', 1800)])).toEqual({
      outcome: 'natural',
      snoozedThenFollowed: false,
    });
  });

  it('buckets a followed nudge by the latency from the first nudge', () => {
    const latency = (latencySeconds: number) =>
      outcomeOf([
        nudge('s', '2024-05-06T10:00:00Z'),
        taken('s', '2024-05-06T10:01:00Z', { sittingSeconds: 1800, latencySeconds }),
      ]).outcome;
    expect(latency(60)).toBe('followed_1');
    expect(latency(61)).toBe('followed_3');
    expect(latency(180)).toBe('followed_3');
    expect(latency(300)).toBe('followed_5');
    expect(latency(301)).toBe('followed_late');
  });

  it('flags a break that came after a snooze', () => {
    expect(
      outcomeOf([
        nudge('s', '2024-05-06T10:00:00Z'),
        snoozed('s', '2024-05-06T10:00:20Z'),
        taken('s', '2024-05-06T10:00:40Z', { sittingSeconds: 1800, latencySeconds: 40, snoozes: 1 }),
      ]),
    ).toEqual({ outcome: 'followed_1', snoozedThenFollowed: true });
  });

  it('keeps an ignored session ignored when a break follows later, whatever the input order', () => {
    const entries = [
      taken('s', '2024-05-06T11:00:00Z', { sittingSeconds: 5400, latencySeconds: 1800 }),
      ignored('s', '2024-05-06T10:45:00Z'),
      nudge('s', '2024-05-06T10:30:00Z'),
    ];
    expect(outcomeOf(entries)).toEqual({ outcome: 'ignored', snoozedThenFollowed: false });
  });

  it('reports a session still waiting for its break as open', () => {
    expect(outcomeOf([nudge('s', '2024-05-06T10:00:00Z')]).outcome).toBe('open');
    expect(outcomeOf([]).outcome).toBe('open');
  });

  it('uses scaled windows when given a time scale', () => {
    const entries = [taken('s', '2024-05-06T10:00:00Z', { sittingSeconds: 30, latencySeconds: 4 })];
    expect(outcomeOf(entries, { timeScale: 60 }).outcome).toBe('followed_5');
  });
});

describe('weeklyRoutines', () => {
  const tz = 'Europe/Berlin';
  const done = (t: string): LogEntry => ({ type: 'routine_completed', at: at(t), routineId: t });

  it('counts completed routines from Monday 00:00 local time', () => {
    const entries = [
      done('2024-05-05T21:50:00Z'), // Sunday 23:50 in Berlin: last week
      done('2024-05-05T22:10:00Z'), // Monday 00:10 in Berlin: this week
      done('2024-05-09T10:00:00Z'),
      {
        type: 'routine_started',
        at: at('2024-05-09T09:50:00Z'),
        routineId: 'x',
        routine: 'daily_checklist',
      } as LogEntry,
    ];
    const now = at('2024-05-12T21:30:00Z'); // Sunday 23:30 in Berlin
    expect(weeklyRoutines(entries, { timezone: tz, now, target: 3 })).toEqual({
      doneThisWeek: 2,
      target: 3,
      weekStart: '2024-05-06',
    });
  });

  it('starts a new week on Monday, local time', () => {
    const now = at('2024-05-12T22:30:00Z'); // Monday 00:30 in Berlin
    expect(weeklyRoutines([done('2024-05-12T21:00:00Z')], { timezone: tz, now, target: 5 })).toEqual({
      doneThisWeek: 0,
      target: 5,
      weekStart: '2024-05-13',
    });
  });
});

describe('painTrend', () => {
  it('compares the first and the latest level per area', () => {
    const entries = [
      pain('2024-05-10T08:00:00Z', 'neck', 3),
      pain('2024-05-01T08:00:00Z', 'neck', 5),
      pain('2024-05-01T08:00:00Z', 'shoulders', 2),
      pain('2024-05-05T08:00:00Z', 'neck', 6),
      pain('2024-05-09T08:00:00Z', 'shoulders', 4),
      pain('2024-05-02T23:30:00Z', 'lower_back', 3),
      pain('2024-05-08T08:00:00Z', 'lower_back', 3),
    ];
    expect(painTrend(entries, { timezone: 'Asia/Tokyo' })).toEqual([
      {
        area: 'neck',
        first: { at: at('2024-05-01T08:00:00Z'), level: 5, date: '2024-05-01' },
        latest: { at: at('2024-05-10T08:00:00Z'), level: 3, date: '2024-05-10' },
        trend: 'improving',
      },
      {
        area: 'shoulders',
        first: { at: at('2024-05-01T08:00:00Z'), level: 2, date: '2024-05-01' },
        latest: { at: at('2024-05-09T08:00:00Z'), level: 4, date: '2024-05-09' },
        trend: 'worse',
      },
      {
        area: 'lower_back',
        first: { at: at('2024-05-02T23:30:00Z'), level: 3, date: '2024-05-03' },
        latest: { at: at('2024-05-08T08:00:00Z'), level: 3, date: '2024-05-08' },
        trend: 'same',
      },
    ]);
  });
});
