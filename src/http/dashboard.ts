// The dashboard (plain HTML/JS/CSS under ./dashboard/, no build step) and bull-board. The page holds no data:
// it is served without the token so it can ask for one, and reads everything through /api with
// `Authorization: Bearer <token>`. bull-board (/admin/queues) sits behind the token like the API.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type Router } from 'express';
import type { AppContext } from '../app/context.js';

/** The folder of the dashboard's files: next to this module from src/, or src/http/dashboard from dist/. */
function dashboardDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, 'dashboard'),
    join(here, '../../../src/http/dashboard'),
    join(here, '../../src/http/dashboard'),
  ];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0]!;
}

/** chart.js's UMD build from node_modules: the dashboard works offline, no CDN. */
function chartJsFile(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

export const BULL_BOARD_PATH = '/admin/queues';

export function dashboardRouter(ctx: AppContext): Router {
  const dir = dashboardDir();
  const chartJs = chartJsFile();
  const r = express.Router();
  const noStore = { headers: { 'cache-control': 'no-cache' } };
  r.get('/', (_req, res) => res.sendFile(join(dir, 'index.html'), noStore));
  r.get('/dashboard/app.js', (_req, res) => res.type('text/javascript').sendFile(join(dir, 'app.js'), noStore));
  r.get('/dashboard/style.css', (_req, res) => res.type('text/css').sendFile(join(dir, 'style.css'), noStore));
  r.get('/dashboard/vendor/chart.umd.min.js', (_req, res) =>
    res.type('text/javascript').sendFile(chartJs, { maxAge: '1d' }),
  );
  // What the page needs to know before it has a token: whether to ask for one, and the demo time scale.
  r.get('/dashboard/config.json', (_req, res) => {
    res.json({ tokenRequired: !!ctx.config.http.token, timeScale: ctx.config.timeScale, queuesPath: BULL_BOARD_PATH });
  });
  return r;
}

export function bullBoardRouter(ctx: AppContext): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: ctx.queues.all().map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'unknot queues' } },
  });
  return serverAdapter.getRouter() as Router;
}
