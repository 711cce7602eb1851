// Prometheus metrics (docs/operations/monitoring.md). One registry per process, passed to whoever counts.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    eventsReceived: new Counter({
      name: 'unknot_events_received_total',
      help: 'Inbound MQTT messages on topics unknot reads',
      labelNames: ['protocol'] as const,
      registers: [registry],
    }),
    eventsRejected: new Counter({
      name: 'unknot_events_rejected_total',
      help: 'Inbound messages rejected as bad input, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    eventsStale: new Counter({
      name: 'unknot_events_stale_total',
      help: 'Sensor events dropped because they were duplicates or arrived after a later decision was committed',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    nudgesSent: new Counter({
      name: 'unknot_nudges_sent_total',
      help: 'Break nudges published, by level',
      labelNames: ['level'] as const,
      registers: [registry],
    }),
    httpRefused: new Counter({
      name: 'unknot_http_refused_total',
      help: 'HTTP requests refused before any route for what a web page could make a browser send (unknown Host, foreign origin, body not JSON), by error code',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    heatSessions: new Counter({
      name: 'unknot_heat_sessions_total',
      help: 'Heat sessions started',
      registers: [registry],
    }),
    heatCommands: new Counter({
      name: 'unknot_heat_commands_total',
      help: 'Heat-pad commands published, by state and reason',
      labelNames: ['state', 'reason'] as const,
      registers: [registry],
    }),
    queueJobs: new Gauge({
      name: 'unknot_queue_jobs',
      help: 'BullMQ jobs by queue and state (sampled on scrape)',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
    }),
    eventToCommit: new Histogram({
      name: 'unknot_event_to_commit_seconds',
      help: 'From receipt of an MQTT event to its state change and effects being committed',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    dependencyErrors: new Counter({
      name: 'unknot_dependency_errors_total',
      help: 'Errors from Redis or the MQTT broker (failed commands, refused connections); logged once per outage',
      labelNames: ['dependency'] as const,
      registers: [registry],
    }),
    dependencyUp: new Gauge({
      name: 'unknot_dependency_up',
      help: '1 while Redis or the MQTT broker is reachable, 0 during an outage',
      labelNames: ['dependency'] as const,
      registers: [registry],
    }),
    nudgeLateness: new Histogram({
      name: 'unknot_nudge_lateness_seconds',
      help: 'From a nudge due time to its publish',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    timerSweeps: new Counter({
      name: 'unknot_timer_sweeps_total',
      help: 'Sweeps of the timer wheel run by this process (one per tick job, one per sweep-all), by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    timerTickAdds: new Counter({
      name: 'unknot_timer_tick_adds_total',
      help: 'Tick jobs this process asked BullMQ for (a commit or a sweep whose due time no known tick covered)',
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
