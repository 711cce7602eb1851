// The report for the therapist (docs/concepts/therapist-report.md): reads the person's profile, state and log for
// the period and hands them to the pure builder in src/domain/report.ts.
import { z } from 'zod';
import { adviseProfessional } from '../domain/advice.js';
import { buildReport, renderReportHtml, reportPeriod, type ReportData } from '../domain/report.js';
import { InvalidInputError } from '../domain/types.js';
import { zodIssues } from '../domain/validation.js';
import type { AppContext } from './context.js';
import type { Users } from './users.js';
import type { Sessions } from './sessions.js';

const DAY_MS = 86_400_000;
/** Pain advice looks back 30 days and persistence needs the start of a run: read this much before the period. */
const LOOKBACK_MS = 45 * DAY_MS;

/** The query of GET /api/users/{userId}/report (also in the OpenAPI document). */
export const reportQuerySchema = z
  .object({
    from: z.string().max(10).optional().describe('first day, YYYY-MM-DD in the person’s time zone'),
    to: z.string().max(10).optional().describe('last day, YYYY-MM-DD; default today, or four weeks after from'),
  })
  .strict();

export class TherapistReport {
  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
    private readonly users: Users,
  ) {}

  async data(userId: string, query: unknown): Promise<ReportData> {
    const profile = await this.sessions.profile(userId);
    const q = reportQuerySchema.safeParse(query ?? {});
    if (!q.success) {
      throw new InvalidInputError('invalid_period', 'only from and to (YYYY-MM-DD) are allowed', zodIssues(q.error));
    }
    const now = this.ctx.now();
    const period = reportPeriod(q.data, profile.timezone, now);
    if ('error' in period) throw new InvalidInputError('invalid_period', period.error);
    const until = Math.min(now, period.endMs - 1);
    const entries = await this.ctx.adherence.read(userId, period.startMs - LOOKBACK_MS, until + 1);
    const advice = adviseProfessional(entries, profile.contraindications, until, this.ctx.config.methods);
    return buildReport(entries, {
      userId,
      ...(profile.name ? { name: profile.name } : {}),
      timezone: profile.timezone,
      period,
      now,
      timeScale: this.ctx.config.timeScale,
      routineTargetPerWeek: profile.routineTargetPerWeek,
      contraindications: profile.contraindications,
      advice: advice.reasons,
      openSession: await this.users.openSession(userId, profile, now),
      methodPolicy: this.ctx.config.methods,
    });
  }

  async html(userId: string, query: unknown): Promise<string> {
    return renderReportHtml(await this.data(userId, query));
  }
}
