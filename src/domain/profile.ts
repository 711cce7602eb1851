// The user profile (docs/reference/profile.md): the one place its defaults and ranges live.
import { z } from 'zod';
import { CONTRAINDICATIONS } from './types.js';

const HHMM = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;

export const isIanaTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

export const activeHoursSchema = z
  .object({
    days: z
      .array(z.number().int().min(1).max(7))
      .min(1)
      .default([1, 2, 3, 4, 5, 6, 7])
      .describe('ISO weekdays, 1 = Monday'),
    start: z.string().regex(HHMM, 'expected "HH:MM"').default('00:00'),
    end: z.string().regex(HHMM, 'expected "HH:MM"').default('24:00'),
  })
  .refine((h) => h.start !== h.end, { message: 'start and end must differ' });

export const heatPolicySchema = z
  .object({
    defaultMinutes: z.number().min(1).max(20).default(10),
    maxMinutes: z.number().min(1).max(20).default(15),
  })
  .refine((h) => h.defaultMinutes <= h.maxMinutes, {
    message: 'defaultMinutes must not exceed maxMinutes',
  });

export const profileSchema = z.object({
  timezone: z
    .string()
    .refine(isIanaTimeZone, { message: 'expected an IANA time zone such as "Europe/Berlin"' })
    .default('UTC'),
  breakAfterMinutes: z.number().min(10).max(120).default(30),
  minBreakSeconds: z.number().min(30).max(1800).default(120),
  escalateAfterMinutes: z.number().min(1).max(30).default(5),
  maxNudges: z.number().int().min(1).max(5).default(3),
  snoozeMinutes: z.number().min(1).max(60).default(10),
  maxSnoozes: z.number().int().min(0).max(5).default(2),
  activeHours: activeHoursSchema.default({ days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00' }),
  heat: heatPolicySchema.default({ defaultMinutes: 10, maxMinutes: 15 }),
  heatCooldownMinutes: z.number().min(0).max(240).default(30),
  contraindications: z.array(z.enum(CONTRAINDICATIONS)).default([]),
  routineTargetPerWeek: z.number().int().min(1).max(14).default(3),
  name: z.string().max(100).optional(),
});

export type Profile = z.output<typeof profileSchema>;
export type ProfileInput = z.input<typeof profileSchema>;

export const defaultProfile = (): Profile => profileSchema.parse({});

const deepFreeze = <T>(o: T): T => {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
};

/** The built-in defaults, shared (frozen) by every profile read back from storage. */
const BUILT_IN: Profile = deepFreeze(defaultProfile());
const BUILT_IN_JSON = new Map(Object.entries(BUILT_IN).map(([k, v]) => [k, JSON.stringify(v)]));

/**
 * What storage keeps of a profile: the fields that differ from the built-in defaults (a default profile is `{}`,
 * ~350 bytes of Redis less per person). Config-file defaults differ from the built-in ones, so they are kept.
 */
export function compactProfile(p: Profile): Partial<Profile> {
  return Object.fromEntries(
    Object.entries(p).filter(([k, v]) => v !== undefined && JSON.stringify(v) !== BUILT_IN_JSON.get(k)),
  );
}

/** The inverse of compactProfile. */
export const expandProfile = (stored: Partial<Profile>): Profile => ({ ...BUILT_IN, ...stored });
