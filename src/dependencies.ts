// Redis and the MQTT broker going away and coming back: one log line each way, and counters for the rest, so a
// 30 s outage does not write a line per failed command, worker poll or reconnect attempt.
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export type Dependency = 'redis' | 'mqtt';

export class DependencyHealth {
  private readonly downSince = new Map<Dependency, number>();

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    for (const d of ['redis', 'mqtt'] as const) metrics.dependencyUp.set({ dependency: d }, 1);
  }

  /** An error from `dep` (a refused connection, a failed command): counted; logged only when it starts an outage. */
  failed(dep: Dependency, err: unknown, where?: string): void {
    this.metrics.dependencyErrors.inc({ dependency: dep });
    if (this.downSince.has(dep)) return;
    this.downSince.set(dep, Date.now());
    this.metrics.dependencyUp.set({ dependency: dep }, 0);
    const message = err instanceof Error ? err.message : String(err);
    this.log.error({ dependency: dep, err: message, where }, `${dep} unavailable; further errors are counted in unknot_dependency_errors_total until it is back`);
  }

  /** `dep` answers again. */
  recovered(dep: Dependency): void {
    const since = this.downSince.get(dep);
    if (since === undefined) return;
    this.downSince.delete(dep);
    this.metrics.dependencyUp.set({ dependency: dep }, 1);
    this.log.info({ dependency: dep, downMs: Date.now() - since }, `${dep} available again`);
  }

  isDown(dep: Dependency): boolean {
    return this.downSince.has(dep);
  }
}
