// Shapes the service builds by hand and sends out (no zod schema checks them on the way out), described once here
// for both documents. What the service reads is described by the schemas it validates with, imported as they are.
import { z } from 'zod';
import { POSTURES } from '../../domain/types.js';

export const iso = z.string().describe('ISO 8601 time');
const isoOrNull = iso.nullable();

/** The retained `{base}/users/{userId}/state` and the `state` of GET /api/users/{userId} (publicState). */
export const stateSchema = z.object({
  posture: z.enum(POSTURES).nullable(),
  since: isoOrNull,
  sittingSeconds: z.number(),
  nextNudgeAt: isoOrNull,
  heat: z.object({
    on: z.boolean(),
    offAt: isoOrNull,
    sessionId: z.string().nullable(),
    deviceId: z.string().nullable(),
  }),
  sessionId: z.string().nullable(),
  sittingSince: isoOrNull,
  nudgesSent: z.number().int(),
  snoozes: z.number().int(),
  breakDue: z.boolean(),
  routine: z
    .object({
      routineId: z.string(),
      index: z.number().int().describe('the running step, 0-based'),
      routine: z.string(),
      steps: z.number().int().describe('how many steps the routine has'),
      step: z.string().nullable().describe('name of the running step'),
      kind: z.enum(['pressure', 'heat', 'stretch']).nullable(),
      seconds: z.number().nullable().describe('nominal length of the running step'),
      message: z.string().nullable().describe('what the running step asks for'),
    })
    .nullable(),
  updatedAt: iso,
});

export const nudgeSchema = z.object({
  nudgeId: z.string(),
  userId: z.string(),
  level: z.number().int().min(1).describe('1 for the first nudge of a sitting session, higher as it escalates'),
  sittingSeconds: z.number(),
  message: z.string(),
  at: iso,
  sessionId: z.string(),
  maxNudges: z.number().int(),
  event_type: z.literal('nudge').describe('lets a Home Assistant event entity take the payload as it is'),
});

/** Canonical commands on `{base}/devices/{deviceId}/command` (types.ts `Command`). */
export const commandSchema = z.discriminatedUnion('command', [
  z.object({ command: z.literal('nudge'), nudgeId: z.string(), level: z.number().int(), message: z.string() }),
  z.object({
    command: z.literal('heat'),
    state: z.literal('on'),
    sessionId: z.string(),
    autoOffSeconds: z.number().describe('switch yourself off after this long, whatever happens to unknot'),
  }),
  z.object({
    command: z.literal('heat'),
    state: z.literal('off'),
    sessionId: z.string(),
    reason: z.enum(['timer', 'manual', 'watchdog']),
  }),
  z.object({
    command: z.literal('routine_step'),
    routineId: z.string(),
    index: z.number().int(),
    of: z.number().int(),
    step: z.string(),
    seconds: z.number(),
    message: z.string(),
    skipped: z.boolean().optional(),
    reason: z.string().optional(),
  }),
]);

export const deviceErrorSchema = z.object({
  error: z.string().describe('stable code, e.g. invalid_event, not_json, wrong_user, unknown_device'),
  detail: z.string(),
  topic: z.string().describe('the topic of the refused message'),
  at: iso,
});

export const bridgeStateSchema = z.object({ state: z.enum(['online', 'offline']) });
