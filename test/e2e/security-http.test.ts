// The HTTP side of security: the token on /api, on the dashboard's data and on bull-board; helmet's headers;
// the body limit; and the per-address rate limit (UNKNOT_API_RATE_LIMIT) with its 429, default and off switch.
import { request } from 'node:http';
import { launchChromium } from '../support/browser.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceHandle } from '../support/service-process.js';
import { harness, putUser, type Harness } from '../support/unknot.js';

const TOKEN = 'a-long-enough-test-token-0123456789';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** GET from a chosen local address (the whole of 127/8 is loopback on Linux): a second client for the limiter. */
function getFrom(svc: ServiceHandle, path: string, localAddress: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: svc.httpPort, path, localAddress, headers, timeout: 10_000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    },
  );
}

/** `n` requests, `parallel` at a time; the statuses in order of sending. */
async function burst(n: number, parallel: number, send: () => Promise<number>): Promise<number[]> {
  const statuses: number[] = new Array<number>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        const i = next++;
        statuses[i] = await send();
      }
    }),
  );
  return statuses;
}

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

describe('the API token', () => {
  it('guards /api, the dashboard data and bull-board, compared whole and in any scheme case; 401 is JSON', async () => {
    h = await harness('sec-token', { UNKNOT_API_TOKEN: TOKEN });
    const svc = await h.start();
    await putUser(svc, 'ana');
    const get = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, svc.baseUrl), { headers });
    const refused = async (path: string, headers: Record<string, string> = {}) => {
      const r = await get(path, headers);
      expect(r.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
      expect(r.headers.get('content-type')).toContain('application/json');
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="unknot"');
      expect(await r.json()).toEqual({ error: 'unauthorized', detail: expect.stringContaining('bearer token') });
    };
    const wrongSameLength = TOKEN.slice(0, -1) + (TOKEN.endsWith('9') ? '8' : '9');
    for (const path of [
      '/api/users',
      '/api/users/ana',
      '/api/users/ana/summary?days=7',
      '/api/users/ana/adherence',
      '/admin/queues/',
      '/admin/queues/api/queues',
    ]) {
      await refused(path);
      await refused(path, { authorization: `Bearer ${wrongSameLength}` });
      await refused(path, { authorization: `Bearer ${TOKEN.slice(0, 16)}` });
      await refused(path, { authorization: `Bearer ${TOKEN}x` });
      await refused(path, { authorization: TOKEN });
      await refused(path, { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` });
    }
    // /api takes the header only: a token in the URL is not accepted there (it would end up in proxy logs).
    await refused(`/api/users?token=${TOKEN}`);
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      expect((await get('/api/users/ana/summary?days=7', { authorization: `${scheme} ${TOKEN}` })).status).toBe(200);
    }
    // The dashboard page holds no data and is served to ask for the token; its data is what is guarded.
    expect((await get('/')).status).toBe(200);
    // bull-board: the token once (header or ?token=, from the dashboard's link) gives the HttpOnly cookie.
    const board = await get(`/admin/queues/?token=${TOKEN}`);
    expect(board.status).toBe(200);
    const cookie = (board.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect(cookie).toBe(`unknot_token=${encodeURIComponent(TOKEN)}`);
    expect((await get('/admin/queues/api/queues', { cookie })).status).toBe(200);
    await refused('/admin/queues/api/queues', { cookie: `unknot_token=${wrongSameLength}` });
    await refused('/api/users', { cookie });
    // Probes stay open.
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
  });
});

describe('helmet headers', () => {
  it('every response carries them; the CSP fits the dashboard on plain http; API answers are not cached', async () => {
    h = await harness('sec-helmet');
    const svc = await h.start();
    for (const path of ['/', '/api/users', '/healthz', '/dashboard/app.js', '/nothing-here']) {
      const r = await fetch(new URL(path, svc.baseUrl));
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("frame-ancestors 'self'");
      // On a LAN the dashboard is http://<host>:8080: upgrading its own scripts to https would break it.
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(r.headers.get('strict-transport-security')).toBeNull();
      expect(r.headers.get('x-powered-by')).toBeNull();
    }
    expect((await fetch(new URL('/api/users', svc.baseUrl))).headers.get('cache-control')).toBe('no-store');
  });

  it('bull-board still works in a browser under the CSP (its page, scripts and API calls)', async () => {
    h = await harness('sec-board', { UNKNOT_API_TOKEN: TOKEN });
    const svc = await h.start();
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const blocked: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) blocked.push(m.text());
      });
      page.on('pageerror', (err) => blocked.push(err.message));
      await page.goto(`${svc.baseUrl}/admin/queues/?token=${TOKEN}`);
      // The queue names come from its own API, called with the cookie: the app ran.
      await page.waitForFunction(() => /nudges/.test(document.body.innerText), undefined, { timeout: 20_000 });
      expect(blocked).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it('a body over 64 KiB is a 413 too_large and stores nothing', async () => {
    h = await harness('sec-body');
    const svc = await h.start();
    const r = await svc.fetchJson('/api/users/big', {
      method: 'PUT',
      json: { timezone: 'UTC', pad: 'x'.repeat(70 * 1024) },
    });
    expect(r).toMatchObject({ status: 413, body: { error: 'too_large' } });
    expect((await svc.fetchJson('/api/users/big')).status).toBe(404);
  });
});

describe('rate limiting', () => {
  it('past UNKNOT_API_RATE_LIMIT a minute, one address gets 429 rate_limited with Retry-After; others and probes do not', async () => {
    h = await harness('sec-rate', { UNKNOT_API_TOKEN: TOKEN, UNKNOT_API_RATE_LIMIT: '30' });
    const svc = await h.start();
    const auth = { authorization: `Bearer ${TOKEN}` };
    // Wrong tokens count too: guessing the token is as slow as using it.
    const statuses = await burst(
      40,
      4,
      async () =>
        (await getFrom(svc, '/api/users', '127.0.0.1', { authorization: 'Bearer wrong-token-guess-000000' })).status,
    );
    expect(count(statuses, 401)).toBe(30);
    expect(count(statuses, 429)).toBe(10);
    const limited = await getFrom(svc, '/api/users', '127.0.0.1', auth);
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.body)).toEqual({
      error: 'rate_limited',
      detail: expect.stringMatching(/more than 30 requests a minute.*try again in \d+ s/),
    });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // bull-board shares the address's budget.
    expect((await getFrom(svc, '/admin/queues/', '127.0.0.1', auth)).status).toBe(429);
    // Another client address has its own budget; health, readiness and metrics are never limited.
    expect((await getFrom(svc, '/api/users', '127.0.0.2', auth)).status).toBe(200);
    for (const path of ['/healthz', '/readyz', '/metrics', '/'])
      expect((await getFrom(svc, path, '127.0.0.1')).status, path).toBe(200);
  });

  it('the default is 600 a minute, and 0 turns the limit off', async () => {
    h = await harness('sec-rate-default');
    const dflt = await h.start({ UNKNOT_API_RATE_LIMIT: undefined }, 'default-limit');
    const first = await burst(620, 8, async () => (await fetch(new URL('/api/users', dflt.baseUrl))).status);
    expect(count(first, 200)).toBe(600);
    expect(count(first, 429)).toBe(20);
    const off = await h.start({ UNKNOT_API_RATE_LIMIT: '0' }, 'no-limit');
    const all = await burst(700, 8, async () => (await fetch(new URL('/api/users', off.baseUrl))).status);
    expect(count(all, 200)).toBe(700);
  }, 120_000);
});
