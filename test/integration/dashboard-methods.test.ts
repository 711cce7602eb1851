// The dashboard's "What helps" card and desk setup check in a real browser (Debian's chromium driven by
// playwright-core) against the real service: methods and outcomes through the API, a week of long sitting in the
// log, the check answered in the page's form and found in the adherence log. Saves
// test-artifacts/dashboard-methods.png.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEntry } from '../../src/domain/types.js';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { launchChromium } from '../support/browser.js';
import { REPO_ROOT } from '../support/service-process.js';
import { adherence, putUser } from '../support/unknot.js';

const TOKEN = 'dashboard-methods-token-0123456789';
const DAY = 86_400_000;

let h: InProcessHarness;
let svc: InProcessService;
let browser: Browser | undefined;

beforeAll(async () => {
  h = await inProcessHarness('dashboard-methods', { UNKNOT_API_TOKEN: TOKEN });
  svc = await h.start();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const post = async (path: string, json: unknown) => {
  const r = await svc.fetchJson(path, { method: 'POST', json });
  if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
};

async function makeData() {
  await putUser(svc, 'pia', { name: 'Pia' });
  const ago = (d: number) => new Date(Date.now() - d * DAY).toISOString();
  for (const [d, before, after] of [
    [12, 6, 3],
    [6, 5, 2],
  ] as const) {
    await post('/api/users/pia/methods', {
      method: 'trigger_point_ball',
      area: 'neck',
      at: ago(d),
      painBefore: before,
      outcome: { feeling: 'better', painAfter: after },
    });
  }
  // Four weeks of stretching the lower back without the pain going down.
  for (const d of [27, 20, 13, 5]) {
    await post('/api/users/pia/methods', {
      method: 'stretching',
      area: 'lower_back',
      at: ago(d),
      painBefore: 5,
      outcome: { feeling: 'same', painAfter: 5 },
    });
  }
  await post('/api/users/pia/methods', { method: 'cupping', area: 'shoulders', minutes: 20 });
  // A week of long sitting: five days with a 90-minute stretch ending in a break, committed as sessions do.
  const now = h.clock.now();
  const breaks: LogEntry[] = [0, 1, 2, 3, 4].map((d) => ({
    type: 'natural_break',
    at: now - d * DAY - 7_200_000,
    sessionId: `pia-s${d}`,
    sittingSeconds: 90 * 60,
    breakStartedAt: now - d * DAY - 7_200_000,
  }));
  await svc.ctx.store.transact('pia', (st) => ({ state: st, logs: breaks, changed: false, result: undefined }));
}

describe('dashboard: what helps and the desk setup check', () => {
  it('shows the methods with plain labels and the four-weeks note, and saves the desk check', async () => {
    await makeData();
    const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${svc.baseUrl}/?token=${TOKEN}&user=pia&days=14`);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 20_000 });
    await page.waitForSelector('#what-helps-rows tr', { timeout: 10_000 });

    const rows = await page.$$eval('#what-helps-rows tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim())),
    );
    expect(rows).toContainEqual(['Trigger-point pressure with a ball', 'Neck', '2', '2', '-3', 'helped a lot']);
    expect(rows).toContainEqual(['Stretching', 'Lower back', '4', '4', '0', 'no change']);
    expect(rows).toContainEqual(['Cupping', 'Shoulders', '1', '0', '–', 'not enough data']);
    expect(await page.isVisible('#what-helps-note')).toBe(true);
    expect(await page.textContent('#what-helps-note')).toContain('after 4 weeks of regular care');
    // The four weeks also show as a reason to see a professional.
    expect(await page.textContent('#advice-reasons')).toContain('has not improved');

    // The desk check is offered after the week of long sitting.
    expect(await page.getAttribute('#card-desk', 'class')).toContain('offered');
    expect(await page.textContent('#desk-offer')).toContain('on 5 of the last 7 days');
    await mkdir(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, 'test-artifacts', 'dashboard-methods.png'), fullPage: true });

    await page.check('#desk-form input[name="shouldersRelaxed"]');
    await page.check('#desk-form input[name="chairSupportsBack"]');
    await page.check('#desk-form input[name="keyboardAtElbowHeight"]');
    await page.fill('#desk-form input[name="note"]', 'laptop on the kitchen table');
    await page.click('#desk-form button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('desk-result')?.textContent?.startsWith('Saved.'), null, {
      timeout: 10_000,
    });
    const result = await page.textContent('#desk-result');
    expect(result).toContain('screen so its top is at eye level');
    expect(result).toContain('feet flat');
    await page.waitForFunction(() => !document.getElementById('card-desk')?.classList.contains('offered'));
    await page.screenshot({
      path: join(REPO_ROOT, 'test-artifacts', 'dashboard-methods-answered.png'),
      fullPage: true,
    });

    const checks = (await adherence(svc, 'pia')).filter((e) => e.type === 'desk_check');
    expect(checks).toEqual([
      expect.objectContaining({
        answers: {
          screenAtEyeLevel: false,
          shouldersRelaxed: true,
          feetFlat: false,
          chairSupportsBack: true,
          keyboardAtElbowHeight: true,
        },
        note: 'laptop on the kitchen table',
      }),
    ]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
