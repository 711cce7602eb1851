// When to see a professional (docs/concepts/pain-and-advice.md), from the pain log and the profile's contraindications.
// Pure: `now` comes in as an argument. The wording follows common self-care guidance for muscle knots:
// say where it hurts, where it spreads and what makes it worse.
import { DEFAULT_METHOD_POLICY, type MethodPolicy, noImprovement } from './methods.js';
import type { Profile } from './profile.js';
import { HEAT_BLOCKING, type LogEntry, type PainArea } from './types.js';

export type AdviceCode =
  'neurological_symptoms' | 'medical_first' | 'persistent_pain' | 'recurring_pain' | 'no_improvement';

/**
 * Symptoms that refuse heat when logged with pain, until a clearance (config `UNKNOT_HEAT_BLOCKING_SYMPTOMS`).
 * "A numb area cannot feel a burn": numbness and tingling, besides fever, swelling and injury (always).
 */
export const DEFAULT_HEAT_BLOCKING_SYMPTOMS: readonly string[] = Object.freeze(['numbness', 'tingling']);

/** The configurable parts of the advice (src/config.ts `methods`). */
export interface AdviceOptions {
  heatBlockingSymptoms?: readonly string[];
  noImprovementWeeks?: MethodPolicy['noImprovementWeeks'];
  improvementPoints?: MethodPolicy['improvementPoints'];
}

export interface AdviceReason {
  code: AdviceCode;
  /** A plain sentence for the user, including what to tell the therapist or doctor. */
  detail: string;
  /** The pain area the reason is about; absent for a reason that comes from the profile alone. */
  area?: PainArea;
}

export interface ProfessionalAdvice {
  recommended: boolean;
  reasons: AdviceReason[];
  /**
   * Heat is refused: a medical-first reason, numbness or tingling logged with pain and not cleared since, or a
   * heat-blocking contraindication in the profile (§5).
   */
  heatBlocked: boolean;
  /** Why heat is refused, for the refusal's detail; absent when it is not, or only for the profile. */
  heatBlockedReason?: string;
}

export interface PainAdvice extends ProfessionalAdvice {
  message: string;
}

type PainEntry = Extract<LogEntry, { type: 'pain_logged' }>;

const DAY_MS = 86_400_000;
/** Evidence older than this (before `now`) no longer raises a reason. */
export const ADVICE_LOOKBACK_DAYS = 30;
/** Pain in one area logged over more than this many days without improvement → persistent. */
export const PERSISTENT_AFTER_DAYS = 14;
/** Pain back within this many days after a level-0 entry → recurring. */
export const RECURRING_WITHIN_DAYS = 7;

const NEUROLOGICAL: Record<string, string> = {
  numbness: 'numbness',
  tingling: 'tingling',
  weakness: 'weakness',
  spreading: 'spreading pain',
  spreading_pain: 'spreading pain',
};
const MEDICAL: Record<string, string> = {
  fever: 'a fever',
  swelling: 'swelling',
  unexplained_swelling: 'unexplained swelling',
  recent_injury: 'a recent injury',
};
const MEDICAL_CONTRAINDICATIONS = ['fever', 'swelling', 'recent_injury'];

const AREA_NAMES: Record<PainArea, string> = {
  neck: 'your neck',
  shoulders: 'your shoulders',
  upper_back: 'your upper back',
  lower_back: 'your lower back',
  glutes: 'your buttocks (glutes)',
  other: 'the area you logged',
};

const THERAPIST = 'a licensed massage, physical or sports therapist';

export const normalizeSymptom = (symptom: string): string =>
  symptom
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

const list = (items: readonly string[]): string =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

const days = (ms: number): number => Math.round(ms / DAY_MS);

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** What to tell the professional: where it hurts, where it spreads, what makes it worse. */
function tellThem(who: string, area: PainArea | undefined, refers: string | undefined): string {
  const where = area ? `where it hurts (${AREA_NAMES[area]})` : 'where it hurts';
  const spreads = refers ? `where it spreads (${refers})` : 'whether it spreads anywhere';
  return `Tell the ${who} ${where}, ${spreads}, and what makes it worse, such as long sitting or certain movements.`;
}

/** The latest `refers` given for an area among `entries`. */
const refersOf = (entries: readonly PainEntry[], area: PainArea): string | undefined =>
  [...entries]
    .reverse()
    .find((e) => e.area === area && e.refers)
    ?.refers?.trim() || undefined;

function painEntries(entries: readonly LogEntry[], now: number): PainEntry[] {
  return entries
    .filter((e): e is PainEntry => e.type === 'pain_logged' && e.at <= now)
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.at - b.e.at || a.i - b.i)
    .map(({ e }) => e);
}

function symptomsOf(entry: PainEntry, table: Record<string, string>): string[] {
  return unique((entry.symptoms ?? []).map(normalizeSymptom).flatMap((s) => (table[s] ? [table[s]] : [])));
}

function medicalFirst(
  recent: readonly PainEntry[],
  all: readonly PainEntry[],
  contraindications: readonly string[],
): AdviceReason[] {
  const reasons: AdviceReason[] = [];
  const fromProfile = unique(
    contraindications.filter((c) => MEDICAL_CONTRAINDICATIONS.includes(c)).map((c) => MEDICAL[c] ?? c),
  );
  const flagged = recent.filter((e) => symptomsOf(e, MEDICAL).length > 0);
  const areas = unique(flagged.map((e) => e.area));
  for (const area of areas) {
    const symptoms = unique(flagged.filter((e) => e.area === area).flatMap((e) => symptomsOf(e, MEDICAL)));
    reasons.push({
      code: 'medical_first',
      area,
      detail:
        `You logged ${list(symptoms)} with pain in ${AREA_NAMES[area]}. ` +
        'Get medical attention first, before massage, heat or stretching; heat stays off until a doctor has seen it. ' +
        tellThem('doctor', area, refersOf(all, area)),
    });
  }
  if (fromProfile.length > 0) {
    reasons.push({
      code: 'medical_first',
      detail:
        `Your profile lists ${list(fromProfile)}. ` +
        'Get medical attention first, before massage, heat or stretching; heat is refused while it is in your profile. ' +
        tellThem('doctor', undefined, undefined),
    });
  }
  return reasons;
}

function neurological(
  recent: readonly PainEntry[],
  all: readonly PainEntry[],
  heatBlockedAreas: ReadonlyMap<PainArea, string[]>,
): AdviceReason[] {
  const flagged = recent.filter((e) => symptomsOf(e, NEUROLOGICAL).length > 0);
  return unique(flagged.map((e) => e.area)).map((area) => {
    const symptoms = unique(flagged.filter((e) => e.area === area).flatMap((e) => symptomsOf(e, NEUROLOGICAL)));
    const blocking = heatBlockedAreas.get(area);
    return {
      code: 'neurological_symptoms' as const,
      area,
      detail:
        `You logged ${list(symptoms)} with pain in ${AREA_NAMES[area]}, which can mean a nerve is involved. ` +
        `See ${THERAPIST} now rather than working on it yourself. ` +
        (blocking
          ? `Heat stays off until you log that a professional has seen it: an area with ${list(blocking)} cannot feel a burn. `
          : '') +
        tellThem('therapist', area, refersOf(all, area)),
    };
  });
}

/**
 * "Numbness logged in the pain log refuses heat until a clearance": per area, the heat-blocking symptoms logged
 * with pain since the last clearance (in the lookback).
 */
function heatBlockingSymptoms(uncleared: readonly PainEntry[], symptoms: readonly string[]): Map<PainArea, string[]> {
  const wanted = new Set(symptoms.map(normalizeSymptom));
  const out = new Map<PainArea, string[]>();
  for (const e of uncleared) {
    const found = (e.symptoms ?? []).map(normalizeSymptom).filter((s) => wanted.has(s));
    if (found.length === 0) continue;
    out.set(e.area, unique([...(out.get(e.area) ?? []), ...found.map((s) => NEUROLOGICAL[s] ?? s.replace(/_/g, ' '))]));
  }
  return out;
}

/**
 * "Expect steady improvement in one to four weeks": regular care for an area over the configured weeks and no
 * drop in pain (src/domain/methods.ts noImprovement) is worth a professional look.
 */
function noImprovementReasons(
  entries: readonly LogEntry[],
  now: number,
  options: AdviceOptions,
  all: readonly PainEntry[],
): AdviceReason[] {
  const found = noImprovement(entries, now, {
    noImprovementWeeks: options.noImprovementWeeks ?? DEFAULT_METHOD_POLICY.noImprovementWeeks,
    improvementPoints: options.improvementPoints ?? DEFAULT_METHOD_POLICY.improvementPoints,
  });
  return found.map((n) => ({
    code: 'no_improvement' as const,
    area: n.area,
    detail:
      `You have cared for ${AREA_NAMES[n.area]} every week for ${plural(n.weeks, 'week')} (${plural(n.methodsTried, 'method')} tried) ` +
      `and the pain has not improved (about ${n.firstWeekPain} of 10 in the first week, ${n.lastWeekPain} of 10 in the last). ` +
      `Self-care usually helps within one to four weeks: see ${THERAPIST}. ` +
      tellThem('therapist', n.area, refersOf(all, n.area)),
  }));
}

function persistent(byArea: ReadonlyMap<PainArea, PainEntry[]>, since: number): AdviceReason[] {
  const reasons: AdviceReason[] = [];
  for (const [area, entries] of byArea) {
    // The current run: the entries after the last level-0 one (the pain has not gone since).
    const lastZero = entries.map((e) => e.level).lastIndexOf(0);
    const run = entries.slice(lastZero + 1);
    const first = run[0];
    const latest = run[run.length - 1];
    if (!first || !latest || latest.at < since) continue;
    const span = latest.at - first.at;
    if (span <= PERSISTENT_AFTER_DAYS * DAY_MS || latest.level < first.level) continue;
    const change =
      latest.level === first.level ? `still at ${latest.level} of 10` : `from ${first.level} to ${latest.level} of 10`;
    reasons.push({
      code: 'persistent_pain',
      area,
      detail:
        `Pain in ${AREA_NAMES[area]} has been logged for ${plural(Math.ceil(span / DAY_MS), 'day')} without getting better (${change}). ` +
        `See ${THERAPIST}. ` +
        tellThem('therapist', area, refersOf(run, area)),
    });
  }
  return reasons;
}

function recurring(byArea: ReadonlyMap<PainArea, PainEntry[]>, since: number): AdviceReason[] {
  const reasons: AdviceReason[] = [];
  for (const [area, entries] of byArea) {
    let back: { gone: PainEntry; back: PainEntry } | undefined;
    for (let i = 1; i < entries.length; i++) {
      const gone = entries[i - 1];
      const next = entries[i];
      if (!gone || !next || gone.level !== 0 || next.level <= 0 || next.at < since) continue;
      if (next.at - gone.at <= RECURRING_WITHIN_DAYS * DAY_MS) back = { gone, back: next };
    }
    if (!back) continue;
    const after = days(back.back.at - back.gone.at);
    reasons.push({
      code: 'recurring_pain',
      area,
      detail:
        `Pain in ${AREA_NAMES[area]} came back ${after === 0 ? 'within a day' : `${plural(after, 'day')}`} after it had gone ` +
        `(now ${back.back.level} of 10). Pain that keeps returning is worth a professional look: see ${THERAPIST}. ` +
        tellThem('therapist', area, refersOf(entries, area)),
    });
  }
  return reasons;
}

/** When the user last said a doctor had seen it (`medical_cleared`, up to `now`); null when never. */
export function lastClearance(entries: readonly LogEntry[], now: number): number | null {
  let at: number | null = null;
  for (const e of entries) if (e.type === 'medical_cleared' && e.at <= now && (at === null || e.at > at)) at = e.at;
  return at;
}

/**
 * Whether to recommend a professional, and why (docs/concepts/pain-and-advice.md). Only pain entries up to `now` count, and a
 * reason needs evidence from the last ADVICE_LOOKBACK_DAYS days, so an old episode does not nag forever.
 * Fever, swelling or an injury logged with pain no longer asks for medical attention (nor blocks heat) once a
 * later `medical_cleared` says a doctor has seen it; contraindications in the profile still do until removed.
 */
export function adviseProfessional(
  entries: readonly LogEntry[],
  contraindications: readonly string[],
  now: number,
  options: AdviceOptions = {},
): ProfessionalAdvice {
  const all = painEntries(entries, now);
  const since = now - ADVICE_LOOKBACK_DAYS * DAY_MS;
  const recent = all.filter((e) => e.at >= since);
  const byArea = new Map<PainArea, PainEntry[]>();
  for (const e of all) {
    const list = byArea.get(e.area);
    if (list) list.push(e);
    else byArea.set(e.area, [e]);
  }
  const cleared = lastClearance(entries, now);
  const uncleared = cleared === null ? recent : recent.filter((e) => e.at > cleared);
  const medical = medicalFirst(uncleared, all, contraindications);
  const blockedAreas = heatBlockingSymptoms(uncleared, options.heatBlockingSymptoms ?? DEFAULT_HEAT_BLOCKING_SYMPTOMS);
  const reasons = [
    ...medical,
    ...neurological(recent, all, blockedAreas),
    ...persistent(byArea, since),
    ...recurring(byArea, since),
    ...noImprovementReasons(entries, now, options, all),
  ];
  const medicalLogged = medical.some((r) => r.area !== undefined);
  const heatBlocked =
    medical.length > 0 ||
    blockedAreas.size > 0 ||
    contraindications.some((c) => (HEAT_BLOCKING as readonly string[]).includes(c));
  const why: string[] = [];
  if (medicalLogged) why.push('your recent pain log mentions fever, swelling or a recent injury');
  for (const [area, symptoms] of blockedAreas) {
    why.push(
      `you logged ${list(symptoms)} in ${AREA_NAMES[area]}, and an area that is numb or tingling cannot feel a burn`,
    );
  }
  const heatBlockedReason =
    why.length > 0
      ? `${list(why)}: get medical advice first, before using heat; once a professional has seen it, log a clearance (POST /api/users/{userId}/clearance)`
      : undefined;
  return { recommended: reasons.length > 0, reasons, heatBlocked, ...(heatBlockedReason ? { heatBlockedReason } : {}) };
}

/** The answer to a fresh `POST /pain`: the current advice, with a message for the user. */
export function adviceForPain(
  entry: PainEntry,
  history: readonly LogEntry[],
  profile: Pick<Profile, 'contraindications'>,
  now: number,
  options: AdviceOptions = {},
): PainAdvice {
  const already = history.some(
    (e) =>
      e === entry ||
      (e.type === 'pain_logged' && e.at === entry.at && e.area === entry.area && e.level === entry.level),
  );
  const advice = adviseProfessional(already ? history : [...history, entry], profile.contraindications, now, options);
  let message: string;
  if (advice.recommended) {
    message = advice.reasons.map((r) => r.detail).join(' ');
  } else if (entry.level === 0) {
    message = `Good to hear ${AREA_NAMES[entry.area]} is free of pain. Keep taking regular breaks from sitting so it stays that way.`;
  } else {
    const heat = advice.heatBlocked ? '' : 'heat for about 10 minutes, ';
    message =
      `Logged pain ${entry.level} of 10 in ${AREA_NAMES[entry.area]}. What usually helps a knot: steady pressure on it ` +
      `for about 60 seconds, ${heat}then gentle stretches held 30 seconds, twice each, and regular breaks from sitting. ` +
      `If it goes numb or weak, spreads, or has not improved in two weeks, see ${THERAPIST}.`;
  }
  return { ...advice, message };
}
