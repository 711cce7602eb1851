import { describe, expect, it } from 'vitest';
import {
  autoMethodEntries,
  DEFAULT_METHOD_POLICY,
  latestPainArea,
  deskCheckFixes,
  deskCheckOffer,
  latestMethod,
  methodRecords,
  noImprovement,
  whatHelps,
} from '../../src/domain/methods.js';
import type { LogEntry, Method, MethodFeeling, PainArea } from '../../src/domain/types.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const t0 = Date.parse('2026-11-02T08:00:00Z');
const day = (n: number): number => t0 + n * DAY;

let seq = 0;
function tried(
  at: number,
  method: Method,
  area: PainArea,
  extra: Partial<Extract<LogEntry, { type: 'method_tried' }>> = {},
): Extract<LogEntry, { type: 'method_tried' }> {
  return { type: 'method_tried', at, methodId: `m${++seq}`, method, area, source: 'manual', ...extra };
}
const outcome = (
  t: { methodId: string; at: number },
  feeling: MethodFeeling,
  painBefore?: number,
  painAfter?: number,
  later = HOUR,
): LogEntry => ({
  type: 'method_outcome',
  at: t.at + later,
  methodId: t.methodId,
  feeling,
  ...(painBefore !== undefined ? { painBefore } : {}),
  ...(painAfter !== undefined ? { painAfter } : {}),
});

const verdictOf = (entries: LogEntry[], method: Method, area: PainArea = 'neck', now = day(30)) =>
  whatHelps(entries, now).find((r) => r.method === method && r.area === area);

describe('methodRecords', () => {
  it('joins a method with its latest outcome and ignores outcomes for unknown methods', () => {
    const a = tried(day(1), 'foam_roller', 'upper_back', { minutes: 10, painBefore: 6 });
    const entries: LogEntry[] = [
      a,
      outcome(a, 'same', undefined, 6),
      outcome(a, 'better', undefined, 4, 2 * HOUR),
      { type: 'method_outcome', at: day(1), methodId: 'nope', feeling: 'worse' },
    ];
    const [r, ...rest] = methodRecords(entries, day(2));
    expect(rest).toEqual([]);
    expect(r).toMatchObject({ methodId: a.methodId, name: 'foam roller', minutes: 10, painBefore: 6 });
    expect(r?.outcome).toMatchObject({ feeling: 'better', painAfter: 4 });
  });

  it('names an `other` method in the person’s own words', () => {
    const r = methodRecords([tried(day(1), 'other', 'neck', { name: 'Gua sha' })], day(2));
    expect(r[0]?.name).toBe('Gua sha');
  });

  it('leaves out what happened after `now`', () => {
    const a = tried(day(1), 'heat', 'neck');
    expect(methodRecords([a, outcome(a, 'better', 5, 2)], day(1) + 1)[0]?.outcome).toBeUndefined();
  });
});

describe('whatHelps', () => {
  it('says "helped a lot" for an average drop of 2 points or more, with how often and the average', () => {
    const a = tried(day(1), 'trigger_point_ball', 'neck');
    const b = tried(day(3), 'trigger_point_ball', 'neck');
    const c = tried(day(5), 'trigger_point_ball', 'neck');
    const row = verdictOf([a, outcome(a, 'better', 6, 3), b, outcome(b, 'better', 5, 3), c], 'trigger_point_ball');
    expect(row).toMatchObject({
      count: 3,
      withOutcome: 2,
      better: 2,
      averagePainChange: -2.5,
      verdict: 'helped_a_lot',
      label: 'helped a lot',
    });
  });

  it('labels a small drop, no change and a rise in plain words', () => {
    const mk = (method: Method, pairs: [number, number][]) =>
      pairs.flatMap(([b, a]) => {
        const t = tried(day(2), method, 'neck');
        return [t, outcome(t, a < b ? 'better' : a > b ? 'worse' : 'same', b, a)];
      });
    const entries = [
      ...mk('stretching', [
        [5, 4],
        [5, 4],
      ]),
      ...mk('acupressure', [
        [5, 5],
        [4, 4],
      ]),
      ...mk('cupping', [
        [4, 5],
        [4, 6],
      ]),
    ];
    expect(verdictOf(entries, 'stretching')?.label).toBe('helped a little');
    expect(verdictOf(entries, 'acupressure')?.label).toBe('no change');
    expect(verdictOf(entries, 'cupping')?.label).toBe('made it worse');
    expect(verdictOf(entries, 'cupping')?.averagePainChange).toBe(1.5);
  });

  it('says "not enough data" with fewer outcomes than the policy needs', () => {
    const a = tried(day(1), 'foam_roller', 'neck');
    expect(
      verdictOf([a, outcome(a, 'better', 8, 1), tried(day(2), 'foam_roller', 'neck')], 'foam_roller'),
    ).toMatchObject({ count: 2, withOutcome: 1, verdict: 'not_enough_data', label: 'not enough data' });
    expect(
      whatHelps([a, outcome(a, 'better', 8, 1)], day(30), { ...DEFAULT_METHOD_POLICY, minOutcomes: 1 })[0]?.verdict,
    ).toBe('helped_a_lot');
  });

  it('falls back on how it felt when pain figures are missing', () => {
    const a = tried(day(1), 'massage_therapy', 'shoulders');
    const b = tried(day(8), 'massage_therapy', 'shoulders');
    const row = verdictOf([a, outcome(a, 'better'), b, outcome(b, 'better')], 'massage_therapy', 'shoulders');
    expect(row).toMatchObject({ averagePainChange: null, withPainChange: 0, label: 'helped a little' });
    const w1 = tried(day(1), 'cupping', 'shoulders');
    const w2 = tried(day(2), 'cupping', 'shoulders');
    expect(verdictOf([w1, outcome(w1, 'worse'), w2, outcome(w2, 'same')], 'cupping', 'shoulders')?.label).toBe(
      'made it worse',
    );
  });

  it('keeps areas apart and each different free-text method apart', () => {
    const rows = whatHelps(
      [
        tried(day(1), 'heat', 'neck'),
        tried(day(1), 'heat', 'lower_back'),
        tried(day(1), 'other', 'neck', { name: 'Gua sha' }),
        tried(day(2), 'other', 'neck', { name: 'gua sha' }),
        tried(day(2), 'other', 'neck', { name: 'Yoga' }),
      ],
      day(3),
    );
    expect(rows.map((r) => `${r.area}:${r.name}:${r.count}`).sort()).toEqual([
      'lower_back:heat:1',
      'neck:Gua sha:2',
      'neck:Yoga:1',
      'neck:heat:1',
    ]);
  });

  it('counts only methods from `since`', () => {
    expect(
      whatHelps([tried(day(1), 'heat', 'neck'), tried(day(9), 'heat', 'neck')], day(10), undefined, day(5))[0]?.count,
    ).toBe(1);
  });
});

describe('noImprovement', () => {
  const weekly = (area: PainArea, levels: number[]) =>
    levels.flatMap((level, w) => {
      const t = tried(day(w * 7 + 1), 'stretching', area, { painBefore: level });
      return [t, { type: 'pain_logged' as const, at: day(w * 7 + 2), area, level }];
    });

  it('flags an area where four weeks of regular care left the pain where it was', () => {
    const found = noImprovement(weekly('neck', [5, 5, 6, 5]), day(28));
    expect(found).toEqual([
      expect.objectContaining({ area: 'neck', weeks: 4, firstWeekPain: 5, lastWeekPain: 5, methodsTried: 4 }),
    ]);
  });

  it('says nothing when the pain dropped by a point or more, or is gone', () => {
    expect(noImprovement(weekly('neck', [5, 5, 4, 4]), day(28))).toEqual([]);
    expect(noImprovement(weekly('neck', [2, 1, 1, 0]), day(28))).toEqual([]);
  });

  it('needs care in every one of the four weeks', () => {
    const entries = weekly('neck', [5, 5, 6, 5]).filter((e) => !(e.type === 'method_tried' && e.at === day(15)));
    expect(noImprovement(entries, day(28))).toEqual([]);
  });

  it('says nothing before four weeks of care have passed', () => {
    expect(noImprovement(weekly('neck', [5, 5, 6]), day(21))).toEqual([]);
  });

  it('follows the configured number of weeks', () => {
    expect(
      noImprovement(weekly('neck', [5, 5]), day(14), { noImprovementWeeks: 2, improvementPoints: 1 }).map(
        (n) => n.area,
      ),
    ).toEqual(['neck']);
  });
});

describe('deskCheckOffer', () => {
  const sat = (n: number, minutes: number): LogEntry => ({
    type: 'natural_break',
    at: day(n),
    sessionId: `s${n}`,
    sittingSeconds: minutes * 60,
    breakStartedAt: day(n),
  });

  it('is offered after long sitting on five of the last seven days', () => {
    const entries = [1, 2, 3, 4, 5].map((n) => sat(n, 75));
    const offer = deskCheckOffer(entries, day(5) + HOUR);
    expect(offer).toMatchObject({ offered: true, longSittingDays: 5, lastCheck: null });
    expect(offer.message).toContain('screen at eye level');
  });

  it('is not offered for short sittings or for four days', () => {
    expect(
      deskCheckOffer(
        [1, 2, 3, 4, 5].map((n) => sat(n, 45)),
        day(5) + HOUR,
      ).offered,
    ).toBe(false);
    expect(
      deskCheckOffer(
        [1, 2, 3, 4].map((n) => sat(n, 90)),
        day(4) + HOUR,
      ).offered,
    ).toBe(false);
  });

  it('is not offered again within 30 days of an answer', () => {
    const answers = {
      screenAtEyeLevel: false,
      shouldersRelaxed: true,
      feetFlat: true,
      chairSupportsBack: true,
      keyboardAtElbowHeight: true,
    };
    const entries: LogEntry[] = [
      { type: 'desk_check', at: day(0), answers },
      ...[1, 2, 3, 4, 5].map((n) => sat(n, 75)),
    ];
    const offer = deskCheckOffer(entries, day(5) + HOUR);
    expect(offer.offered).toBe(false);
    expect(offer.lastCheck?.answers).toEqual(answers);
    expect(deskCheckFixes(answers)).toEqual(['raise or lower the screen so its top is at eye level']);
    const later = [...entries, ...[31, 32, 33, 34, 35].map((n) => sat(n, 75))];
    expect(deskCheckOffer(later, day(35) + HOUR).offered).toBe(true);
  });
});

describe('latestMethod', () => {
  it('finds the latest method of the last hours, not an older one', () => {
    const a = tried(day(1), 'heat', 'neck');
    const b = tried(day(1) + HOUR, 'routine', 'neck', { source: 'routine' });
    expect(latestMethod([a, b], day(1) + 2 * HOUR, 3 * HOUR)?.methodId).toBe(b.methodId);
    expect(latestMethod([a, b], day(1) + 5 * HOUR, 3 * HOUR)).toBeNull();
  });
});

describe('autoMethodEntries', () => {
  const routine = {
    routineId: 'e1r1',
    routine: 'daily_checklist',
    startedAt: day(1),
    steps: [
      { step: 'pressure', kind: 'pressure' as const, seconds: 60, durationMs: 100, message: '' },
      { step: 'heat', kind: 'heat' as const, seconds: 600, durationMs: 100, message: '', skipped: 'no_heat_pad' },
      { step: 'neck_side_stretch', kind: 'stretch' as const, seconds: 30, durationMs: 100, message: '' },
    ],
    index: 3,
    stepStartedAt: day(1),
    stepEndsAt: day(1),
    published: 2,
    ended: { at: day(1), outcome: 'completed' as const },
    seq: 1,
    area: 'neck' as const,
  };

  it('enters a completed routine with the minutes of the steps that ran', () => {
    const done: LogEntry = { type: 'routine_completed', at: day(1), routineId: 'e1r1' };
    expect(autoMethodEntries([done], { routine }, 1)).toEqual([
      expect.objectContaining({
        type: 'method_tried',
        methodId: 'routine-e1r1',
        method: 'routine',
        area: 'neck',
        minutes: 1.5,
        source: 'routine',
        routineId: 'e1r1',
      }),
    ]);
    expect(autoMethodEntries([{ ...done, routineId: 'other' }], { routine }, 1)).toEqual([]);
  });

  it('enters a heat session that ends, in policy minutes, once, and not one a routine started', () => {
    const session = {
      sessionId: 'e1h2',
      deviceId: 'pad',
      minutes: 10,
      startedAt: day(1),
      offAt: day(1) + 1000,
      ended: { at: day(1) + 500, reason: 'manual' as const },
      onPublished: true,
      offPublished: false,
      source: 'api',
    };
    const off: LogEntry = { type: 'heat_off', at: day(1) + 500, sessionId: 'e1h2', reason: 'manual', deviceId: 'pad' };
    const heat = { current: session, lastEndedAt: day(1) + 500, seq: 2 };
    // 500 ms at 600× is 5 policy minutes.
    expect(autoMethodEntries([off], { heat }, 600)).toEqual([
      expect.objectContaining({ methodId: 'heat-e1h2', method: 'heat', area: 'other', minutes: 5, source: 'heat' }),
    ]);
    // A watchdog OFF later for the ended session is not a second entry.
    expect(autoMethodEntries([{ ...off, at: day(1) + 9000, reason: 'watchdog' }], { heat }, 600)).toEqual([]);
    expect(autoMethodEntries([off], { heat: { ...heat, current: { ...session, source: 'routine' } } }, 600)).toEqual(
      [],
    );
  });
});

describe('latestPainArea', () => {
  it('names the area of the latest pain of the last 14 days', () => {
    const pain = (n: number, area: PainArea): LogEntry => ({ type: 'pain_logged', at: day(n), area, level: 3 });
    expect(latestPainArea([pain(1, 'neck'), pain(3, 'shoulders')], day(4))).toBe('shoulders');
    expect(latestPainArea([pain(1, 'neck')], day(20))).toBeUndefined();
  });
});
