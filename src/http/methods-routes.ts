// HTTP routes of docs/concepts/methods.md: the methods log, what helps, and the desk setup check. Mounted under /api
// (behind the token and the browser guard) through HttpExtensions.apiRouters.
import express, { type Router, type Request } from 'express';
import type { Methods } from '../app/methods.js';
import { InvalidInputError, isValidId } from '../domain/types.js';
import { userIdParam } from './app.js';

const methodIdParam = (req: Request): string => {
  const id = String(req.params.methodId);
  if (!isValidId(id))
    throw new InvalidInputError('invalid_method_id', 'methodId must be 1–64 characters of [A-Za-z0-9_-]');
  return id;
};

export function methodsRouter(methods: Methods): Router {
  const r = express.Router();
  r.post('/users/:userId/methods', async (req, res) => {
    res.status(201).json(await methods.log(userIdParam(req), req.body));
  });
  r.get('/users/:userId/methods', async (req, res) => {
    res.json(await methods.list(userIdParam(req), req.query));
  });
  const outcome = async (req: Request, res: express.Response) => {
    const userId = userIdParam(req);
    res.status(201).json(await methods.outcome(userId, methodIdParam(req), req.body));
  };
  r.post('/users/:userId/methods/:methodId/outcome', outcome);
  r.put('/users/:userId/methods/:methodId/outcome', outcome);
  r.get('/users/:userId/what-helps', async (req, res) => {
    res.json(await methods.whatHelps(userIdParam(req), req.query));
  });
  r.get('/users/:userId/desk-check', async (req, res) => {
    res.json(await methods.deskCheck(userIdParam(req)));
  });
  r.post('/users/:userId/desk-check', async (req, res) => {
    res.status(201).json(await methods.answerDeskCheck(userIdParam(req), req.body));
  });
  return r;
}
