import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addLocalDays,
  isWithinActiveHours,
  localDate,
  localParts,
  nextActiveTime,
  startOfLocalDay,
  zonedToUtc,
  type ActiveHours,
} from '../../src/domain/clock.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();
const HOUR = 3_600_000;

// Instants spread over a few years, half of them within three days of a DST transition.
const TRANSITIONS = [
  '2024-03-10T07:00:00Z',
  '2024-03-31T01:00:00Z',
  '2024-04-06T14:00:00Z',
  '2024-09-28T14:00:00Z',
  '2024-10-27T01:00:00Z',
  '2024-11-03T06:00:00Z',
].map(at);
const instant = fc.oneof(
  fc.integer({ min: at('2020-01-01T00:00:00Z'), max: at('2030-01-01T00:00:00Z') }),
  fc.tuple(fc.constantFrom(...TRANSITIONS), fc.integer({ min: -72 * HOUR, max: 72 * HOUR })).map(([t, d]) => t + d),
);

describe('localParts and localDate', () => {
  it('reads the wall clock and ISO weekday in the given zone', () => {
    expect(localParts(at('2024-05-05T22:30:15Z'), 'Europe/Berlin')).toEqual({
      year: 2024,
      month: 5,
      day: 6,
      hour: 0,
      minute: 30,
      second: 15,
      weekday: 1,
    });
    expect(localParts(at('2024-05-05T12:00:00Z'), 'UTC').weekday).toBe(7);
  });

  it('puts the same instant on different local dates across zones', () => {
    const ms = at('2024-01-01T12:00:00Z');
    expect(localDate(ms, 'Pacific/Auckland')).toBe('2024-01-02');
    expect(localDate(ms, 'UTC')).toBe('2024-01-01');
    expect(localDate(at('2024-01-01T05:00:00Z'), 'America/Los_Angeles')).toBe('2023-12-31');
  });

  it('handles zones with odd offsets', () => {
    expect(localParts(at('2024-01-01T00:00:00Z'), 'Asia/Kathmandu')).toMatchObject({ hour: 5, minute: 45 });
  });
});

describe('addLocalDays', () => {
  it('steps over month, year and leap-day boundaries', () => {
    expect(addLocalDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addLocalDays('2024-02-29', 1)).toBe('2024-03-01');
    expect(addLocalDays('2024-12-31', 1)).toBe('2025-01-01');
    expect(addLocalDays('2024-01-01', -1)).toBe('2023-12-31');
    expect(addLocalDays('2024-03-30', 2)).toBe('2024-04-01');
  });

  it('rejects a date that does not exist', () => {
    expect(() => addLocalDays('2023-02-29', 1)).toThrow(RangeError);
    expect(() => addLocalDays('2023-2-1', 1)).toThrow(RangeError);
  });
});

describe('zonedToUtc', () => {
  it('converts ordinary local times', () => {
    expect(iso(zonedToUtc('2024-07-01', '09:00', 'Europe/Berlin'))).toBe('2024-07-01T07:00:00.000Z');
    expect(iso(zonedToUtc('2024-01-15', '09:00', 'America/New_York'))).toBe('2024-01-15T14:00:00.000Z');
    expect(iso(zonedToUtc('2024-01-15', '09:00', 'Pacific/Auckland'))).toBe('2024-01-14T20:00:00.000Z');
  });

  it('reads 24:00 as the next day’s midnight', () => {
    expect(zonedToUtc('2024-05-06', '24:00', 'Europe/Berlin')).toBe(zonedToUtc('2024-05-07', '00:00', 'Europe/Berlin'));
    expect(iso(zonedToUtc('2024-12-31', '24:00', 'UTC'))).toBe('2025-01-01T00:00:00.000Z');
  });

  it('maps a time inside the Berlin spring-forward gap to the first instant after it', () => {
    // 2024-03-31: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
    expect(iso(zonedToUtc('2024-03-31', '02:30', 'Europe/Berlin'))).toBe('2024-03-31T01:00:00.000Z');
    expect(iso(zonedToUtc('2024-03-31', '02:00', 'Europe/Berlin'))).toBe('2024-03-31T01:00:00.000Z');
    expect(iso(zonedToUtc('2024-03-31', '03:00', 'Europe/Berlin'))).toBe('2024-03-31T01:00:00.000Z');
    expect(iso(zonedToUtc('2024-03-31', '01:59', 'Europe/Berlin'))).toBe('2024-03-31T00:59:00.000Z');
  });

  it('takes the earlier instant of an ambiguous Berlin fall-back time', () => {
    // 2024-10-27: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
    expect(iso(zonedToUtc('2024-10-27', '02:30', 'Europe/Berlin'))).toBe('2024-10-27T00:30:00.000Z');
    expect(iso(zonedToUtc('2024-10-27', '03:00', 'Europe/Berlin'))).toBe('2024-10-27T02:00:00.000Z');
  });

  it('handles both New York transitions', () => {
    expect(iso(zonedToUtc('2024-03-10', '02:30', 'America/New_York'))).toBe('2024-03-10T07:00:00.000Z');
    expect(iso(zonedToUtc('2024-03-10', '03:00', 'America/New_York'))).toBe('2024-03-10T07:00:00.000Z');
    expect(iso(zonedToUtc('2024-11-03', '01:30', 'America/New_York'))).toBe('2024-11-03T05:30:00.000Z');
    expect(iso(zonedToUtc('2024-11-03', '02:00', 'America/New_York'))).toBe('2024-11-03T07:00:00.000Z');
  });

  it('handles the southern-hemisphere transitions of Pacific/Auckland', () => {
    // 2024-09-29: 02:00 NZST jumps to 03:00 NZDT; 2024-04-07: 03:00 NZDT falls back to 02:00 NZST.
    expect(iso(zonedToUtc('2024-09-29', '02:30', 'Pacific/Auckland'))).toBe('2024-09-28T14:00:00.000Z');
    expect(iso(zonedToUtc('2024-04-07', '02:30', 'Pacific/Auckland'))).toBe('2024-04-06T13:30:00.000Z');
  });

  it('round-trips every existing wall time', () => {
    fc.assert(
      fc.property(
        instant,
        fc.constantFrom('Europe/Berlin', 'America/New_York', 'Pacific/Auckland', 'Asia/Tokyo', 'Australia/Lord_Howe'),
        (ms, tz) => {
          const p = localParts(ms, tz);
          const hhmm = `${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}`;
          const back = zonedToUtc(localDate(ms, tz), hhmm, tz);
          const minuteStart = ms - p.second * 1000 - (ms % 1000);
          // Exact, except in an overlap where the earlier of two instants is chosen.
          expect(back).toBeLessThanOrEqual(minuteStart);
          expect(minuteStart - back).toBeLessThanOrEqual(2 * HOUR);
          expect(localParts(back, tz)).toMatchObject({ hour: p.hour, minute: p.minute, day: p.day });
        },
      ),
    );
  });
});

describe('startOfLocalDay', () => {
  it('finds local midnight on a 23-hour and a 25-hour day', () => {
    expect(iso(startOfLocalDay(at('2024-03-31T20:00:00Z'), 'Europe/Berlin'))).toBe('2024-03-30T23:00:00.000Z');
    expect(iso(startOfLocalDay(at('2024-10-27T20:00:00Z'), 'Europe/Berlin'))).toBe('2024-10-26T22:00:00.000Z');
    expect(iso(startOfLocalDay(at('2024-11-03T12:00:00Z'), 'America/New_York'))).toBe('2024-11-03T04:00:00.000Z');
  });
});

describe('active hours', () => {
  const weekdays9to18: ActiveHours = { days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' };
  const always: ActiveHours = { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00' };
  const nights: ActiveHours = { days: [1, 2, 3, 4, 5], start: '22:00', end: '06:00' };

  it('is always active with the default window, and nextActiveTime is then the input itself', () => {
    const ms = at('2024-03-31T01:30:00Z');
    expect(isWithinActiveHours(ms, always, 'Europe/Berlin')).toBe(true);
    expect(nextActiveTime(ms, always, 'Europe/Berlin')).toBe(ms);
  });

  it('treats start as inclusive and end as exclusive', () => {
    const tz = 'Europe/Berlin';
    expect(isWithinActiveHours(zonedToUtc('2024-05-06', '09:00', tz), weekdays9to18, tz)).toBe(true);
    expect(isWithinActiveHours(zonedToUtc('2024-05-06', '18:00', tz) - 1, weekdays9to18, tz)).toBe(true);
    expect(isWithinActiveHours(zonedToUtc('2024-05-06', '18:00', tz), weekdays9to18, tz)).toBe(false);
  });

  it('waits from Friday evening to Monday morning when weekends are excluded', () => {
    const tz = 'America/New_York';
    const fridayEvening = zonedToUtc('2024-05-03', '18:00', tz);
    expect(isWithinActiveHours(fridayEvening, weekdays9to18, tz)).toBe(false);
    expect(iso(nextActiveTime(fridayEvening, weekdays9to18, tz))).toBe('2024-05-06T13:00:00.000Z');
    const saturdayNoon = zonedToUtc('2024-05-04', '12:00', tz);
    expect(isWithinActiveHours(saturdayNoon, weekdays9to18, tz)).toBe(false);
  });

  it('waits for the same day’s window when it is early morning', () => {
    const tz = 'Europe/Berlin';
    expect(nextActiveTime(zonedToUtc('2024-05-06', '07:15', tz), weekdays9to18, tz)).toBe(
      zonedToUtc('2024-05-06', '09:00', tz),
    );
  });

  it('lets a window crossing midnight belong to the day it starts on', () => {
    const tz = 'Europe/Berlin';
    // Friday 22:00 → Saturday 06:00 is active (Friday is listed); Saturday 23:00 is not (Saturday is not).
    expect(isWithinActiveHours(zonedToUtc('2024-05-04', '03:00', tz), nights, tz)).toBe(true);
    expect(isWithinActiveHours(zonedToUtc('2024-05-04', '23:00', tz), nights, tz)).toBe(false);
    // Monday 01:00 belongs to Sunday's window, which is not listed.
    expect(isWithinActiveHours(zonedToUtc('2024-05-06', '01:00', tz), nights, tz)).toBe(false);
    expect(nextActiveTime(zonedToUtc('2024-05-06', '01:00', tz), nights, tz)).toBe(
      zonedToUtc('2024-05-06', '22:00', tz),
    );
    expect(isWithinActiveHours(zonedToUtc('2024-05-07', '05:59', tz), nights, tz)).toBe(true);
    expect(isWithinActiveHours(zonedToUtc('2024-05-07', '06:00', tz), nights, tz)).toBe(false);
  });

  it('ends a 22:00–24:00 window at midnight', () => {
    const tz = 'Asia/Tokyo';
    const late: ActiveHours = { days: [3], start: '22:00', end: '24:00' };
    expect(isWithinActiveHours(zonedToUtc('2024-05-08', '23:59', tz), late, tz)).toBe(true);
    expect(isWithinActiveHours(zonedToUtc('2024-05-09', '00:00', tz), late, tz)).toBe(false);
  });

  it('keeps a window the right real length on DST change days', () => {
    const tz = 'Europe/Berlin';
    const night: ActiveHours = { days: [6], start: '22:00', end: '06:00' };
    // Saturday 2024-03-30 22:00 CET → Sunday 06:00 CEST is 7 real hours.
    const start = nextActiveTime(at('2024-03-30T12:00:00Z'), night, tz);
    expect(iso(start)).toBe('2024-03-30T21:00:00.000Z');
    expect(isWithinActiveHours(start + 7 * HOUR - 1, night, tz)).toBe(true);
    expect(isWithinActiveHours(start + 7 * HOUR, night, tz)).toBe(false);
    // Saturday 2024-10-26 22:00 CEST → Sunday 06:00 CET is 9 real hours.
    const autumn = nextActiveTime(at('2024-10-26T12:00:00Z'), night, tz);
    expect(isWithinActiveHours(autumn + 9 * HOUR - 1, night, tz)).toBe(true);
    expect(isWithinActiveHours(autumn + 9 * HOUR, night, tz)).toBe(false);
  });

  it('starts a window whose start falls in the New York spring-forward gap at the end of the gap', () => {
    const tz = 'America/New_York';
    const early: ActiveHours = { days: [7], start: '02:30', end: '08:00' };
    expect(iso(nextActiveTime(at('2024-03-10T05:00:00Z'), early, tz))).toBe('2024-03-10T07:00:00.000Z');
  });

  it('skips a window that the spring-forward gap swallows whole', () => {
    const tz = 'Europe/Berlin';
    const swallowed: ActiveHours = { days: [7], start: '02:10', end: '02:50' };
    // On 2024-03-31 02:10–02:50 does not exist; the next window is the Sunday after.
    expect(iso(nextActiveTime(at('2024-03-30T12:00:00Z'), swallowed, tz))).toBe('2024-04-07T00:10:00.000Z');
  });

  it('follows Pacific/Auckland days, which start half a day before UTC', () => {
    const tz = 'Pacific/Auckland';
    // 2024-05-05T20:00Z is Monday 08:00 NZST; the window opens an hour later.
    expect(iso(nextActiveTime(at('2024-05-05T20:00:00Z'), weekdays9to18, tz))).toBe('2024-05-05T21:00:00.000Z');
    expect(isWithinActiveHours(at('2024-05-05T21:30:00Z'), weekdays9to18, tz)).toBe(true);
  });

  it('refuses active hours without any day', () => {
    expect(() => nextActiveTime(0, { days: [], start: '09:00', end: '17:00' }, 'UTC')).toThrow(RangeError);
  });

  it('always answers a time inside active hours and not before the input', () => {
    const hhmm = fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
    const hours = fc
      .record({
        days: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
        start: hhmm,
        end: fc.oneof(hhmm, fc.constant('24:00')),
      })
      .filter((h) => h.start !== h.end);
    fc.assert(
      fc.property(
        instant,
        hours,
        fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Pacific/Auckland', 'Asia/Kolkata'),
        (ms, h, tz) => {
          const next = nextActiveTime(ms, h, tz);
          expect(next).toBeGreaterThanOrEqual(ms);
          expect(isWithinActiveHours(next, h, tz)).toBe(true);
          if (isWithinActiveHours(ms, h, tz)) expect(next).toBe(ms);
          else expect(isWithinActiveHours(next - 1, h, tz)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
