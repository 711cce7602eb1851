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

// Runs for every object of every state read or written: a plain loop over the keys, without the arrays that
// Object.entries and map allocate (it was the codec's largest cost in a profile of the sweep).
function rename(value: Json, names: Record<string, string>, record = false): Json {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out: Json[] = new Array<Json>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = rename(value[i]!, names);
    return out;
  }
  const out: Record<string, Json> = {};
  for (const k in value) {
    const v = value[k];
    if (v === undefined) continue;
    if (record) out[k] = rename(v, names);
    else {
      const name = Object.hasOwn(names, k) ? names[k]! : k;
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

/**
 * The stored JSON of a session: what `rename(compacted session, SHORT)` gives, built from pieces. States are never
 * changed in place and a transition keeps most of its state's objects (the tail's events, the base), so the JSON of
 * each event and of the base is computed once, not at every commit that carries it.
 */
function sessionJson(s: SessionState): string {
  let out = '';
  for (const k of Object.keys(s)) {
    const v = (s as unknown as Record<string, unknown>)[k];
    if (v === undefined) continue;
    let json: string;
    if (k === 'tail' && Array.isArray(v)) {
      if (v.length === 0) continue;
      json = '[' + v.map(eventJson).join(',') + ']';
    } else if (k === 'base' && v !== null && typeof v === 'object') {
      const b = baseJson(v as SessionState['base']);
      if (b === undefined) continue;
      json = b;
    } else {
      const plain = v === null || typeof v !== 'object';
      const d = SESSION_DEFAULTS[k as keyof SessionState];
      // An object's JSON is none of the defaults ('0', '[]', 'null'): only plain values and arrays are compared.
      if (d !== undefined && (plain || Array.isArray(v)) && d === JSON.stringify(v)) continue;
      const name = SHORT[k] ?? k;
      json = JSON.stringify(rename(v as Json, SHORT, RECORDS.has(k) || RECORDS.has(name)));
    }
    out += (out ? ',' : '') + (QUOTED[k] ?? JSON.stringify(k)) + ':' + json;
  }
  return '{' + out + '}';
}

/** `"<stored name>"` of each session field with a short name. */
const QUOTED: Record<string, string> = Object.fromEntries(
  Object.entries(SHORT).map(([l, s]) => [l, JSON.stringify(s)]),
);

const eventsJson = new WeakMap<object, string>();
function eventJson(e: unknown): string {
  if (e === null || typeof e !== 'object') return JSON.stringify(rename(e as Json, SHORT)) ?? 'null';
  let json = eventsJson.get(e);
  if (json === undefined) {
    json = JSON.stringify(rename(e as Json, SHORT));
    eventsJson.set(e, json);
  }
  return json;
}

/** The base's stored JSON (only its fields that are not as a new session has them), or undefined for an empty one. */
const basesJson = new WeakMap<object, string | undefined>();
function baseJson(base: SessionState['base']): string | undefined {
  if (basesJson.has(base)) return basesJson.get(base);
  const kept = Object.entries(base).filter(([fk, fv]) => fv !== undefined && FOLD_DEFAULTS[fk] !== JSON.stringify(fv));
  // A field unlike the empty fold's makes the whole unlike it: only a base with none left is compared whole.
  const json =
    kept.length === 0 && JSON.stringify(base) === EMPTY_FOLD_JSON
      ? undefined
      : JSON.stringify(rename(Object.fromEntries(kept), SHORT));
  basesJson.set(base, json);
  return json;
}

function expandSession(stored: Json): SessionState {
  const s = rename(stored, LONG) as unknown as Partial<SessionState> & { base?: Partial<SessionState['base']> };
  const fresh = newSessionState(s.epoch ?? '');
  return { ...fresh, ...s, base: { ...emptyFold(), ...s.base } };
}

/** The stored document of a state: `{"s":…}` and the parts other than the session only when they are not initial. */
export function serializeState(state: UserState): string {
  let out = '';
  for (const k of Object.keys(state)) {
    const v = (state as unknown as Record<string, unknown>)[k];
    if (v === undefined) continue;
    const json = k === 'session' ? sessionJson(v as SessionState) : JSON.stringify(v);
    if (json === undefined || (k !== 'session' && INITIAL_JSON[k] === json)) continue;
    out += (out ? ',' : '') + (k === 'session' ? '"s"' : JSON.stringify(k)) + ':' + json;
  }
  return '{' + out + '}';
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
