// Redis and the MQTT broker going away and coming back: one log line each way, and counters for the rest, so a
// 30 s outage does not write a line per failed command, worker poll or reconnect attempt.
import { CATCH_UP_MS } from './domain/session.js';
import { isRedisUnavailable } from './errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export type Dependency = 'redis' | 'mqtt';

export class DependencyHealth {
  private readonly downSince = new Map<Dependency, number>();
  private readonly probes = new Map<Dependency, () => boolean>();
  private lastRecovery = 0;

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    for (const d of ['redis', 'mqtt'] as const) metrics.dependencyUp.set({ dependency: d }, 1);
  }

  /**
   * How to tell that `dep` answers (the shared connection is ready). An error from another connection while this
   * says yes is counted but starts no outage: a worker's connection still reconnecting after Redis came back must
   * not mark Redis down again with nothing left to mark it up.
   */
  probe(dep: Dependency, answers: () => boolean): void {
    this.probes.set(dep, answers);
  }

  /** An error from `dep` (a refused connection, a failed command): counted; logged only when it starts an outage. */
  failed(dep: Dependency, err: unknown, where?: string): void {
    this.metrics.dependencyErrors.inc({ dependency: dep });
    if (this.downSince.has(dep) || this.probes.get(dep)?.()) return;
    this.downSince.set(dep, Date.now());
    this.metrics.dependencyUp.set({ dependency: dep }, 0);
    const message = err instanceof Error ? err.message : String(err);
    this.log.error(
      { dependency: dep, err: message, where },
      `${dep} unavailable; further errors are counted in unknot_dependency_errors_total until it is back`,
    );
  }

  /** `dep` answers again. */
  recovered(dep: Dependency): void {
    const since = this.downSince.get(dep);
    if (since === undefined) return;
    this.downSince.delete(dep);
    this.lastRecovery = Date.now();
    this.metrics.dependencyUp.set({ dependency: dep }, 1);
    this.log.info({ dependency: dep, downMs: Date.now() - since }, `${dep} available again`);
  }

  /**
   * When ingest can be taken to have applied what waited at the broker during the last outage: its end plus
   * CATCH_UP_MS (0 before any outage). Timed decisions due before then wait for it (lateHold, src/domain/session.ts).
   */
  caughtUpAt(): number {
    this.recoverAnswering();
    // Still down: look again a little later (a decision held to "never" would be lost).
    if (this.downSince.size > 0) return Date.now() + CATCH_UP_MS;
    return this.lastRecovery === 0 ? 0 : this.lastRecovery + CATCH_UP_MS;
  }

  isDown(dep: Dependency): boolean {
    this.recoverAnswering();
    return this.downSince.has(dep);
  }

  /** A dependency marked down whose probe says it answers is back (its own 'ready' may have come before the error). */
  recoverAnswering(): void {
    for (const dep of this.downSince.keys()) if (this.probes.get(dep)?.()) this.recovered(dep);
  }
}

/**
 * A failure of one item of a batch (a partition, a person): with Redis away, it is part of the outage (one line for
 * all of it, the rest counted); anything else is logged by `warn`. A sweep that runs as Redis comes back, before
 * the shared connection is ready, would otherwise write a line per partition.
 */
export function warnUnlessRedisAway(
  ctx: { health?: DependencyHealth },
  err: unknown,
  where: string,
  warn: () => void,
): void {
  if (ctx.health && isRedisUnavailable(err)) ctx.health.failed('redis', err, where);
  else warn();
}
