// HTTP routes of heat-pad sessions (docs/reference/http-api.md): POST starts, DELETE stops, GET (extension) shows the session.
import express, { type Router } from 'express';
import { z } from 'zod';
import type { Heat } from '../app/heat.js';
import { ID_PATTERN, PAIN_AREAS } from '../domain/types.js';
import { parseBody } from '../domain/validation.js';
import { userIdParam } from './app.js';
import { isRedisUnavailable } from '../errors.js';
import { redisReady, RedisUnavailableError, UNAVAILABLE_RETRY_AFTER_S } from './unavailable.js';

// `minutes` is checked by the heat rules, not here: a non-number or non-positive value is 422 invalid_minutes
// (docs/concepts/heat-safety.md), while a body that is not this object at all is 400 invalid_heat_request.
export const heatRequestSchema = z
  .object({
    minutes: z
      .unknown()
      .optional()
      .describe("minutes of heat, at most the profile's heat.maxMinutes (default: heat.defaultMinutes)"),
    deviceId: z.string().regex(ID_PATTERN, '1–64 characters of [A-Za-z0-9_-]').optional(),
    area: z.enum(PAIN_AREAS).optional().describe('the pain area the heat is for (its methods-log entry)'),
  })
  .strict();

const iso = (ms: number) => new Date(ms).toISOString();

/** `redis`: the shared connection, to tell a stop that can be recorded from one that needs the fallback. */
export function heatRoutes(heat: Heat, redis: { status: string }): Router {
  const router = express.Router();

  router.post('/users/:userId/heat', async (req, res) => {
    const userId = userIdParam(req);
    const body = parseBody(heatRequestSchema, req.body, 'invalid_heat_request');
    const s = await heat.start(userId, {
      minutes: body.minutes,
      deviceId: body.deviceId,
      source: 'api',
      ...(body.area ? { area: body.area } : {}),
    });
    res.status(201).json({
      sessionId: s.sessionId,
      deviceId: s.deviceId,
      minutes: s.minutes,
      startedAt: iso(s.startedAt),
      offAt: iso(s.offAt),
    });
  });

  router.delete('/users/:userId/heat', async (req, res) => {
    const userId = userIdParam(req);
    try {
      if (!redisReady(redis)) throw new RedisUnavailableError();
      const s = await heat.stop(userId, 'manual');
      res.json({ sessionId: s.sessionId, stoppedAt: iso(s.stoppedAt), offSent: s.offSent });
    } catch (err) {
      if (!(err instanceof RedisUnavailableError) && !isRedisUnavailable(err)) throw err;
      // Redis away: a pad must still go off. OFF straight to the pads this instance knows; recorded later.
      const r = await heat.stopWithoutRedis(userId);
      if (r.deviceIds.length === 0) {
        throw new RedisUnavailableError(
          `redis is unavailable and this instance knows no heat pad of ${userId}${r.failed.length ? ` it could reach (${r.failed.join(', ')})` : ''}; no OFF was sent, try again shortly`,
        );
      }
      res
        .status(202)
        .set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_S))
        .json({
          offSent: true,
          recorded: false,
          deviceIds: r.deviceIds,
          stoppedAt: iso(Date.now()),
          detail: `redis is unavailable: OFF sent directly to ${r.deviceIds.join(', ')}; the stop is recorded when Redis is back`,
        });
    }
  });

  router.get('/users/:userId/heat', async (req, res) => {
    res.json(await heat.status(userIdParam(req)));
  });

  return router;
}
