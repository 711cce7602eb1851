// The stored form of a person's state: every state the reducer produces reads back equal, documents of the earlier
// form read as they are, and a seated person's document is a fraction of the earlier one.
import { describe, expect, it } from 'vitest';
import { applySensorEvent, dueStep, nudgePublished, policyOf, snooze, sessionIdOf } from '../../src/domain/session.js';
import { defaultProfile } from '../../src/domain/profile.js';
import { newUserState, type UserState } from '../../src/domain/user-state.js';
import { parseState, serializeState } from '../../src/store/state-codec.js';
import type { Posture, Role } from '../../src/domain/types.js';

const policy = policyOf(defaultProfile(), 1);
const T0 = Date.UTC(2026, 11, 1, 9);

/** A deterministic pseudo-random walk of sensor events, due steps, snoozes and published nudges. */
function* walk(seed: number, steps: number): Generator<UserState> {
  let x = seed;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
  let st = newUserState('ab12cd');
  let now = T0;
  const devices: Array<[string, Role]> = [
    ['desk-1', 'desk'],
    ['chair-1', 'chair'],
    ['band', 'wearable'],
  ];
  const postures: Posture[] = ['sitting', 'standing', 'away', 'moving'];
  for (let i = 0; i < steps; i++) {
    now += Math.floor(rnd() * 20 * 60_000);
    const r = rnd();
    let session = st.session;
    if (r < 0.6) {
      const [deviceId, role] = devices[Math.floor(rnd() * devices.length)]!;
      const posture = postures[Math.floor(rnd() * postures.length)]!;
      const at = now - Math.floor(rnd() * 10_000);
      session = applySensorEvent(
        session,
        { deviceId, role, posture, at, id: rnd() < 0.3 ? `m${i}` : undefined },
        policy,
        now,
      ).state;
    } else if (r < 0.8) {
      const t = dueStep(session, policy, now);
      session = t.state;
      const k = t.result?.kind;
      const cur = session.base.cur;
      if (k === 'sent' && cur)
        session = nudgePublished(session, sessionIdOf(session, cur.seq), session.book?.nudgesSent ?? 1).state;
    } else {
      session = snooze(session, policy, now).state;
    }
    st = { ...st, session };
    if (rnd() < 0.05) st = { ...st, heat: { ...st.heat, seq: st.heat.seq + 1, lastEndedAt: now } };
    yield st;
  }
}

describe('state codec', () => {
  it('reads back every state a long walk of the reducer goes through, equal to the one written', () => {
    let n = 0;
    const seen = new Set<string>();
    for (const seed of [1, 2, 3, 42, 2026]) {
      for (const st of walk(seed, 400)) {
        expect(parseState(serializeState(st))).toEqual(st);
        n += 1;
        const s = st.session;
        if (s.book) seen.add('book');
        if (s.book?.snoozes) seen.add('snoozed');
        if (s.book?.nudgesPublished) seen.add('nudged');
        if (s.base.cur) seen.add('seated');
        if (s.base.cur?.upSince) seen.add('up');
        if (Object.keys(s.base.evidence).length) seen.add('evidence');
        if (s.tail.some((e) => e.id)) seen.add('ids');
        if (st.heat.seq) seen.add('heat');
      }
    }
    expect(n).toBe(2000);
    // The walk went through the shapes that matter (else this test would prove little).
    expect([...seen].sort()).toEqual(['book', 'evidence', 'heat', 'ids', 'nudged', 'seated', 'snoozed', 'up'].sort());
  });

  it('reads documents of the earlier form (`{"session":…}`) without a migration', () => {
    // As the release before this one stored a seated person (taken from Redis).
    const old =
      '{"session":{"epoch":"1d52d3","horizon":0,"base":{"evidence":{},"posture":"unknown","since":0,"seq":0,"cur":null,"completed":[]},"tail":[{"deviceId":"td7","role":"desk","posture":"sitting","at":1796167065960}],"startedSeq":1,"book":null}}';
    const st = parseState(old);
    expect(st.session.tail).toEqual([{ deviceId: 'td7', role: 'desk', posture: 'sitting', at: 1796167065960 }]);
    expect(st.session.startedSeq).toBe(1);
    expect(st.heat).toEqual({ current: null, lastEndedAt: null, seq: 0 });
    expect(st.routine).toBeNull();
    // Written again, it takes the new form and still reads back equal.
    const again = serializeState(st);
    expect(again.startsWith('{"s":')).toBe(true);
    expect(parseState(again)).toEqual(st);
    expect(again.length).toBeLessThan(old.length / 2.5);
  });

  it('keeps fields it has no short name for (a field added later is not lost)', () => {
    const st = newUserState('e1');
    const withExtra = { ...st, session: { ...st.session, extraField: { deviceId: 'x' } } } as unknown as UserState;
    expect(parseState(serializeState(withExtra))).toEqual(withExtra);
  });

  it('keeps device ids that look like short names as they are (evidence is keyed by device id)', () => {
    let s = newUserState('e2').session;
    for (const deviceId of ['a', 'e', 'deviceId', 'v'])
      s = applySensorEvent(s, { deviceId, role: 'desk', posture: 'sitting', at: T0 }, policy, T0 + 60_000).state;
    // Fold the tail into the base's evidence.
    s = dueStep(s, policy, T0 + 120_000).state;
    const st = { ...newUserState('e2'), session: s };
    expect(Object.keys(st.session.base.evidence).sort()).toEqual(['a', 'deviceId', 'e', 'v']);
    expect(parseState(serializeState(st))).toEqual(st);
  });
});
