// (a) What the infrastructure alone can do on this machine: QoS 1 publish → subscribe through the same broker
// with a bare MQTT.js subscriber (counting what it received), and Redis round trips.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { withTimeout } from '../test/support/services.js';
import { closeClient, connectClient, sleep, WindowedPublisher } from './mqtt-load.js';
import { postureEvent } from './population.js';

export interface MqttBaseline {
  published: number;
  received: number;
  perSec: number;
  seconds: number;
  window: number;
  incomplete?: string;
}

// The bare subscriber runs on a thread of its own, as the service runs in a process of its own: on one event
// loop with the publisher it would measure the benchmark's JavaScript rather than the broker. Plain CommonJS,
// so the thread needs no TypeScript loader. MQTT.js's default handleMessage acknowledges at once.
// With `redis` set it also writes each message to Redis (one auto-pipelined SET, the least any service that keeps
// what it receives must do) and counts a message when its write is done: a ceiling for such a service.
const SUBSCRIBER = `
const { parentPort, workerData } = require('node:worker_threads');
const mqtt = require(workerData.mqtt);
const redis = workerData.redis ? new (require(workerData.ioredis).Redis)(workerData.redis, { enableAutoPipelining: true }) : null;
if (redis) redis.on('error', (err) => parentPort.postMessage({ type: 'error', error: String(err) }));
const client = mqtt.connect(workerData.url, { clientId: workerData.clientId, clean: true, protocolVersion: 4, reconnectPeriod: 1000 });
let received = 0;
let last = 0;
client.on('connect', () => {
  if (client.stream && client.stream.setNoDelay) client.stream.setNoDelay(true);
  client.subscribe(workerData.filter, { qos: 1 }, (err) => parentPort.postMessage({ type: 'subscribed', error: err ? String(err) : null }));
});
client.on('error', (err) => parentPort.postMessage({ type: 'error', error: String(err) }));
const done = () => { received++; last = performance.timeOrigin + performance.now(); };
client.on('message', (topic, payload) => {
  if (!redis) return done();
  redis.set(workerData.keyPrefix + topic, payload).then(done, (err) => parentPort.postMessage({ type: 'error', error: String(err) }));
});
parentPort.on('message', (m) => {
  if (m === 'count') parentPort.postMessage({ type: 'count', received, last });
  if (m === 'stop') client.end(true, () => (redis ? redis.quit().finally(() => process.exit(0)) : process.exit(0)));
});
`;

/**
 * Publishes for `seconds` as fast as `window` allows, then waits (bounded) for the subscriber to get them all.
 * With `redis` (a URL and a key prefix) the subscriber also writes each message to Redis once.
 */
export async function mqttBaseline(
  url: string,
  base: string,
  seconds: number,
  window: number,
  drainMs: number,
  redis?: { url: string; keyPrefix: string },
): Promise<MqttBaseline> {
  const require = createRequire(import.meta.url);
  const worker = new Worker(SUBSCRIBER, {
    eval: true,
    workerData: {
      url,
      mqtt: require.resolve('mqtt'),
      ioredis: require.resolve('ioredis'),
      redis: redis?.url,
      keyPrefix: `${redis?.keyPrefix}:`,
      filter: `${base}/raw/#`,
      clientId: `bench-raw-sub-${process.pid}`,
    },
  });
  const replies: Array<(m: { type: string; received?: number; last?: number; error?: string | null }) => void> = [];
  let failure: string | undefined;
  worker.on('message', (m: { type: string; error?: string | null }) => {
    if (m.type === 'error') failure = m.error ?? 'error';
    else replies.shift()?.(m);
  });
  worker.on('error', (err: Error) => (failure = err.message));
  const ask = <T>(msg?: string) =>
    withTimeout(
      new Promise<T>((resolve) => {
        replies.push(resolve as (m: unknown) => void);
        if (msg) worker.postMessage(msg);
      }),
      10_000,
      'the raw MQTT subscriber thread',
    );
  let pubClient: MqttClient | undefined;
  try {
    const sub = await ask<{ error: string | null }>();
    if (sub.error) throw new Error(`raw MQTT subscriber: ${sub.error}`);
    pubClient = await connectClient(url, 'raw-pub');
    const pub = new WindowedPublisher(pubClient, window);
    // The same payload shape and topic depth as a posture event to the service.
    const topics = Array.from({ length: 1000 }, (_, i) => `${base}/raw/devices/d${i}/event`);
    const tStart = Date.now();
    const end = performance.now() + seconds * 1000;
    let i = 0;
    while (performance.now() < end && !failure) {
      await pub.publish(topics[i % topics.length]!, postureEvent(i % 2 ? 'sitting' : 'standing', Date.now()));
      i++;
      if ((i & 255) === 0) await new Promise((r) => setImmediate(r));
    }
    await pub.drain(drainMs);
    const deadline = Date.now() + drainMs;
    let count = { received: 0, last: 0 };
    for (;;) {
      count = await ask<{ received: number; last: number }>('count');
      if (count.received >= pub.sent || Date.now() > deadline || failure) break;
      await sleep(20);
    }
    if (failure) throw new Error(`raw MQTT subscriber: ${failure}`);
    const complete = count.received >= pub.sent;
    const elapsed = ((complete ? count.last : Date.now()) - tStart) / 1000;
    return {
      published: pub.sent,
      received: count.received,
      perSec: count.received / elapsed,
      seconds: elapsed,
      window,
      incomplete: complete
        ? undefined
        : `raw MQTT: the subscriber received ${count.received} of ${pub.sent} messages within ${drainMs} ms after publishing`,
    };
  } finally {
    worker.postMessage('stop');
    await withTimeout(new Promise((r) => worker.once('exit', r)), 5_000, 'the raw subscriber thread to end').catch(() =>
      worker.terminate(),
    );
    await closeClient(pubClient);
  }
}

export interface RedisBaseline {
  pingPerSec: number;
  getPerSec: number;
  pipelinedPerSec: number;
}

/** Sequential PING and GET round trips per second, and auto-pipelined GETs per second (1000 in flight). */
export async function redisBaseline(url: string, keyPrefix: string, seconds: number): Promise<RedisBaseline> {
  const seq = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  const piped = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableAutoPipelining: true });
  const key = `${keyPrefix}:baseline`;
  for (const c of [seq, piped]) c.on('error', () => undefined); // commands reject with it
  try {
    await Promise.all([seq.connect(), piped.connect()]);
    await seq.set(key, JSON.stringify({ posture: 'sitting', at: Date.now() }));
    const timed = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      const end = t0 + seconds * 1000;
      let n = 0;
      while (performance.now() < end) {
        await fn();
        n++;
      }
      return n / ((performance.now() - t0) / 1000);
    };
    const pingPerSec = await timed(() => seq.ping());
    const getPerSec = await timed(() => seq.get(key));
    let n = 0;
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: 1000 }, async () => {
        while (performance.now() < end) {
          await piped.get(key);
          n++;
        }
      }),
    );
    const pipelinedPerSec = n / ((performance.now() - t0) / 1000);
    await seq.del(key);
    return { pingPerSec, getPerSec, pipelinedPerSec };
  } finally {
    await Promise.all([seq.quit().catch(() => seq.disconnect()), piped.quit().catch(() => piped.disconnect())]);
  }
}
