// The methods log and the desk setup check (docs/concepts/methods.md): entries appended to the adherence log through
// the state store's compare-and-set (no state change), like the pain log; what helps, read back from the log.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  deskCheckFixes,
  deskCheckOffer,
  latestMethod,
  methodRecords,
  noImprovement,
  type MethodRecord,
  whatHelps,
} from '../domain/methods.js';
import {
  DESK_CHECK_QUESTIONS,
  type Device,
  InvalidInputError,
  type LogEntry,
  METHOD_FEELINGS,
  METHOD_NAMES,
  METHODS,
  NotFoundError,
  PAIN_AREAS,
} from '../domain/types.js';
import { parseBody } from '../domain/validation.js';
import type { AppContext } from './context.js';
import type { Sessions } from './sessions.js';

const DAY_MS = 86_400_000;
/** A method may be logged late (yesterday's foam roller, written down today), but not for the future. */
export const METHOD_BACKDATE_DAYS = 90;
const FUTURE_SLACK_MS = 60_000;
/** An outcome is looked for among the methods of this many days (a method may be logged 90 days late). */
const OUTCOME_LOOKUP_DAYS = METHOD_BACKDATE_DAYS + 30;
/** GET /methods and /what-helps read this many days unless `days` says otherwise (at most MAX_DAYS). */
const DEFAULT_DAYS = 28;
const MAX_DAYS = 365;

const painLevel = z.number().int('a whole number from 0 (no pain) to 10 (worst)').min(0).max(10);
const when = z.union([z.string().min(1).max(40), z.number()]);

export const methodOutcomeBodySchema = z
  .object({
    feeling: z.enum(METHOD_FEELINGS),
    painBefore: painLevel.optional(),
    painAfter: painLevel.optional(),
    note: z.string().trim().max(500).optional(),
  })
  .strict();

export const methodBodySchema = z
  .object({
    method: z.enum(METHODS),
    area: z.enum(PAIN_AREAS),
    /** The method in the person's words: required for `other`. */
    name: z.string().trim().min(1).max(80).optional(),
    minutes: z.number().positive('more than 0').max(600, 'at most 600 minutes').optional(),
    note: z.string().trim().max(500).optional(),
    painBefore: painLevel.optional(),
    /** When it was tried (ISO 8601 or epoch ms), default now. */
    at: when.optional(),
    /** How it went, when it is already known. */
    outcome: methodOutcomeBodySchema.optional(),
  })
  .strict()
  .refine((b) => b.method !== 'other' || !!b.name, {
    path: ['name'],
    message: 'say what the method was: `name` is required when method is "other"',
  });

export const deskCheckBodySchema = z
  .object({
    ...Object.fromEntries(DESK_CHECK_QUESTIONS.map((q) => [q, z.boolean()])),
    note: z.string().trim().max(500).optional(),
  } as Record<(typeof DESK_CHECK_QUESTIONS)[number], z.ZodBoolean> & { note: z.ZodOptional<z.ZodString> })
  .strict();

export const daysQuerySchema = z
  .object({
    days: z
      .string()
      .regex(/^\d{1,3}$/, `a whole number of days from 1 to ${MAX_DAYS}`)
      .transform(Number)
      .refine((n) => n >= 1 && n <= MAX_DAYS, `a whole number of days from 1 to ${MAX_DAYS}`)
      .optional(),
  })
  .strict();

const iso = (ms: number) => new Date(ms).toISOString();

type TriedEntry = Extract<LogEntry, { type: 'method_tried' }>;
type OutcomeEntry = Extract<LogEntry, { type: 'method_outcome' }>;

/** A record as the API shows it: ISO times. */
const recordView = (r: MethodRecord) => ({
  ...r,
  at: iso(r.at),
  ...(r.outcome ? { outcome: { ...r.outcome, at: iso(r.outcome.at) } } : {}),
});

export class Methods {
  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
  ) {}

  /** `now` is the caller's: read again here, a millisecond later, it put `at` after the caller's now. */
  private parseAt(value: string | number | undefined, code: string, now: number): number {
    const at = value === undefined ? now : typeof value === 'number' ? value : Date.parse(value);
    if (!Number.isFinite(at))
      throw new InvalidInputError(code, 'at: expected an ISO 8601 time such as 2026-11-24T08:00:00Z or epoch ms');
    if (at > now + FUTURE_SLACK_MS) throw new InvalidInputError(code, 'at: a method cannot be logged for the future');
    if (at < now - METHOD_BACKDATE_DAYS * DAY_MS)
      throw new InvalidInputError(code, `at: a method can be logged at most ${METHOD_BACKDATE_DAYS} days late`);
    return Math.min(at, now);
  }

  /** POST /api/users/{userId}/methods: a method tried, with its outcome when it is already known. */
  async log(userId: string, body: unknown) {
    await this.sessions.profile(userId);
    const b = parseBody(methodBodySchema, body, 'invalid_method');
    const now = this.ctx.now();
    const at = this.parseAt(b.at, 'invalid_method', now);
    const methodId = `m${now.toString(36)}${randomBytes(4).toString('hex')}`;
    const tried: TriedEntry = {
      type: 'method_tried',
      at,
      methodId,
      method: b.method,
      area: b.area,
      ...(b.name ? { name: b.name } : {}),
      ...(b.minutes !== undefined ? { minutes: b.minutes } : {}),
      ...(b.note ? { note: b.note } : {}),
      source: 'manual',
      ...(b.painBefore !== undefined ? { painBefore: b.painBefore } : {}),
    };
    const logs: LogEntry[] = [tried];
    if (b.outcome) logs.push(this.outcomeEntry(methodId, b.outcome, now, 'api'));
    await this.append(userId, logs);
    this.ctx.log.info({ userId, methodId, method: b.method, area: b.area }, 'method logged');
    const [record] = methodRecords(logs, now);
    return { methodId, method: recordView(record!) };
  }

  private outcomeEntry(
    methodId: string,
    b: z.output<typeof methodOutcomeBodySchema>,
    now: number,
    via: 'api' | 'action',
  ): OutcomeEntry {
    return {
      type: 'method_outcome',
      at: now,
      methodId,
      feeling: b.feeling,
      ...(b.painBefore !== undefined ? { painBefore: b.painBefore } : {}),
      ...(b.painAfter !== undefined ? { painAfter: b.painAfter } : {}),
      ...(b.note ? { note: b.note } : {}),
      via,
    };
  }

  /** POST or PUT /api/users/{userId}/methods/{methodId}/outcome: how it felt afterwards (a later one replaces). */
  async outcome(userId: string, methodId: string, body: unknown) {
    await this.sessions.profile(userId);
    const b = parseBody(methodOutcomeBodySchema, body, 'invalid_outcome');
    const now = this.ctx.now();
    const entries = await this.ctx.adherence.read(userId, now - OUTCOME_LOOKUP_DAYS * DAY_MS, now + 1);
    if (!entries.some((e) => e.type === 'method_tried' && e.methodId === methodId)) {
      throw new NotFoundError('unknown_method', `no method ${methodId} in the methods log of ${userId}`);
    }
    const entry = this.outcomeEntry(methodId, b, now, 'api');
    await this.append(userId, [entry]);
    this.ctx.log.info({ userId, methodId, feeling: b.feeling }, 'method outcome logged');
    const record = methodRecords([...entries, entry], now).find((r) => r.methodId === methodId)!;
    return recordView(record);
  }

  /** GET /api/users/{userId}/methods?days=28: the methods tried, newest first, each with its latest outcome. */
  async list(userId: string, query: unknown) {
    await this.sessions.profile(userId);
    const q = parseBody(daysQuerySchema, query, 'invalid_query');
    const now = this.ctx.now();
    const days = q.days ?? DEFAULT_DAYS;
    const since = now - days * DAY_MS;
    const entries = await this.ctx.adherence.read(userId, since, now + 1);
    return { since: iso(since), days, methods: methodRecords(entries, now, since).reverse().map(recordView) };
  }

  /** GET /api/users/{userId}/what-helps?days=28: per method and area, how often and how it went. */
  async whatHelps(userId: string, query: unknown) {
    await this.sessions.profile(userId);
    const q = parseBody(daysQuerySchema, query, 'invalid_query');
    const now = this.ctx.now();
    const days = q.days ?? DEFAULT_DAYS;
    const since = now - days * DAY_MS;
    const policy = this.ctx.config.methods;
    // The four-weeks check needs its own weeks whatever `days` is.
    const from = Math.min(since, now - policy.noImprovementWeeks * 7 * DAY_MS);
    const entries = await this.ctx.adherence.read(userId, from, now + 1);
    const rows = whatHelps(entries, now, policy, since).map((r) => ({ ...r, lastTriedAt: iso(r.lastTriedAt) }));
    const stuck = noImprovement(entries, now, policy).map((n) => ({ ...n, since: iso(n.since) }));
    return {
      since: iso(since),
      days,
      methods: rows,
      noImprovement: stuck,
      note:
        stuck.length > 0
          ? `Nothing has improved in ${stuck.map((n) => n.area.replace(/_/g, ' ')).join(', ')} after ${policy.noImprovementWeeks} weeks of regular care: self-care usually helps within one to four weeks, so see a licensed massage, physical or sports therapist.`
          : null,
      methodNames: METHOD_NAMES,
    };
  }

  /** GET /api/users/{userId}/desk-check: whether the check is offered now, and the last answers. */
  async deskCheck(userId: string) {
    await this.sessions.profile(userId);
    const now = this.ctx.now();
    const policy = this.ctx.config.methods;
    const entries = await this.ctx.adherence.read(
      userId,
      now - Math.max(8, policy.deskCheckRepeatDays + 1) * DAY_MS,
      now + 1,
    );
    const offer = deskCheckOffer(entries, now, policy);
    return {
      ...offer,
      lastCheck: offer.lastCheck
        ? { ...offer.lastCheck, at: iso(offer.lastCheck.at), fixes: deskCheckFixes(offer.lastCheck.answers) }
        : null,
      questions: DESK_CHECK_QUESTIONS,
      longSittingMinutes: policy.longSittingMinutes,
    };
  }

  /** POST /api/users/{userId}/desk-check: the answers, into the log. */
  async answerDeskCheck(userId: string, body: unknown) {
    await this.sessions.profile(userId);
    const b = parseBody(deskCheckBodySchema, body, 'invalid_desk_check');
    const now = this.ctx.now();
    const answers = Object.fromEntries(DESK_CHECK_QUESTIONS.map((q) => [q, b[q]])) as Record<
      (typeof DESK_CHECK_QUESTIONS)[number],
      boolean
    >;
    const entry: LogEntry = { type: 'desk_check', at: now, answers, ...(b.note ? { note: b.note } : {}) };
    await this.append(userId, [entry]);
    const fixes = deskCheckFixes(answers);
    this.ctx.log.info({ userId, fixes: fixes.length }, 'desk check answered');
    return {
      at: iso(now),
      answers,
      ...(b.note ? { note: b.note } : {}),
      fixes,
      message:
        fixes.length === 0
          ? 'Your desk setup looks good. Keep taking regular breaks from sitting.'
          : `Worth changing: ${fixes.join('; ')}.`,
    };
  }

  /**
   * A wearable's `{"action":"helped"}` / `"not_helped"`, or Home Assistant's buttons: the outcome of the latest
   * method tried in the last UNKNOT_HELPED_WITHIN_HOURS hours (`better`, or `same`).
   */
  async helped(userId: string, helped: boolean) {
    const now = this.ctx.now();
    const within = this.ctx.config.methods.helpedWithinHours * 3_600_000;
    const entries = await this.ctx.adherence.read(userId, now - within, now + 1);
    const latest = latestMethod(entries, now, within);
    if (!latest) {
      throw new InvalidInputError(
        'no_recent_method',
        `no method was tried in the last ${this.ctx.config.methods.helpedWithinHours} hours to say it ${helped ? 'helped' : 'did not help'}`,
      );
    }
    const entry = this.outcomeEntry(latest.methodId, { feeling: helped ? 'better' : 'same' }, now, 'action');
    await this.append(userId, [entry]);
    this.ctx.log.info({ userId, methodId: latest.methodId, helped }, 'method outcome from an action');
    return { methodId: latest.methodId, feeling: entry.feeling };
  }

  /** A device's helped / not_helped action (ingest). */
  async action(device: Device, helped: boolean): Promise<void> {
    await this.helped(device.userId, helped);
  }

  private append(userId: string, logs: LogEntry[]): Promise<void> {
    return this.sessions.appendLogs(userId, logs);
  }
}
