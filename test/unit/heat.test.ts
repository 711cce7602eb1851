// The heat rules (src/domain/heat.ts): refusals and their order, cool-down, scaled durations, the claims that keep
// ON and OFF from going out twice, and the watchdog's decisions. Pure: no Redis, no MQTT, no clock.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLAIM_LEASE_MS,
  HEAT_DUE_TOLERANCE_MS,
  OFF_REPORT_GRACE_MS,
  REFUSAL_KIND,
  WATCHDOG_REPEAT_MS,
  autoOffSecondsFor,
  heatDurationMs,
  heatPolicyOf,
  heatReconcile,
  offDue,
  offReleased,
  offSent,
  onDue,
  onReleased,
  onSent,
  padGone,
  padReport,
  startHeat,
  stopHeat,
  type HeatEffect,
  type HeatPolicy,
  type StartInput,
} from '../../src/domain/heat.js';
import { defaultProfile, profileSchema, type Profile } from '../../src/domain/profile.js';
import { HEAT_BLOCKING, type Device } from '../../src/domain/types.js';
import type { HeatState } from '../../src/domain/user-state.js';

const NOW = Date.parse('2026-03-02T09:00:00Z');
const empty = (): HeatState => ({ current: null, lastEndedAt: null, seq: 0 });
const pad = (deviceId: string): Pick<Device, 'deviceId' | 'role'> => ({ deviceId, role: 'heatpad' });
const watch: Pick<Device, 'deviceId' | 'role'> = { deviceId: 'watch', role: 'wearable' };

const policy = (overrides: Partial<Profile> = {}, timeScale = 1): HeatPolicy =>
  heatPolicyOf(profileSchema.parse({ ...defaultProfile(), ...overrides }), timeScale);

const input = (over: Partial<StartInput> = {}): StartInput => ({
  source: 'api',
  devices: [watch, pad('pad-1'), pad('pad-2')],
  heatBlocked: false,
  epoch: 'ab12',
  ...over,
});

/** A started session (asserting it started). */
function started(s = empty(), over: Partial<StartInput> = {}, p = policy(), now = NOW) {
  const t = startHeat(s, input(over), p, now);
  if (!t.result.ok) throw new Error(`expected a start, got ${t.result.code}`);
  return { state: t.state, session: t.result.session, t };
}

const logs = (effects: HeatEffect[]) => effects.flatMap((e) => (e.kind === 'log' ? [e.entry] : []));
const kinds = (effects: HeatEffect[]) => effects.map((e) => e.kind);

/** ON claimed and recorded at `now`. */
function onOut(s: HeatState, sessionId: string, now: number): HeatState {
  const c = onDue(s, sessionId, 'on-token', now);
  expect(c.result.kind).toBe('claimed');
  return onSent(c.state, sessionId, now).state;
}

describe('heat: durations follow the time scale', () => {
  it('a session lasts its minutes divided by UNKNOT_TIME_SCALE; offAt is real time', () => {
    expect(heatDurationMs(10, 1)).toBe(600_000);
    expect(heatDurationMs(10, 600)).toBe(1000);
    expect(heatDurationMs(0.001, 100_000)).toBe(1); // never zero
    const { session } = started(empty(), { minutes: 10 }, policy({}, 600));
    expect(session).toMatchObject({ startedAt: NOW, offAt: NOW + 1000, minutes: 10, autoOffSeconds: 1 });
  });

  it('the ON carries the scaled length in whole seconds, rounded up, at least 1', () => {
    expect(autoOffSecondsFor(600_000)).toBe(600);
    expect(autoOffSecondsFor(85_714)).toBe(86);
    expect(autoOffSecondsFor(1)).toBe(1);
    expect(started(empty(), { minutes: 10 }, policy({}, 7)).session.autoOffSeconds).toBe(86);
    expect(started(empty(), { minutes: 1 }, policy({}, 600)).session.autoOffSeconds).toBe(1);
  });

  it('the cool-down is divided by the time scale too', () => {
    expect(policy({ heatCooldownMinutes: 30 }, 1).cooldownMs).toBe(1_800_000);
    expect(policy({ heatCooldownMinutes: 30 }, 600).cooldownMs).toBe(3000);
    expect(policy({ heatCooldownMinutes: 0 }, 600).cooldownMs).toBe(0);
  });
});

describe('heat: start', () => {
  it('starts on the first heat pad with the default minutes, logs heat_on and schedules OFF before ON', () => {
    const { state, session, t } = started(empty(), {}, policy(), NOW);
    expect(session).toMatchObject({
      sessionId: 'ab12h1',
      deviceId: 'pad-1',
      minutes: 10,
      offAt: NOW + 600_000,
      ended: null,
      onPublished: false,
      offPublished: false,
      source: 'api',
    });
    expect(state).toMatchObject({ seq: 1, current: session });
    expect(t.changed).toBe(true);
    expect(t.effects).toEqual([
      {
        kind: 'log',
        entry: {
          type: 'heat_on',
          at: NOW,
          sessionId: 'ab12h1',
          minutes: 10,
          deviceId: 'pad-1',
          offAt: NOW + 600_000,
          source: 'api',
        },
      },
      { kind: 'schedule_off', sessionId: 'ab12h1', dueAt: NOW + 600_000 },
      { kind: 'schedule_on', sessionId: 'ab12h1', dueAt: NOW },
    ]);
  });

  it('uses the pad asked for and the minutes asked for', () => {
    const { session } = started(empty(), { deviceId: 'pad-2', minutes: 2.5 });
    expect(session).toMatchObject({ deviceId: 'pad-2', minutes: 2.5, offAt: NOW + 150_000 });
  });

  it('numbers sessions per user state, so ids never repeat', () => {
    const first = started();
    const stopped = stopHeat(first.state, 'manual', NOW + 1000);
    const done = offSent(stopped.state, first.session.sessionId).state;
    const second = started(done, {}, policy({ heatCooldownMinutes: 0 }), NOW + 2000);
    expect(second.session.sessionId).toBe('ab12h2');
  });
});

describe('heat: refusals', () => {
  const refused = (s: HeatState, over: Partial<StartInput>, p = policy(), now = NOW) => {
    const t = startHeat(s, input(over), p, now);
    if (t.result.ok) throw new Error('expected a refusal');
    return { ...t.result, t };
  };

  it('no_heat_pad (404): no pad at all, a device that is not a heat pad, or an unknown id', () => {
    for (const over of [
      { devices: [watch] },
      { devices: [] },
      { deviceId: 'watch' },
      { deviceId: 'someone-elses-pad' },
    ]) {
      const r = refused(empty(), over);
      expect(r).toMatchObject({ code: 'no_heat_pad', kind: 'not_found' });
    }
  });

  it.each(HEAT_BLOCKING.map((c) => [c]))(
    'contraindicated (409) with %s in the profile, saying to get medical advice first',
    (c) => {
      const r = refused(empty(), {}, policy({ contraindications: [c] }));
      expect(r).toMatchObject({ code: 'contraindicated', kind: 'conflict' });
      expect(r.detail).toMatch(/get medical advice first/);
    },
  );

  it('contraindicated when the pain-log advice blocks heat; diabetes alone does not', () => {
    const r = refused(empty(), { heatBlocked: true });
    expect(r).toMatchObject({ code: 'contraindicated', kind: 'conflict' });
    expect(r.detail).toMatch(/get medical advice first/);
    expect(startHeat(empty(), input(), policy({ contraindications: ['diabetes'] }), NOW).result.ok).toBe(true);
  });

  it.each([[0], [-1], [Number.NaN], [Number.POSITIVE_INFINITY], ['10'], [null], [true], [{}], [[5]]])(
    'invalid_minutes (422) for %j',
    (minutes) => {
      expect(refused(empty(), { minutes })).toMatchObject({ code: 'invalid_minutes', kind: 'unprocessable' });
    },
  );

  it('too_long (422) above heat.maxMinutes; exactly the limit is fine', () => {
    expect(refused(empty(), { minutes: 15.5 })).toMatchObject({ code: 'too_long', kind: 'unprocessable' });
    expect(refused(empty(), { minutes: 6 }, policy({ heat: { defaultMinutes: 5, maxMinutes: 5 } }))).toMatchObject({
      code: 'too_long',
    });
    expect(startHeat(empty(), input({ minutes: 15 }), policy(), NOW).result.ok).toBe(true);
    expect(refused(empty(), { minutes: 21 }, { ...policy(), maxMinutes: 20 })).toMatchObject({ code: 'too_long' });
  });

  it('the limit is never above 20 minutes, whatever a policy says', () => {
    const p = heatPolicyOf({ ...defaultProfile(), heat: { defaultMinutes: 10, maxMinutes: 30 } }, 1);
    expect(p.maxMinutes).toBe(20);
  });

  it('already_on (409) while a session is live, and while the last OFF is still being sent', () => {
    const { state, session } = started();
    expect(refused(state, {}, policy({ heatCooldownMinutes: 0 }), NOW + 1000)).toMatchObject({
      code: 'already_on',
      kind: 'conflict',
    });
    const stopped = stopHeat(state, 'manual', NOW + 2000).state;
    expect(refused(stopped, {}, policy({ heatCooldownMinutes: 0 }), NOW + 3000)).toMatchObject({ code: 'already_on' });
    const off = offSent(stopped, session.sessionId).state;
    expect(startHeat(off, input(), policy({ heatCooldownMinutes: 0 }), NOW + 3000).result.ok).toBe(true);
    // With a cool-down, that is what the user is told while the OFF is still going out.
    expect(refused(stopped, {}, policy({ heatCooldownMinutes: 1 }), NOW + 3000)).toMatchObject({
      code: 'cooling_down',
    });
  });

  it('cooling_down (409) within the cool-down after the last session ended, saying when heat is available again', () => {
    const { state, session } = started(empty(), {}, policy({}, 600));
    const ended = offSent(stopHeat(state, 'manual', NOW + 500).state, session.sessionId).state;
    const p = policy({ heatCooldownMinutes: 30 }, 600); // 3 s
    const r = refused(ended, {}, p, NOW + 500 + 2999);
    expect(r).toMatchObject({ code: 'cooling_down', kind: 'conflict' });
    expect(r.detail).toContain(new Date(NOW + 500 + 3000).toISOString());
    expect(startHeat(ended, input(), p, NOW + 500 + 3000).result.ok).toBe(true);
  });

  it('refuses in the contract order: no pad, contraindicated, invalid minutes, too long, already on, cooling down', () => {
    const live = started().state;
    const cooling: HeatState = { current: null, lastEndedAt: NOW, seq: 3 };
    const blocked = policy({ contraindications: ['fever'] });
    expect(refused(live, { devices: [], minutes: -1 }, blocked).code).toBe('no_heat_pad');
    expect(refused(live, { minutes: -1 }, blocked).code).toBe('contraindicated');
    expect(refused(live, { minutes: -1 }).code).toBe('invalid_minutes');
    expect(refused(live, { minutes: 99 }).code).toBe('too_long');
    expect(refused({ ...live, lastEndedAt: NOW }, {}).code).toBe('already_on');
    expect(refused(cooling, {}).code).toBe('cooling_down');
  });

  it('a refusal changes nothing and logs heat_refused with the reason', () => {
    const r = refused(empty(), { minutes: 0, source: 'button' });
    expect(r.t.changed).toBe(false);
    expect(r.t.state).toEqual(empty());
    expect(r.t.effects).toEqual([
      {
        kind: 'log',
        entry: { type: 'heat_refused', at: NOW, reason: 'invalid_minutes', deviceId: 'pad-1', source: 'button' },
      },
    ]);
    expect(Object.keys(REFUSAL_KIND).sort()).toEqual([
      'already_on',
      'contraindicated',
      'cooling_down',
      'invalid_minutes',
      'no_heat_pad',
      'too_long',
    ]);
  });
});

describe('heat: stop', () => {
  it('not_on when nothing is on', () => {
    expect(stopHeat(empty(), 'manual', NOW).result).toEqual({ ok: false, code: 'not_on' });
  });

  it('ends the live session (manual), logs heat_off and asks for the OFF at once', () => {
    const { state, session } = started();
    const t = stopHeat(state, 'manual', NOW + 5000);
    expect(t.result).toEqual({ ok: true, sessionId: session.sessionId, stoppedAt: NOW + 5000 });
    expect(t.state.current?.ended).toEqual({ at: NOW + 5000, reason: 'manual' });
    expect(t.state.lastEndedAt).toBe(NOW + 5000);
    expect(t.effects).toEqual([
      {
        kind: 'log',
        entry: { type: 'heat_off', at: NOW + 5000, sessionId: session.sessionId, reason: 'manual', deviceId: 'pad-1' },
      },
      { kind: 'send_off', sessionId: session.sessionId },
    ]);
    expect(stopHeat(t.state, 'manual', NOW + 6000).result).toEqual({ ok: false, code: 'not_on' });
  });
});

describe('heat: the ON', () => {
  it('is claimed once, carries the auto-off, and is recorded', () => {
    const { state, session } = started(empty(), { minutes: 10 }, policy({}, 600));
    const c = onDue(state, session.sessionId, 'a', NOW + 5);
    expect(c.result).toEqual({ kind: 'claimed', deviceId: 'pad-1', autoOffSeconds: 1 });
    expect(onDue(c.state, session.sessionId, 'b', NOW + 6).result.kind).toBe('wait');
    const sent = onSent(c.state, session.sessionId, NOW + 7);
    expect(sent.state.current).toMatchObject({ onPublished: true, onPublishedAt: NOW + 7, onClaim: null });
    expect(sent.result).toEqual({ resendOff: null });
    expect(onDue(sent.state, session.sessionId, 'c', NOW + 8).result).toEqual({ kind: 'already' });
  });

  it('a late ON carries only the time left, rounded up', () => {
    const { state, session } = started(empty(), { minutes: 10 });
    expect(onDue(state, session.sessionId, 'a', NOW + 90_500).result).toMatchObject({ autoOffSeconds: 510 });
  });

  it('is never sent once its session has ended, or past offAt (a stale job after a restart)', () => {
    const { state, session } = started(empty(), { minutes: 10 }, policy({}, 600));
    expect(onDue(state, session.sessionId, 'a', session.offAt).result).toMatchObject({ kind: 'stale' });
    const stopped = stopHeat(state, 'manual', NOW + 100).state;
    expect(onDue(stopped, session.sessionId, 'a', NOW + 101).result).toMatchObject({ kind: 'stale' });
    expect(onDue(state, 'other', 'a', NOW + 1).result).toMatchObject({ kind: 'stale' });
  });

  it('a claim whose holder died lapses and can be taken over; a released claim at once', () => {
    const { state, session } = started();
    const c = onDue(state, session.sessionId, 'a', NOW).state;
    expect(onDue(c, session.sessionId, 'b', NOW + CLAIM_LEASE_MS - 1).result.kind).toBe('wait');
    expect(onDue(c, session.sessionId, 'b', NOW + CLAIM_LEASE_MS).result.kind).toBe('claimed');
    const released = onReleased(c, session.sessionId, 'a').state;
    expect(onDue(released, session.sessionId, 'b', NOW + 1).result.kind).toBe('claimed');
    expect(onReleased(c, session.sessionId, 'not-mine').changed).toBe(false);
  });

  it('asks to send OFF again when the OFF went out before a (lapsed) ON was recorded', () => {
    const { state, session } = started();
    const claimed = onDue(state, session.sessionId, 'a', NOW).state;
    const stopped = stopHeat(claimed, 'manual', NOW + 10).state;
    // The ON's holder is slow beyond its lease: the OFF may go.
    const off = offDue(stopped, session.sessionId, 'b', NOW + CLAIM_LEASE_MS + 1);
    expect(off.result.kind).toBe('claimed');
    const published = offSent(off.state, session.sessionId).state;
    expect(onSent(published, session.sessionId, NOW + CLAIM_LEASE_MS + 2).result).toEqual({ resendOff: 'manual' });
  });
});

describe('heat: the OFF', () => {
  const p600 = policy({}, 600);

  it('is not due before offAt', () => {
    const { state, session } = started(empty(), {}, p600);
    expect(offDue(state, session.sessionId, 'a', session.offAt - HEAT_DUE_TOLERANCE_MS - 1).result).toEqual({
      kind: 'not_due',
      until: session.offAt,
    });
  });

  it('at offAt ends the session (timer), logs heat_off and claims the OFF', () => {
    const { state, session } = started(empty(), {}, p600);
    const s1 = onOut(state, session.sessionId, NOW + 3);
    const t = offDue(s1, session.sessionId, 'a', session.offAt + 4);
    expect(t.result).toEqual({
      kind: 'claimed',
      deviceId: 'pad-1',
      reason: 'timer',
      offAt: session.offAt,
      takeover: false,
    });
    expect(logs(t.effects)).toEqual([
      { type: 'heat_off', at: session.offAt + 4, sessionId: session.sessionId, reason: 'timer', deviceId: 'pad-1' },
    ]);
    expect(t.state.current?.ended).toEqual({ at: session.offAt + 4, reason: 'timer' });
    expect(t.state.lastEndedAt).toBe(session.offAt + 4);
    // A second instance or a retried job meanwhile: it waits for the claim, then finds it done.
    expect(offDue(t.state, session.sessionId, 'b', session.offAt + 5).result.kind).toBe('wait');
    const recorded = offSent(t.state, session.sessionId);
    expect(recorded.state.current).toMatchObject({ offPublished: true, offClaim: null });
    expect(offDue(recorded.state, session.sessionId, 'b', session.offAt + 6).result).toEqual({
      kind: 'done',
      why: 'OFF already published',
    });
    expect(logs(offDue(recorded.state, session.sessionId, 'b', session.offAt + 6).effects)).toEqual([]);
  });

  it('a few ms early (clock skew between processes) still counts as due', () => {
    const { state, session } = started(empty(), {}, p600);
    expect(offDue(state, session.sessionId, 'a', session.offAt - HEAT_DUE_TOLERANCE_MS).result.kind).toBe('claimed');
  });

  it('when the service was down at offAt it goes out at once, logged when it is sent', () => {
    const { state, session } = started(empty(), {}, p600);
    const s1 = onOut(state, session.sessionId, NOW + 3);
    const t = offDue(s1, session.sessionId, 'a', session.offAt + 3_600_000);
    expect(t.result.kind).toBe('claimed');
    expect(logs(t.effects)[0]).toMatchObject({ type: 'heat_off', reason: 'timer', at: session.offAt + 3_600_000 });
  });

  it('after a manual stop it carries reason manual', () => {
    const { state, session } = started();
    const stopped = stopHeat(onOut(state, session.sessionId, NOW), 'manual', NOW + 100).state;
    expect(offDue(stopped, session.sessionId, 'a', NOW + 101).result).toMatchObject({
      kind: 'claimed',
      reason: 'manual',
    });
  });

  it('waits while the ON is in flight, so the pad hears OFF last', () => {
    const { state, session } = started();
    const onClaimed = onDue(state, session.sessionId, 'on', NOW).state;
    const stopped = stopHeat(onClaimed, 'manual', NOW + 10).state;
    const r = offDue(stopped, session.sessionId, 'off', NOW + 11).result;
    expect(r.kind).toBe('wait');
    const afterOn = onSent(stopped, session.sessionId, NOW + 12).state;
    expect(offDue(afterOn, session.sessionId, 'off', NOW + 13).result.kind).toBe('claimed');
  });

  it('a lapsed or released OFF claim is taken over (the OFF is never lost)', () => {
    const { state, session } = started(empty(), {}, p600);
    const t = offDue(state, session.sessionId, 'a', session.offAt);
    // A lapsed claim may have been published by its dead holder: the taker is told so (it asks the broker).
    expect(offDue(t.state, session.sessionId, 'b', session.offAt + CLAIM_LEASE_MS).result).toMatchObject({
      kind: 'claimed',
      takeover: true,
    });
    const released = offReleased(t.state, session.sessionId, 'a').state;
    expect(offDue(released, session.sessionId, 'b', session.offAt + 1).result).toMatchObject({
      kind: 'claimed',
      takeover: false,
    });
  });

  it('a job for a session that is no longer current does nothing', () => {
    const { state } = started();
    expect(offDue(state, 'ab12h0', 'a', NOW + 10_000_000).result).toMatchObject({ kind: 'done' });
    expect(offDue(empty(), 'ab12h1', 'a', NOW).result).toMatchObject({ kind: 'done' });
  });
});

describe('heat: the watchdog', () => {
  it('a pad reporting ON with no session at all is switched off (sessionId none, reason watchdog)', () => {
    const t = padReport(empty(), 'pad-1', 'on', NOW, NOW);
    expect(t.result).toEqual({ kind: 'watchdog', sessionId: 'none' });
    expect(t.effects).toEqual([
      { kind: 'log', entry: { type: 'heat_off', at: NOW, sessionId: 'none', reason: 'watchdog', deviceId: 'pad-1' } },
      { kind: 'publish_off', deviceId: 'pad-1', sessionId: 'none', reason: 'watchdog' },
    ]);
  });

  it('acts at most every few seconds per pad (two instances see one report), then again', () => {
    const t = padReport(empty(), 'pad-1', 'on', NOW, NOW);
    expect(padReport(t.state, 'pad-1', 'on', NOW + 10, NOW + 10).result).toEqual({ kind: 'suppressed' });
    expect(padReport(t.state, 'pad-2', 'on', NOW + 10, NOW + 10).result.kind).toBe('watchdog');
    expect(padReport(t.state, 'pad-1', 'on', NOW + WATCHDOG_REPEAT_MS, NOW + WATCHDOG_REPEAT_MS).result.kind).toBe(
      'watchdog',
    );
  });

  it('a pad ON during its session is fine; another pad ON meanwhile is switched off', () => {
    const { state } = started();
    expect(padReport(state, 'pad-1', 'on', NOW + 100, NOW + 100).result.kind).toBe('consistent');
    expect(padReport(state, 'pad-2', 'on', NOW + 100, NOW + 100).result).toEqual({
      kind: 'watchdog',
      sessionId: 'none',
    });
  });

  it('a pad still ON after offAt ends its session (watchdog) and sends OFF through the session path', () => {
    const { state, session } = started(empty(), {}, policy({}, 600));
    const s1 = onOut(state, session.sessionId, NOW);
    const t = padReport(s1, 'pad-1', 'on', session.offAt + 10, session.offAt + 10);
    expect(t.result).toEqual({ kind: 'watchdog', sessionId: session.sessionId });
    expect(t.state.current?.ended).toEqual({ at: session.offAt + 10, reason: 'watchdog' });
    expect(kinds(t.effects)).toEqual(['log', 'send_off']);
    expect(logs(t.effects)[0]).toMatchObject({ type: 'heat_off', reason: 'watchdog', sessionId: session.sessionId });
  });

  it('a pad ON after our OFF went out is switched off again, logged against that session', () => {
    const { state, session } = started();
    const stopped = stopHeat(onOut(state, session.sessionId, NOW), 'manual', NOW + 100).state;
    const pending = padReport(stopped, 'pad-1', 'on', NOW + 101, NOW + 101);
    expect(pending.result).toEqual({ kind: 'off_pending', sessionId: session.sessionId });
    expect(pending.effects).toEqual([{ kind: 'send_off', sessionId: session.sessionId }]);
    const off = offSent(stopped, session.sessionId).state;
    const t = padReport(off, 'pad-1', 'on', NOW + 200, NOW + 200);
    expect(t.result).toEqual({ kind: 'watchdog', sessionId: session.sessionId });
    expect(kinds(t.effects)).toEqual(['log', 'publish_off']);
  });

  it('a pad reporting OFF during its session ends it as manual and sends nothing', () => {
    const { state, session } = started();
    const s1 = onOut(state, session.sessionId, NOW);
    const at = NOW + OFF_REPORT_GRACE_MS + 1000;
    const t = padReport(s1, 'pad-1', 'off', at, at);
    expect(t.result).toEqual({ kind: 'ended', sessionId: session.sessionId, reason: 'manual' });
    expect(t.state.current).toMatchObject({ ended: { at, reason: 'manual' }, offPublished: true });
    expect(t.effects).toEqual([
      {
        kind: 'log',
        entry: { type: 'heat_off', at, sessionId: session.sessionId, reason: 'manual', deviceId: 'pad-1' },
      },
      { kind: 'session_done', sessionId: session.sessionId },
    ]);
    // And switched on again at the plug afterwards: the watchdog turns it off.
    expect(padReport(t.state, 'pad-1', 'on', at + 1, at + 1).result).toEqual({
      kind: 'watchdog',
      sessionId: session.sessionId,
    });
  });

  it('an OFF report from before our ON arrived does not end the session', () => {
    const { state, session } = started();
    expect(padReport(state, 'pad-1', 'off', NOW + 1, NOW + 1).result.kind).toBe('consistent');
    const s1 = onOut(state, session.sessionId, NOW + 10);
    expect(padReport(s1, 'pad-1', 'off', NOW + 10 + OFF_REPORT_GRACE_MS - 1, NOW + 500).result.kind).toBe('consistent');
  });

  it('an OFF report at offAt is the pad’s own timer: ended as timer, and our OFF still goes out', () => {
    const { state, session } = started();
    const s1 = onOut(state, session.sessionId, NOW);
    const t = padReport(s1, 'pad-1', 'off', session.offAt, session.offAt);
    expect(t.result).toEqual({ kind: 'ended', sessionId: session.sessionId, reason: 'timer' });
    expect(t.state.current?.offPublished).toBe(false);
    expect(offDue(t.state, session.sessionId, 'a', session.offAt + 1).result).toMatchObject({
      kind: 'claimed',
      reason: 'timer',
    });
  });

  it('OFF reports with no live session change nothing', () => {
    expect(padReport(empty(), 'pad-1', 'off', NOW, NOW)).toMatchObject({ changed: false, effects: [] });
  });
});

describe('heat: pads removed, restarts', () => {
  it('a pad deleted mid-session ends it and asks for an OFF to its old address', () => {
    const { state, session } = started();
    const t = padGone(state, 'pad-1', NOW + 10);
    expect(t.result).toEqual({ sendOff: true, sessionId: session.sessionId, reason: 'manual' });
    expect(t.state.current).toMatchObject({ ended: { reason: 'manual' }, offPublished: true });
    expect(padGone(t.state, 'pad-1', NOW + 11).result).toEqual({ sendOff: false });
    expect(padGone(state, 'pad-2', NOW + 11).result).toEqual({ sendOff: false });
  });

  it('reconcile asks for the jobs the state calls for', () => {
    const { state, session } = started();
    expect(heatReconcile(state, NOW + 1)).toEqual([
      { kind: 'schedule_off', sessionId: session.sessionId, dueAt: session.offAt },
      { kind: 'schedule_on', sessionId: session.sessionId, dueAt: NOW + 1 },
    ]);
    const s1 = onOut(state, session.sessionId, NOW);
    expect(heatReconcile(s1, NOW + 1)).toEqual([
      { kind: 'schedule_off', sessionId: session.sessionId, dueAt: session.offAt },
    ]);
    const stopped = stopHeat(s1, 'manual', NOW + 2).state;
    expect(heatReconcile(stopped, NOW + 3)).toEqual([
      { kind: 'schedule_off', sessionId: session.sessionId, dueAt: NOW + 3 },
    ]);
    expect(heatReconcile(offSent(stopped, session.sessionId).state, NOW + 4)).toEqual([]);
    expect(heatReconcile(empty(), NOW)).toEqual([]);
  });
});

describe('heat: properties', () => {
  type Op =
    | { op: 'start'; minutes: number }
    | { op: 'stop' }
    | { op: 'on'; who: number }
    | { op: 'onSent'; who: number }
    | { op: 'off'; who: number }
    | { op: 'offSent'; who: number }
    | { op: 'report'; state: 'on' | 'off' }
    | { op: 'tick'; ms: number };

  const who = fc.integer({ min: 0, max: 1 });
  const ops: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant('start' as const), minutes: fc.integer({ min: 1, max: 20 }) }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('stop' as const) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('on' as const), who }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('onSent' as const), who }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('off' as const), who }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('offSent' as const), who }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('report' as const),
        state: fc.constantFrom('on' as const, 'off' as const),
      }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 1500 }) }) },
  );

  it('two workers interleaved in any order: ON at most once per session, never after its end; OFF once, and always in the end', () => {
    const p = policy({ heatCooldownMinutes: 0 }, 600); // sessions of 100 ms to 2 s
    const seen = { ons: 0, offs: 0 };
    fc.assert(
      fc.property(fc.array(ops, { minLength: 10, maxLength: 80 }), (seq) => {
        let s = empty();
        let now = NOW;
        // What each of two workers holds: a claimed command it has "published" but not recorded yet.
        const holding: Array<{ on?: string; off?: string; since?: number }> = [{}, {}];
        const onsPublished = new Map<string, number>();
        const offsPublished = new Map<string, number>();
        const ended = new Map<string, number>();
        const token = (who: number) => `w${who}`;
        for (const o of seq) {
          const cur = s.current;
          if (o.op === 'tick') {
            // Workers that stay alive record what they published within their lease (a lapsed claim means a
            // dead holder, and then a duplicate OFF is the price of never losing one).
            for (const h of holding) {
              if (h.since === undefined || now + o.ms - h.since < CLAIM_LEASE_MS) continue;
              if (h.on) s = onSent(s, h.on, now).state;
              if (h.off) s = offSent(s, h.off).state;
              h.on = h.off = h.since = undefined;
            }
            now += o.ms;
          }
          if (o.op === 'start') s = startHeat(s, input({ minutes: o.minutes }), p, now).state;
          if (o.op === 'stop') s = stopHeat(s, 'manual', now).state;
          if (o.op === 'report') s = padReport(s, 'pad-1', o.state, now, now).state;
          if (o.op === 'on' && cur && !holding[o.who]!.on) {
            const t = onDue(s, cur.sessionId, token(o.who), now);
            s = t.state;
            if (t.result.kind === 'claimed') {
              // Published the moment it is claimed: the worst case for ordering.
              expect(cur.ended).toBeNull();
              expect(now).toBeLessThan(cur.offAt);
              onsPublished.set(cur.sessionId, (onsPublished.get(cur.sessionId) ?? 0) + 1);
              holding[o.who]!.on = cur.sessionId;
              holding[o.who]!.since ??= now;
            }
          }
          if (o.op === 'onSent' && holding[o.who]!.on) {
            s = onSent(s, holding[o.who]!.on!, now).state;
            holding[o.who]!.on = undefined;
            if (!holding[o.who]!.off) holding[o.who]!.since = undefined;
          }
          if (o.op === 'off' && cur && !holding[o.who]!.off) {
            const t = offDue(s, cur.sessionId, token(o.who), now);
            s = t.state;
            if (t.result.kind === 'claimed') {
              offsPublished.set(cur.sessionId, (offsPublished.get(cur.sessionId) ?? 0) + 1);
              holding[o.who]!.off = cur.sessionId;
              holding[o.who]!.since ??= now;
            }
          }
          if (o.op === 'offSent' && holding[o.who]!.off) {
            s = offSent(s, holding[o.who]!.off!).state;
            holding[o.who]!.off = undefined;
            if (!holding[o.who]!.on) holding[o.who]!.since = undefined;
          }
          if (s.current?.ended) ended.set(s.current.sessionId, s.current.ended.at);
        }
        seen.ons += onsPublished.size;
        seen.offs += offsPublished.size;
        for (const n of onsPublished.values()) expect(n).toBe(1);
        // Claims never lapse here (ticks are shorter than the lease between claim and record), so never twice.
        for (const n of offsPublished.values()) expect(n).toBe(1);
        // Let the workers finish what they hold, then time pass: the current session's OFF can always be sent.
        for (const h of holding) {
          if (h.on) s = onSent(s, h.on, now).state;
          if (h.off) s = offSent(s, h.off).state;
        }
        const cur = s.current;
        if (cur && !cur.offPublished) {
          const t = offDue(s, cur.sessionId, 'final', now + CLAIM_LEASE_MS + 2_000_000);
          expect(t.result.kind).toBe('claimed');
        }
      }),
      { numRuns: 400 },
    );
    // The generator does reach the interesting part.
    expect(seen.ons).toBeGreaterThan(100);
    expect(seen.offs).toBeGreaterThan(100);
  });
});
