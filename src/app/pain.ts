// The pain log and medical clearance (docs/concepts/pain-and-advice.md): entries appended through the state store's compare-and-set
// (no state change), answered with the current advice.
import { z } from 'zod';
import { adviceForPain, adviseProfessional } from '../domain/advice.js';
import { HEAT_BLOCKING, InvalidInputError, type LogEntry, PAIN_AREAS } from '../domain/types.js';
import { parseBody } from '../domain/validation.js';
import type { AppContext } from './context.js';
import type { Sessions } from './sessions.js';

/** Pain advice reads this far back (the rules look back 30 days; persistence needs the start of a run). */
const HISTORY_MS = 45 * 86_400_000;
/** A pain entry may be logged late (yesterday's pain, written down today), but not for the future. */
export const PAIN_BACKDATE_DAYS = 90;
const FUTURE_SLACK_MS = 60_000;

export const painBodySchema = z
  .object({
    level: z.number().int('a whole number from 0 (no pain) to 10 (worst)').min(0).max(10),
    area: z.enum(PAIN_AREAS),
    refers: z.string().trim().max(200).optional(),
    symptoms: z.array(z.string().trim().min(1).max(60)).max(20).optional(),
    /** Extension: when the pain was felt (ISO 8601 or epoch ms), default now. */
    at: z.union([z.string().min(1).max(40), z.number()]).optional(),
  })
  .strict();

export const clearanceBodySchema = z.object({ note: z.string().trim().max(500).optional() }).strict();

type PainEntry = Extract<LogEntry, { type: 'pain_logged' }>;

export class PainLog {
  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
  ) {}

  /** POST /api/users/{userId}/pain */
  async log(userId: string, body: unknown) {
    const profile = await this.sessions.profile(userId);
    const b = parseBody(painBodySchema, body, 'invalid_pain');
    const now = this.ctx.now();
    const at = b.at === undefined ? now : typeof b.at === 'number' ? b.at : Date.parse(b.at);
    if (!Number.isFinite(at))
      throw new InvalidInputError(
        'invalid_pain',
        'at: expected an ISO 8601 time such as 2026-11-24T08:00:00Z or epoch ms',
      );
    if (at > now + FUTURE_SLACK_MS)
      throw new InvalidInputError('invalid_pain', 'at: pain cannot be logged for the future');
    if (at < now - PAIN_BACKDATE_DAYS * 86_400_000) {
      throw new InvalidInputError('invalid_pain', `at: pain can be logged at most ${PAIN_BACKDATE_DAYS} days late`);
    }
    const entry: PainEntry = {
      type: 'pain_logged',
      at: Math.min(at, now),
      level: b.level,
      area: b.area,
      ...(b.refers ? { refers: b.refers } : {}),
      ...(b.symptoms && b.symptoms.length > 0 ? { symptoms: b.symptoms } : {}),
    };
    await this.append(userId, entry);
    const history = await this.ctx.adherence.read(userId, now - HISTORY_MS, now + 1);
    const advice = adviceForPain(entry, history, profile, now, this.ctx.config.methods);
    this.ctx.log.info({ userId, area: entry.area, level: entry.level, recommended: advice.recommended }, 'pain logged');
    return {
      ...advice,
      entry: { ...entry, at: new Date(entry.at).toISOString() },
    };
  }

  /** POST /api/users/{userId}/clearance: a doctor has seen the fever, swelling or injury logged with pain. */
  async clear(userId: string, body: unknown) {
    const profile = await this.sessions.profile(userId);
    const b = parseBody(clearanceBodySchema, body, 'invalid_clearance');
    const now = this.ctx.now();
    const entry: LogEntry = { type: 'medical_cleared', at: now, ...(b.note ? { note: b.note } : {}) };
    await this.append(userId, entry);
    const history = await this.ctx.adherence.read(userId, now - HISTORY_MS, now + 1);
    const advice = adviseProfessional(history, profile.contraindications, now, this.ctx.config.methods);
    const stillListed = profile.contraindications.filter((c) => HEAT_BLOCKING.includes(c));
    this.ctx.log.info({ userId, heatBlocked: advice.heatBlocked }, 'medical clearance logged');
    return {
      at: new Date(now).toISOString(),
      ...(b.note ? { note: b.note } : {}),
      heatBlocked: advice.heatBlocked,
      seeProfessional: { recommended: advice.recommended, reasons: advice.reasons },
      message:
        stillListed.length > 0
          ? `Clearance logged. Your profile still lists ${stillListed.join(', ').replace(/_/g, ' ')}: heat stays refused until you remove it from your profile (PUT /api/users/${userId}).`
          : advice.heatBlocked
            ? 'Clearance logged, but heat is still refused: see the reasons.'
            : 'Clearance logged. Fever, swelling, injury, numbness or tingling logged before now no longer refuses heat.',
    };
  }

  private append(userId: string, entry: LogEntry): Promise<void> {
    return this.sessions.appendLogs(userId, [entry]);
  }
}
