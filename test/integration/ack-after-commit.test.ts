// The ingest gateway acknowledges a QoS 1 message only after its handler finished, in arrival order, while
// handling several at once. It does so by wrapping a private MQTT.js method (`_sendPacket`), with mqtt pinned to an
// exact version (docs/development/ack-after-commit.md): this test is the one that fails the day an upgrade breaks
// that. The broker is Aedes (real, in process), because it reports each PUBACK it receives.
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { MqttGateway } from '../../src/mqtt/gateway.js';
import { Topics } from '../../src/mqtt/topics.js';
import { freePort } from '../support/services.js';

let broker: Aedes;
let server: Server;
let url: string;
const acked: string[] = [];

beforeAll(async () => {
  broker = await Aedes.createBroker();
  broker.on('ack', (packet) => {
    if (packet && 'topic' in packet && packet.topic.startsWith('ack-test/')) acked.push(packet.topic);
  });
  const port = await freePort();
  server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  url = `mqtt://127.0.0.1:${port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise<void>((resolve) => broker.close(() => resolve()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ack after commit (MQTT.js internals, mqtt pinned)', () => {
  it('the installed mqtt is the pinned version whose internals the gateway wraps', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
      dependencies: Record<string, string>;
    };
    const installed = (await import('mqtt/package.json', { with: { type: 'json' } })).default as { version: string };
    expect(pkg.dependencies.mqtt).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed.version).toBe(pkg.dependencies.mqtt);
  });

  it('handles messages concurrently and sends each PUBACK after its handler, in arrival order', async () => {
    const gateway = new MqttGateway(
      { url, clientIdPrefix: 'ack-test', ingestClientId: `ack-test-${process.pid}`, maxInFlight: 8 },
      new Topics({ base: 'ack-test-base', z2m: 'ack-test-z2m', haPrefix: 'ack-test-ha' }),
      createLogger('silent'),
    );
    let releaseFirst!: () => void;
    const firstDone = new Promise<void>((r) => (releaseFirst = r));
    const started: string[] = [];
    const finished: string[] = [];
    await gateway.subscribeIngest(['ack-test/#'], async (topic) => {
      started.push(topic);
      if (topic === 'ack-test/1') await firstDone;
      finished.push(topic);
    });
    const device = await mqtt.connectAsync(url, { clientId: `ack-test-device-${process.pid}` });
    try {
      await Promise.all(
        [
          device.publishAsync('ack-test/1', 'a', { qos: 1 }),
          sleep(50).then(() => device.publishAsync('ack-test/2', 'b', { qos: 1 })),
        ].map((p) => p.catch(() => undefined)),
      );
      const deadline = Date.now() + 5000;
      while (started.length < 2 && Date.now() < deadline) await sleep(20);
      // The second message is handled while the first is still in hand (pipelining)…
      expect(started).toEqual(['ack-test/1', 'ack-test/2']);
      expect(finished).toEqual(['ack-test/2']);
      await sleep(300);
      // …but neither is acknowledged: the first has not committed, and acks go out in order.
      expect(acked).toEqual([]);
      releaseFirst();
      while (acked.length < 2 && Date.now() < deadline) await sleep(20);
      expect(acked).toEqual(['ack-test/1', 'ack-test/2']);
    } finally {
      await device.endAsync();
      await gateway.stopIngest();
    }
  });
});
