// HTTP routes of docs/concepts/routines.md and pain-and-advice.md: guided routines, the pain log and medical clearance. Mounted under /api (behind
// the token) through HttpExtensions.apiRouters.
import express, { type Router } from 'express';
import { z } from 'zod';
import type { PainLog } from '../app/pain.js';
import type { Routines } from '../app/routines.js';
import { InvalidInputError, isValidId, PAIN_AREAS } from '../domain/types.js';
import { parseBody } from '../domain/validation.js';
import { userIdParam } from './app.js';

export const routineStartBodySchema = z
  .object({
    routine: z.string().max(64).optional(),
    /** The pain area the routine is for (its methods-log entry); default: the latest pain logged. */
    area: z.enum(PAIN_AREAS).optional(),
  })
  .strict();

export function routinesRouter(routines: Routines, pain: PainLog): Router {
  const r = express.Router();

  r.post('/users/:userId/routines', async (req, res) => {
    const userId = userIdParam(req);
    const body = parseBody(routineStartBodySchema, req.body, 'invalid_routine');
    res.status(201).json(await routines.start(userId, body.routine, body.area));
  });
  r.get('/users/:userId/routines', async (req, res) => {
    res.json(await routines.list(userIdParam(req)));
  });
  r.delete('/users/:userId/routines/:routineId', async (req, res) => {
    const userId = userIdParam(req);
    const routineId = String(req.params.routineId);
    if (!isValidId(routineId))
      throw new InvalidInputError('invalid_routine_id', 'routineId must be 1–64 characters of [A-Za-z0-9_-]');
    res.json(await routines.stop(userId, routineId, 'stopped_via_api'));
  });
  r.post('/users/:userId/pain', async (req, res) => {
    res.status(201).json(await pain.log(userIdParam(req), req.body));
  });
  r.post('/users/:userId/clearance', async (req, res) => {
    res.status(201).json(await pain.clear(userIdParam(req), req.body));
  });
  return r;
}
