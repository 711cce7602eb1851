// GET /api/openapi.json and /api/asyncapi.json: the interface documents, behind the same token as the rest of /api
// (mounted through HttpExtensions.apiRouters). The AsyncAPI document names this instance's own topic roots.
import express, { type Router } from 'express';
import { buildAsyncApi } from './api-docs/asyncapi.js';
import { buildOpenApi } from './api-docs/openapi.js';
import type { TopicRoots } from '../mqtt/topics.js';

export function apiDocsRouter(roots: TopicRoots): Router {
  // Built once: the documents depend on the code and the config only.
  const openapi = JSON.stringify(buildOpenApi());
  const asyncapi = JSON.stringify(buildAsyncApi(roots));
  const r = express.Router();
  r.get('/openapi.json', (_req, res) => res.type('application/json').send(openapi));
  r.get('/asyncapi.json', (_req, res) => res.type('application/json').send(asyncapi));
  return r;
}
