// Local calendar time in a user's IANA time zone, and the active-hours window (docs/reference/profile.md, docs/concepts/sessions-and-nudges.md).
// Pure: every instant comes in as epoch ms; time zones come from the built-in Intl API only.

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** ISO weekday: 1 = Monday … 7 = Sunday. */
  weekday: number;
}

/** Active hours as in the profile: `days` name the local weekday a window starts on. */
export interface ActiveHours {
  days: readonly number[];
  start: string;
  end: string;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$/;
const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

// Building an Intl.DateTimeFormat is by far the most expensive step, so keep one per zone.
// This memo is invisible to callers: the functions stay pure.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
      era: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Date.UTC without its two-digit-year quirk. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const d = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  d.setUTCFullYear(year);
  return d.getTime();
}

export function localParts(ms: number, timeZone: string): LocalParts {
  if (!Number.isFinite(ms)) throw new RangeError(`not a valid instant: ${ms}`);
  const parts = formatterFor(timeZone).formatToParts(new Date(ms));
  const out: Record<string, string> = {};
  for (const p of parts) out[p.type] = p.value;
  let year = Number(out['year']);
  if (out['era'] === 'BC' || out['era'] === 'B') year = 1 - year;
  return {
    year,
    month: Number(out['month']),
    day: Number(out['day']),
    // Some ICU versions still print midnight as "24" even with h23.
    hour: Number(out['hour']) % 24,
    minute: Number(out['minute']),
    second: Number(out['second']),
    weekday: WEEKDAYS[out['weekday'] ?? ''] ?? Number.NaN,
  };
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

export function localDate(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`;
}

function parseDate(date: string): { year: number; month: number; day: number } {
  const m = DATE_RE.exec(date);
  if (!m) throw new RangeError(`expected a date "YYYY-MM-DD", got ${JSON.stringify(date)}`);
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const check = new Date(utc(year, month, day));
  if (check.getUTCMonth() + 1 !== month || check.getUTCDate() !== day) {
    throw new RangeError(`no such date: ${date}`);
  }
  return { year, month, day };
}

/** Minutes since local midnight of an "HH:MM" time ("24:00" → 1440). */
export function parseTimeOfDay(time: string): number {
  const m = TIME_RE.exec(time);
  if (!m) throw new RangeError(`expected a time "HH:MM" (00:00–24:00), got ${JSON.stringify(time)}`);
  if (m[3] !== undefined) return 24 * 60;
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Calendar arithmetic on a local date string; time zones play no part. */
export function addLocalDays(date: string, n: number): string {
  const { year, month, day } = parseDate(date);
  const d = new Date(utc(year, month, day) + n * DAY_MS);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** ISO weekday (1 = Monday) of a local date string. */
export function weekdayOf(date: string): number {
  const { year, month, day } = parseDate(date);
  const wd = new Date(utc(year, month, day)).getUTCDay();
  return wd === 0 ? 7 : wd;
}

/** UTC offset in ms (local wall clock minus UTC) at an instant. */
function offsetAt(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  const wall = utc(p.year, p.month, p.day, p.hour, p.minute, p.second);
  return wall - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * The instant a local wall-clock time names in `timeZone`. "24:00" is the next day's 00:00.
 * A time that does not exist (spring-forward gap) gives the first instant after the gap;
 * an ambiguous time (fall-back overlap) gives the earlier of the two instants.
 */
export function zonedToUtc(date: string, time: string, timeZone: string): number {
  const minutes = parseTimeOfDay(time);
  const { year, month, day } = parseDate(date);
  const wall = utc(year, month, day) + minutes * MINUTE_MS;
  // Offsets a day either side bracket any transition that could touch this wall time.
  const before = offsetAt(wall - DAY_MS, timeZone);
  const after = offsetAt(wall + DAY_MS, timeZone);
  const candidates = [...new Set([before, after, offsetAt(wall - before, timeZone), offsetAt(wall - after, timeZone)])]
    .map((o) => wall - o)
    .filter((t) => t + offsetAt(t, timeZone) === wall)
    .sort((a, b) => a - b);
  const earliest = candidates[0];
  if (earliest !== undefined) return earliest;
  // In a gap: the transition lies between the two readings; find its instant by bisection.
  let lo = Math.min(wall - before, wall - after);
  let hi = Math.max(wall - before, wall - after);
  const loOffset = offsetAt(lo, timeZone);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(mid, timeZone) === loOffset) lo = mid;
    else hi = mid;
  }
  return hi;
}

export function startOfLocalDay(ms: number, timeZone: string): number {
  return zonedToUtc(localDate(ms, timeZone), '00:00', timeZone);
}

/** The window that starts on local date `date`, as [start, end) epoch ms; empty when DST swallows it. */
function windowOn(date: string, hours: ActiveHours, timeZone: string): [number, number] {
  const startMin = parseTimeOfDay(hours.start);
  const endMin = parseTimeOfDay(hours.end);
  const start = zonedToUtc(date, hours.start, timeZone);
  // end ≤ start means the window runs past midnight into the next local day.
  const endDate = endMin > startMin ? date : addLocalDays(date, 1);
  const end = zonedToUtc(endDate, hours.end, timeZone);
  return [start, end];
}

function assertDays(hours: ActiveHours): void {
  if (!hours.days.some((d) => Number.isInteger(d) && d >= 1 && d <= 7)) {
    throw new RangeError('activeHours.days must name at least one ISO weekday (1–7)');
  }
}

export function isWithinActiveHours(ms: number, hours: ActiveHours, timeZone: string): boolean {
  if (isAlwaysActive(hours) && Number.isFinite(ms)) return true;
  assertDays(hours);
  const today = localDate(ms, timeZone);
  // Only a window starting yesterday or today can contain a moment of today.
  for (const date of [addLocalDays(today, -1), today]) {
    if (!hours.days.includes(weekdayOf(date))) continue;
    const [start, end] = windowOn(date, hours, timeZone);
    if (ms >= start && ms < end) return true;
  }
  return false;
}

/** Every day from 00:00 to 24:00 (the default): every instant is inside, whatever the zone. */
const isAlwaysActive = (hours: ActiveHours) =>
  hours.start === '00:00' && hours.end === '24:00' && [1, 2, 3, 4, 5, 6, 7].every((d) => hours.days.includes(d));

/** `ms` itself when it lies inside active hours, otherwise the start of the next window. */
export function nextActiveTime(ms: number, hours: ActiveHours, timeZone: string): number {
  // The common case, and on the hot path of every sitting event: skip the time-zone arithmetic.
  if (isAlwaysActive(hours) && Number.isFinite(ms)) return ms;
  assertDays(hours);
  const today = localDate(ms, timeZone);
  // Yesterday's window may still be open; eight more days always reach an allowed weekday, and a
  // ninth covers the one window a year a spring-forward gap can swallow whole.
  for (let i = -1; i <= 9; i++) {
    const date = addLocalDays(today, i);
    if (!hours.days.includes(weekdayOf(date))) continue;
    const [start, end] = windowOn(date, hours, timeZone);
    if (end <= start || end <= ms) continue;
    return Math.max(ms, start);
  }
  throw new RangeError('no active window found in the coming week');
}
