// MQTT clients of the load generator: connections without Nagle, and a QoS 1 publisher that keeps a bounded
// number of publishes waiting for their PUBACK.
import type { Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { withTimeout } from '../test/support/services.js';

let clientSeq = 0;

/** A clean-session client with TCP_NODELAY (docs/configuration.md: Nagle adds ~30 ms to the p99 of small messages). */
export async function connectClient(url: string, name: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    clientId: `bench-${name}-${process.pid}-${++clientSeq}`,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    keepalive: 60,
    protocolVersion: 4,
    ...extra,
  });
  client.setMaxListeners(0);
  const noDelay = () => (client.stream as unknown as Partial<Socket>).setNoDelay?.(true);
  client.on('connect', noDelay);
  client.on('error', () => undefined); // connect errors reject below; later ones are retried by MQTT.js
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
      }),
      10_000,
      `an MQTT CONNACK for the bench client ${name}`,
    );
  } catch (err) {
    client.end(true);
    throw err;
  }
  return client;
}

export async function closeClient(client: MqttClient | undefined): Promise<void> {
  if (!client) return;
  await withTimeout(client.endAsync(), 5_000, 'an MQTT client to close').catch(() => client.end(true));
}

/** QoS 1 publishes with at most `window` of them waiting for their PUBACK. */
export class WindowedPublisher {
  inFlight = 0;
  sent = 0;
  acked = 0;
  failed = 0;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly client: MqttClient,
    readonly window: number,
  ) {}

  /** Resolves once the message is handed to the client (not when acknowledged). */
  async publish(topic: string, payload: string | Buffer, retain = false): Promise<void> {
    while (this.inFlight >= this.window) await new Promise<void>((r) => this.waiters.push(r));
    this.inFlight++;
    this.sent++;
    this.client.publish(topic, payload, { qos: 1, retain }, (err) => {
      this.inFlight--;
      if (err) this.failed++;
      else this.acked++;
      this.waiters.shift()?.();
    });
  }

  /** Waits until every publish is acknowledged by the broker, at most `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    return this.inFlight === 0;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
