// The dashboard in a real browser (Debian's chromium driven by playwright-core) against the real service with
// real data: sitting, breaks and a nudge over MQTT, pain through the API, a routine with a real heat session.
// Saves test-artifacts/dashboard.png. UNKNOT_TIME_SCALE=120: the 10-minute break interval is 5 s.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { launchChromium } from '../support/browser.js';
import { REPO_ROOT } from '../support/service-process.js';
import { adherence, eventually, putDevice, putUser, sleep } from '../support/unknot.js';

const TOKEN = 'dashboard-test-token-0123456789';
const CHARTS = ['sitting', 'longest', 'breaks', 'nudges', 'heat', 'routines', 'pain'] as const;
const DAY = 86_400_000;

let h: InProcessHarness;
let svc: InProcessService;
let browser: Browser | undefined;

const topic = (...parts: string[]) => [h.ns.baseTopic, ...parts].join('/');
const posture = (p: string) => h.mqtt.publish(topic('devices', 'ana-chair', 'event'), { type: 'posture', posture: p });

/** Real data for one person: what a week of use would show, squeezed into seconds. */
async function makeData() {
  await putUser(svc, 'ana', {
    name: 'Ana',
    breakAfterMinutes: 10,
    minBreakSeconds: 30,
    escalateAfterMinutes: 5,
    heat: { defaultMinutes: 2, maxMinutes: 2 },
    heatCooldownMinutes: 0,
    routineTargetPerWeek: 3,
  });
  await putUser(svc, 'ben');
  await putDevice(svc, 'ana-chair', { userId: 'ana', role: 'chair', protocol: 'unknot' });
  await putDevice(svc, 'ana-watch', { userId: 'ana', role: 'wearable', protocol: 'unknot' });
  await putDevice(svc, 'ana-pad', { userId: 'ana', role: 'heatpad', protocol: 'unknot' });

  // Pain over the last days (logged late, with `at`), easing.
  const pain: Array<[number, string, number]> = [
    [9, 'neck', 7],
    [6, 'neck', 6],
    [3, 'neck', 4],
    [0, 'neck', 3],
    [8, 'shoulders', 5],
    [4, 'shoulders', 4],
    [0, 'shoulders', 2],
    [2, 'upper_back', 3],
  ];
  for (const [ago, area, level] of pain) {
    const at = new Date(Date.now() - ago * DAY - 60_000).toISOString();
    const r = await svc.fetchJson('/api/users/ana/pain', { method: 'POST', json: { level, area, at } });
    expect(r.status).toBe(201);
  }

  // A routine first: its heat step runs a real 2-minute (1 s) heat session.
  const routine = await svc.fetchJson('/api/users/ana/routines', { method: 'POST', json: {} });
  expect(routine.status).toBe(201);
  await eventually(
    async () => (await adherence(svc, 'ana')).some((e) => e.type === 'routine_completed'),
    20_000,
    'routine completed',
  );

  // A nudged sitting spell, followed after the second reminder (two sent in one session), then a natural break.
  await posture('sitting');
  await h.mqtt.waitForCount(topic('users', 'ana', 'nudge'), 2, undefined, 30_000);
  await posture('standing');
  await eventually(
    async () => (await adherence(svc, 'ana')).some((e) => e.type === 'break_taken'),
    10_000,
    'break_taken',
  );
  await posture('sitting');
  await sleep(1500);
  await posture('standing');
  await eventually(
    async () => (await adherence(svc, 'ana')).some((e) => e.type === 'natural_break'),
    10_000,
    'natural_break',
  );
  // Sitting again now, so "right now" has something to say.
  await posture('sitting');
}

beforeEach(async () => {
  h = await inProcessHarness('dashboard', { UNKNOT_TIME_SCALE: '120', UNKNOT_API_TOKEN: TOKEN });
  await h.mqtt.subscribe(`${h.ns.baseTopic}/#`);
  svc = await h.start();
});

afterEach(async () => {
  await browser?.close().catch(() => undefined);
  browser = undefined;
  await h.close();
});

describe('the dashboard', () => {
  it('keeps the data behind the token but serves the page, chart.js and bull-board as it should', async () => {
    const open = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, svc.baseUrl), { headers });
    const page = await open('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('/dashboard/vendor/chart.umd.min.js');
    const chartJs = await open('/dashboard/vendor/chart.umd.min.js');
    expect(chartJs.status).toBe(200);
    expect(await chartJs.text()).toContain('Chart.js');
    expect(await (await open('/dashboard/config.json')).json()).toEqual({
      tokenRequired: true,
      timeScale: 120,
      queuesPath: '/admin/queues',
    });
    expect((await open('/api/users')).status).toBe(401);
    expect((await open('/admin/queues/')).status).toBe(401);
    const board = await open('/admin/queues/', { authorization: `Bearer ${TOKEN}` });
    expect(board.status).toBe(200);
    const cookie = board.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/unknot_token=.*HttpOnly.*SameSite=Strict/i);
    // bull-board's own API calls carry only the cookie; the cookie opens nothing under /api.
    const queues = await open('/admin/queues/api/queues', { cookie: cookie.split(';')[0]! });
    expect(queues.status).toBe(200);
    expect(JSON.stringify(await queues.json())).toContain('routines');
    expect((await open('/api/users', { cookie: cookie.split(';')[0]! })).status).toBe(401);
    expect((await open('/nothing-here')).status).toBe(404);
  });

  it('shows every chart with real data, the live state, and asks for the token when it has none', async () => {
    await makeData();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));

    // Without a token: the page loads and asks for one.
    await page.goto(`${svc.baseUrl}/`);
    await page.waitForSelector('body[data-state="token"]', { timeout: 15_000 });
    expect(await page.isVisible('#token-form')).toBe(true);
    await page.fill('#token-input', 'not-the-token-at-all');
    await page.click('#token button');
    await page.waitForFunction(
      () => document.getElementById('token-error')?.textContent?.includes('not accepted'),
      undefined,
      { timeout: 10_000 },
    );
    await page.fill('#token-input', TOKEN);
    await page.click('#token button');
    await page.waitForSelector('body[data-state="ready"]', { timeout: 15_000 });
    // The wrong token's 401 was expected; from here on nothing should fail.
    consoleErrors.length = 0;

    // Ana is sitting again, so more reminders may come while the page loads: count them before and after.
    const sentBefore = (await adherence(svc, 'ana')).filter((e) => e.type === 'nudge_sent').length;
    // With ?token= (kept in localStorage and taken out of the address) and a chosen person.
    await page.goto(`${svc.baseUrl}/?token=${TOKEN}&user=ana&days=14`);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 15_000 });
    expect(page.url()).not.toContain(TOKEN);
    expect(await page.$eval('#user', (el) => (el as HTMLSelectElement).value)).toBe('ana');
    expect(await page.$$eval('#user option', (els) => els.map((e) => e.textContent))).toEqual(['ana', 'ben']);

    const charts = await page.evaluate(
      (ids) => {
        const Chart = (
          window as unknown as {
            Chart: {
              getChart(
                c: HTMLCanvasElement,
              ): { data: { datasets: Array<{ label: string; data: unknown[] }> } } | undefined;
            };
          }
        ).Chart;
        return ids.map((id) => {
          const canvas = document.getElementById(`chart-${id}`) as HTMLCanvasElement;
          const chart = Chart.getChart(canvas);
          const datasets = chart?.data.datasets ?? [];
          const values = datasets.flatMap((d) =>
            d.data.map((v) => (typeof v === 'number' ? v : (v as { y: number }).y)),
          );
          return {
            id,
            visible: !canvas.hidden && canvas.width > 0 && canvas.height > 0,
            labels: datasets.map((d) => d.label),
            points: values.length,
            nonZero: values.filter((v) => v > 0).length,
          };
        });
      },
      CHARTS as unknown as string[],
    );
    for (const c of charts) {
      expect(c.visible, `${c.id} canvas`).toBe(true);
      expect(c.points, `${c.id} data points`).toBeGreaterThan(0);
      expect(c.nonZero, `${c.id} non-zero values`).toBeGreaterThan(0);
      expect(c.labels.length, `${c.id} legend`).toBeGreaterThan(0);
    }
    // Reminders: every one sent counts (two in one session are 2, not 1), and heat time is shown from whole
    // seconds (a session of a few seconds is not rounded up to a tenth of a minute).
    const log = await adherence(svc, 'ana');
    const series = await page.evaluate(() => {
      const Chart = (
        window as unknown as {
          Chart: {
            getChart(c: HTMLCanvasElement): { data: { datasets: Array<{ label: string; data: number[] }> } };
          };
        }
      ).Chart;
      const of = (id: string) =>
        Chart.getChart(document.getElementById(`chart-${id}`) as HTMLCanvasElement).data.datasets.map((d) => ({
          label: d.label,
          sum: d.data.reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0),
        }));
      return { nudges: of('nudges'), heat: of('heat') };
    });
    const sentAfter = log.filter((e) => e.type === 'nudge_sent').length;
    expect(sentBefore).toBeGreaterThanOrEqual(2);
    expect(series.nudges[0]!.label).toBe('Reminders sent');
    expect(series.nudges[0]!.sum).toBeGreaterThanOrEqual(sentBefore);
    expect(series.nudges[0]!.sum).toBeLessThanOrEqual(sentAfter);
    const summary = (await svc.fetchJson('/api/users/ana/summary?days=1')).body as {
      total: { heatSeconds: number };
    };
    const heatLine = series.heat.find((d) => d.label.startsWith('Time with heat on'));
    expect(heatLine).toEqual({ label: 'Time with heat on (seconds)', sum: summary.total.heatSeconds });

    const pain = charts.find((c) => c.id === 'pain')!;
    expect(pain.labels).toEqual(['Neck', 'Shoulders', 'Upper back']);
    expect(pain.points).toBe(8);

    // Right now: sitting, a reminder planned, heat off, the week's routine.
    expect(await page.textContent('#now-posture')).toBe('Sitting');
    expect(await page.textContent('#now-routine')).toBe('1 of 3 this week');
    expect(await page.textContent('#now-heat')).toBe('Off');
    expect(await page.textContent('#now-nudge')).not.toBe('–');
    expect(await page.isVisible('#demo-banner')).toBe(true);

    // A person with no data gets plain empty-state messages, not blank charts.
    await page.selectOption('#user', 'ben');
    await page.waitForFunction(
      () => document.querySelector('#card-sitting')?.getAttribute('data-empty') === 'true',
      undefined,
      { timeout: 10_000 },
    );
    expect(await page.textContent('#card-sitting .empty')).toContain('No sitting recorded');
    expect(await page.textContent('#card-pain .empty')).toContain('No pain logged');
    await mkdir(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, 'test-artifacts', 'dashboard-empty.png'), fullPage: true });
    await page.selectOption('#user', 'ana');
    await page.waitForFunction(
      () => document.querySelector('#card-sitting')?.getAttribute('data-empty') === 'false',
      undefined,
      { timeout: 10_000 },
    );

    await mkdir(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, 'test-artifacts', 'dashboard.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  });
});
