// GET /api/users/{userId}/report (docs/concepts/therapist-report.md): the therapist report as one HTML page. Mounted
// under /api through HttpExtensions.apiRouters, so the bearer token, the browser guard, the rate limit and
// Cache-Control: no-store apply as to every API route. It is a GET and changes nothing.
import express, { type Router } from 'express';
import type { TherapistReport } from '../app/report.js';
import { userIdParam } from './app.js';

/**
 * The page holds health data and people's own words, so it gets a policy of its own, stricter than the dashboard's:
 * no script, no fetch, no form, nothing loaded from anywhere (its styles are inline, its charts inline SVG), and
 * framed only by this service's own pages and UNKNOT_HTTP_FRAME_ANCESTORS. Should an escaped string ever slip
 * through, it can run nothing.
 */
export function reportCsp(frameAncestors: readonly string[]): string {
  return [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${["'self'", ...frameAncestors].join(' ')}`,
  ].join('; ');
}

export function reportRouter(report: TherapistReport, frameAncestors: readonly string[]): Router {
  const r = express.Router();
  r.get('/users/:userId/report', async (req, res) => {
    const userId = userIdParam(req);
    const html = await report.html(userId, req.query);
    res
      .type('text/html; charset=utf-8')
      .set('Content-Security-Policy', reportCsp(frameAncestors))
      .set('Content-Disposition', `inline; filename="${userId}-report.html"`)
      .set('Referrer-Policy', 'no-referrer')
      .send(html);
  });
  return r;
}
