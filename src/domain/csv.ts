// The adherence log as CSV (docs/concepts/adherence.md): RFC 4180 quoting, CRLF, and no cell a spreadsheet would run as a formula.

const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;
const NEEDS_QUOTES = /[",\r\n]/;

function isoAt(value: unknown): unknown {
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value).toISOString();
  if (value instanceof Date && Number.isFinite(value.getTime())) return value.toISOString();
  return value;
}

function text(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.toISOString() : '';
  return JSON.stringify(value) ?? '';
}

/** One CSV cell: formula-looking text gets a leading `'`, then RFC 4180 quoting where needed. */
export function csvCell(value: unknown): string {
  let s = text(value);
  // Spreadsheets evaluate a cell starting with = + - @ (and tab/CR, per OWASP); a plain number like -5 is safe.
  if (FORMULA_START.test(s) && !NUMBER.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Entries as CSV: header `at,type` then every other field in first-seen order, one row per entry,
 * arrays and objects JSON-encoded, `at` as ISO 8601 (epoch ms is converted), CRLF after every row.
 */
export function toCsv(entries: ReadonlyArray<Record<string, unknown>>): string {
  const columns = ['at', 'type'];
  const seen = new Set(columns);
  for (const entry of entries) {
    for (const key of Object.keys(entry)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  const rows = [columns.map(csvCell).join(',')];
  for (const entry of entries) {
    rows.push(columns.map((c) => csvCell(c === 'at' ? isoAt(entry[c]) : entry[c])).join(','));
  }
  return rows.map((r) => `${r}\r\n`).join('');
}
