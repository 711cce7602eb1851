import { describe, expect, it } from 'vitest';
import { adviceForPain, adviseProfessional } from '../../src/domain/advice.js';
import type { LogEntry, PainArea } from '../../src/domain/types.js';

type PainEntry = Extract<LogEntry, { type: 'pain_logged' }>;

const DAY = 86_400_000;
const t0 = Date.parse('2024-05-01T08:00:00Z');
const day = (n: number): number => t0 + n * DAY;

const pain = (
  n: number,
  area: PainArea,
  level: number,
  extra: { refers?: string; symptoms?: string[] } = {},
): PainEntry => ({ type: 'pain_logged', at: day(n), area, level, ...extra });

const codes = (entries: LogEntry[], contraindications: string[] = [], now = day(20)) =>
  adviseProfessional(entries, contraindications, now).reasons.map((r) => r.code);

const THERAPIST = 'licensed massage, physical or sports therapist';

describe('adviseProfessional', () => {
  it('fires no rule for a mild neck pain that is improving', () => {
    const entries = [pain(0, 'neck', 3), pain(3, 'neck', 2), pain(16, 'neck', 1)];
    expect(adviseProfessional(entries, [], day(17))).toEqual({ recommended: false, reasons: [], heatBlocked: false });
  });

  it('sends numbness, weakness or spreading pain to a therapist at once, saying what to tell them', () => {
    const advice = adviseProfessional(
      [pain(19, 'neck', 4, { symptoms: ['numbness'], refers: 'down the left arm' })],
      [],
      day(20),
    );
    expect(advice.recommended).toBe(true);
    // A numb area cannot feel a burn: heat is refused until a clearance (issue #15, item 5).
    expect(advice.heatBlocked).toBe(true);
    expect(advice.heatBlockedReason).toContain('numbness in your neck');
    expect(advice.reasons).toHaveLength(1);
    const [reason] = advice.reasons;
    expect(reason?.code).toBe('neurological_symptoms');
    expect(reason?.detail).toContain('Heat stays off');
    expect(reason?.area).toBe('neck');
    expect(reason?.detail).toContain('numbness');
    expect(reason?.detail).toContain(THERAPIST);
    expect(reason?.detail).toContain('your neck');
    expect(reason?.detail).toContain('down the left arm');
    expect(reason?.detail).toContain('what makes it worse');
  });

  it('accepts weakness, spreading, spreading_pain and tingling however they are written', () => {
    for (const symptom of ['weakness', 'spreading', 'spreading_pain', 'Spreading pain', 'tingling', 'TINGLING']) {
      expect(codes([pain(19, 'upper_back', 3, { symptoms: [symptom] })])).toEqual(['neurological_symptoms']);
    }
    expect(codes([pain(19, 'upper_back', 3, { symptoms: ['stiffness'] })])).toEqual([]);
  });

  it('asks for medical attention first, and blocks heat, for fever, swelling or a recent injury', () => {
    for (const symptom of ['fever', 'swelling', 'unexplained_swelling', 'recent_injury']) {
      const advice = adviseProfessional([pain(19, 'lower_back', 5, { symptoms: [symptom] })], [], day(20));
      expect(advice.reasons.map((r) => r.code)).toEqual(['medical_first']);
      expect(advice.heatBlocked).toBe(true);
      expect(advice.reasons[0]?.detail).toContain('medical attention first');
      expect(advice.reasons[0]?.detail).toContain('your lower back');
    }
  });

  it('asks for medical attention first when the profile lists one, even without any pain logged', () => {
    const advice = adviseProfessional([], ['recent_injury'], day(20));
    expect(advice.recommended).toBe(true);
    expect(advice.heatBlocked).toBe(true);
    expect(advice.reasons).toEqual([
      { code: 'medical_first', detail: expect.stringContaining('Your profile lists a recent injury') },
    ]);
  });

  it('blocks heat for other heat-refusing contraindications without recommending anyone', () => {
    expect(adviseProfessional([], ['numbness'], day(20))).toEqual({
      recommended: false,
      reasons: [],
      heatBlocked: true,
    });
    expect(adviseProfessional([], ['diabetes'], day(20)).heatBlocked).toBe(false);
  });

  it('lists medical attention before the other reasons', () => {
    const entries = [pain(19, 'neck', 6, { symptoms: ['tingling', 'fever'] })];
    expect(codes(entries)).toEqual(['medical_first', 'neurological_symptoms']);
  });

  it('flags pain in one area logged for more than 14 days without improvement', () => {
    const entries = [
      pain(0, 'neck', 4),
      pain(8, 'neck', 6),
      pain(15, 'neck', 4, { refers: 'into the shoulder blade' }),
    ];
    const advice = adviseProfessional(entries, [], day(16));
    expect(advice.reasons.map((r) => r.code)).toEqual(['persistent_pain']);
    expect(advice.reasons[0]?.detail).toContain('15 days');
    expect(advice.reasons[0]?.detail).toContain('into the shoulder blade');
    expect(advice.reasons[0]?.detail).toContain(THERAPIST);
  });

  it('does not call pain persistent at exactly 14 days, when it improved, or when it had gone in between', () => {
    expect(codes([pain(0, 'neck', 4), pain(14, 'neck', 5)], [], day(15))).toEqual([]);
    expect(codes([pain(0, 'neck', 4), pain(15, 'neck', 3)], [], day(16))).toEqual([]);
    expect(
      codes([pain(0, 'neck', 4), pain(3, 'neck', 0), pain(12, 'neck', 4), pain(15, 'neck', 5)], [], day(16)),
    ).toEqual([]);
  });

  it('compares areas separately', () => {
    expect(codes([pain(0, 'neck', 4), pain(15, 'shoulders', 5)], [], day(16))).toEqual([]);
  });

  it('flags pain that is back within a week after it had gone', () => {
    const entries = [pain(0, 'shoulders', 3), pain(5, 'shoulders', 0), pain(9, 'shoulders', 2)];
    const advice = adviseProfessional(entries, [], day(10));
    expect(advice.reasons.map((r) => r.code)).toEqual(['recurring_pain']);
    expect(advice.reasons[0]?.detail).toContain('your shoulders');
    expect(advice.reasons[0]?.detail).toContain('4 days');
  });

  it('does not flag pain that comes back more than a week after it had gone', () => {
    expect(codes([pain(0, 'shoulders', 3), pain(5, 'shoulders', 0), pain(13, 'shoulders', 2)], [], day(14))).toEqual(
      [],
    );
  });

  it('ignores evidence older than 30 days and entries after now', () => {
    expect(codes([pain(0, 'neck', 4, { symptoms: ['numbness'] })], [], day(31))).toEqual([]);
    expect(codes([pain(25, 'neck', 4, { symptoms: ['fever'] })], [], day(20))).toEqual([]);
  });
});

describe('adviceForPain', () => {
  const profile = { contraindications: [] };

  it('answers mild pain with self-care steps, including heat', () => {
    const advice = adviceForPain(pain(0, 'neck', 3), [], profile, day(0));
    expect(advice.recommended).toBe(false);
    expect(advice.reasons).toEqual([]);
    expect(advice.message).toContain('pain 3 of 10 in your neck');
    expect(advice.message).toContain('60 seconds');
    expect(advice.message).toContain('heat');
  });

  it('leaves heat out of the self-care steps when heat is blocked', () => {
    const advice = adviceForPain(pain(0, 'neck', 3), [], { contraindications: ['impaired_sensation'] }, day(0));
    expect(advice.heatBlocked).toBe(true);
    expect(advice.message).not.toContain('heat');
  });

  it('answers a red flag with the reason itself', () => {
    const advice = adviceForPain(
      pain(0, 'glutes', 6, { symptoms: ['numbness'], refers: 'down the back of the leg' }),
      [],
      profile,
      day(0),
    );
    expect(advice.recommended).toBe(true);
    expect(advice.reasons.map((r) => r.code)).toEqual(['neurological_symptoms']);
    expect(advice.message).toContain(THERAPIST);
    expect(advice.message).toContain('down the back of the leg');
  });

  it('uses the history, whether or not it already holds the new entry', () => {
    const history = [pain(0, 'neck', 4), pain(8, 'neck', 5)];
    const entry = pain(15, 'neck', 5);
    const fresh = adviceForPain(entry, history, profile, day(15));
    const stored = adviceForPain(entry, [...history, entry], profile, day(15));
    expect(fresh.reasons.map((r) => r.code)).toEqual(['persistent_pain']);
    expect(stored).toEqual(fresh);
  });

  it('welcomes a pain that has gone', () => {
    const advice = adviceForPain(pain(3, 'lower_back', 0), [pain(0, 'lower_back', 2)], profile, day(3));
    expect(advice.recommended).toBe(false);
    expect(advice.message).toContain('free of pain');
  });
});

describe('medical clearance', () => {
  const cleared = (n: number, note?: string): LogEntry => ({
    type: 'medical_cleared',
    at: day(n),
    ...(note ? { note } : {}),
  });

  it('stops asking for medical attention, and unblocks heat, for fever, swelling or an injury logged before it', () => {
    for (const symptom of ['fever', 'swelling', 'recent_injury']) {
      const entries = [pain(18, 'neck', 5, { symptoms: [symptom] }), cleared(19, 'GP says it is fine')];
      expect(adviseProfessional(entries, [], day(20))).toEqual({ recommended: false, reasons: [], heatBlocked: false });
    }
  });

  it('asks again when fever, swelling or an injury is logged after the clearance', () => {
    const entries = [
      pain(15, 'neck', 5, { symptoms: ['fever'] }),
      cleared(16),
      pain(19, 'shoulders', 4, { symptoms: ['swelling'] }),
    ];
    const advice = adviseProfessional(entries, [], day(20));
    expect(advice.reasons.map((r) => [r.code, r.area])).toEqual([['medical_first', 'shoulders']]);
    expect(advice.heatBlocked).toBe(true);
  });

  it('uses the latest clearance, whatever order the entries come in', () => {
    const entries = [cleared(19), pain(17, 'neck', 5, { symptoms: ['fever'] }), cleared(10)];
    expect(codes(entries)).toEqual([]);
  });

  it('ignores a clearance dated after now', () => {
    expect(codes([pain(18, 'neck', 5, { symptoms: ['fever'] }), cleared(25)])).toEqual(['medical_first']);
  });

  it('does not clear contraindications in the profile: they block until removed from it', () => {
    const advice = adviseProfessional([cleared(19)], ['recent_injury'], day(20));
    expect(advice.reasons.map((r) => r.code)).toEqual(['medical_first']);
    expect(advice.heatBlocked).toBe(true);
    expect(adviseProfessional([cleared(19)], ['numbness'], day(20)).heatBlocked).toBe(true);
  });

  it('does not clear nerve symptoms, persistent or recurring pain: those still need a therapist', () => {
    const entries = [
      pain(0, 'lower_back', 4),
      pain(15, 'lower_back', 5, { symptoms: ['fever', 'numbness'] }),
      cleared(16),
    ];
    expect(codes(entries, [], day(17))).toEqual(['neurological_symptoms', 'persistent_pain']);
  });

  it('lets adviceForPain offer heat again once cleared', () => {
    const history = [pain(1, 'neck', 5, { symptoms: ['fever'] }), cleared(2)];
    const advice = adviceForPain(pain(3, 'neck', 3), history, { contraindications: [] }, day(3));
    expect(advice.recommended).toBe(false);
    expect(advice.heatBlocked).toBe(false);
    expect(advice.message).toContain('heat');
  });
});

describe('numbness and tingling refuse heat until a clearance', () => {
  const cleared = (n: number): LogEntry => ({ type: 'medical_cleared', at: day(n) });

  it('refuses heat for numbness or tingling however written, and not for weakness or spreading pain', () => {
    for (const symptom of ['numbness', 'Numbness', 'tingling', 'TINGLING']) {
      const a = adviseProfessional([pain(19, 'shoulders', 4, { symptoms: [symptom] })], [], day(20));
      expect(a.heatBlocked).toBe(true);
      expect(a.heatBlockedReason).toContain('cannot feel a burn');
      expect(a.heatBlockedReason).toContain('your shoulders');
    }
    for (const symptom of ['weakness', 'spreading pain']) {
      const a = adviseProfessional([pain(19, 'shoulders', 4, { symptoms: [symptom] })], [], day(20));
      expect(a.heatBlocked).toBe(false);
      expect(a.heatBlockedReason).toBeUndefined();
    }
  });

  it('lets a clearance lift the refusal but keeps the advice to see a therapist', () => {
    const a = adviseProfessional([pain(15, 'neck', 4, { symptoms: ['numbness'] }), cleared(16)], [], day(20));
    expect(a.heatBlocked).toBe(false);
    expect(a.reasons.map((r) => r.code)).toEqual(['neurological_symptoms']);
    expect(a.reasons[0]?.detail).not.toContain('Heat stays off');
    const again = adviseProfessional(
      [pain(15, 'neck', 4, { symptoms: ['numbness'] }), cleared(16), pain(18, 'neck', 4, { symptoms: ['tingling'] })],
      [],
      day(20),
    );
    expect(again.heatBlocked).toBe(true);
  });

  it('follows the configured symptoms', () => {
    const entries = [pain(19, 'neck', 4, { symptoms: ['numbness'] })];
    expect(adviseProfessional(entries, [], day(20), { heatBlockingSymptoms: [] }).heatBlocked).toBe(false);
    expect(
      adviseProfessional([pain(19, 'neck', 4, { symptoms: ['weakness'] })], [], day(20), {
        heatBlockingSymptoms: ['weakness'],
      }).heatBlocked,
    ).toBe(true);
  });

  it('names both fever and numbness when both are logged', () => {
    const a = adviseProfessional([pain(19, 'neck', 4, { symptoms: ['fever', 'numbness'] })], [], day(20));
    expect(a.heatBlockedReason).toContain('fever, swelling or a recent injury');
    expect(a.heatBlockedReason).toContain('numbness in your neck');
  });
});

describe('no improvement after four weeks of regular care', () => {
  const stretch = (n: number, area: PainArea, painBefore: number): LogEntry => ({
    type: 'method_tried',
    at: day(n),
    methodId: `s${n}-${area}`,
    method: 'stretching',
    area,
    source: 'manual',
    painBefore,
  });

  it('adds a no_improvement reason with its own code, saying what to tell the therapist', () => {
    const entries = [stretch(1, 'neck', 5), stretch(8, 'neck', 5), stretch(15, 'neck', 6), stretch(23, 'neck', 5)];
    const a = adviseProfessional(entries, [], day(28));
    expect(a.reasons.map((r) => r.code)).toEqual(['no_improvement']);
    expect(a.recommended).toBe(true);
    expect(a.heatBlocked).toBe(false);
    expect(a.reasons[0]?.detail).toContain('4 weeks');
    expect(a.reasons[0]?.detail).toContain('one to four weeks');
    expect(a.reasons[0]?.detail).toContain(THERAPIST);
  });

  it('does not add it when the pain went down', () => {
    const entries = [stretch(1, 'neck', 6), stretch(8, 'neck', 5), stretch(15, 'neck', 4), stretch(23, 'neck', 3)];
    expect(codes(entries, [], day(28))).toEqual([]);
  });
});
