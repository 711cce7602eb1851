// What a web page in the user's browser can make unknot do (docs/operations/browser-security.md): DNS rebinding
// (a Host the service does not answer for), CSRF (a state-changing request from another origin, a body that is not
// JSON) and clickjacking (framing). Real HTTP requests with the headers a browser sends, then the same attacks from
// a page of another origin in headless Chromium. "Nothing changed" is checked where a user would notice: no command
// to the heat pad on MQTT, no heat session, no pain entry in the log.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, requireChromium } from '../support/browser.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceHandle } from '../support/service-process.js';
import { adherence, eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';

const TOKEN = 'a-long-enough-test-token-0123456789';

let h: Harness | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await h?.close();
  h = undefined;
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: unknown;
}

/** One HTTP/1.1 request with exactly these headers (Host included: fetch would not let us choose it). */
function send(
  svc: ServiceHandle,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: svc.httpPort,
        method,
        path,
        headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers },
        timeout: 10_000,
        setHost: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** HTTP/1.0 without a Host header (Node answers HTTP/1.1 without one by itself, with a 400). */
function sendWithoutHost(svc: ServiceHandle, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(svc.httpPort, '127.0.0.1', () => s.end(`GET ${path} HTTP/1.0\r\n\r\n`));
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
}

/** ana, a Tasmota heat pad whose commands the test watches, and the token header when one is set. */
async function setUp(label: string, env: Record<string, string> = {}) {
  h = await harness(label, { UNKNOT_HA_DISCOVERY: 'false', ...env });
  const svc = await h.start();
  const pad = `${h.ns.baseTopic}-pad`;
  await h.mqtt.subscribe(`cmnd/${pad}/#`);
  await putUser(svc, 'ana', { heatCooldownMinutes: 0 });
  await putDevice(svc, 'ana-pad', { userId: 'ana', role: 'heatpad', protocol: 'tasmota', topic: pad });
  const auth: Record<string, string> = env.UNKNOT_API_TOKEN ? { authorization: `Bearer ${env.UNKNOT_API_TOKEN}` } : {};
  const own = `127.0.0.1:${svc.httpPort}`;
  return { svc, pad, auth, own, mqtt: h.mqtt };
}

type Setup = Awaited<ReturnType<typeof setUp>>;

/** unknot_http_refused_total{reason} from /metrics. */
async function refusedCount({ svc, own }: Setup, reason: string): Promise<number> {
  const r = await send(svc, 'GET', '/metrics', { host: own });
  const m = new RegExp(`^unknot_http_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(r.body);
  return m ? Number(m[1]) : 0;
}

/** The pad is off, no command went to it, and no pain entry (or anything else) was logged. */
async function expectNothingChanged({ svc, pad, mqtt }: Setup, why: string) {
  // A command would be published while the request is answered; a short grace covers a slow broker.
  await sleep(300);
  expect(
    mqtt.messages(`cmnd/${pad}/#`).map((m) => `${m.topic} ${m.payload}`),
    `heat command sent: ${why}`,
  ).toEqual([]);
  const heat = await svc.fetchJson('/api/users/ana/heat');
  expect(heat.status).toBe(200);
  expect(JSON.stringify(heat.body), `heat on: ${why}`).not.toMatch(/"on":true|"sessionId":"/);
  expect(await adherence(svc, 'ana'), `log changed: ${why}`).toEqual([]);
}

/** The attacks that must not reach a route, as a browser would send them (text/plain is what a form or no-cors fetch can send). */
const csrfAttempts = (own: string): Array<[string, string, Record<string, string>, string | undefined]> => {
  const plain = { 'content-type': 'text/plain;charset=UTF-8' };
  const json = { 'content-type': 'application/json' };
  const evil = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };
  return [
    ['POST', '/api/users/ana/heat', { ...plain, ...evil }, '{"minutes":15}'],
    ['POST', '/api/users/ana/heat', { ...json, ...evil }, '{"minutes":15}'],
    ['POST', '/api/users/ana/heat', { ...json, origin: 'null' }, '{"minutes":15}'],
    [
      'POST',
      '/api/users/ana/heat',
      { ...json, origin: `http://127.0.0.2:${own.split(':')[1]}`, 'sec-fetch-site': 'same-site' },
      '{}',
    ],
    ['POST', '/api/users/ana/heat', { ...json, referer: 'https://evil.example/page.html' }, '{}'],
    ['POST', '/api/users/ana/heat', { ...json, 'sec-fetch-site': 'cross-site' }, '{}'],
    ['POST', '/api/users/ana/heat', { ...evil }, undefined],
    ['POST', '/api/users/ana/pain', { ...plain, ...evil }, '{"level":4,"area":"neck"}'],
    [
      'POST',
      '/api/users/ana/pain',
      { 'content-type': 'application/x-www-form-urlencoded', ...evil },
      'level=4&area=neck',
    ],
    [
      'POST',
      '/api/users/ana/pain',
      { 'content-type': 'multipart/form-data; boundary=x', ...evil },
      '--x\r\nContent-Disposition: form-data; name="level"\r\n\r\n4\r\n--x--\r\n',
    ],
    ['POST', '/api/users/ana/pain', { ...json, origin: `https://${own}.evil.example` }, '{"level":4,"area":"neck"}'],
    ['PUT', '/api/users/ana', { ...json, ...evil }, '{"contraindications":[]}'],
    ['DELETE', '/api/users/ana', { ...evil }, undefined],
    ['DELETE', '/api/devices/ana-pad', { origin: 'null' }, undefined],
  ];
};

describe('DNS rebinding: the Host check', () => {
  for (const token of [false, true]) {
    it(`a Host the service does not answer for is a 421 on every path, before any route (${token ? 'token set' : 'loopback, no token'})`, async () => {
      const s = await setUp(token ? 'brw-host-tok' : 'brw-host', token ? { UNKNOT_API_TOKEN: TOKEN } : {});
      const port = s.svc.httpPort;
      const paths = [
        '/healthz',
        '/readyz',
        '/metrics',
        '/',
        '/dashboard/app.js',
        '/dashboard/config.json',
        '/admin/queues/',
        '/api/users',
        '/api/users/ana',
        '/api/users/ana/adherence?format=csv',
        '/nothing-here',
      ];
      for (const host of [
        `rebind.evil.example:${port}`,
        'rebind.evil.example',
        `localhost:${port + 1}`,
        `127.0.0.1:${port}.evil.example`,
        `evil.example@127.0.0.1:${port}`,
        `localhost.:${port}`,
      ]) {
        for (const path of paths) {
          const r = await send(s.svc, 'GET', path, { host, ...s.auth });
          const why = `GET ${path} with Host ${JSON.stringify(host)}`;
          expect(r.status, why).toBe(421);
          expect(r.headers['content-type'], why).toMatch(/^application\/json/);
          expect(r.json, why).toEqual({
            error: 'unknown_host',
            detail: expect.stringContaining('UNKNOT_HTTP_ALLOWED_HOSTS'),
          });
          // The refusal carries the same security headers as every other answer.
          expect(r.headers['x-content-type-options'], why).toBe('nosniff');
        }
      }
      // A rebound page's POST gets no further either.
      const post = await send(
        s.svc,
        'POST',
        '/api/users/ana/heat',
        {
          host: `rebind.evil.example:${port}`,
          'content-type': 'application/json',
          origin: `http://rebind.evil.example:${port}`,
          ...s.auth,
        },
        '{"minutes":15}',
      );
      expect(post.status).toBe(421);
      expect(await sendWithoutHost(s.svc, '/api/users/ana')).toMatch(/^HTTP\/1\.1 400[^]*"error":"missing_host"/);
      expect((await send(s.svc, 'GET', '/api/users/ana', { host: '', ...s.auth })).json).toMatchObject({
        error: 'missing_host',
      });
      await expectNothingChanged(s, 'refused Hosts');
      // The names of this machine, on the port it listens on (HTTP_PORT=0 here: the port it picked), are answered.
      for (const host of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        `LOCALHOST:${port}`,
        `[::1]:${port}`,
        `[0:0:0:0:0:0:0:1]:${port}`,
      ]) {
        const r = await send(s.svc, 'GET', '/api/users/ana', { host, ...s.auth });
        expect(r.status, host).toBe(200);
      }
    });
  }

  it('UNKNOT_HTTP_ALLOWED_HOSTS adds names (any port) and name:port pairs, for a reverse proxy or a LAN name', async () => {
    const s = await setUp('brw-host-extra', { UNKNOT_HTTP_ALLOWED_HOSTS: 'unknot.lan, proxy.example:8443' });
    const status = async (host: string) => (await send(s.svc, 'GET', '/healthz', { host })).status;
    expect(await status('unknot.lan')).toBe(200);
    expect(await status('UNKNOT.lan:9999')).toBe(200);
    expect(await status('proxy.example:8443')).toBe(200);
    expect(await status('proxy.example')).toBe(421);
    expect(await status('proxy.example:443')).toBe(421);
    expect(await status('other.lan')).toBe(421);
    // Behind a TLS proxy the page is https://proxy.example:8443: its own POSTs are same-origin.
    const r = await send(
      s.svc,
      'POST',
      '/api/users/ana/pain',
      { host: 'proxy.example:8443', origin: 'https://proxy.example:8443', 'content-type': 'application/json' },
      '{"level":2,"area":"neck"}',
    );
    expect(r.status, r.body).toBe(201);
  });

  it('on a wildcard listener (0.0.0.0) IP-literal Hosts are answered on any port, names only when allowed', async () => {
    const s = await setUp('brw-host-any', { HTTP_HOST: '0.0.0.0', UNKNOT_API_TOKEN: TOKEN });
    const status = async (host: string) => (await send(s.svc, 'GET', '/api/users/ana', { host, ...s.auth })).status;
    // A Kubernetes probe or a LAN client by address, through a port mapping or not: an IP cannot be rebound.
    expect(await status(`127.0.0.1:${s.svc.httpPort}`)).toBe(200);
    expect(await status('192.0.2.7:30080')).toBe(200);
    expect(await status('[2001:db8::1]:8080')).toBe(200);
    expect(await status(`localhost:${s.svc.httpPort}`)).toBe(200);
    expect(await status(`unknot.lan:${s.svc.httpPort}`)).toBe(421);
    expect(await status(`rebind.evil.example:${s.svc.httpPort}`)).toBe(421);
  });

  it('a malformed UNKNOT_HTTP_ALLOWED_HOSTS or UNKNOT_HTTP_ALLOWED_ORIGINS stops start-up with one line naming it', async () => {
    h = await harness('brw-config');
    const { runExpectingExit } = await import('../support/service-process.js');
    for (const [name, value] of [
      ['UNKNOT_HTTP_ALLOWED_HOSTS', 'unknot.lan,http://x'],
      ['UNKNOT_HTTP_ALLOWED_HOSTS', 'a@b'],
      ['UNKNOT_HTTP_ALLOWED_ORIGINS', 'evil.example'],
      ['UNKNOT_HTTP_ALLOWED_ORIGINS', 'https://ha.example/path'],
      ['UNKNOT_HTTP_FRAME_ANCESTORS', '*'],
    ] as const) {
      const r = await runExpectingExit({ ...h.env, [name]: value });
      expect(r.code, `${name}=${value}`).toBe(2);
      expect(r.stdout + r.stderr, `${name}=${value}`).toContain(name);
    }
  }, 120_000);
});

describe('CSRF: the Origin check and JSON only', () => {
  for (const token of [false, true]) {
    it(`cross-site writes are refused and change nothing, same-origin and header-less ones work (${token ? 'token set, and shown' : 'loopback, no token'})`, async () => {
      const s = await setUp(token ? 'brw-csrf-tok' : 'brw-csrf', token ? { UNKNOT_API_TOKEN: TOKEN } : {});
      for (const [method, path, headers, body] of csrfAttempts(s.own)) {
        const r = await send(s.svc, method, path, { host: s.own, ...headers, ...s.auth }, body);
        const why = `${method} ${path} ${JSON.stringify(headers)} → ${r.status} ${r.body}`;
        // Origin first (403), then the content type (415): both before any route, whatever the token.
        expect([403, 415], why).toContain(r.status);
        if (headers.origin || headers.referer || headers['sec-fetch-site'])
          expect(r.json, why).toMatchObject({ error: 'foreign_origin' });
        else expect(r.json, why).toMatchObject({ error: 'unsupported_media_type' });
        expect(r.json, why).toEqual({ error: expect.any(String), detail: expect.stringMatching(/\S/) });
      }
      // JSON only even without any Origin: text/plain, a form, a body with no content type.
      for (const headers of [
        { 'content-type': 'text/plain' },
        { 'content-type': 'application/x-www-form-urlencoded' },
        {},
      ] as Array<Record<string, string>>) {
        const r = await send(
          s.svc,
          'POST',
          '/api/users/ana/pain',
          { host: s.own, ...headers, ...s.auth },
          '{"level":4,"area":"neck"}',
        );
        expect({ status: r.status, body: r.json }, JSON.stringify(headers)).toEqual({
          status: 415,
          body: { error: 'unsupported_media_type', detail: expect.stringContaining('application/json') },
        });
      }
      await expectNothingChanged(s, 'cross-site and non-JSON writes');

      // What must keep working: the dashboard's own origin, any spelling of JSON, curl without a body or Origin.
      const pain = await send(
        s.svc,
        'POST',
        '/api/users/ana/pain',
        {
          host: s.own,
          origin: `http://${s.own}`,
          'sec-fetch-site': 'same-origin',
          'content-type': 'application/json; charset=UTF-8',
          ...s.auth,
        },
        '{"level":3,"area":"neck"}',
      );
      expect(pain.status, pain.body).toBe(201);
      const patch = await send(
        s.svc,
        'PATCH',
        '/api/users/ana',
        { host: s.own, 'content-type': 'application/merge-patch+json', ...s.auth },
        '{"maxSnoozes":3}',
      );
      expect(patch.status, patch.body).toBe(200);
      const on = await send(s.svc, 'POST', '/api/users/ana/heat', { host: `localhost:${s.svc.httpPort}`, ...s.auth });
      expect(on.status, on.body).toBe(201);
      await s.mqtt.waitFor(`cmnd/${s.pad}/Backlog`, 10_000);
      const off = await send(s.svc, 'DELETE', '/api/users/ana/heat', { host: s.own, ...s.auth });
      expect(off.status, off.body).toBe(200);
      // GETs, the CSV export included, are unaffected by Origin and content type.
      const csv = await send(s.svc, 'GET', '/api/users/ana/adherence?format=csv', {
        host: s.own,
        origin: 'https://evil.example',
        'content-type': 'text/plain',
        ...s.auth,
      });
      expect(csv.status).toBe(200);
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      expect(csv.body).toContain('pain_logged');
    });
  }

  it('UNKNOT_HTTP_ALLOWED_ORIGINS lets a named origin write, with JSON; every other origin stays refused', async () => {
    const s = await setUp('brw-origin-extra', { UNKNOT_HTTP_ALLOWED_ORIGINS: 'https://ha.example:8123' });
    const pain = (origin: string, type = 'application/json') =>
      send(
        s.svc,
        'POST',
        '/api/users/ana/pain',
        { host: s.own, origin, 'content-type': type },
        '{"level":2,"area":"neck"}',
      );
    expect((await pain('https://ha.example:8123')).status).toBe(201);
    expect((await pain('HTTPS://HA.example:8123')).status).toBe(201);
    expect((await pain('http://ha.example:8123')).status).toBe(403);
    expect((await pain('https://ha.example')).status).toBe(403);
    expect((await pain('https://ha.example:8123', 'text/plain')).status).toBe(415);
    expect((await adherence(s.svc, 'ana')).filter((e) => e.type === 'pain_logged')).toHaveLength(2);
  });
});

describe('clickjacking: framing', () => {
  it("by default only the service's own pages may frame it; UNKNOT_HTTP_FRAME_ANCESTORS adds Home Assistant", async () => {
    const s = await setUp('brw-frame');
    for (const path of ['/', '/api/users/ana']) {
      const r = await send(s.svc, 'GET', path, { host: s.own });
      expect(r.headers['content-security-policy']).toMatch(/frame-ancestors 'self'(;|$)/);
      expect(r.headers['x-frame-options']).toBe('SAMEORIGIN');
    }
    const ha = await h!.start({ UNKNOT_HTTP_FRAME_ANCESTORS: 'http://homeassistant.local:8123' }, 'brw-frame-ha');
    const r = await send(ha, 'GET', '/', { host: `127.0.0.1:${ha.httpPort}` });
    expect(r.headers['content-security-policy']).toMatch(
      /frame-ancestors 'self' http:\/\/homeassistant\.local:8123(;|$)/,
    );
    // X-Frame-Options cannot name Home Assistant; browsers that read frame-ancestors ignore it.
    expect(r.headers['x-frame-options']).toBeUndefined();
  });
});

// ------------------------------------------------------------------------------------------ a real browser

/** An attacker's web server: one page, served from another origin than the service. */
async function attackerSite(html: string, host: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve, reject) => server.listen(0, host, resolve).once('error', reject));
  const port = (server.address() as { port: number }).port;
  return {
    origin: `http://${host}:${port}`,
    // The browser keeps connections open: close them, or close() waits for them.
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function launchChromium(resolverRules?: string): Promise<BrowserContext> {
  requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'unknot-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(resolverRules ? [`--host-resolver-rules=${resolverRules}`] : [])],
  });
  cleanups.push(() => rmSync(profile, { recursive: true, force: true }));
  cleanups.push(() => context.close());
  return context;
}

/** The attacker's page: no-cors fetches with text/plain, a CORS fetch with JSON, and text/plain forms, against heat and pain. */
const attackPage = (target: string) => `<!doctype html><meta charset="utf-8"><title>cute cats</title>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="f1" method="post" enctype="text/plain" action="${target}/api/users/ana/heat" target="sink1"><input name='{"minutes":15,"x":"' value='"}'></form>
<form id="f2" method="post" enctype="text/plain" action="${target}/api/users/ana/pain" target="sink2"><input name='{"level":4,"area":"neck","x":"' value='"}'></form>
<script>
window.attack = async () => {
  const out = [];
  const note = (what, p) => p.then((r) => out.push(what + ': answered ' + r.type + ' ' + r.status), (e) => out.push(what + ': ' + e.message));
  await note('no-cors heat', fetch('${target}/api/users/ana/heat', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"minutes":15}' }));
  await note('no-cors pain', fetch('${target}/api/users/ana/pain', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"level":4,"area":"neck"}' }));
  await note('no-cors heat, no body', fetch('${target}/api/users/ana/heat', { method: 'POST', mode: 'no-cors' }));
  await note('cors json heat', fetch('${target}/api/users/ana/heat', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"minutes":15}' }));
  const loaded = (name) => new Promise((r) => { document.querySelector('iframe[name=' + name + ']').addEventListener('load', r, { once: true }); setTimeout(r, 5000); });
  const l1 = loaded('sink1'); document.getElementById('f1').submit(); await l1;
  const l2 = loaded('sink2'); document.getElementById('f2').submit(); await l2;
  return out;
};
</script>`;

describe('in a real browser (headless Chromium)', () => {
  for (const token of [false, true]) {
    it(`a page from another origin cannot switch the pad on or log pain: fetch and form posts (${token ? 'token set' : 'loopback, no token'})`, async () => {
      const s = await setUp(token ? 'brw-chrome-tok' : 'brw-chrome', token ? { UNKNOT_API_TOKEN: TOKEN } : {});
      const context = await launchChromium();
      // 127.0.0.2 is another site than 127.0.0.1 to the browser, and loopback to the machine.
      const evil = await attackerSite(attackPage(s.svc.baseUrl), '127.0.0.2');
      cleanups.push(evil.close);
      const page = await context.newPage();
      const refusedBefore = await refusedCount(s, 'foreign_origin');
      await page.goto(`${evil.origin}/`);
      const out = await page.evaluate(() => (window as unknown as { attack: () => Promise<string[]> }).attack());
      expect(out, out.join('\n')).toHaveLength(4);
      // The CORS request with JSON never left the browser: its preflight got no Access-Control-Allow-Origin.
      expect(
        out.find((o) => o.startsWith('cors json heat')),
        out.join('\n'),
      ).toMatch(/Failed to fetch/);
      await expectNothingChanged(s, `attack page: ${out.join('; ')}`);
      // The other five (three no-cors fetches, two forms) did reach the service, and the Origin check refused them.
      await eventually(
        async () => (await refusedCount(s, 'foreign_origin')) - refusedBefore >= 5 || undefined,
        10_000,
        'five refusals counted',
      );
      expect((await refusedCount(s, 'foreign_origin')) - refusedBefore).toBe(5);

      // Control: the browser and the observation work. The service's own page, same origin, JSON, switches it on.
      const own = await context.newPage();
      await own.goto(`${s.svc.baseUrl}/dashboard/config.json`);
      const status = await own.evaluate(
        async ([auth]) =>
          (
            await fetch('/api/users/ana/heat', {
              method: 'POST',
              headers: { 'content-type': 'application/json', ...auth },
              body: '{"minutes":10}',
            })
          ).status,
        [s.auth] as const,
      );
      expect(status).toBe(201);
      await s.mqtt.waitFor(`cmnd/${s.pad}/Backlog`, 10_000);
      expect((await send(s.svc, 'DELETE', '/api/users/ana/heat', { host: s.own, ...s.auth })).status).toBe(200);
    }, 120_000);
  }

  it('a page rebound to the service under its own name gets nothing: every answer is a 421', async () => {
    const s = await setUp('brw-chrome-rebind');
    // The attacker's name now resolves to the machine (what a rebinding DNS server does after the page loaded).
    const context = await launchChromium('MAP rebind.evil.test 127.0.0.1');
    const page = await context.newPage();
    const nav = await page.goto(`http://rebind.evil.test:${s.svc.httpPort}/`);
    expect(nav?.status()).toBe(421);
    const got = await page.evaluate(async () => {
      const read = async (path: string, init?: RequestInit) => {
        const r = await fetch(path, init);
        return `${r.status} ${await r.text()}`;
      };
      return [
        await read('/api/users/ana/adherence?format=csv'),
        await read('/api/users/ana'),
        await read('/api/users/ana/heat', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"minutes":15}',
        }),
        await read('/api/users/ana/pain', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"level":4,"area":"neck"}',
        }),
      ];
    });
    for (const answer of got) expect(answer).toMatch(/^421 \{"error":"unknown_host"/);
    await expectNothingChanged(s, 'rebound page');
  }, 120_000);

  it('a page of another origin cannot frame the dashboard', async () => {
    const s = await setUp('brw-chrome-frame');
    const context = await launchChromium();
    const evil = await attackerSite(`<!doctype html><iframe id="f" src="${s.svc.baseUrl}/"></iframe>`, '127.0.0.2');
    cleanups.push(evil.close);
    const page = await context.newPage();
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/frame-ancestors|X-Frame-Options/i.test(m.text())) blocked.push(m.text());
    });
    await page.goto(`${evil.origin}/`);
    await eventually(async () => blocked.length > 0 || undefined, 10_000, 'the framing to be refused');
    expect(blocked[0]).toContain("frame-ancestors 'self'");
    // The frame holds no dashboard: Chromium replaced it by its error page.
    await eventually(
      async () => page.frames().some((f) => f.url().startsWith('chrome-error:')) || undefined,
      10_000,
      'the frame to show the error page',
    );
    expect(
      page
        .frames()
        .map((f) => f.url())
        .filter((u) => u.startsWith(s.svc.baseUrl)),
    ).toEqual([]);
  }, 120_000);
});
