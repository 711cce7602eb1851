// The one MQTT gateway: connections, the retained bridge state and its last will, publishing (no wildcards),
// and ingest subscriptions acknowledged only after the handler's work is committed (ARCHITECTURE principle 3).
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from '../logger.js';
import type { OutboundMessage } from '../domain/types.js';
import { assertTopicPart, type Topics } from './topics.js';

export interface GatewayOptions {
  url: string;
  username?: string;
  password?: string;
  sharedGroup?: string;
  clientIdPrefix: string;
}

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => Promise<void>;

const ONLINE = JSON.stringify({ state: 'online' });
const OFFLINE = JSON.stringify({ state: 'offline' });

export class MqttGateway {
  private pub?: MqttClient;
  private sub?: MqttClient;
  private handler?: MessageHandler;
  private filters: string[] = [];
  private readonly extraHandlers: Array<{ filter: string; fn: (topic: string, payload: Buffer) => void }> = [];

  constructor(
    private readonly opts: GatewayOptions,
    readonly topics: Topics,
    private readonly log: Logger,
  ) {}

  private clientOptions(kind: string, extra: IClientOptions = {}): IClientOptions {
    return {
      clientId: `${this.opts.clientIdPrefix}-${kind}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      username: this.opts.username,
      password: this.opts.password,
      // Shared subscriptions need MQTT 5; Aedes (the embedded broker) speaks 3.1.1 only.
      protocolVersion: this.opts.sharedGroup ? 5 : 4,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      keepalive: 30,
      ...extra,
    };
  }

  /** Connects the publisher (which owns the bridge state and its will). */
  async start(): Promise<void> {
    this.pub = await mqtt.connectAsync(
      this.opts.url,
      this.clientOptions('pub', {
        will: { topic: this.topics.bridgeState(), payload: Buffer.from(OFFLINE), qos: 1, retain: true },
      }),
    );
    this.pub.setMaxListeners(0);
    const announce = () =>
      this.pub!.publishAsync(this.topics.bridgeState(), ONLINE, { qos: 1, retain: true }).catch((err) =>
        this.log.warn({ err }, 'could not publish bridge state'),
      );
    this.pub.on('connect', () => void announce());
    this.pub.on('error', (err) => this.log.warn({ err: err.message }, 'MQTT publisher error'));
    this.pub.on('offline', () => this.log.warn('MQTT publisher offline'));
    this.pub.on('message', (topic, payload) => {
      for (const h of this.extraHandlers) if (topicMatches(h.filter, topic)) h.fn(topic, payload);
    });
    await announce();
  }

  get connected(): boolean {
    return !!this.pub?.connected && (!this.sub || this.sub.connected);
  }

  /**
   * Ingest subscription: `handler` runs for one message at a time and the QoS 1 PUBACK goes out only once
   * it resolves. A handler that throws is retried (the message is never acknowledged before it succeeds).
   */
  async subscribeIngest(filters: string[], handler: MessageHandler): Promise<void> {
    this.handler = handler;
    this.filters = filters;
    const client = await mqtt.connectAsync(this.opts.url, this.clientOptions('ingest', { manualConnect: false }));
    this.sub = client;
    client.on('error', (err) => this.log.warn({ err: err.message }, 'MQTT ingest error'));
    client.on('offline', () => this.log.warn('MQTT ingest offline'));
    client.on('connect', (ack) => {
      // A clean session loses its subscriptions on reconnect: subscribe again.
      if (!ack.sessionPresent) void this.subscribeAll(client);
    });
    client.handleMessage = (packet, callback) => {
      this.runHandler(packet).then(
        () => callback(),
        (err) => callback(err as Error),
      );
    };
    await this.subscribeAll(client);
  }

  private async subscribeAll(client: MqttClient) {
    const group = this.opts.sharedGroup;
    const filters = this.filters.map((f) => (group ? `$share/${group}/${f}` : f));
    if (filters.length === 0) return;
    await client.subscribeAsync(filters, { qos: 1 });
    this.log.info({ filters }, 'subscribed');
  }

  private async runHandler(packet: IPublishPacket): Promise<void> {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.handler!(packet.topic, payload, packet);
        return;
      } catch (err) {
        // Infrastructure trouble (Redis away): hold this message, and with it the stream, until it commits.
        const delay = Math.min(5000, 100 * 2 ** Math.min(attempt, 6));
        this.log.error({ err, topic: packet.topic, attempt }, 'ingest failed; retrying before acknowledging');
        if (!this.sub || (this.sub as unknown as { disconnecting: boolean }).disconnecting) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Plain subscription on the publisher connection for things that need no ack-after-commit (HA status). */
  async subscribe(filter: string, fn: (topic: string, payload: Buffer) => void): Promise<void> {
    this.extraHandlers.push({ filter, fn });
    await this.pub!.subscribeAsync(filter, { qos: 1 });
  }

  async publish(msg: OutboundMessage): Promise<void> {
    assertTopicPart(msg.topic, 'publish topic');
    if (msg.topic.startsWith('$')) throw new Error(`refusing to publish to ${msg.topic}`);
    await this.pub!.publishAsync(msg.topic, msg.payload, { qos: msg.qos, retain: msg.retain ?? false });
  }

  publishJson(topic: string, body: unknown, opts: { qos?: 0 | 1; retain?: boolean } = {}) {
    return this.publish({ topic, payload: JSON.stringify(body), qos: opts.qos ?? 1, retain: opts.retain });
  }

  async stop(): Promise<void> {
    if (this.sub) await this.sub.endAsync().catch(() => undefined);
    if (this.pub) {
      await this.pub
        .publishAsync(this.topics.bridgeState(), OFFLINE, { qos: 1, retain: true })
        .catch(() => undefined);
      await this.pub.endAsync().catch(() => undefined);
    }
  }
}

/** MQTT filter match (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
