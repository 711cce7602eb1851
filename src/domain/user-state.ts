// Everything unknot keeps about one user's live situation, stored as one document and changed by one
// compare-and-set per transition.
import { newSessionState, type SessionState } from './session.js';
import type { HeatOffReason, PainArea } from './types.js';

export interface HeatSession {
  sessionId: string;
  deviceId: string;
  minutes: number;
  startedAt: number;
  offAt: number;
  /** null while the pad should be on. */
  ended: null | { at: number; reason: HeatOffReason };
  onPublished: boolean;
  /** True once the pad needs no OFF from us: published, or the pad reported itself off (switched off at the plug). */
  offPublished: boolean;
  // Refinements for src/domain/heat.ts; optional so that other code can build a HeatSession without them.
  /** Who asked: api, button, routine, ha. */
  source?: string;
  /** The device's own auto-off sent with the ON: the scaled session length in whole seconds, rounded up. */
  autoOffSeconds?: number;
  /** When the ON went out (a pad's OFF report from before that is not a switch-off at the plug). */
  onPublishedAt?: number | null;
  /** An ON or OFF being published right now by one process (see HeatClaim). */
  onClaim?: HeatClaim | null;
  offClaim?: HeatClaim | null;
  /** The pain area the heat is for (the request's, or the latest logged); its methods-log entry names it. */
  area?: PainArea;
}

/**
 * A process publishing a heat command claims it first (compare-and-set), publishes, then records it. Others wait
 * while the claim lives; a claim past `until` belongs to a process presumed dead and may be taken over.
 */
export interface HeatClaim {
  token: string;
  until: number;
}

export interface HeatState {
  current: HeatSession | null;
  lastEndedAt: number | null;
  seq: number;
  /** deviceId → when the watchdog last switched that pad off (it acts at most every few seconds per pad). */
  watchdog?: Record<string, number>;
}

/** One step of a running routine as planned when it started (see src/domain/routine.ts). */
export interface RoutineStepState {
  step: string;
  kind: 'pressure' | 'heat' | 'stretch';
  /** Nominal length in seconds, as the message says it (real time at UNKNOT_TIME_SCALE=1). */
  seconds: number;
  /** How long the step runs, already divided by the time scale. */
  durationMs: number;
  message: string;
  /** Set when the step was skipped (heat: no pad, refused, unavailable) and why. */
  skipped?: string;
}

export interface RoutineState {
  routineId: string;
  routine: string;
  startedAt: number;
  steps: RoutineStepState[];
  /** Index of the step that is running now; steps.length once completed. */
  index: number;
  stepStartedAt: number;
  /** When the running step is over and the next one (or completion) is due. */
  stepEndsAt: number;
  /** Highest step index whose command went out on MQTT (-1: none yet), so a retried job does not resend. */
  published: number;
  ended: null | { at: number; outcome: 'completed' | 'abandoned'; reason?: string };
  /** The heat-pad session the heat step started, if it did. */
  heatSessionId?: string;
  seq: number;
  /** The pain area the routine is for (the request's, or the latest logged); its methods-log entry names it. */
  area?: PainArea;
}

export interface UserState {
  session: SessionState;
  heat: HeatState;
  routine: RoutineState | null;
  routineSeq: number;
}

export const newUserState = (epoch: string): UserState => ({
  session: newSessionState(epoch),
  heat: { current: null, lastEndedAt: null, seq: 0 },
  routine: null,
  routineSeq: 0,
});
