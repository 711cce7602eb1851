// The summary's figures as a person reads them, on a real service: sitting counts while it happens, not only once
// a break ends it. The clock is moved (h.clock), not waited for; the arithmetic is unit-tested in
// test/unit/adherence.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inProcessHarness, type InProcessHarness, type InProcessService } from '../support/in-process.js';
import { adherence, eventually, putDevice, putUser } from '../support/unknot.js';

let h: InProcessHarness;
let svc: InProcessService;

beforeEach(async () => {
  h = await inProcessHarness('summary-figures');
  svc = await h.start();
});
afterEach(() => h.close());

type Total = { sittingMinutes: number; longestSittingMinutes: number; breaks: number };
const total = async (): Promise<{ total: Total; days: Array<Total & { date: string }> }> => {
  const r = await svc.fetchJson('/api/users/cai/summary?days=2');
  expect(r.status).toBe(200);
  return r.body as { total: Total; days: Array<Total & { date: string }> };
};

describe('sitting in the summary', () => {
  it('someone seated for three hours, with no break yet, sees three hours, not 0', async () => {
    // Reminders far off, so nothing but the clock moves the session.
    await putUser(svc, 'cai', { timezone: 'Europe/Berlin', breakAfterMinutes: 120 });
    await putDevice(svc, 'cai-chair', { userId: 'cai', role: 'chair', protocol: 'unknot' });
    await h.mqtt.publish(`${h.ns.baseTopic}/devices/cai-chair/event`, { type: 'posture', posture: 'sitting' });
    await eventually(
      async () => (await adherence(svc, 'cai')).some((e) => e.type === 'sitting_started'),
      10_000,
      'sitting_started',
    );
    h.clock.advance(3 * 3600_000);
    const s = await total();
    // Three hours and the few real seconds the test took; before, this was 0 until a break ended the session.
    expect(s.total.sittingMinutes).toBeGreaterThanOrEqual(180);
    expect(s.total.sittingMinutes).toBeLessThan(182);
    expect(s.total.longestSittingMinutes).toBe(s.total.sittingMinutes);
    expect(s.total.breaks).toBe(0);
    // Split at Berlin's midnight when the three hours crossed it: the days add up to the total.
    const sum = s.days.reduce((a, d) => a + d.sittingMinutes, 0);
    expect(Math.abs(sum - s.total.sittingMinutes)).toBeLessThanOrEqual(0.2);
  });
});
