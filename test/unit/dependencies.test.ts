// One log line per outage, and an outage that ends: a late error from another connection after Redis is back must
// not leave Redis marked down (which would hold every timed decision through lateHold).
import { describe, expect, it } from 'vitest';
import { DependencyHealth } from '../../src/dependencies.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';

const up = async (metrics: ReturnType<typeof createMetrics>) =>
  (await metrics.dependencyUp.get()).values.find((v) => v.labels.dependency === 'redis')?.value;

describe('DependencyHealth', () => {
  it('counts an error from another connection while the shared one answers, without starting an outage', async () => {
    const metrics = createMetrics();
    const health = new DependencyHealth(createLogger('silent'), metrics);
    health.probe('redis', () => true);
    health.failed('redis', new Error('connect ECONNREFUSED'), 'worker');
    expect(health.isDown('redis')).toBe(false);
    expect(await up(metrics)).toBe(1);
    expect((await metrics.dependencyErrors.get()).values[0]?.value).toBe(1);
  });

  it('ends an outage as soon as the shared connection answers again, even with no ready event after the error', async () => {
    const metrics = createMetrics();
    const health = new DependencyHealth(createLogger('silent'), metrics);
    let answers = false;
    health.probe('redis', () => answers);
    health.failed('redis', new Error('connect ECONNREFUSED'), 'connection');
    expect(health.isDown('redis')).toBe(true);
    expect(await up(metrics)).toBe(0);
    answers = true;
    expect(health.isDown('redis')).toBe(false);
    expect(await up(metrics)).toBe(1);
    // Caught up a little after the recovery, not "always a little later" as while down.
    const caughtUp = health.caughtUpAt();
    expect(caughtUp).toBeGreaterThan(0);
    expect(health.caughtUpAt()).toBe(caughtUp);
  });
});
