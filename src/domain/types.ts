// Canonical types shared by the domain, the adapters and the IO edges. No IO here.

export const POSTURES = ['sitting', 'standing', 'moving', 'away'] as const;
export type Posture = (typeof POSTURES)[number];

export const ROLES = ['desk', 'chair', 'wearable', 'hub', 'heatpad'] as const;
export type Role = (typeof ROLES)[number];

export const PROTOCOLS = ['unknot', 'zigbee2mqtt', 'tasmota', 'shelly'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** User and device ids: 1–64 characters of [A-Za-z0-9_-] (docs/reference/http-api.md). */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const isValidId = (id: unknown): id is string => typeof id === 'string' && ID_PATTERN.test(id);

export interface Device {
  deviceId: string;
  userId: string;
  role: Role;
  protocol: Protocol;
  /** Protocol address: Z2M friendly name, Tasmota topic, Shelly topic prefix. Unused for `unknot`. */
  topic?: string;
  /** A contact sensor under a pressure mat reads inverted (closed = nobody sitting). */
  invert?: boolean;
}

/** `helped` / `not_helped`: how the latest method (a routine, heat) felt, from a wearable or Home Assistant. */
export type Action = 'snooze' | 'ack' | 'heat_on' | 'heat_off' | 'routine_stop' | 'helped' | 'not_helped';

/**
 * What an adapter makes of one inbound message. `at` is epoch ms, already clamped to receipt time;
 * `id` is the device's own event id when it sent one (used to drop duplicates).
 */
export type Observation =
  | { type: 'posture'; posture: Posture; at: number; id?: string }
  | { type: 'action'; action: Action; minutes?: number; at: number; id?: string }
  | { type: 'heat'; state: 'on' | 'off'; at: number }
  | { type: 'availability'; online: boolean; at: number };

/** Canonical commands the service sends; adapters turn them into device payloads. */
export type Command =
  | { command: 'nudge'; nudgeId: string; level: number; message: string }
  | { command: 'heat'; state: 'on'; sessionId: string; autoOffSeconds: number }
  | { command: 'heat'; state: 'off'; sessionId: string; reason: HeatOffReason }
  | {
      command: 'routine_step';
      routineId: string;
      index: number;
      of: number;
      step: string;
      seconds: number;
      message: string;
      /** A step that does not run (heat without a pad, or refused) still goes out, saying why. */
      skipped?: boolean;
      reason?: string;
    };

export type HeatOffReason = 'timer' | 'manual' | 'watchdog';

/** One outbound MQTT message, as an adapter formats it. Topics come from the MQTT gateway's builders. */
export interface OutboundMessage {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain?: boolean;
}

/** Adherence log entries (docs/concepts/adherence.md). `at` is epoch ms here and ISO 8601 on the wire. */
export type LogEntry =
  | { type: 'sitting_started'; at: number; sessionId: string; startedAt: number }
  | { type: 'nudge_sent'; at: number; sessionId: string; nudgeId: string; level: number }
  | { type: 'nudge_snoozed'; at: number; sessionId: string; until: number }
  | {
      type: 'break_taken';
      at: number;
      sessionId: string;
      sittingSeconds: number;
      nudged: true;
      latencySeconds: number;
      snoozes: number;
      breakStartedAt: number;
    }
  | { type: 'natural_break'; at: number; sessionId: string; sittingSeconds: number; breakStartedAt: number }
  | { type: 'nudge_ignored'; at: number; sessionId: string; nudges: number }
  | { type: 'nudge_acked'; at: number; sessionId: string | null; deviceId?: string }
  | {
      type: 'heat_on';
      at: number;
      sessionId: string;
      minutes: number;
      deviceId: string;
      offAt: number;
      source?: string;
    }
  | { type: 'heat_off'; at: number; sessionId: string; reason: HeatOffReason; deviceId: string }
  | { type: 'heat_refused'; at: number; reason: string; deviceId?: string; source?: string }
  | { type: 'routine_started'; at: number; routineId: string; routine: string }
  | {
      type: 'routine_step';
      at: number;
      routineId: string;
      index: number;
      step: string;
      seconds?: number;
      skipped?: boolean;
      reason?: string;
      heatSessionId?: string;
    }
  | { type: 'routine_completed'; at: number; routineId: string }
  | { type: 'routine_abandoned'; at: number; routineId: string; reason: string }
  | {
      type: 'pain_logged';
      at: number;
      level: number;
      area: PainArea;
      refers?: string;
      symptoms?: string[];
    }
  /** The user says a doctor has seen the fever, swelling or injury they logged: heat is no longer refused for it. */
  | { type: 'medical_cleared'; at: number; note?: string }
  /**
   * A self-care method tried (docs/concepts/methods.md): by hand (`manual`), or entered by unknot when a routine
   * completed (`routine`) or a heat session ended (`heat`). `methodId` is unique per person; an outcome refers to it.
   */
  | {
      type: 'method_tried';
      at: number;
      methodId: string;
      method: Method;
      area: PainArea;
      /** What the method was in the person's words; always present for `other`. */
      name?: string;
      minutes?: number;
      note?: string;
      source: MethodSource;
      /** Pain in the area before the method, 0–10. */
      painBefore?: number;
      /** The routine or heat session unknot ran, for `routine` and `heat` entries. */
      routineId?: string;
      heatSessionId?: string;
    }
  /** How a method felt afterwards. A later outcome for the same `methodId` replaces an earlier one. */
  | {
      type: 'method_outcome';
      at: number;
      methodId: string;
      feeling: MethodFeeling;
      painBefore?: number;
      painAfter?: number;
      note?: string;
      /** Where the answer came from: the API or dashboard, or a wearable / Home Assistant action. */
      via?: 'api' | 'action';
    }
  /** The answers to the desk setup check (docs/concepts/methods.md#desk-setup-check). */
  | { type: 'desk_check'; at: number; answers: DeskCheckAnswers; note?: string };

export type LogType = LogEntry['type'];

export const PAIN_AREAS = ['neck', 'shoulders', 'upper_back', 'lower_back', 'glutes', 'other'] as const;
export type PainArea = (typeof PAIN_AREAS)[number];

/**
 * Self-care methods a person can log (docs/concepts/methods.md). `routine` is a guided routine unknot ran;
 * `other` carries the person's own words in `name`.
 */
export const METHODS = [
  'trigger_point_ball',
  'trigger_point_thumb',
  'foam_roller',
  'heat',
  'stretching',
  'acupressure',
  'massage_therapy',
  'physical_therapy',
  'cupping',
  'routine',
  'other',
] as const;
export type Method = (typeof METHODS)[number];

/** Plain names of the methods, for the dashboard, the report and the answers. */
export const METHOD_NAMES: Record<Method, string> = {
  trigger_point_ball: 'trigger-point pressure with a ball',
  trigger_point_thumb: 'trigger-point pressure with a thumb',
  foam_roller: 'foam roller',
  heat: 'heat',
  stretching: 'stretching',
  acupressure: 'acupressure',
  massage_therapy: 'massage therapy',
  physical_therapy: 'physical therapy',
  cupping: 'cupping',
  routine: 'guided routine',
  other: 'other',
};

export const METHOD_SOURCES = ['manual', 'routine', 'heat'] as const;
export type MethodSource = (typeof METHOD_SOURCES)[number];

export const METHOD_FEELINGS = ['better', 'same', 'worse'] as const;
export type MethodFeeling = (typeof METHOD_FEELINGS)[number];

/** The desk setup check's questions, each answered yes (true) or no (false). */
export const DESK_CHECK_QUESTIONS = [
  'screenAtEyeLevel',
  'shouldersRelaxed',
  'feetFlat',
  'chairSupportsBack',
  'keyboardAtElbowHeight',
] as const;
export type DeskCheckQuestion = (typeof DESK_CHECK_QUESTIONS)[number];
export type DeskCheckAnswers = Record<DeskCheckQuestion, boolean>;

export const CONTRAINDICATIONS = [
  'recent_injury',
  'swelling',
  'fever',
  'numbness',
  'impaired_sensation',
  'diabetes',
] as const;
export type Contraindication = (typeof CONTRAINDICATIONS)[number];

/** Contraindications that refuse heat outright (docs/concepts/heat-safety.md); `diabetes` only asks for care. */
export const HEAT_BLOCKING: readonly Contraindication[] = [
  'recent_injury',
  'swelling',
  'fever',
  'numbness',
  'impaired_sensation',
];

/**
 * What kind of refusal an error is, in the domain's words. The HTTP layer turns a kind into a status code
 * (src/http/errors.ts); over MQTT every refusal is an `{"error", "detail"}` on the device's error topic.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'too_large'
  | 'unsupported_media_type'
  | 'misdirected'
  | 'unavailable';

/** Errors with a stable code that HTTP and the MQTT error topic turn into {"error": code, "detail"}. */
export class UnknotError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly kind: ErrorKind = 'invalid',
    readonly issues?: unknown[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A request or event that is malformed or out of range. */
export class InvalidInputError extends UnknotError {
  constructor(code: string, message: string, issues?: unknown[]) {
    super(code, message, 'invalid', issues);
  }
}

/** A person, device or session that does not exist. */
export class NotFoundError extends UnknotError {
  constructor(code: string, message: string) {
    super(code, message, 'not_found');
  }
}

/** A request that the current state refuses (already on, cooling down, no snoozes left, contraindicated). */
export class ConflictError extends UnknotError {
  constructor(code: string, message: string) {
    super(code, message, 'conflict');
  }
}

/** A well-formed request whose values the rules refuse (heat minutes). */
export class UnprocessableError extends UnknotError {
  constructor(code: string, message: string) {
    super(code, message, 'unprocessable');
  }
}

/** A caller without the token. */
export class UnauthorizedError extends UnknotError {
  constructor(code: string, message: string) {
    super(code, message, 'unauthorized');
  }
}

/** A dependency (Redis) is away: nothing was changed, try again. */
export class UnavailableError extends UnknotError {
  constructor(code: string, message: string) {
    super(code, message, 'unavailable');
  }
}
