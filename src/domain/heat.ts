// Heat-pad sessions as pure functions: (HeatState, input, policy, now) → {state, effects, result}.
//
// Three layers keep a pad from staying on (docs/concepts/heat-safety.md): the ON command carries the device's own
// auto-off; a BullMQ job (with a periodic sweep behind it) sends OFF at `offAt`; and a pad that reports ON without a
// live session, or after `offAt`, is switched off (the watchdog). Each command is claimed here by one process before
// it is published and recorded after it went out, so two instances or a retried job do not send it twice; a claim
// whose holder died lapses, so an OFF is never lost for good (a duplicate OFF is harmless, a missing one is not).
import type { Profile } from './profile.js';
import type { HeatClaim, HeatSession, HeatState } from './user-state.js';
import { HEAT_BLOCKING, type Device, type ErrorKind, type HeatOffReason, type LogEntry } from './types.js';

export const HEAT_SOURCES = ['api', 'button', 'routine', 'ha'] as const;
export type HeatSource = (typeof HEAT_SOURCES)[number];

/** docs/reference/profile.md: `heat.maxMinutes` is never above 20, whatever a profile says. */
export const MAX_HEAT_MINUTES = 20;
/** A claim on publishing a command lapses after this long (real time): its holder is presumed dead. */
export const CLAIM_LEASE_MS = 5_000;
/** How soon a job that found the other command in flight looks again (real time). */
export const CLAIM_RECHECK_MS = 25;
/** A timer job that fires this early (clock skew between processes) still counts as due. */
export const HEAT_DUE_TOLERANCE_MS = 50;
/** The watchdog acts at most this often per pad: several ingest instances may see the same report. */
export const WATCHDOG_REPEAT_MS = 2_000;
/** An OFF report this soon after our ON may have left the pad before the ON arrived: it does not end the session. */
export const OFF_REPORT_GRACE_MS = 500;
/** A pad's own timer may run this much fast (fraction of the session, at most a minute) and still count as `timer`. */
export const AUTO_OFF_EARLY_FRACTION = 0.05;

export interface HeatPolicy {
  defaultMinutes: number;
  maxMinutes: number;
  /** heatCooldownMinutes divided by the time scale. */
  cooldownMs: number;
  timeScale: number;
  contraindications: readonly string[];
}

export function heatPolicyOf(profile: Profile, timeScale: number): HeatPolicy {
  return {
    defaultMinutes: profile.heat.defaultMinutes,
    maxMinutes: Math.min(profile.heat.maxMinutes, MAX_HEAT_MINUTES),
    cooldownMs: Math.max(0, Math.round((profile.heatCooldownMinutes * 60_000) / timeScale)),
    timeScale,
    contraindications: profile.contraindications,
  };
}

/** A session of `minutes` lasts this long in real time (policy durations are divided by the time scale). */
export const heatDurationMs = (minutes: number, timeScale: number): number =>
  Math.max(1, Math.round((minutes * 60_000) / timeScale));

/** The device's own auto-off: whole seconds, rounded up so that it never ends before `offAt`; at least 1. */
export const autoOffSecondsFor = (durationMs: number): number => Math.max(1, Math.ceil(durationMs / 1000));

export type HeatEffect =
  | { kind: 'log'; entry: LogEntry }
  /** The ON job: publishes ON at `dueAt` while the session is live. */
  | { kind: 'schedule_on'; sessionId: string; dueAt: number }
  /** The OFF job at `dueAt`, and the sweep's index entry for it. */
  | { kind: 'schedule_off'; sessionId: string; dueAt: number }
  /** The session has ended: claim, publish and record its OFF now. */
  | { kind: 'send_off'; sessionId: string }
  /** Nothing more to do for the session: its jobs and index entry can go (hygiene). */
  | { kind: 'session_done'; sessionId: string }
  /** The watchdog: OFF to a pad that is on without a session (or after ours ended), outside any session's claims. */
  | { kind: 'publish_off'; deviceId: string; sessionId: string; reason: 'watchdog' };

export interface HeatTransition<R> {
  state: HeatState;
  effects: HeatEffect[];
  changed: boolean;
  result: R;
}

export const isLive = (s: HeatSession | null | undefined): s is HeatSession & { ended: null } =>
  !!s && s.ended === null;

const iso = (ms: number) => new Date(ms).toISOString();

const unchanged = <R>(state: HeatState, result: R, effects: HeatEffect[] = []): HeatTransition<R> => ({
  state,
  effects,
  changed: false,
  result,
});

const liveClaim = (c: HeatClaim | null | undefined, now: number): c is HeatClaim => !!c && c.until > now;

/** End the current session (it must be `s.current`) and log it. */
function endCurrent(
  s: HeatState,
  cur: HeatSession,
  reason: HeatOffReason,
  now: number,
  extra: Partial<HeatSession> = {},
): { state: HeatState; entry: LogEntry } {
  const ended: HeatSession = { ...cur, ended: { at: now, reason }, ...extra };
  return {
    state: { ...s, current: ended, lastEndedAt: now },
    entry: { type: 'heat_off', at: now, sessionId: cur.sessionId, reason, deviceId: cur.deviceId },
  };
}

// ------------------------------------------------------------------------------------------------ start

export type HeatRefusal =
  'no_heat_pad' | 'contraindicated' | 'invalid_minutes' | 'too_long' | 'already_on' | 'cooling_down';

/** What kind of refusal each is (docs/concepts/heat-safety.md, "Limits and refusals": 404, 409 or 422 over HTTP). */
export const REFUSAL_KIND: Readonly<Record<HeatRefusal, ErrorKind>> = {
  no_heat_pad: 'not_found',
  contraindicated: 'conflict',
  invalid_minutes: 'unprocessable',
  too_long: 'unprocessable',
  already_on: 'conflict',
  cooling_down: 'conflict',
};

export interface StartInput {
  /** As the caller sent it: absent means the profile's default; anything but a finite number > 0 is refused. */
  minutes?: unknown;
  /** Which pad; absent means the user's first heat pad (by deviceId). */
  deviceId?: string;
  source: HeatSource;
  /** The user's devices; only those with role `heatpad` count. */
  devices: ReadonlyArray<Pick<Device, 'deviceId' | 'role'>>;
  /** `adviseProfessional(…).heatBlocked`: the pain log asks for medical attention first. */
  heatBlocked: boolean;
  /** `adviseProfessional(…).heatBlockedReason`: why, in a sentence for the refusal (absent: fever, swelling, injury). */
  heatBlockedReason?: string;
  /** The user state's epoch, so that session ids never repeat after a user is deleted and created again. */
  epoch: string;
}

export type StartResult =
  { ok: true; session: HeatSession } | { ok: false; code: HeatRefusal; kind: ErrorKind; detail: string };

export const heatSessionIdOf = (epoch: string, seq: number) => `${epoch}h${seq}`;

/**
 * A request to switch heat on. Refusals, in this order: no heat pad, contraindicated, invalid minutes, too long,
 * already on, cooling down. A refusal changes nothing but logs `heat_refused`.
 */
export function startHeat(
  s: HeatState,
  input: StartInput,
  policy: HeatPolicy,
  now: number,
): HeatTransition<StartResult> {
  const pads = input.devices.filter((d) => d.role === 'heatpad');
  const pad = input.deviceId === undefined ? pads[0] : pads.find((p) => p.deviceId === input.deviceId);
  const refuse = (code: HeatRefusal, detail: string): HeatTransition<StartResult> =>
    unchanged(s, { ok: false, code, kind: REFUSAL_KIND[code], detail }, [
      {
        kind: 'log',
        entry: {
          type: 'heat_refused',
          at: now,
          reason: code,
          ...(pad || input.deviceId !== undefined ? { deviceId: pad?.deviceId ?? input.deviceId } : {}),
          source: input.source,
        },
      },
    ]);

  if (!pad) {
    return refuse(
      'no_heat_pad',
      input.deviceId === undefined
        ? 'you have no heat pad; register one with PUT /api/devices/{deviceId} and "role": "heatpad"'
        : `${input.deviceId} is not one of your heat pads`,
    );
  }
  const blocking = policy.contraindications.filter((c) => (HEAT_BLOCKING as readonly string[]).includes(c));
  if (blocking.length > 0) {
    return refuse(
      'contraindicated',
      `heat is not safe with ${blocking.map((c) => c.replace(/_/g, ' ')).join(', ')} in your profile: get medical advice first, ` +
        'and remove it from your profile once a doctor says heat is fine',
    );
  }
  if (input.heatBlocked) {
    return refuse(
      'contraindicated',
      input.heatBlockedReason ??
        'your recent pain log mentions fever, swelling or a recent injury: get medical advice first, before using heat',
    );
  }
  const minutes = input.minutes === undefined ? policy.defaultMinutes : input.minutes;
  if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes <= 0) {
    return refuse('invalid_minutes', 'minutes must be a number greater than 0');
  }
  if (minutes > policy.maxMinutes) {
    return refuse(
      'too_long',
      `at most ${policy.maxMinutes} minutes of heat at a time (heat.maxMinutes in your profile)`,
    );
  }
  const cur = s.current;
  if (isLive(cur)) {
    return refuse(
      'already_on',
      `heat is already on (session ${cur.sessionId}, until ${iso(cur.offAt)}); stop it first`,
    );
  }
  if (s.lastEndedAt !== null && now < s.lastEndedAt + policy.cooldownMs) {
    const at = s.lastEndedAt + policy.cooldownMs;
    return refuse(
      'cooling_down',
      `the heat pad needs a rest after the last session: heat is available again at ${iso(at)}`,
    );
  }
  if (cur && !cur.offPublished) {
    // Its OFF has not gone out yet (it will within moments): a new ON must not race it.
    return refuse(
      'already_on',
      `the last heat session (${cur.sessionId}) is still being switched off; try again in a moment`,
    );
  }

  const seq = s.seq + 1;
  const durationMs = heatDurationMs(minutes, policy.timeScale);
  const session: HeatSession = {
    sessionId: heatSessionIdOf(input.epoch, seq),
    deviceId: pad.deviceId,
    minutes,
    startedAt: now,
    offAt: now + durationMs,
    ended: null,
    onPublished: false,
    offPublished: false,
    source: input.source,
    autoOffSeconds: autoOffSecondsFor(durationMs),
    onPublishedAt: null,
    onClaim: null,
    offClaim: null,
  };
  return {
    state: { ...s, current: session, seq },
    changed: true,
    // The OFF job before the ON job: whoever can send ON can count on the OFF already being there.
    effects: [
      {
        kind: 'log',
        entry: {
          type: 'heat_on',
          at: now,
          sessionId: session.sessionId,
          minutes,
          deviceId: pad.deviceId,
          offAt: session.offAt,
          source: input.source,
        },
      },
      { kind: 'schedule_off', sessionId: session.sessionId, dueAt: session.offAt },
      { kind: 'schedule_on', sessionId: session.sessionId, dueAt: now },
    ],
    result: { ok: true, session },
  };
}

// ------------------------------------------------------------------------------------------------- stop

export type StopResult = { ok: true; sessionId: string; stoppedAt: number } | { ok: false; code: 'not_on' };

/** Stop the live session now (API, button, routine, Home Assistant); its OFF goes out at once. */
export function stopHeat(s: HeatState, reason: HeatOffReason, now: number): HeatTransition<StopResult> {
  const cur = s.current;
  if (!isLive(cur)) return unchanged(s, { ok: false, code: 'not_on' });
  const e = endCurrent(s, cur, reason, now);
  return {
    state: e.state,
    changed: true,
    effects: [
      { kind: 'log', entry: e.entry },
      { kind: 'send_off', sessionId: cur.sessionId },
    ],
    result: { ok: true, sessionId: cur.sessionId, stoppedAt: now },
  };
}

// ---------------------------------------------------------------------------------------------------- ON

export type OnOutcome =
  | { kind: 'claimed'; deviceId: string; autoOffSeconds: number }
  | { kind: 'wait'; until: number; why: string }
  | { kind: 'stale'; why: string }
  | { kind: 'already' };

/**
 * The ON job fired: claim the ON if the session is still live and before its `offAt`. An ON is never sent for a
 * session that has ended (a stale job after a restart is dropped), nor twice. `autoOffSeconds` is the session's,
 * or the time left rounded up when the job runs late, so the pad's own timer never outlasts `offAt` by a second.
 */
export function onDue(
  s: HeatState,
  sessionId: string,
  token: string,
  now: number,
  leaseMs = CLAIM_LEASE_MS,
): HeatTransition<OnOutcome> {
  const cur = s.current;
  if (!cur || cur.sessionId !== sessionId) return unchanged(s, { kind: 'stale', why: 'not the current session' });
  if (cur.onPublished) return unchanged(s, { kind: 'already' });
  if (cur.ended !== null) return unchanged(s, { kind: 'stale', why: `session ended (${cur.ended.reason})` });
  if (now >= cur.offAt) return unchanged(s, { kind: 'stale', why: 'past offAt' });
  if (liveClaim(cur.onClaim, now) && cur.onClaim.token !== token) {
    return unchanged(s, {
      kind: 'wait',
      until: Math.min(cur.onClaim.until, now + CLAIM_RECHECK_MS),
      why: 'ON in flight elsewhere',
    });
  }
  const full = cur.autoOffSeconds ?? autoOffSecondsFor(cur.offAt - cur.startedAt);
  const autoOffSeconds = Math.max(1, Math.min(full, Math.ceil((cur.offAt - now) / 1000)));
  return {
    state: { ...s, current: { ...cur, onClaim: { token, until: now + leaseMs } } },
    effects: [],
    changed: true,
    result: { kind: 'claimed', deviceId: cur.deviceId, autoOffSeconds },
  };
}

/**
 * The ON went out. `resendOff` is true when the session's OFF was published before this ON arrived (the ON's
 * publisher outlived its claim): the caller sends the OFF again, so the last word the pad hears is OFF.
 */
export function onSent(
  s: HeatState,
  sessionId: string,
  now: number,
): HeatTransition<{ resendOff: HeatOffReason | null }> {
  const cur = s.current;
  if (!cur || cur.sessionId !== sessionId) return unchanged(s, { resendOff: null });
  const resendOff = cur.ended !== null && cur.offPublished ? cur.ended.reason : null;
  if (cur.onPublished) return unchanged(s, { resendOff });
  return {
    state: { ...s, current: { ...cur, onPublished: true, onPublishedAt: now, onClaim: null } },
    effects: [],
    changed: true,
    result: { resendOff },
  };
}

/** Publishing the ON failed: give the claim back so a retry can take it at once. */
export function onReleased(s: HeatState, sessionId: string, token: string): HeatTransition<undefined> {
  const cur = s.current;
  if (!cur || cur.sessionId !== sessionId || cur.onClaim?.token !== token) return unchanged(s, undefined);
  return { state: { ...s, current: { ...cur, onClaim: null } }, effects: [], changed: true, result: undefined };
}

// --------------------------------------------------------------------------------------------------- OFF

export type OffOutcome =
  /** `takeover`: a claim of someone else had lapsed (a process died while publishing): the OFF may have gone out. */
  | { kind: 'claimed'; deviceId: string; reason: HeatOffReason; offAt: number; takeover: boolean }
  | { kind: 'not_due'; until: number }
  | { kind: 'wait'; until: number; why: string }
  | { kind: 'done'; why: string };

/**
 * The OFF path, shared by the OFF job at `offAt`, the sweep, a manual stop and the watchdog: a live session at or
 * past `offAt` ends now (`timer`); an ended session whose OFF has not gone out is claimed for publishing. It waits
 * while an ON is in flight, so that the OFF always comes after it.
 */
export function offDue(
  s0: HeatState,
  sessionId: string,
  token: string,
  now: number,
  leaseMs = CLAIM_LEASE_MS,
): HeatTransition<OffOutcome> {
  let s = s0;
  const effects: HeatEffect[] = [];
  let cur = s.current;
  if (!cur || cur.sessionId !== sessionId) return unchanged(s, { kind: 'done', why: 'not the current session' });
  if (cur.ended === null) {
    if (now < cur.offAt - HEAT_DUE_TOLERANCE_MS) return unchanged(s, { kind: 'not_due', until: cur.offAt });
    const e = endCurrent(s, cur, 'timer', now);
    s = e.state;
    cur = s.current!;
    effects.push({ kind: 'log', entry: e.entry });
  }
  const changed = s !== s0;
  const ended = cur.ended!;
  if (cur.offPublished) return { state: s, effects, changed, result: { kind: 'done', why: 'OFF already published' } };
  if (liveClaim(cur.onClaim, now)) {
    return {
      state: s,
      effects,
      changed,
      result: { kind: 'wait', until: Math.min(cur.onClaim.until, now + CLAIM_RECHECK_MS), why: 'ON in flight' },
    };
  }
  if (liveClaim(cur.offClaim, now) && cur.offClaim.token !== token) {
    return {
      state: s,
      effects,
      changed,
      result: {
        kind: 'wait',
        until: Math.min(cur.offClaim.until, now + CLAIM_RECHECK_MS),
        why: 'OFF in flight elsewhere',
      },
    };
  }
  return {
    state: { ...s, current: { ...cur, offClaim: { token, until: now + leaseMs } } },
    effects,
    changed: true,
    result: {
      kind: 'claimed',
      deviceId: cur.deviceId,
      reason: ended.reason,
      offAt: cur.offAt,
      takeover: !!cur.offClaim,
    },
  };
}

/** The OFF went out: no one sends it again. */
export function offSent(s: HeatState, sessionId: string): HeatTransition<undefined> {
  const cur = s.current;
  if (!cur || cur.sessionId !== sessionId || cur.offPublished) return unchanged(s, undefined);
  return {
    state: { ...s, current: { ...cur, offPublished: true, offClaim: null } },
    effects: [],
    changed: true,
    result: undefined,
  };
}

/** Publishing the OFF failed: give the claim back so a retry (or the sweep) can take it at once. */
export function offReleased(s: HeatState, sessionId: string, token: string): HeatTransition<undefined> {
  const cur = s.current;
  if (!cur || cur.sessionId !== sessionId || cur.offClaim?.token !== token) return unchanged(s, undefined);
  return { state: { ...s, current: { ...cur, offClaim: null } }, effects: [], changed: true, result: undefined };
}

// ---------------------------------------------------------------------------------------------- watchdog

export type PadOutcome =
  /** What the pad says agrees with the session (or says nothing we act on). */
  | { kind: 'consistent'; why: string }
  /** The report ended the live session: switched off at the plug (`manual`) or by its own timer (`timer`). */
  | { kind: 'ended'; sessionId: string; reason: HeatOffReason }
  /** The pad is on when it must not be: OFF (reason watchdog) for this session, or `none`. */
  | { kind: 'watchdog'; sessionId: string }
  /** Our own OFF for the ended session is on its way; made sure it goes. */
  | { kind: 'off_pending'; sessionId: string }
  /** The watchdog acted on this pad a moment ago (another instance saw the same report). */
  | { kind: 'suppressed' };

/**
 * A heat pad reported its state. ON with no live session for that pad, or after `offAt`, is switched off (reason
 * `watchdog`); OFF while its session is live ends the session without sending anything (someone switched it off at
 * the plug, or its own timer did).
 */
export function padReport(
  s: HeatState,
  deviceId: string,
  report: 'on' | 'off',
  at: number,
  now: number,
): HeatTransition<PadOutcome> {
  const cur = s.current && s.current.deviceId === deviceId ? s.current : null;
  if (report === 'off') {
    if (!isLive(cur)) return unchanged(s, { kind: 'consistent', why: 'off and no live session' });
    if (!cur.onPublished || cur.onPublishedAt == null || at < cur.onPublishedAt + OFF_REPORT_GRACE_MS) {
      return unchanged(s, { kind: 'consistent', why: 'report from before our ON arrived' });
    }
    const early = Math.min(60_000, (cur.offAt - cur.startedAt) * AUTO_OFF_EARLY_FRACTION);
    if (at >= cur.offAt - Math.max(HEAT_DUE_TOLERANCE_MS, early)) {
      // Its own auto-off: the OFF job still sends OFF at offAt, for a pad that only says it is off.
      const e = endCurrent(s, cur, 'timer', now);
      return {
        state: e.state,
        effects: [{ kind: 'log', entry: e.entry }],
        changed: true,
        result: { kind: 'ended', sessionId: cur.sessionId, reason: 'timer' },
      };
    }
    const e = endCurrent(s, cur, 'manual', now, { offPublished: true, offClaim: null });
    return {
      state: e.state,
      effects: [
        { kind: 'log', entry: e.entry },
        { kind: 'session_done', sessionId: cur.sessionId },
      ],
      changed: true,
      result: { kind: 'ended', sessionId: cur.sessionId, reason: 'manual' },
    };
  }

  if (isLive(cur)) {
    if (now < cur.offAt - HEAT_DUE_TOLERANCE_MS)
      return unchanged(s, { kind: 'consistent', why: 'on during its session' });
    // On after offAt and our timer has not ended it yet: end it here and switch it off through the session's path.
    const e = endCurrent(s, cur, 'watchdog', now);
    return {
      state: { ...e.state, watchdog: stamp(s, deviceId, now) },
      effects: [
        { kind: 'log', entry: e.entry },
        { kind: 'send_off', sessionId: cur.sessionId },
      ],
      changed: true,
      result: { kind: 'watchdog', sessionId: cur.sessionId },
    };
  }
  if (cur && !cur.offPublished) {
    return unchanged(s, { kind: 'off_pending', sessionId: cur.sessionId }, [
      { kind: 'send_off', sessionId: cur.sessionId },
    ]);
  }
  const last = s.watchdog?.[deviceId];
  if (last !== undefined && now - last < WATCHDOG_REPEAT_MS && now >= last) return unchanged(s, { kind: 'suppressed' });
  const sessionId = cur ? cur.sessionId : 'none';
  return {
    state: { ...s, watchdog: stamp(s, deviceId, now) },
    effects: [
      { kind: 'log', entry: { type: 'heat_off', at: now, sessionId, reason: 'watchdog', deviceId } },
      { kind: 'publish_off', deviceId, sessionId, reason: 'watchdog' },
    ],
    changed: true,
    result: { kind: 'watchdog', sessionId },
  };
}

/** The watchdog's per-pad stamps, with old ones dropped so the map stays small. */
function stamp(s: HeatState, deviceId: string, now: number): Record<string, number> {
  const kept = Object.entries(s.watchdog ?? {}).filter(
    ([id, t]) => id !== deviceId && now - t < WATCHDOG_REPEAT_MS && t <= now,
  );
  return { ...Object.fromEntries(kept), [deviceId]: now };
}

// ------------------------------------------------------------------------------------- devices, restarts

export type DeviceGoneOutcome = { sendOff: false } | { sendOff: true; sessionId: string; reason: HeatOffReason };

/**
 * A heat pad was deleted or re-addressed (new protocol, topic, owner or role). A session on it ends now (`manual`)
 * and the caller sends OFF to the old address straight away: no job could address it afterwards.
 */
export function padGone(s: HeatState, deviceId: string, now: number): HeatTransition<DeviceGoneOutcome> {
  const cur = s.current;
  if (!cur || cur.deviceId !== deviceId || (cur.ended !== null && cur.offPublished))
    return unchanged(s, { sendOff: false });
  if (cur.ended === null) {
    const e = endCurrent(s, cur, 'manual', now, { offPublished: true, offClaim: null });
    return {
      state: e.state,
      effects: [
        { kind: 'log', entry: e.entry },
        { kind: 'session_done', sessionId: cur.sessionId },
      ],
      changed: true,
      result: { sendOff: true, sessionId: cur.sessionId, reason: 'manual' },
    };
  }
  return {
    state: { ...s, current: { ...cur, offPublished: true, offClaim: null } },
    effects: [{ kind: 'session_done', sessionId: cur.sessionId }],
    changed: true,
    result: { sendOff: true, sessionId: cur.sessionId, reason: cur.ended.reason },
  };
}

/** The jobs the current state calls for (worker start, after a crash between a commit and its effects). */
export function heatReconcile(s: HeatState, now: number): HeatEffect[] {
  const cur = s.current;
  if (!cur) return [];
  if (cur.ended === null) {
    const effects: HeatEffect[] = [{ kind: 'schedule_off', sessionId: cur.sessionId, dueAt: cur.offAt }];
    if (!cur.onPublished && now < cur.offAt)
      effects.push({ kind: 'schedule_on', sessionId: cur.sessionId, dueAt: now });
    return effects;
  }
  if (!cur.offPublished) return [{ kind: 'schedule_off', sessionId: cur.sessionId, dueAt: now }];
  return [];
}

/** What GET /api/users/{id}/heat shows (an extension; the user state carries `heat: {on, offAt}`). */
export function heatSummary(s: HeatState, policy: HeatPolicy, now: number) {
  const cur = s.current;
  const on = isLive(cur);
  const availableAt = s.lastEndedAt === null ? null : s.lastEndedAt + policy.cooldownMs;
  return {
    on,
    sessionId: cur?.sessionId ?? null,
    deviceId: cur?.deviceId ?? null,
    minutes: cur?.minutes ?? null,
    startedAt: cur ? iso(cur.startedAt) : null,
    offAt: cur ? iso(cur.offAt) : null,
    ended: cur?.ended ? { at: iso(cur.ended.at), reason: cur.ended.reason } : null,
    availableAt: !on && availableAt !== null && availableAt > now ? iso(availableAt) : null,
  };
}

/**
 * The heat-pad sessions service (src/app/heat.ts) as routines and Home Assistant's heat switch use it. Refusals are
 * UnknotErrors with the refusal's code; times are epoch ms.
 */
export interface HeatControl {
  start(
    userId: string,
    opts: { minutes?: number; deviceId?: string; source: HeatSource | 'homeassistant' },
  ): Promise<{ sessionId: string; deviceId: string; minutes: number; startedAt: number; offAt: number }>;
  stop(userId: string, reason: 'manual'): Promise<unknown>;
}
