// The HTTP API (docs/reference/http-api.md): express 5, JSON in and out, bodies validated with zod, errors as
// {"error": code, "detail": sentence, "issues"?: [...]}.
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { z } from 'zod';
import type { AppContext } from '../app/context.js';
import type { Users } from '../app/users.js';
import { isLoopback } from '../config.js';
import { InvalidInputError, isValidId, NotFoundError, UnauthorizedError, UnknotError } from '../domain/types.js';
import { parseBody } from '../domain/validation.js';
import { asUnavailable, isHeatStop, requireRedis, UNAVAILABLE_RETRY_AFTER_S } from './unavailable.js';
import { browserGuard } from './browser-guard.js';
import { STATUS_OF } from './errors.js';

export interface HttpExtensions {
  /** Routers mounted under /api after the core routes (heat, routines, pain). */
  apiRouters?: Router[];
  /** Routers mounted at / behind the token (dashboard, bull-board). */
  protectedRouters?: Array<{ path: string; router: express.Handler | Router }>;
  /** Routers mounted at / without the token: only what holds no data (the dashboard's HTML, scripts, styles). */
  publicRouters?: Array<{ path: string; router: express.Handler | Router }>;
  ready?: () => Promise<{ redis: boolean; mqtt: boolean }>;
}

/** The body of POST /api/users/{userId}/snooze (also in the OpenAPI document). */
export const snoozeBodySchema = z.object({ minutes: z.number().min(1).max(60).optional() }).strict();

export const userIdParam = (req: Request): string => {
  const id = String(req.params.userId);
  if (!isValidId(id)) throw new InvalidInputError('invalid_user_id', 'userId must be 1–64 characters of [A-Za-z0-9_-]');
  return id;
};

export const deviceIdParam = (req: Request): string => {
  const id = String(req.params.deviceId);
  if (!isValidId(id))
    throw new InvalidInputError('invalid_device_id', 'deviceId must be 1–64 characters of [A-Za-z0-9_-]');
  return id;
};

/** The cookie that carries the token for pages that cannot send a header (bull-board's own requests). */
export const TOKEN_COOKIE = 'unknot_token';

const cookieToken = (req: Request): string | undefined => {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === TOKEN_COOKIE) {
      try {
        return decodeURIComponent(v.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
};

/** SHA-256 of a presented token: equal-length digests let timingSafeEqual compare without leaking the length. */
const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** The token of `Authorization: Bearer <token>` (the scheme in any case, RFC 7235), or undefined. */
const bearerToken = (req: Request): string | undefined => /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];

/**
 * Bearer-token check for the API and the dashboard; open only on a loopback listener without a token.
 * With `cookie` (protected pages only, never /api, so the API stays safe from cross-site requests): a request
 * that shows the token (header, or `?token=` for a page opened by a link) gets it back as an HttpOnly
 * SameSite=Strict cookie, and the cookie is accepted after that. /api takes the header only, so a token never
 * has to appear in an API URL (and in the logs of whatever proxies it).
 */
export function authMiddleware(ctx: AppContext, opts: { cookie?: boolean } = {}) {
  const token = ctx.config.http.token;
  const expected = token ? digest(token) : null;
  const matches = (given: string | undefined) => given !== undefined && timingSafeEqual(digest(given), expected!);
  return (req: Request, res: Response, next: NextFunction) => {
    if (!expected) {
      if (isLoopback(ctx.config.http.host)) return next();
      return next(new UnauthorizedError('unauthorized', 'the API needs UNKNOT_API_TOKEN on a non-loopback address'));
    }
    const shown =
      bearerToken(req) ?? (opts.cookie && typeof req.query.token === 'string' ? req.query.token : undefined);
    if (matches(shown)) {
      if (opts.cookie) {
        res.cookie(TOKEN_COOKIE, token, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: 12 * 3600_000 });
      }
      return next();
    }
    if (opts.cookie && matches(cookieToken(req))) return next();
    res.set('WWW-Authenticate', 'Bearer realm="unknot"');
    next(
      new UnauthorizedError('unauthorized', 'missing or wrong bearer token (Authorization: Bearer <UNKNOT_API_TOKEN>)'),
    );
  };
}

/**
 * At most `perMinute` requests a minute from one client address (IPv6: one /56) on /api and the protected pages,
 * checked before the token so that guessing it is slow too; 0 turns it off. In-process (each instance counts
 * its own), keyed on the socket address: behind a reverse proxy every client shares the proxy's budget.
 */
function rateLimiter(ctx: AppContext): express.Handler | undefined {
  const perMinute = ctx.config.http.rateLimit;
  if (perMinute === 0) return undefined;
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    // Its one-time configuration warnings go to our log, not to stderr.
    logger: {
      warn: (err: unknown) => ctx.log.warn({ err }, 'rate limiter'),
      error: (err: unknown) => ctx.log.warn({ err }, 'rate limiter'),
    },
    handler: (req, res) => {
      const retryAfter = Number(res.getHeader('Retry-After')) || 60;
      ctx.log.warn({ ip: req.ip, path: req.path }, 'rate limited');
      res.status(429).json({
        error: 'rate_limited',
        detail: `more than ${perMinute} requests a minute from this address; try again in ${retryAfter} s`,
      });
    },
  });
}

/**
 * bull-board decodes query values a second time and answers 500 "URI malformed" when one does not decode (found by
 * the HTTP fuzz: `?activeQueue=%3E%7B%3B%25(q3`): such a request is the client's error, so it is a 400 here.
 */
const queryDecodesTwice: express.Handler = (req, _res, next) => {
  for (const value of Object.values(req.query)) {
    if (typeof value !== 'string') continue;
    try {
      decodeURIComponent(value);
    } catch {
      return next(new InvalidInputError('invalid_query', 'a query value is not valid percent-encoded UTF-8'));
    }
  }
  next();
};

export function createHttpApp(ctx: AppContext, users: Users, ext: HttpExtensions = {}) {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(
    helmet({
      contentSecurityPolicy: {
        // helmet's defaults (scripts and styles from this origin only, no plugins, no framing by others) minus
        // upgrade-insecure-requests: on a home LAN the service is plain http://<host>:8080, and upgrading its
        // own scripts to https would break the page. TLS, when wanted, is a reverse proxy's job.
        // frame-ancestors: this origin, plus UNKNOT_HTTP_FRAME_ANCESTORS (Home Assistant's iframe panel).
        directives: { upgradeInsecureRequests: null, frameAncestors: ["'self'", ...ctx.config.http.frameAncestors] },
      },
      // Same reason: HSTS belongs to whatever terminates TLS in front of unknot.
      strictTransportSecurity: false,
      // X-Frame-Options cannot name another origin; browsers that know frame-ancestors ignore it anyway.
      xFrameOptions: ctx.config.http.frameAncestors.length > 0 ? false : { action: 'sameorigin' },
    }),
  );
  // Before every route (probes, /metrics, the dashboard, bull-board, /api): refusals still carry helmet's headers.
  app.use(browserGuard({ http: ctx.config.http, onRefused: (reason) => ctx.metrics.httpRefused.inc({ reason }) }));
  const limiter = rateLimiter(ctx);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const r = ext.ready ? await ext.ready() : { redis: true, mqtt: true };
    const down = Object.entries(r)
      .filter(([, ok]) => !ok)
      .map(([k]) => k);
    if (down.length === 0) res.json({ status: 'ready', redis: 'up', mqtt: 'up' });
    else {
      res.status(503).json({
        error: 'not_ready',
        detail: `${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} not connected`,
        redis: r.redis ? 'up' : 'down',
        mqtt: r.mqtt ? 'up' : 'down',
      });
    }
  });
  app.get('/metrics', async (_req, res) => {
    ctx.health?.recoverAnswering(); // unknot_dependency_up as things are now
    await sampleQueues(ctx);
    res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });

  const api = express.Router();
  if (limiter) api.use(limiter);
  api.use(authMiddleware(ctx));
  // Profiles and health logs: no browser or proxy cache keeps a copy.
  api.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  // Any type: browserGuard already refused bodies that are not JSON, and a body-less POST reads as {}.
  api.use(express.json({ limit: '64kb', type: () => true }));
  // Redis away: 503 within milliseconds, before a route writes anything (the heat stop has its own fallback).
  api.use(requireRedis(ctx.redis, isHeatStop));

  api.get('/users', async (_req, res) => {
    res.json({ users: await ctx.registry.listUsers() });
  });
  api.put('/users/:userId', async (req, res) => {
    res.json(await users.putProfile(userIdParam(req), req.body));
  });
  api.patch('/users/:userId', async (req, res) => {
    res.json(await users.patchProfile(userIdParam(req), req.body));
  });
  api.get('/users/:userId', async (req, res) => {
    res.json(await users.get(userIdParam(req)));
  });
  api.delete('/users/:userId', async (req, res) => {
    await users.deleteUser(userIdParam(req));
    res.status(204).end();
  });
  api.get('/devices', async (_req, res) => {
    res.json({ devices: await ctx.registry.listDevices() });
  });
  api.put('/devices/:deviceId', async (req, res) => {
    res.json(await users.putDevice(deviceIdParam(req), req.body));
  });
  api.get('/devices/:deviceId', async (req, res) => {
    const d = await ctx.registry.getDevice(deviceIdParam(req));
    if (!d) throw new NotFoundError('unknown_device', `no device ${req.params.deviceId}`);
    res.json(d);
  });
  api.delete('/devices/:deviceId', async (req, res) => {
    await users.deleteDevice(deviceIdParam(req));
    res.status(204).end();
  });
  api.post('/users/:userId/snooze', async (req, res) => {
    const body = parseBody(snoozeBodySchema, req.body, 'invalid_snooze');
    res.json(await users.snooze(userIdParam(req), body.minutes));
  });
  api.get('/users/:userId/adherence', async (req, res) => {
    const out = await users.adherence(userIdParam(req), req.query);
    if (out.format === 'csv') {
      res
        .type('text/csv; charset=utf-8')
        .set('Content-Disposition', `attachment; filename="${req.params.userId}-adherence.csv"`)
        .send(out.csv);
    } else res.json({ entries: out.entries });
  });
  api.get('/users/:userId/summary', async (req, res) => {
    res.json(await users.summary(userIdParam(req), req.query));
  });
  for (const r of ext.apiRouters ?? []) api.use(r);
  api.use((req, _res, next) => next(new NotFoundError('not_found', `no API route ${req.method} ${req.path}`)));
  app.use('/api', api);

  for (const p of ext.publicRouters ?? []) app.use(p.path, p.router);
  for (const p of ext.protectedRouters ?? []) {
    app.use(
      p.path,
      ...(limiter ? [limiter] : []),
      authMiddleware(ctx, { cookie: true }),
      requireRedis(ctx.redis),
      queryDecodesTwice,
      p.router,
    );
  }

  app.use((req, _res, next) => next(new NotFoundError('not_found', `nothing at ${req.method} ${req.path}`)));
  app.use((thrown: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const err = asUnavailable(thrown);
    if (err instanceof UnknotError) {
      if (err.kind === 'unavailable') res.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_S));
      res
        .status(STATUS_OF[err.kind])
        .json({ error: err.code, detail: err.message, ...(err.issues ? { issues: err.issues } : {}) });
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'invalid_json', detail: 'the request body is not valid JSON' });
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: 'too_large', detail: 'the request body is larger than 64 KiB' });
      return;
    }
    // What the router or body-parser refuse before a route runs (a path that is not percent-encoded UTF-8, a
    // charset or content encoding we do not read, a body that does not inflate) is the client's fault: 4xx.
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      const [error, detail] =
        err instanceof URIError
          ? ['invalid_path', 'the path is not valid percent-encoded UTF-8']
          : e.type === 'charset.unsupported'
            ? ['unsupported_charset', 'the request body must be UTF-8 JSON']
            : e.type === 'encoding.unsupported'
              ? ['unsupported_encoding', 'the request body must be sent as identity, gzip, deflate or br']
              : ['bad_request', `the request could not be read${e.message ? `: ${e.message}` : ''}`];
      res.status(e.status).json({ error, detail });
      return;
    }
    ctx.log.error({ err }, 'HTTP handler failed');
    res.status(500).json({ error: 'internal', detail: 'something went wrong; see the service log' });
  });
  return app;
}

async function sampleQueues(ctx: AppContext) {
  await Promise.all(
    ctx.queues.all().map(async (q) => {
      try {
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
        for (const [state, n] of Object.entries(counts)) ctx.metrics.queueJobs.set({ queue: q.name, state }, n);
      } catch {
        // Redis away: the gauges keep their last values; /readyz says why.
      }
    }),
  );
}
