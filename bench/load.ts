// The load generator: publishes posture events (QoS 1, bounded in-flight window) and follows the service's
// progress through its own /metrics until every event sent is committed, or a time limit says otherwise.
import type { MqttClient } from 'mqtt';
import { sleep, WindowedPublisher } from './mqtt-load.js';
import type { Scrape } from './prom.js';
import { progressOf, type UnknotProcess } from './service.js';

export interface LoadEvent {
  topic: string;
  payload: string;
  /** Called with performance.now() when the event is handed to MQTT.js. */
  onSent?: (t: number) => void;
}

export interface LoadOptions {
  label: string;
  client: MqttClient;
  services: UnknotProcess[];
  count: number;
  next: (i: number) => LoadEvent;
  window?: number;
  /** Stop publishing while this many events are sent but not yet committed (keeps the broker queue bounded). */
  maxBacklog?: number;
  /** Stop publishing after this long (a time-boxed run; `count` is then only an upper bound). */
  durationMs?: number;
  /** Events per second; unset: as fast as the window and the backlog allow. */
  rate?: number;
  /** Paced runs: stop publishing early once the backlog is this big (the service cannot keep up). */
  abandonBacklog?: number;
  /** Epoch ms by which publishing must have finished. */
  publishDeadline: number;
  /** Epoch ms by which every event must be committed. */
  drainDeadline: number;
  pollMs?: number;
  onProgress?: (committed: number, sent: number) => void;
}

export interface LoadResult {
  sent: number;
  committed: number;
  /** performance.now() of the first publish and of the scrape that showed the last commit. */
  tFirst: number;
  tDone: number;
  /** Set when a limit stopped the run: what happened, in one sentence. */
  incomplete?: string;
  /** Publishing stopped early because the backlog passed abandonBacklog. */
  abandoned: boolean;
  before: Scrape[];
  after: Scrape[];
  /** Service CPU seconds (user + system) spent between the two scrapes, all services together. */
  cpuSeconds: number;
  /** Of which garbage collection (wall time of the collections, as V8 reports them). */
  gcSeconds: number;
  rejected: number;
  publishSeconds: number;
  /** CPU seconds the benchmark process itself used while publishing (is the load generator the limit?). */
  benchCpuSeconds: number;
}

async function scrapeAll(services: UnknotProcess[]): Promise<Scrape[]> {
  return Promise.all(services.map((s) => s.scrape()));
}

const handled = (scrapes: Scrape[]) =>
  scrapes.reduce((sum, s) => {
    const p = progressOf(s);
    return sum + p.committed + p.rejected;
  }, 0);

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const pub = new WindowedPublisher(o.client, o.window ?? 200);
  const before = await scrapeAll(o.services);
  const base = handled(before);
  let committed = 0;
  let lastScrapes = before;
  let polling = true;
  let pollError: Error | undefined;
  let fastPoll = false;
  let tDone = 0;
  let sentFinal = -1;

  const poller = (async () => {
    while (polling) {
      try {
        const s = await scrapeAll(o.services);
        lastScrapes = s;
        committed = handled(s) - base;
        o.onProgress?.(committed, pub.sent);
        if (sentFinal >= 0 && committed >= sentFinal) {
          tDone = performance.now();
          return;
        }
      } catch (err) {
        pollError = err as Error;
        return;
      }
      await sleep(fastPoll ? 20 : (o.pollMs ?? 200));
    }
  })();

  let abandoned = false;
  let incomplete: string | undefined;
  const tFirst = performance.now();
  const maxBacklog = o.maxBacklog ?? Infinity;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < o.count; i++) {
    if (pollError) break;
    if (o.durationMs !== undefined && performance.now() - tFirst >= o.durationMs) break;
    if (o.rate !== undefined) {
      const dueAt = tFirst + (i / o.rate) * 1000;
      const wait = dueAt - performance.now();
      if (wait > 1) await sleep(wait);
      if (o.abandonBacklog !== undefined && pub.sent - committed > o.abandonBacklog) {
        abandoned = true;
        break;
      }
    }
    while (pub.sent - committed >= maxBacklog && !pollError && Date.now() < o.publishDeadline) await sleep(5);
    if (Date.now() >= o.publishDeadline) {
      // A time-boxed run that waited for the backlog at the end has simply ended.
      if (o.durationMs === undefined)
        incomplete = `${o.label}: publishing hit its time limit after ${pub.sent} of ${o.count} events`;
      break;
    }
    const e = o.next(i);
    await pub.publish(e.topic, e.payload);
    e.onSent?.(performance.now());
    // Let the poller and the MQTT socket breathe now and then in a tight loop.
    if ((i & 255) === 255) await new Promise((r) => setImmediate(r));
  }
  const publishSeconds = (performance.now() - tFirst) / 1000;
  const cpuUsed = process.cpuUsage(cpu0);
  await pub.drain(Math.max(0, o.drainDeadline - Date.now()));
  sentFinal = pub.sent;
  fastPoll = true;
  const limit = new Promise<'timeout'>((r) => {
    const t = setTimeout(() => r('timeout'), Math.max(0, o.drainDeadline - Date.now()));
    void poller.finally(() => clearTimeout(t));
  });
  if ((await Promise.race([poller.then(() => 'done' as const), limit])) === 'timeout') {
    polling = false;
    await poller;
    incomplete ??= `${o.label}: the service committed ${committed} of ${sentFinal} events before the time limit`;
  }
  polling = false;
  if (pollError) throw new Error(`${o.label}: reading /metrics failed: ${pollError.message}`);
  if (pub.failed > 0) incomplete ??= `${o.label}: ${pub.failed} publishes failed`;
  const after = lastScrapes;
  const cpu = (ss: Scrape[]) => ss.reduce((s, x) => s + progressOf(x).cpuSeconds, 0);
  const rejected =
    after.reduce((s, x) => s + progressOf(x).rejected, 0) - before.reduce((s, x) => s + progressOf(x).rejected, 0);
  // Rejected events count as handled (they end the wait) but are not what the run means to measure.
  if (rejected > 0)
    incomplete ??= `${o.label}: the service rejected ${rejected} of ${sentFinal} events (unknot_events_rejected_total)`;
  return {
    sent: sentFinal,
    committed,
    tFirst,
    tDone: tDone || performance.now(),
    incomplete,
    abandoned,
    before,
    after,
    cpuSeconds: cpu(after) - cpu(before),
    gcSeconds:
      after.reduce((s, x) => s + progressOf(x).gcSeconds, 0) - before.reduce((s, x) => s + progressOf(x).gcSeconds, 0),
    rejected,
    publishSeconds,
    benchCpuSeconds: (cpuUsed.user + cpuUsed.system) / 1e6,
  };
}
