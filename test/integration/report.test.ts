// The therapist report (docs/concepts/therapist-report.md) on a real service with real data, opened from the
// dashboard in a real browser (Debian's chromium through playwright-core), its text read from the page, printed
// to PDF with Chromium's own printing, and a screenshot saved to test-artifacts/report.png (and the PDF beside it).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { launchChromium } from '../support/browser.js';
import { REPO_ROOT } from '../support/service-process.js';
import { adherence, eventually, putDevice, putUser } from '../support/unknot.js';

const TOKEN = 'report-test-token-0123456789abcdef';
const DAY = 86_400_000;

let h: InProcessHarness;
let svc: InProcessService;
let browser: Browser | undefined;

const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();
const post = async (path: string, json: unknown) => {
  const r = await svc.fetchJson(path, { method: 'POST', json });
  expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(201);
  return r.body as Record<string, unknown>;
};

/** Four weeks of a person's log, with people's own words that are not safe as HTML. */
async function makeData() {
  await putUser(svc, 'rui', { name: 'Rui <b>Costa</b>', timezone: 'Europe/Lisbon', routineTargetPerWeek: 3 });
  await putDevice(svc, 'rui-chair', { userId: 'rui', role: 'chair', protocol: 'unknot' });
  await post('/api/users/rui/pain', { level: 7, area: 'neck', refers: 'down the right arm', at: ago(20) });
  await post('/api/users/rui/pain', {
    level: 6,
    area: 'neck',
    refers: 'down the right arm',
    symptoms: ['tingling'],
    at: ago(10),
  });
  await post('/api/users/rui/pain', { level: 4, area: 'neck', at: ago(2) });
  await post('/api/users/rui/pain', {
    level: 5,
    area: 'shoulders',
    refers: '<script>alert("x")</script> into the shoulder blade',
    symptoms: ['<img src=x onerror=alert(1)>'],
    at: ago(12),
  });
  await post('/api/users/rui/pain', { level: 3, area: 'shoulders', at: ago(1) });
  for (const days of [9, 5]) {
    await post('/api/users/rui/methods', {
      method: 'trigger_point_ball',
      area: 'neck',
      minutes: 5,
      painBefore: 6,
      at: ago(days),
      outcome: { feeling: 'better', painAfter: 3 },
    });
  }
  await post('/api/users/rui/methods', {
    method: 'other',
    name: 'hot shower & <i>rest</i>',
    area: 'shoulders',
    at: ago(3),
    outcome: { feeling: 'same' },
  });
  await post('/api/users/rui/desk-check', {
    screenAtEyeLevel: false,
    shouldersRelaxed: true,
    feetFlat: false,
    chairSupportsBack: true,
    keyboardAtElbowHeight: true,
    note: 'laptop on the kitchen table',
  });
  // Seated now, for two hours by the application's clock: the report's sitting figures include it.
  await h.mqtt.publish(`${h.ns.baseTopic}/devices/rui-chair/event`, { type: 'posture', posture: 'sitting' });
  await eventually(
    async () => (await adherence(svc, 'rui')).some((e) => e.type === 'sitting_started'),
    10_000,
    'sitting_started',
  );
  h.clock.advance(2 * 3600_000);
}

beforeEach(async () => {
  h = await inProcessHarness('report', { UNKNOT_API_TOKEN: TOKEN, UNKNOT_TIME_SCALE: '1' });
  svc = await h.start();
});

afterEach(async () => {
  await browser?.close().catch(() => undefined);
  browser = undefined;
  await h.close();
});

describe('the report for the therapist', () => {
  it('is HTML behind the token, with a policy that runs no script and allows no foreign frame; a bad period is a 400', async () => {
    await makeData();
    const noToken = await fetch(`${svc.baseUrl}/api/users/rui/report`);
    expect(noToken.status).toBe(401);
    const r = await fetch(`${svc.baseUrl}/api/users/rui/report`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.headers.get('cache-control')).toBe('no-store');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'self'");
    expect(csp).not.toContain('script-src');
    expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const html = await r.text();
    // People's own words are text, never markup.
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<b>Costa</b>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');

    for (const [query, detail] of [
      ['?from=2026-13-01', 'from must be a date'],
      ['?from=2026-01-10&to=2026-01-01', 'from must not be after to'],
      ['?from=2020-01-01&to=2020-12-31', 'at most 90 days'],
      ['?days=3', 'only from and to'],
    ] as const) {
      const bad = await svc.fetchJson(`/api/users/rui/report${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body).toMatchObject({ error: 'invalid_period', detail: expect.stringContaining(detail) });
    }
    expect((await svc.fetchJson('/api/users/nobody/report')).status).toBe(404);
    // A chosen period that ends before the pain was logged says so.
    const early = await fetch(
      `${svc.baseUrl}/api/users/rui/report?from=${ago(60).slice(0, 10)}&to=${ago(40).slice(0, 10)}`,
      {
        headers: { authorization: `Bearer ${TOKEN}` },
      },
    );
    expect(early.status).toBe(200);
    expect(await early.text()).toContain('No pain logged in this period.');
  });

  it('opens from the dashboard, shows every section, prints to one PDF page, and runs nothing a person typed', async () => {
    await makeData();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1000, height: 1300 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const problems: string[] = [];
    context.on('page', (p) => {
      p.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
      p.on('pageerror', (err) => problems.push(err.message));
    });
    page.on('pageerror', (err) => problems.push(err.message));

    await page.goto(`${svc.baseUrl}/?token=${TOKEN}&user=rui`);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 15_000 });
    const [report] = await Promise.all([context.waitForEvent('page'), page.click('#report-button')]);
    await report.waitForURL(/^blob:/, { timeout: 15_000 });
    await report.waitForSelector('#care', { timeout: 15_000 });

    const text = await report.evaluate(() => document.body.innerText);
    expect(text).toContain('Self-care report for the therapist');
    expect(text).toContain('Rui <b>Costa</b> (rui)');
    expect(text).toContain('(28 days)');
    // Where it hurts and where it spreads, the trend per area.
    expect(text).toContain('down the right arm (2×)');
    expect(text).toContain('<script>alert("x")</script> into the shoulder blade');
    expect(text).toMatch(/Neck\s+3\s+7 \(.+\) → 4 \(.+\)\s+4–7\s+easing/);
    expect(text).toMatch(/Shoulders\s+2\s+5 \(.+\) → 3/);
    // Symptoms, the nerve sign marked.
    expect(text).toContain('tingling ⚠');
    expect(text).toContain('<img src=x onerror=alert(1)>');
    // Methods and how they went: two pressure sessions, 6 → 3 each: helped a lot.
    expect(text).toMatch(/trigger-point pressure with a ball\s+Neck\s+2\s+2 \/ 0 \/ 0\s+-3\s+helped a lot/);
    expect(text).toContain('hot shower & <i>rest</i>');
    // The desk check, with what to fix.
    expect(text).toMatch(/Screen at eye level\s+no/);
    expect(text).toMatch(/Shoulders relaxed\s+yes/);
    expect(text).toContain('laptop on the kitchen table');
    // Sitting as it happens: the two hours in the chair right now count.
    expect(text).toMatch(/Longest sitting in one go\s+2 h 0 min/);
    expect(text).toMatch(/Reminders sent\s+\d/);
    expect(text).toContain('Heat sessions');
    // The reasons to see a professional: tingling is a nerve sign.
    const advice = await report.$$eval('#advice li', (els) => els.map((el) => el.textContent ?? ''));
    expect(advice.some((a) => a.includes('tingling'))).toBe(true);
    // Nothing the person typed became markup or ran.
    expect(await report.evaluate(() => document.querySelectorAll('script, img, b, i').length)).toBe(0);

    await mkdir(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await report.screenshot({ path: join(REPO_ROOT, 'test-artifacts', 'report.png'), fullPage: true });
    // The page as printed (A4 width, print styles), to look at.
    await report.setViewportSize({ width: 794, height: 1123 });
    await report.emulateMedia({ media: 'print' });
    await report.screenshot({ path: join(REPO_ROOT, 'test-artifacts', 'report-print.png'), fullPage: true });
    const pdf = await report.pdf({ format: 'A4', printBackground: true });
    await writeFile(join(REPO_ROOT, 'test-artifacts', 'report.pdf'), pdf);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const pages = pdf.toString('latin1').match(/\/Type\s*\/Page(?!s)/g) ?? [];
    expect(pages).toHaveLength(1);
    expect(problems).toEqual([]);
  });
});
