// Everything unknot keeps about one user's live situation, stored as one document and changed by one
// compare-and-set per transition.
import { newSessionState, type SessionState } from './session.js';
import type { HeatOffReason } from './types.js';

export interface HeatSession {
  sessionId: string;
  deviceId: string;
  minutes: number;
  startedAt: number;
  offAt: number;
  /** null while the pad should be on. */
  ended: null | { at: number; reason: HeatOffReason };
  onPublished: boolean;
  offPublished: boolean;
}

export interface HeatState {
  current: HeatSession | null;
  lastEndedAt: number | null;
  seq: number;
}

export interface RoutineState {
  routineId: string;
  routine: string;
  startedAt: number;
  /** Index of the step that is running now. */
  index: number;
  stepStartedAt: number;
  ended: null | { at: number; outcome: 'completed' | 'abandoned'; reason?: string };
  heatSessionId?: string;
  seq: number;
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
