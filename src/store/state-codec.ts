// The stored form of a person's state (the document after `<version>|`). Most of the bytes a person costs in Redis
// were the sitting session's field names and its empty defaults, so the session is stored with short field names and
// without the parts that are as a new session has them (~2.5× smaller for a seated person; the figures are in
// docs/development/benchmarks.md, "Memory per person"). Documents of the earlier form (`{"session":…}`) are read as
// they are: no migration, they are rewritten in this form at their next change.
import { emptyFold, newSessionState, type SessionState } from '../domain/session.js';
import { newUserState, type UserState } from '../domain/user-state.js';
import type { LogEntry } from '../domain/types.js';

/** Field names of the session and of the objects inside it → their stored names. Unknown fields pass as they are. */
const SHORT: Record<string, string> = {
  epoch: 'e',
  horizon: 'h',
  base: 'b',
  tail: 't',
  startedSeq: 'q',
  book: 'k',
  evidence: 'v',
  posture: 'p',
  since: 'n',
  seq: 'sq',
  cur: 'c',
  completed: 'x',
  deviceId: 'd',
  role: 'r',
  at: 'a',
  id: 'i',
  startedAt: 'sa',
  upSince: 'u',
  nudgesSent: 'ns',
  nudgesPublished: 'np',
  firstNudgeAt: 'fn',
  lastNudgeAt: 'ln',
  snoozes: 'sz',
  snoozedUntil: 'su',
  ignored: 'ig',
};
const LONG: Record<string, string> = Object.fromEntries(Object.entries(SHORT).map(([l, s]) => [s, l]));
/** Objects whose keys are ids (device ids), not field names: their values are renamed, their keys are not. */
const RECORDS = new Set(['evidence']);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function rename(value: Json, names: Record<string, string>, record = false): Json {
  if (Array.isArray(value)) return value.map((v) => rename(v, names));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (record) out[k] = rename(v, names);
    else {
      const name = names[k] ?? k;
      out[name] = rename(v, names, RECORDS.has(k) || RECORDS.has(name));
    }
  }
  return out;
}

const INITIAL = newUserState('');
const OPTIONAL_PARTS = ['heat', 'routine', 'routineSeq'] as const;
const INITIAL_JSON = Object.fromEntries(OPTIONAL_PARTS.map((k) => [k, JSON.stringify(INITIAL[k])]));
const EMPTY_FOLD = emptyFold();
const EMPTY_FOLD_JSON = JSON.stringify(EMPTY_FOLD);
/** Session fields left out while they hold these values (top level of the session and of its base only). */
const SESSION_DEFAULTS: Partial<Record<keyof SessionState, string>> = {
  horizon: '0',
  tail: '[]',
  startedSeq: '0',
  book: 'null',
};
const FOLD_DEFAULTS: Record<string, string> = Object.fromEntries(
  Object.entries(EMPTY_FOLD).map(([k, v]) => [k, JSON.stringify(v)]),
);

function compactSession(s: SessionState): Json {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined) continue;
    if (SESSION_DEFAULTS[k as keyof SessionState] === JSON.stringify(v)) continue;
    if (k === 'base') {
      if (JSON.stringify(v) === EMPTY_FOLD_JSON) continue;
      out[k] = Object.fromEntries(
        Object.entries(v as object).filter(([fk, fv]) => FOLD_DEFAULTS[fk] !== JSON.stringify(fv)),
      );
      continue;
    }
    out[k] = v;
  }
  return rename(out as Json, SHORT);
}

function expandSession(stored: Json): SessionState {
  const s = rename(stored, LONG) as unknown as Partial<SessionState> & { base?: Partial<SessionState['base']> };
  const fresh = newSessionState(s.epoch ?? '');
  return { ...fresh, ...s, base: { ...emptyFold(), ...s.base } };
}

/** The stored document of a state: `{"s":…}` and the parts other than the session only when they are not initial. */
export function serializeState(state: UserState): string {
  const stored: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(state)) {
    if (k === 'session') stored.s = compactSession(v as SessionState);
    else if (v !== undefined && INITIAL_JSON[k] !== JSON.stringify(v)) stored[k] = v;
  }
  return JSON.stringify(stored);
}

/** A stored document of either form: `{"s":…}` (this one) or `{"session":…}` (before it). */
export function parseState(doc: string): UserState {
  const stored = JSON.parse(doc) as Record<string, unknown>;
  const { s, ...rest } = stored;
  const session = s === undefined ? (stored.session as SessionState) : expandSession(s as Json);
  return { heat: { ...INITIAL.heat }, routine: null, routineSeq: 0, ...rest, session };
}

/** Adherence log entries: the fields every entry has get one- or two-letter names; the others stay as they are. */
const LOG_SHORT: Record<string, string> = { type: 't', at: 'a', sessionId: 's', startedAt: 'sa' };
const LOG_LONG: Record<string, string> = Object.fromEntries(Object.entries(LOG_SHORT).map(([l, s]) => [s, l]));

export function serializeLogEntry(e: LogEntry): string {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (v !== undefined) out[LOG_SHORT[k] ?? k] = v;
  return JSON.stringify(out);
}

/** A stored entry of either form (short names, or the full ones entries were written with before). */
export function parseLogEntry(json: string): LogEntry {
  const stored = JSON.parse(json) as Record<string, unknown>;
  if ('type' in stored) return stored as unknown as LogEntry;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(stored)) out[LOG_LONG[k] ?? k] = v;
  return out as unknown as LogEntry;
}
