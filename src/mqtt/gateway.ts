// The one MQTT gateway: connections, the retained bridge state and its last will, publishing (no wildcards),
// and ingest subscriptions acknowledged only after the handler's work is committed (docs/development/architecture.md, principle 3).
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from '../logger.js';
import type { OutboundMessage } from '../domain/types.js';
import type { DependencyHealth } from '../dependencies.js';
import { InfraError, isRedisUnavailable } from '../errors.js';
import { assertTopicPart, type Topics } from './topics.js';

export interface GatewayOptions {
  url: string;
  username?: string;
  password?: string;
  /** PEM: the CA that signed the broker's certificate, and an optional client certificate and key. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  sharedGroup?: string;
  clientIdPrefix: string;
  /** Stable client id of the persistent ingest session (used when there is no shared group). */
  ingestClientId: string;
  /** How many inbound messages are handled at once (their acks still go out in order, after commit). */
  maxInFlight: number;
  /** Outages of the broker (and of Redis, seen by ingest) logged once each way; absent: every error is logged. */
  health?: DependencyHealth;
  /** MQTT.js's packet trace (DEBUG=mqttjs*, the `debug` package's own variable): off, it costs nothing. */
  trace?: boolean;
}

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => Promise<void>;

const ONLINE = JSON.stringify({ state: 'online' });
const OFFLINE = JSON.stringify({ state: 'offline' });

/** How long a graceful stop of ingest waits for the messages in hand to commit and be acknowledged. */
const INGEST_DRAIN_MS = 2_500;
/** Longest pause between two attempts at an inbound message that failed on Redis. */
const INGEST_RETRY_MAX_MS = 500;
/** With a shared subscription, how long no message may have come before the drain counts as done. */
const INGEST_QUIET_MS = 200;

export class MqttGateway {
  private pub?: MqttClient;
  private sub?: MqttClient;
  private handler?: MessageHandler;
  private filters: string[] = [];
  /** Set by stopIngest(): no new message is handled, and no resubscription. */
  private ingestStopping = false;
  /** Set by stop(): this instance's own offline bridge state is not answered with online. */
  private stopping = false;
  /** Messages being handled, the chain of their PUBACKs, and when the last one arrived (see pipelineAcks). */
  private readonly pipeline = { inFlight: 0, acks: Promise.resolve(), lastArrival: 0 };
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
      ...(this.opts.tls?.ca ? { ca: this.opts.tls.ca } : {}),
      ...(this.opts.tls?.cert ? { cert: this.opts.tls.cert, key: this.opts.tls.key } : {}),
      // Never connect to a broker whose certificate does not verify (MQTT.js's default too; said here on purpose).
      rejectUnauthorized: true,
      // Shared subscriptions need MQTT 5; Aedes (the embedded broker) speaks 3.1.1 only.
      protocolVersion: this.opts.sharedGroup ? 5 : 4,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      keepalive: 30,
      // MQTT.js traces every packet through the `debug` package (about ten calls a publish, each a check of
      // whether DEBUG asked for it): a no-op unless the trace was asked for.
      ...(this.opts.trace ? {} : { log: () => undefined }),
      ...extra,
    };
  }

  /** Connects the publisher (which owns the bridge state and its will). */
  async start(): Promise<void> {
    this.pub = await mqtt
      .connectAsync(
        this.opts.url,
        this.clientOptions('pub', {
          will: { topic: this.topics.bridgeState(), payload: Buffer.from(OFFLINE), qos: 1, retain: true },
        }),
      )
      .catch((err: unknown) => {
        throw connectError(this.opts.url, err);
      });
    this.pub.setMaxListeners(0);
    const announce = () =>
      this.pub!.publishAsync(this.topics.bridgeState(), ONLINE, { qos: 1, retain: true }).catch((err) =>
        this.log.warn({ err }, 'could not publish bridge state'),
      );
    this.pub.on('connect', () => {
      this.opts.health?.recovered('mqtt');
      void announce();
    });
    this.pub.on('error', (err) => this.brokerTrouble('publisher', err));
    this.pub.on('offline', () => this.brokerTrouble('publisher', new Error('offline')));
    this.pub.on('message', (topic, payload) => {
      for (const h of this.extraHandlers) if (topicMatches(h.filter, topic)) h.fn(topic, payload);
    });
    await announce();
    // Instances share one bridge state. When another one goes offline (stopped in a rolling restart, or its will
    // after a crash) while this one runs, say online again: otherwise Home Assistant shows the whole service
    // unavailable although it still works.
    await this.subscribe(this.topics.bridgeState(), (_topic, payload) => {
      if (!this.stopping && bridgeStateOf(payload) === 'offline') void announce();
    });
  }

  /**
   * A broker error or a dropped connection. While stopping, our own closed connection is expected (MQTT.js reports
   * "write after end" for what was still queued): not worth a warning.
   */
  private brokerTrouble(which: 'publisher' | 'ingest', err: Error): void {
    if (this.stopping || (which === 'ingest' && this.ingestStopping)) {
      this.log.debug({ err: err.message }, `MQTT ${which} closed while stopping`);
      return;
    }
    if (this.opts.health) this.opts.health.failed('mqtt', err, which);
    else this.log.warn({ err: err.message }, `MQTT ${which} ${err.message === 'offline' ? 'offline' : 'error'}`);
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
    // Without a shared group the ingest session is persistent under a stable client id, so QoS 1 events that
    // arrive while the process is down (or were delivered but not acknowledged before a crash) are delivered
    // when it is back. Shared consumers use clean sessions (docs/reference/mqtt.md: Mosquitto issue #1747).
    const persistent = !this.opts.sharedGroup;
    const client = mqtt.connect(
      this.opts.url,
      this.clientOptions('ingest', persistent ? { clientId: this.opts.ingestClientId, clean: false } : {}),
    );
    this.sub = client;
    // Installed before the connection opens: a persistent session delivers what it kept right after CONNACK.
    this.pipelineAcks(client);
    client.on('error', (err) => this.brokerTrouble('ingest', err));
    client.on('offline', () => this.brokerTrouble('ingest', new Error('offline')));
    // Two processes with one client id take the session from each other in turn: say so, loudly.
    const drops: number[] = [];
    client.on('close', () => {
      const now = Date.now();
      drops.push(now);
      while (drops.length > 0 && drops[0]! < now - 60_000) drops.shift();
      if (persistent && drops.length === 5) {
        this.log.error(
          { clientId: this.opts.ingestClientId },
          'the ingest connection keeps being closed; if another unknot ingest uses the same MQTT client id, set MQTT_SHARED_GROUP on all of them (or a distinct MQTT_CLIENT_ID each)',
        );
      }
    });
    const first = new Promise<boolean>((resolve, reject) => {
      client.once('connect', (ack) => resolve(ack.sessionPresent));
      client.once('error', reject);
    });
    await first.catch((err: unknown) => {
      client.end(true);
      throw connectError(this.opts.url, err);
    });
    await this.subscribeAll(client);
    client.on('connect', (ack) => {
      // A session the broker did not keep has lost its subscriptions: subscribe again.
      if (!ack.sessionPresent && !this.ingestStopping) void this.subscribeAll(client);
    });
  }

  /**
   * Up to `maxInFlight` messages are handled at once; each PUBACK still goes out only after its own handler
   * committed, and in the order the messages arrived (MQTT requires QoS 1 acks in order). MQTT.js alone would
   * handle one message at a time. A PUBACK owed on a connection that has since dropped is not sent: the broker
   * redelivers that message on the new connection, and a duplicate is harmless.
   */
  private pipelineAcks(client: MqttClient) {
    const owed = new Map<number, Promise<void>>();
    const pipeline = this.pipeline;
    let generation = 0;
    const waiters: Array<() => void> = [];
    client.on('connect', () => {
      generation += 1;
      owed.clear();
    });
    const release = () => {
      pipeline.inFlight -= 1;
      waiters.shift()?.();
    };
    client.handleMessage = (packet, callback) => {
      // Stopping a persistent session: leave it unhandled and unacknowledged (and stop reading), so that the broker
      // delivers it again to the next ingest process. (A shared subscription is unsubscribed instead, and what the
      // broker had already routed to us is still handled: nobody else would get it.)
      if (this.ingestStopping && !this.opts.sharedGroup) return;
      pipeline.lastArrival = Date.now();
      const work = this.runHandler(packet);
      pipeline.inFlight += 1;
      work.then(release, release);
      if (packet.qos > 0 && packet.messageId !== undefined) owed.set(packet.messageId, work);
      // Let MQTT.js read the next message now, unless too many are being handled already.
      if (pipeline.inFlight < this.opts.maxInFlight) callback();
      else waiters.push(() => callback());
    };
    // MQTT.js has no public way to hold a PUBACK past handleMessage's callback without also stopping the reading of
    // the next message, so its private _sendPacket is wrapped; mqtt is pinned to an exact version for it, and
    // test/integration/ack-after-commit.test.ts fails if an upgrade changes it (docs/development/ack-after-commit.md).
    type SendPacket = (
      packet: { cmd: string; messageId?: number },
      cb?: (err?: Error) => void,
      ...rest: unknown[]
    ) => void;
    const internals = client as unknown as { _sendPacket?: SendPacket };
    if (typeof internals._sendPacket !== 'function') {
      throw new Error(
        'this mqtt (MQTT.js) version has no _sendPacket: ack-after-commit cannot be kept; install the version package.json pins',
      );
    }
    const send = internals._sendPacket.bind(client);
    internals._sendPacket = (packet, cb, ...rest) => {
      const work = packet.cmd === 'puback' && packet.messageId !== undefined ? owed.get(packet.messageId) : undefined;
      if (!work) return send(packet, cb, ...rest);
      owed.delete(packet.messageId!);
      const gen = generation;
      pipeline.acks = pipeline.acks
        .then(() => work)
        .then(
          () => {
            if (gen === generation && client.connected) send(packet, undefined, ...rest);
          },
          () => undefined, // not committed (shutting down): never acknowledged, so the broker redelivers it
        );
      cb?.();
    };
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
        // To the handler a retry is a redelivery: the attempt before may have committed and then lost its effects
        // (Redis went away in between), and a redelivered message makes the handler see that they all exist.
        await this.handler!(packet.topic, payload, attempt === 0 ? packet : { ...packet, dup: true });
        return;
      } catch (err) {
        // Infrastructure trouble (Redis away): hold this message, and with it the stream, until it commits.
        // Capped low: once Redis is back, what waited here is applied within about this long (was 5 s).
        const delay = Math.min(INGEST_RETRY_MAX_MS, 50 * 2 ** Math.min(attempt, 4));
        if (this.opts.health && isRedisUnavailable(err)) this.opts.health.failed('redis', err, 'ingest');
        else this.log.error({ err, topic: packet.topic, attempt }, 'ingest failed; retrying before acknowledging');
        if (!this.sub || this.sub.disconnecting) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * Plain subscription on the publisher connection for things that need no ack-after-commit (HA status).
   * `shared`: with MQTT_SHARED_GROUP set, subscribe through `$share/<group>/` so that one instance handles each
   * message (commands that must not run once per instance, e.g. a snooze button).
   */
  async subscribe(
    filter: string,
    fn: (topic: string, payload: Buffer) => void,
    opts: { shared?: boolean } = {},
  ): Promise<void> {
    this.extraHandlers.push({ filter, fn });
    const group = opts.shared ? this.opts.sharedGroup : undefined;
    await this.pub!.subscribeAsync(group ? `$share/${group}/${filter}` : filter, { qos: 1 });
  }

  /**
   * The retained message on `topic` as the broker holds it now, or null if there is none: a connection of its own
   * subscribes, and a broker sends a retained message right after granting the subscription (waited for `graceMs`).
   * For rare checks only (after a crash): it costs a connection.
   */
  async readRetained(topic: string, graceMs = 500): Promise<Buffer | null> {
    assertTopicPart(topic, 'retained topic');
    const client = await mqtt.connectAsync(this.opts.url, this.clientOptions('probe', { reconnectPeriod: 0 }));
    try {
      const got = new Promise<Buffer>((resolve) =>
        client.on('message', (t, payload, packet) => t === topic && packet.retain && resolve(payload)),
      );
      await client.subscribeAsync(topic, { qos: 1 });
      const payload = await Promise.race([got, sleep(graceMs).then(() => null)]);
      return payload && payload.length > 0 ? payload : null;
    } finally {
      await client.endAsync().catch(() => undefined);
    }
  }

  /** Does the retained JSON on `topic` have `field` equal to `value`? (readRetained; no message or not JSON: no) */
  async retainedHas(topic: string, field: string, value: string): Promise<boolean> {
    const raw = await this.readRetained(topic);
    try {
      return !!raw && (JSON.parse(raw.toString()) as Record<string, unknown>)[field] === value;
    } catch {
      return false;
    }
  }

  async publish(msg: OutboundMessage): Promise<void> {
    assertTopicPart(msg.topic, 'publish topic');
    if (msg.topic.startsWith('$')) throw new Error(`refusing to publish to ${msg.topic}`);
    await this.pub!.publishAsync(msg.topic, msg.payload, { qos: msg.qos, retain: msg.retain ?? false });
  }

  publishJson(topic: string, body: unknown, opts: { qos?: 0 | 1; retain?: boolean } = {}) {
    return this.publish({ topic, payload: JSON.stringify(body), qos: opts.qos ?? 1, retain: opts.retain });
  }

  /**
   * Graceful end of ingest (SIGTERM), before the workers and queues it needs are closed: take no new messages, let
   * those in hand commit and be acknowledged, then close the ingest connection. A shared subscription is
   * unsubscribed first, so the broker gives the group's next messages to the other members (a clean session's
   * unacknowledged messages would be lost with it). A persistent session keeps its subscriptions, so the broker
   * queues events for it while the process is down, and what arrives now is left for the next process.
   */
  async stopIngest(): Promise<void> {
    const client = this.sub;
    if (!client || this.ingestStopping) return;
    this.ingestStopping = true;
    const deadline = Date.now() + INGEST_DRAIN_MS;
    if (this.opts.sharedGroup && client.connected) {
      const filters = this.filters.map((f) => `$share/${this.opts.sharedGroup}/${f}`);
      await Promise.race([client.unsubscribeAsync(filters), sleep(Math.max(0, deadline - Date.now()))]).catch(
        (err: unknown) => this.log.warn({ err }, 'could not unsubscribe ingest'),
      );
    }
    const p = this.pipeline;
    const quietFor = this.opts.sharedGroup ? INGEST_QUIET_MS : 0;
    while (Date.now() < deadline && (p.inFlight > 0 || Date.now() - p.lastArrival < quietFor)) await sleep(20);
    // The PUBACKs of what was handled go out in order, after their commits.
    await Promise.race([p.acks, sleep(Math.max(0, deadline - Date.now()))]);
    if (p.inFlight > 0) {
      this.log.warn(
        { inFlight: p.inFlight },
        this.opts.sharedGroup
          ? 'ingest stopped with messages not committed (Redis away?); a clean shared session does not get them again'
          : 'ingest stopped with messages not committed (Redis away?); the broker delivers them again to the next ingest',
      );
    }
    await client.endAsync().catch(() => undefined);
    this.sub = undefined;
    this.log.info('ingest stopped');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.stopIngest();
    if (this.pub) {
      await this.pub.publishAsync(this.topics.bridgeState(), OFFLINE, { qos: 1, retain: true }).catch(() => undefined);
      await this.pub.endAsync().catch(() => undefined);
    }
  }
}

/**
 * One line for a broker that refuses us at start-up (credentials, TLS), with what to check. A refusal at start is
 * fatal; after a successful start the clients keep reconnecting and /readyz says mqtt is down.
 */
function connectError(url: string, err: unknown): InfraError {
  const e = err as { message?: string; code?: string | number };
  // OpenSSL's messages span lines and carry source paths: keep only the reason ("tlsv13 alert certificate required").
  const raw = (e.message ?? String(err)).replace(/\s+/g, ' ').trim();
  const sslReason = /SSL routines:[^:]*:([^:]+)/.exec(raw)?.[1]?.trim();
  const message = sslReason ? `TLS ${sslReason}` : raw;
  const code = typeof e.code === 'string' ? e.code : '';
  const where = url.replace(/\/\/[^@/]*@/, '//'); // never echo credentials embedded in the URL
  let hint = '';
  if (
    /not authori[sz]ed|bad user ?name or password/i.test(message) ||
    e.code === 4 ||
    e.code === 5 ||
    e.code === 134 ||
    e.code === 135
  ) {
    hint = "; check MQTT_USERNAME and MQTT_PASSWORD (and the broker's password file and ACL)";
  } else if (
    /certificate required|alert (bad certificate|unknown ca|certificate unknown|handshake failure)/i.test(message)
  ) {
    hint = '; the broker wants a client certificate it trusts: set MQTT_CERT_FILE and MQTT_KEY_FILE';
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    hint =
      "; the broker's certificate does not name this host: use the host name the certificate was issued for in MQTT_URL";
  } else if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code) || /certificate/i.test(message)) {
    hint = "; the broker's certificate is not trusted: set MQTT_CA_FILE to the CA certificate (PEM) that signed it";
  } else if (/EPROTO|wrong version number|packet length too long/i.test(`${code} ${message}`)) {
    hint = '; does this port speak TLS? mqtts:// needs a TLS listener (8883), mqtt:// a plain one (1883)';
  } else if (code === 'ECONNREFUSED') {
    hint = '; is the broker running and listening there?';
  }
  return new InfraError(`MQTT_URL: cannot connect to ${where}: ${message}${hint}`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function bridgeStateOf(payload: Buffer): unknown {
  try {
    return (JSON.parse(payload.toString('utf8')) as { state?: unknown } | null)?.state;
  } catch {
    return undefined;
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
