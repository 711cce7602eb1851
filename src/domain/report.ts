// The report for the therapist (docs/concepts/therapist-report.md): one printable page for a chosen period, folded
// from the adherence log. "Keep a short log of changes so you and the therapist track progress; tell the therapist
// exactly where pain refers and what makes it worse." Pure: the period, `now` and the advice come in as arguments.
// Every string a person typed (refers, symptoms, notes, method names) is HTML-escaped where it is written out.
import { summarize, type Figures } from './adherence.js';
import { addLocalDays, localDate, zonedToUtc } from './clock.js';
import {
  DEFAULT_METHOD_POLICY,
  deskCheckFixes,
  methodRecords,
  noImprovement,
  painChange,
  whatHelps,
  type MethodPolicy,
  type MethodRecord,
  type NoImprovement,
  type WhatHelpsRow,
} from './methods.js';
import { DESK_CHECK_QUESTIONS, PAIN_AREAS, type DeskCheckAnswers, type LogEntry, type PainArea } from './types.js';

const DAY_MS = 86_400_000;

/** The default period: the last four weeks, today included ("expect steady improvement in one to four weeks"). */
export const REPORT_DEFAULT_DAYS = 28;
/** The longest period one page can hold; also the summary's limit. */
export const REPORT_MAX_DAYS = 90;
/** The methods listed one by one (the latest); "what helps" still counts all of the period. */
export const REPORT_MAX_METHOD_ROWS = 12;

export const AREA_LABELS: Record<PainArea, string> = {
  neck: 'Neck',
  shoulders: 'Shoulders',
  upper_back: 'Upper back',
  lower_back: 'Lower back',
  glutes: 'Buttocks (glutes)',
  other: 'Other',
};

const QUESTION_LABELS: Record<keyof DeskCheckAnswers, string> = {
  screenAtEyeLevel: 'Screen at eye level',
  shouldersRelaxed: 'Shoulders relaxed',
  feetFlat: 'Feet flat on the floor',
  chairSupportsBack: 'Chair supports the back',
  keyboardAtElbowHeight: 'Keyboard at elbow height',
};

/** Symptoms the advice treats as nerve or medical signs: marked in the report. */
const WARNING_SYMPTOMS = new Set([
  'numbness',
  'tingling',
  'weakness',
  'spreading',
  'spreading_pain',
  'fever',
  'swelling',
  'unexplained_swelling',
  'recent_injury',
]);

export interface ReportPeriod {
  /** First and last local date (YYYY-MM-DD, the person's time zone), both included. */
  from: string;
  to: string;
  days: number;
  /** [start, end) in epoch ms. */
  startMs: number;
  endMs: number;
}

/**
 * The period from the query: `from`/`to` as local dates (YYYY-MM-DD) in `timezone`, both optional; default the
 * last REPORT_DEFAULT_DAYS days up to today. Returns an error sentence instead of a period when they make none.
 */
export function reportPeriod(
  query: { from?: string | undefined; to?: string | undefined },
  timezone: string,
  now: number,
): ReportPeriod | { error: string } {
  const dateRe = /^\d{4}-\d{2}-\d{2}$/;
  const valid = (d: string) =>
    dateRe.test(d) &&
    !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) &&
    new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) === d;
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && !valid(v)) return { error: `${k} must be a date such as 2026-11-03 (YYYY-MM-DD)` };
  }
  const today = localDate(now, timezone);
  const to = query.to ?? (query.from ? minDate(addLocalDays(query.from, REPORT_DEFAULT_DAYS - 1), today) : today);
  const from = query.from ?? addLocalDays(to, 1 - REPORT_DEFAULT_DAYS);
  if (from > to) return { error: 'from must not be after to' };
  if (from > today) return { error: 'the period must not start in the future' };
  const days = Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
  if (days > REPORT_MAX_DAYS) return { error: `a report covers at most ${REPORT_MAX_DAYS} days, not ${days}` };
  return {
    from,
    to,
    days,
    startMs: zonedToUtc(from, '00:00', timezone),
    endMs: zonedToUtc(addLocalDays(to, 1), '00:00', timezone),
  };
}

const minDate = (a: string, b: string) => (a < b ? a : b);

export interface ReportInput {
  userId: string;
  name?: string;
  timezone: string;
  period: ReportPeriod;
  now: number;
  /** UNKNOT_TIME_SCALE: durations are shown in policy (demo) time when it is not 1. */
  timeScale: number;
  routineTargetPerWeek: number;
  contraindications: readonly string[];
  /** The reasons unknot gives to see a professional, as of the end of the period. */
  advice: ReadonlyArray<{ code: string; detail: string }>;
  /** The sitting session open now (counts when the period reaches today). */
  openSession?: { startedAt: number; upSince: number | null } | null;
  methodPolicy?: MethodPolicy;
}

export interface AreaReport {
  area: PainArea;
  label: string;
  entries: number;
  first: { date: string; level: number };
  latest: { date: string; level: number };
  lowest: number;
  highest: number;
  trend: 'improving' | 'worse' | 'same';
  /** Where it spreads, in the person's words, with how often each was said. */
  refers: Array<{ text: string; times: number }>;
  points: Array<{ at: number; level: number }>;
}

export interface SymptomReport {
  symptom: string;
  times: number;
  areas: string[];
  lastDate: string;
  warning: boolean;
}

export interface ReportData {
  userId: string;
  name?: string;
  timezone: string;
  period: ReportPeriod;
  generatedAt: string;
  timeScale: number;
  areas: AreaReport[];
  symptoms: SymptomReport[];
  whatHelps: WhatHelpsRow[];
  methods: MethodRecord[];
  methodsTotal: number;
  noImprovement: NoImprovement[];
  deskChecks: Array<{ date: string; answers: DeskCheckAnswers; fixes: string[]; note?: string }>;
  habits: {
    daysWithSitting: number;
    /** Per day with sitting, in minutes (policy time when scaled). */
    sittingPerDayMinutes: number;
    longestSittingMinutes: number;
    breaks: number;
    breaksPerDay: number;
    naturalBreaks: number;
    nudgesSent: number;
    nudgedSessions: number;
    followedWithin5: number;
    compliance: number | null;
    ignored: number;
    snoozes: number;
  };
  care: {
    heatSessions: number;
    heatMinutes: number;
    routinesStarted: number;
    routinesCompleted: number;
    routinesPerWeek: number;
    routineTargetPerWeek: number;
  };
  contraindications: string[];
  advice: Array<{ code: string; detail: string }>;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
/** Durations in minutes keep hundredths, so a 3-second session stays 3 s (0.05), not 6 s (0.1). */
const round2 = (n: number) => Math.round(n * 100) / 100;

/** The report's figures for the period. */
export function buildReport(entries: readonly LogEntry[], input: ReportInput): ReportData {
  const { period, timezone, now } = input;
  const scale = input.timeScale > 0 ? input.timeScale : 1;
  // "Now" for the period: its end, or the present when the period reaches today.
  const until = Math.min(now, period.endMs - 1);
  const inPeriod = entries.filter((e) => e.at >= period.startMs && e.at < period.endMs && e.at <= now);

  // Where it hurts and where it spreads, and the trend per area.
  const areas: AreaReport[] = [];
  const symptoms = new Map<string, { times: number; areas: Set<string>; last: number }>();
  for (const area of PAIN_AREAS) {
    const list = inPeriod
      .filter((e): e is Extract<LogEntry, { type: 'pain_logged' }> => e.type === 'pain_logged' && e.area === area)
      .sort((a, b) => a.at - b.at);
    const firstE = list[0];
    const lastE = list[list.length - 1];
    if (!firstE || !lastE) continue;
    const refers = new Map<string, { text: string; times: number }>();
    for (const e of list) {
      const text = e.refers?.trim();
      if (text) {
        const key = text.toLowerCase();
        const r = refers.get(key);
        if (r) r.times += 1;
        else refers.set(key, { text, times: 1 });
      }
      for (const s of e.symptoms ?? []) {
        const key = s.trim().toLowerCase();
        if (!key) continue;
        const seen = symptoms.get(key) ?? { times: 0, areas: new Set<string>(), last: 0 };
        seen.times += 1;
        seen.areas.add(AREA_LABELS[area]);
        seen.last = Math.max(seen.last, e.at);
        symptoms.set(key, seen);
      }
    }
    areas.push({
      area,
      label: AREA_LABELS[area],
      entries: list.length,
      first: { date: localDate(firstE.at, timezone), level: firstE.level },
      latest: { date: localDate(lastE.at, timezone), level: lastE.level },
      lowest: Math.min(...list.map((e) => e.level)),
      highest: Math.max(...list.map((e) => e.level)),
      trend: lastE.level < firstE.level ? 'improving' : lastE.level > firstE.level ? 'worse' : 'same',
      refers: [...refers.values()].sort((a, b) => b.times - a.times || a.text.localeCompare(b.text)),
      points: list.map((e) => ({ at: e.at, level: e.level })),
    });
  }

  // Sitting, breaks, heat and routines over the period's local days.
  const s = summarize(entries, {
    timezone,
    days: period.days,
    now: until,
    routineTargetPerWeek: input.routineTargetPerWeek,
    timeScale: scale,
    ...(now < period.endMs ? { openSession: input.openSession ?? null } : {}),
  });
  const t: Figures = s.total;
  const daysWithSitting = s.days.filter((d) => d.sittingMinutes > 0).length;

  const policy = input.methodPolicy ?? DEFAULT_METHOD_POLICY;
  const methods = methodRecords(inPeriod, until, period.startMs);
  const deskChecks = inPeriod
    .filter((e): e is Extract<LogEntry, { type: 'desk_check' }> => e.type === 'desk_check')
    .sort((a, b) => b.at - a.at)
    .map((e) => ({
      date: localDate(e.at, timezone),
      answers: e.answers,
      fixes: deskCheckFixes(e.answers),
      ...(e.note ? { note: e.note } : {}),
    }));

  return {
    userId: input.userId,
    ...(input.name ? { name: input.name } : {}),
    timezone,
    period,
    generatedAt: new Date(now).toISOString(),
    timeScale: scale,
    areas,
    symptoms: [...symptoms.entries()]
      .map(([symptom, v]) => ({
        symptom,
        times: v.times,
        areas: [...v.areas],
        lastDate: localDate(v.last, timezone),
        warning: WARNING_SYMPTOMS.has(symptom),
      }))
      .sort((a, b) => Number(b.warning) - Number(a.warning) || b.times - a.times || a.symptom.localeCompare(b.symptom)),
    whatHelps: whatHelps(inPeriod, until, policy, period.startMs),
    methods: methods.slice(-REPORT_MAX_METHOD_ROWS).reverse(),
    methodsTotal: methods.length,
    noImprovement: noImprovement(entries, until, policy),
    deskChecks,
    habits: {
      daysWithSitting,
      sittingPerDayMinutes: daysWithSitting === 0 ? 0 : round2((t.sittingMinutes * scale) / daysWithSitting),
      longestSittingMinutes: round2(t.longestSittingMinutes * scale),
      breaks: t.breaks,
      breaksPerDay: daysWithSitting === 0 ? 0 : round1(t.breaks / daysWithSitting),
      naturalBreaks: t.naturalBreaks,
      nudgesSent: t.nudgesSent,
      nudgedSessions: t.nudgedSessions,
      followedWithin5: t.followedWithin5,
      compliance: t.compliance,
      ignored: t.ignored,
      snoozes: t.snoozes,
    },
    care: {
      heatSessions: t.heatSessions,
      heatMinutes: round2((t.heatSeconds * scale) / 60),
      routinesStarted: t.routinesStarted,
      routinesCompleted: t.routinesCompleted,
      routinesPerWeek: round1((t.routinesCompleted * 7) / period.days),
      routineTargetPerWeek: input.routineTargetPerWeek,
    },
    contraindications: [...input.contraindications],
    advice: input.advice.map((a) => ({ code: a.code, detail: a.detail })),
  };
}

// ------------------------------------------------------------------ HTML

/** Escape a string for HTML text and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const e = escapeHtml;

const longDate = (date: string) =>
  new Date(`${date}T12:00:00Z`).toLocaleDateString('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  });
const shortDate = (date: string) =>
  new Date(`${date}T12:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

/** Minutes as a person reads them: seconds under a minute, "1 h 20 min" over an hour. */
export function minutesText(minutes: number): string {
  if (minutes <= 0) return '0 min';
  if (minutes < 1) return `${Math.max(1, Math.round(minutes * 60))} s`;
  const m = Math.round(minutes);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const TREND_WORDS = { improving: 'easing', worse: 'worse', same: 'about the same' } as const;

function sparkline(points: AreaReport['points'], period: ReportPeriod): string {
  const w = 120;
  const h = 28;
  const span = Math.max(1, period.endMs - period.startMs);
  const xy = points.map((p) => [
    round1(((p.at - period.startMs) / span) * (w - 4) + 2),
    round1(h - 2 - (p.level / 10) * (h - 4)),
  ]);
  const line = xy.map(([x, y]) => `${x},${y}`).join(' ');
  const dots = xy.map(([x, y]) => `<circle cx="${x}" cy="${y}" r="1.8"/>`).join('');
  return (
    `<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="pain over the period">` +
    `<line x1="0" y1="${h - 2}" x2="${w}" y2="${h - 2}" class="base"/>` +
    `<polyline points="${line}"/>${dots}</svg>`
  );
}

const yesNo = (v: boolean) => (v ? '<span class="yes">yes</span>' : '<span class="no">no</span>');

const percent = (v: number | null) => (v === null ? '–' : `${Math.round(v * 100)}%`);

const STYLE = `
@page { size: A4; margin: 12mm 13mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 10pt/1.38 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1f2933; margin: 0 auto; max-width: 190mm; padding: 10mm 0; background: #fff; }
header { display: flex; justify-content: space-between; align-items: flex-end; border-bottom: 2px solid #0b6e99;
  padding-bottom: 5px; margin-bottom: 8px; }
h1 { font-size: 14pt; margin: 0; color: #0b6e99; white-space: nowrap; }
p { margin: 2px 0; }
header .who { font-size: 10.5pt; font-weight: 600; }
header .meta { text-align: right; color: #52606d; font-size: 8.5pt; }
h2 { font-size: 10.5pt; margin: 0 0 4px; color: #0b6e99; text-transform: uppercase; letter-spacing: .04em; }
section { break-inside: avoid; margin: 0 0 8px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 16px; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; }
th, td { text-align: left; padding: 2px 5px 2px 0; vertical-align: top; border-bottom: 1px solid #e4e7eb; }
th { color: #52606d; font-weight: 600; font-size: 8.3pt; }
td.num, th.num { text-align: right; }
.muted { color: #7b8794; }
.empty { color: #7b8794; font-style: italic; margin: 0; }
.warn { color: #b42318; font-weight: 600; }
.yes { color: #00664a; font-weight: 600; }
.no { color: #b42318; font-weight: 600; }
.trend-improving { color: #00664a; font-weight: 600; }
.trend-worse { color: #b42318; font-weight: 600; }
.advice { border: 1.5px solid #b42318; border-radius: 4px; padding: 5px 8px; background: #fff5f4; }
.advice ul { margin: 2px 0 0 16px; padding: 0; }
.note-box { border-left: 3px solid #e69f00; padding: 3px 8px; background: #fffaf0; margin: 4px 0; }
.figures { display: grid; grid-template-columns: repeat(4, 1fr); gap: 4px 10px; margin: 0; }
.figures div { border: 1px solid #e4e7eb; border-radius: 4px; padding: 3px 6px; }
.figures dt { color: #52606d; font-size: 8pt; }
.figures dd { margin: 0; font-weight: 600; font-size: 10.5pt; }
.grid .figures { grid-template-columns: 1fr 1fr; }
svg.spark polyline { fill: none; stroke: #0072b2; stroke-width: 1.6; }
svg.spark circle { fill: #0072b2; }
svg.spark line.base { stroke: #d9dee3; stroke-width: 1; }
footer { border-top: 1px solid #e4e7eb; color: #7b8794; font-size: 7.8pt; padding-top: 4px; margin-top: 6px; }
.screen-only { background: #eef6fb; border: 1px solid #b6d7ea; border-radius: 4px; padding: 4px 8px; font-size: 9pt;
  margin-bottom: 8px; }
@media print {
  body { padding: 0; max-width: none; font-size: 9pt; }
  table { font-size: 8.3pt; }
  section { margin-bottom: 6px; }
  .screen-only { display: none; }
}
`;

/** The report as one HTML page: no script, inline styles, printable on one A4 page for a usual month. */
export function renderReportHtml(r: ReportData): string {
  const scaled = r.timeScale !== 1;
  const who = r.name ? `${e(r.name)} <span class="muted">(${e(r.userId)})</span>` : e(r.userId);
  const periodText = `${longDate(r.period.from)} – ${longDate(r.period.to)} (${r.period.days} days)`;

  const areaRows = r.areas
    .map(
      (a) => `<tr><td>${e(a.label)}</td><td class="num">${a.entries}</td>
<td>${a.first.level} <span class="muted">(${e(shortDate(a.first.date))})</span> → ${a.latest.level} <span class="muted">(${e(shortDate(a.latest.date))})</span></td>
<td class="num">${a.lowest}–${a.highest}</td><td class="trend-${a.trend}">${TREND_WORDS[a.trend]}</td><td>${sparkline(a.points, r.period)}</td>
<td>${a.refers.length === 0 ? '<span class="muted">not said</span>' : a.refers.map((x) => `${e(x.text)}${x.times > 1 ? ` <span class="muted">(${x.times}×)</span>` : ''}`).join('; ')}</td></tr>`,
    )
    .join('\n');
  const painSection =
    r.areas.length === 0
      ? '<p class="empty">No pain logged in this period.</p>'
      : `<table><thead><tr><th>Area</th><th class="num">Entries</th><th>First → latest (0–10)</th><th class="num">Range</th><th>Trend</th><th>Over the period</th><th>Where it spreads (in their words)</th></tr></thead><tbody>${areaRows}</tbody></table>`;

  const symptomSection =
    r.symptoms.length === 0
      ? '<p class="empty">No symptoms flagged with the pain log.</p>'
      : `<table><thead><tr><th>Symptom</th><th class="num">Times</th><th>Where</th><th>Last</th></tr></thead><tbody>${r.symptoms
          .map(
            (s) =>
              `<tr><td${s.warning ? ' class="warn"' : ''}>${e(s.symptom.replace(/_/g, ' '))}${s.warning ? ' ⚠' : ''}</td><td class="num">${s.times}</td><td>${e(s.areas.join(', '))}</td><td>${e(shortDate(s.lastDate))}</td></tr>`,
          )
          .join('')}</tbody></table>`;

  const change = (v: number | null) => (v === null ? '–' : v > 0 ? `+${v}` : String(v));
  const helpsSection =
    r.whatHelps.length === 0
      ? '<p class="empty">No self-care methods logged in this period.</p>'
      : `<table><thead><tr><th>Method</th><th>Area</th><th class="num">Tried</th><th class="num">Better / same / worse</th><th class="num">Avg. pain change</th><th>Verdict</th></tr></thead><tbody>${r.whatHelps
          .map(
            (w) =>
              `<tr><td>${e(w.name)}</td><td>${e(AREA_LABELS[w.area])}</td><td class="num">${w.count}</td><td class="num">${w.better} / ${w.same} / ${w.worse}</td><td class="num">${e(change(w.averagePainChange))}</td><td>${e(w.label)}</td></tr>`,
          )
          .join('')}</tbody></table>`;
  const methodRows = r.methods
    .map((m) => {
      const c = painChange(m);
      const before = m.outcome?.painBefore ?? m.painBefore;
      const pain =
        before !== undefined && m.outcome?.painAfter !== undefined
          ? `${before} → ${m.outcome.painAfter}${c !== undefined ? ` (${change(c)})` : ''}`
          : before !== undefined
            ? `${before} before`
            : '–';
      const notes = [m.note, m.outcome?.note]
        .filter((x): x is string => !!x)
        .map(e)
        .join(' · ');
      return `<tr><td>${e(shortDate(localDate(m.at, r.timezone)))}</td><td>${e(m.name)}${m.source === 'manual' ? '' : ' <span class="muted">(by unknot)</span>'}</td><td>${e(AREA_LABELS[m.area])}</td><td class="num">${m.minutes !== undefined ? e(`${m.minutes} min`) : '–'}</td><td>${m.outcome ? e(m.outcome.feeling) : '<span class="muted">not said</span>'}</td><td>${e(pain)}</td><td>${notes}</td></tr>`;
    })
    .join('');
  const methodsList =
    r.methods.length === 0
      ? ''
      : `<table class="methods"><thead><tr><th>Date</th><th>Method</th><th>Area</th><th class="num">Time</th><th>Felt</th><th>Pain</th><th>Notes</th></tr></thead><tbody>${methodRows}</tbody></table>${
          r.methodsTotal > r.methods.length
            ? `<p class="muted">The latest ${r.methods.length} of ${r.methodsTotal} shown.</p>`
            : ''
        }`;
  const noImprovementNote = r.noImprovement
    .map(
      (n) =>
        `<p class="note-box">${e(AREA_LABELS[n.area])}: no improvement after ${n.weeks} weeks of regular care (${n.methodsTried} methods tried; average pain ${n.firstWeekPain} in the first week, ${n.lastWeekPain} in the last).</p>`,
    )
    .join('');

  const deskSection =
    r.deskChecks.length === 0
      ? '<p class="empty">The desk setup check was not answered in this period.</p>'
      : r.deskChecks
          .slice(0, 2)
          .map(
            (d, i) =>
              `<p><strong>${i === 0 ? 'Latest' : 'Before that'}: ${e(longDate(d.date))}</strong></p><table><tbody>${DESK_CHECK_QUESTIONS.map(
                (q) => `<tr><td>${e(QUESTION_LABELS[q])}</td><td>${yesNo(d.answers[q])}</td></tr>`,
              ).join(
                '',
              )}</tbody></table>${d.fixes.length > 0 ? `<p class="muted">To fix: ${e(d.fixes.join('; '))}.</p>` : ''}${d.note ? `<p class="muted">Note: ${e(d.note)}</p>` : ''}`,
          )
          .join('');

  const h = r.habits;
  const c = r.care;
  const fig = (label: string, value: string) => `<div><dt>${e(label)}</dt><dd>${e(value)}</dd></div>`;
  const habitsSection =
    h.daysWithSitting === 0 && h.breaks === 0
      ? '<p class="empty">No sitting recorded in this period.</p>'
      : `<dl class="figures">${[
          fig('Days with sitting recorded', `${h.daysWithSitting} of ${r.period.days}`),
          fig('Sitting per day (average)', minutesText(h.sittingPerDayMinutes)),
          fig('Longest sitting in one go', minutesText(h.longestSittingMinutes)),
          fig('Breaks per day (average)', String(h.breaksPerDay)),
          fig('Breaks without a reminder', `${h.naturalBreaks} of ${h.breaks}`),
          fig('Reminders sent', String(h.nudgesSent)),
          fig(
            'Up within 5 min of a reminder',
            `${h.followedWithin5} of ${h.nudgedSessions} (${percent(h.compliance)})`,
          ),
          fig('Reminders ignored / snoozed', `${h.ignored} / ${h.snoozes}`),
        ].join('')}</dl>`;
  const careSection = `<dl class="figures">${[
    fig('Heat sessions', String(c.heatSessions)),
    fig('Time with heat on', minutesText(c.heatMinutes)),
    fig('Routines done (started)', `${c.routinesCompleted} (${c.routinesStarted})`),
    fig('Routines per week', `${c.routinesPerWeek} (goal ${c.routineTargetPerWeek})`),
  ].join('')}</dl>`;

  const adviceSection =
    r.advice.length === 0
      ? '<p class="empty">unknot gave no reason to see a professional at the end of this period.</p>'
      : `<div class="advice"><ul>${r.advice.map((a) => `<li>${e(a.detail)}</li>`).join('')}</ul></div>`;
  const contra =
    r.contraindications.length === 0
      ? ''
      : `<p class="muted">Noted in the profile: ${e(r.contraindications.map((x) => x.replace(/_/g, ' ')).join(', '))}.</p>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>unknot report for the therapist · ${e(r.name ?? r.userId)} · ${e(r.period.from)} to ${e(r.period.to)}</title>
<style>${STYLE}</style>
</head>
<body>
<p class="screen-only">One page to take to the therapist. To print it or save it as a PDF, use the browser's Print (Ctrl+P, or ⌘P on a Mac) and choose "Save as PDF".</p>
<header>
<div><h1>Self-care report for the therapist</h1><div class="who">${who}</div></div>
<div class="meta">${e(periodText)}<br>Times in ${e(r.timezone)} · made ${e(r.generatedAt.slice(0, 16).replace('T', ' '))} UTC by unknot</div>
</header>
${scaled ? `<p class="note-box">Demo: timers ran ${e(r.timeScale)} times faster than real time; durations below are in demo time.</p>` : ''}
<section id="advice"><h2>Reasons unknot gave to see a professional</h2>${adviceSection}${contra}</section>
<section id="pain"><h2>Where it hurts, where it spreads, and the trend</h2>${painSection}</section>
<section id="symptoms"><h2>Symptoms flagged</h2>${symptomSection}</section>
<section id="methods"><h2>Methods tried and how they went</h2>${helpsSection}${noImprovementNote}${methodsList}</section>
<div class="grid">
<section id="habits"><h2>Sitting and breaks</h2>${habitsSection}</section>
<section id="desk"><h2>Desk setup check</h2>${deskSection}</section>
</div>
<section id="care"><h2>Heat and routines</h2>${careSection}</section>
<footer>Pain is on a 0–10 scale (0 none, 10 worst imaginable). A negative pain change means less pain after the method. unknot reminds and logs; it does not diagnose. Figures come from the person's chair, desk and wearable sensors and what they logged.</footer>
</body>
</html>
`;
}
