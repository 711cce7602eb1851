import { describe, expect, it } from 'vitest';
import { buildReport, escapeHtml, minutesText, renderReportHtml, reportPeriod } from '../../src/domain/report.js';
import type { LogEntry } from '../../src/domain/types.js';

const at = (iso: string) => Date.parse(iso);
const now = at('2026-12-01T10:00:00Z'); // Tuesday, 11:00 in Berlin
const tz = 'Europe/Berlin';

describe('reportPeriod', () => {
  it('defaults to the last 28 local days, today included, in the person’s time zone', () => {
    expect(reportPeriod({}, tz, now)).toMatchObject({
      from: '2026-11-04',
      to: '2026-12-01',
      days: 28,
      startMs: at('2026-11-03T23:00:00Z'),
      endMs: at('2026-12-01T23:00:00Z'),
    });
  });

  it('takes four weeks from `from`, never past today, and refuses what makes no period', () => {
    expect(reportPeriod({ from: '2026-10-01' }, tz, now)).toMatchObject({ from: '2026-10-01', to: '2026-10-28' });
    expect(reportPeriod({ from: '2026-11-20' }, tz, now)).toMatchObject({ to: '2026-12-01', days: 12 });
    expect(reportPeriod({ from: '2026-02-30' }, tz, now)).toEqual({ error: expect.stringContaining('from must be') });
    expect(reportPeriod({ to: '01.12.2026' }, tz, now)).toEqual({ error: expect.stringContaining('to must be') });
    expect(reportPeriod({ from: '2026-11-10', to: '2026-11-01' }, tz, now)).toEqual({
      error: 'from must not be after to',
    });
    expect(reportPeriod({ from: '2026-12-05', to: '2026-12-06' }, tz, now)).toEqual({
      error: 'the period must not start in the future',
    });
    expect(reportPeriod({ from: '2026-01-01', to: '2026-12-01' }, tz, now)).toEqual({
      error: expect.stringContaining('at most 90 days'),
    });
  });
});

describe('the report', () => {
  const period = reportPeriod({}, tz, now) as Exclude<ReturnType<typeof reportPeriod>, { error: string }>;
  const log: LogEntry[] = [
    { type: 'pain_logged', at: at('2026-11-10T09:00:00Z'), level: 7, area: 'neck', refers: 'into the "left" arm' },
    {
      type: 'pain_logged',
      at: at('2026-11-25T09:00:00Z'),
      level: 4,
      area: 'neck',
      refers: 'Into the "left" arm',
      symptoms: ['numbness', '</td><script>x()</script>'],
    },
    { type: 'pain_logged', at: at('2026-10-01T09:00:00Z'), level: 9, area: 'shoulders' }, // before the period
    {
      type: 'natural_break',
      at: at('2026-11-30T22:30:00Z'),
      sessionId: 's',
      sittingSeconds: 3600,
      breakStartedAt: at('2026-11-30T22:28:00Z'),
    },
    {
      type: 'heat_on',
      at: at('2026-11-20T09:00:00Z'),
      sessionId: 'h',
      minutes: 10,
      deviceId: 'pad',
      offAt: at('2026-11-20T09:10:00Z'),
    },
    { type: 'heat_off', at: at('2026-11-20T09:00:03Z'), sessionId: 'h', reason: 'manual', deviceId: 'pad' },
  ];
  const input = {
    userId: 'ana',
    name: 'Ana & <Bo>',
    timezone: tz,
    period,
    now,
    timeScale: 1,
    routineTargetPerWeek: 3,
    contraindications: [],
    advice: [{ code: 'neurological_symptoms', detail: 'You logged numbness <now>.' }],
  };

  it('sums up pain per area (only in the period), where it spreads in the person’s words, and the symptoms', () => {
    const r = buildReport(log, input);
    expect(r.areas).toHaveLength(1);
    expect(r.areas[0]).toMatchObject({
      area: 'neck',
      entries: 2,
      first: { date: '2026-11-10', level: 7 },
      latest: { date: '2026-11-25', level: 4 },
      trend: 'improving',
      refers: [{ text: 'into the "left" arm', times: 2 }],
    });
    expect(r.symptoms.map((s) => [s.symptom, s.warning])).toEqual([
      ['numbness', true],
      ['</td><script>x()</script>', false],
    ]);
    // Sitting cut at Berlin's midnight: 23:28 - 1 h is 22:28, all on Nov 30; heat 3 s.
    expect(r.habits).toMatchObject({ daysWithSitting: 1, longestSittingMinutes: 60, naturalBreaks: 1 });
    expect(r.care).toMatchObject({ heatSessions: 1, heatMinutes: 0.05 });
    expect(renderReportHtml(r)).toMatch(/Time with heat on<\/dt><dd>3 s</);
  });

  it('escapes every string a person typed, and the page has no script', () => {
    const html = renderReportHtml(buildReport(log, input));
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('&lt;/td&gt;&lt;script&gt;x()&lt;/script&gt;');
    expect(html).toContain('into the &quot;left&quot; arm');
    expect(html).toContain('Ana &amp; &lt;Bo&gt;');
    expect(html).toContain('You logged numbness &lt;now&gt;.');
    expect(escapeHtml(`<a href='x'>&</a>`)).toBe('&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('says durations as a person reads them, seconds when short', () => {
    expect([0, 0.05, 0.5, 12.4, 60, 125].map(minutesText)).toEqual([
      '0 min',
      '3 s',
      '30 s',
      '12 min',
      '1 h 0 min',
      '2 h 5 min',
    ]);
  });
});
