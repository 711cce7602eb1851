// HTTP routes of heat-pad sessions (CONTRACT §2): POST starts, DELETE stops, GET (extension) shows the session.
import express, { type Router } from 'express';
import { z } from 'zod';
import type { Heat } from '../app/heat.js';
import { ID_PATTERN } from '../domain/types.js';
import { parseBody, userIdParam } from './app.js';

// `minutes` is checked by the heat rules, not here: a non-number or non-positive value is 422 invalid_minutes
// (CONTRACT §2), while a body that is not this object at all is 400 invalid_heat_request.
export const heatRequestSchema = z
  .object({
    minutes: z.unknown().optional().describe('minutes of heat, at most the profile\'s heat.maxMinutes (default: heat.defaultMinutes)'),
    deviceId: z.string().regex(ID_PATTERN, '1–64 characters of [A-Za-z0-9_-]').optional(),
  })
  .strict();

const iso = (ms: number) => new Date(ms).toISOString();

export function heatRoutes(heat: Heat): Router {
  const router = express.Router();

  router.post('/users/:userId/heat', async (req, res) => {
    const userId = userIdParam(req);
    const body = parseBody(heatRequestSchema, req.body, 'invalid_heat_request');
    const s = await heat.start(userId, { minutes: body.minutes, deviceId: body.deviceId, source: 'api' });
    res.status(201).json({ sessionId: s.sessionId, deviceId: s.deviceId, minutes: s.minutes, startedAt: iso(s.startedAt), offAt: iso(s.offAt) });
  });

  router.delete('/users/:userId/heat', async (req, res) => {
    const s = await heat.stop(userIdParam(req), 'manual');
    res.json({ sessionId: s.sessionId, stoppedAt: iso(s.stoppedAt), offSent: s.offSent });
  });

  router.get('/users/:userId/heat', async (req, res) => {
    res.json(await heat.status(userIdParam(req)));
  });

  return router;
}
