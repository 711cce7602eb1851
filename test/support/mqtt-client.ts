// An MQTT client for tests that drive unknot the way a hub or a device would: publish events, watch commands.
import { randomBytes } from 'node:crypto';
import {
  connectAsync,
  type IClientOptions,
  type IClientPublishOptions,
  type IClientSubscribeOptions,
  type MqttClient,
} from 'mqtt';

export interface ReceivedMessage {
  topic: string;
  /** The payload as UTF-8 text. */
  payload: string;
  /** The payload parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  retain: boolean;
  qos: number;
  /** Date.now() when it arrived. */
  receivedAt: number;
}

export type MessagePredicate = (message: ReceivedMessage) => boolean;

export interface TestMqttClient {
  /** The underlying mqtt.js client, for what this wrapper does not cover. */
  readonly client: MqttClient;
  readonly clientId: string;
  /** Publishes (QoS 1 by default) and resolves once the broker acknowledged it. Objects are sent as JSON. */
  publish(topic: string, payload: string | Buffer | object, opts?: IClientPublishOptions): Promise<void>;
  /** Subscribes (QoS 1 by default) and resolves once the broker granted it. */
  subscribe(filter: string | string[], opts?: Partial<IClientSubscribeOptions>): Promise<void>;
  /**
   * The first message received so far or from now on that matches: a topic filter (`+`/`#` allowed), a predicate,
   * or both. Messages received since subscribe() count, so there is no race between an action and the wait.
   */
  waitFor(filter: string, timeoutMs?: number): Promise<ReceivedMessage>;
  waitFor(filter: string, predicate: MessagePredicate, timeoutMs?: number): Promise<ReceivedMessage>;
  waitFor(predicate: MessagePredicate, timeoutMs?: number): Promise<ReceivedMessage>;
  /** Resolves with the first `count` matching messages once that many have been received. */
  waitForCount(
    filter: string,
    count: number,
    predicate?: MessagePredicate,
    timeoutMs?: number,
  ): Promise<ReceivedMessage[]>;
  /** Everything received so far, optionally only on topics matching `filter`, oldest first. */
  messages(filter?: string): ReceivedMessage[];
  /** Forgets what was received so far (e.g. between phases of a test). */
  clear(): void;
  end(): Promise<void>;
}

export const DEFAULT_WAIT_MS = 10_000;

/** MQTT topic filter matching: `+` is one level, a trailing `#` any number of levels (including none). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // Wildcards do not match topics that start with $ ($SYS, $share) at the first level.
  if (t[0]?.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function describe(filter: string | undefined, predicate: MessagePredicate | undefined): string {
  const parts: string[] = [];
  if (filter !== undefined) parts.push(`on ${filter}`);
  if (predicate) parts.push(`matching ${predicate.name || predicate.toString().slice(0, 200)}`);
  return parts.join(' ') || 'any message';
}

export async function connectClient(
  mqttUrl: string,
  options: Partial<IClientOptions> & { connectTimeoutMs?: number } = {},
): Promise<TestMqttClient> {
  const { connectTimeoutMs = 10_000, ...clientOptions } = options;
  const clientId = clientOptions.clientId ?? `unknot-test-${randomBytes(6).toString('hex')}`;
  let client: MqttClient;
  try {
    client = await Promise.race([
      connectAsync(
        mqttUrl,
        { clean: true, connectTimeout: connectTimeoutMs, reconnectPeriod: 500, ...clientOptions, clientId },
        false,
      ),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no CONNACK within ${connectTimeoutMs} ms`)), connectTimeoutMs).unref(),
      ),
    ]);
  } catch (err) {
    throw new Error(
      `test MQTT client could not connect to ${mqttUrl}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  // A test should fail on its assertions, not crash the worker on an unhandled 'error' event.
  client.on('error', () => undefined);

  const received: ReceivedMessage[] = [];
  const waiters = new Set<(m: ReceivedMessage) => void>();
  client.on('message', (topic, payload, packet) => {
    const text = payload.toString('utf8');
    const message: ReceivedMessage = {
      topic,
      payload: text,
      json: parseJson(text),
      retain: packet.retain,
      qos: packet.qos,
      receivedAt: Date.now(),
    };
    received.push(message);
    for (const waiter of [...waiters]) waiter(message);
  });

  const matcher = (filter: string | undefined, predicate: MessagePredicate | undefined): MessagePredicate => {
    return (m) => (filter === undefined || topicMatches(filter, m.topic)) && (!predicate || predicate(m));
  };

  const waitForCount = (
    filter: string | undefined,
    count: number,
    predicate: MessagePredicate | undefined,
    timeoutMs: number,
  ): Promise<ReceivedMessage[]> => {
    const matches = matcher(filter, predicate);
    const found = received.filter(matches);
    if (found.length >= count) return Promise.resolve(found.slice(0, count));
    return new Promise((resolve, reject) => {
      const waiter = (m: ReceivedMessage): void => {
        if (!matches(m)) return;
        found.push(m);
        if (found.length < count) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve(found.slice(0, count));
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        const seen = received
          .slice(-10)
          .map((m) => `  ${m.topic} ${m.payload.slice(0, 200)}`)
          .join('\n');
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${count > 1 ? `${count} messages` : 'a message'} ` +
              `${describe(filter, predicate)} (got ${found.length}); last messages received (${received.length} in all):\n` +
              (seen || '  (none)'),
          ),
        );
      }, timeoutMs);
      waiters.add(waiter);
    });
  };

  return {
    client,
    clientId,

    async publish(topic, payload, opts = {}) {
      const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
      const qos = opts.qos ?? 1;
      const timeoutMs = DEFAULT_WAIT_MS;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.publishAsync(topic, body, { ...opts, qos }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`publish to ${topic} (QoS ${qos}) not acknowledged within ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },

    async subscribe(filter, opts = {}) {
      const grants = await client.subscribeAsync(filter, { qos: 1, ...opts });
      const refused = grants.filter((g) => g.qos === 128);
      if (refused.length > 0) {
        throw new Error(`broker refused subscription to ${refused.map((g) => g.topic).join(', ')}`);
      }
    },

    waitFor(
      filterOrPredicate: string | MessagePredicate,
      predicateOrTimeout?: MessagePredicate | number,
      timeoutMs?: number,
    ): Promise<ReceivedMessage> {
      const filter = typeof filterOrPredicate === 'string' ? filterOrPredicate : undefined;
      let predicate = typeof filterOrPredicate === 'function' ? filterOrPredicate : undefined;
      let timeout = timeoutMs ?? DEFAULT_WAIT_MS;
      if (typeof predicateOrTimeout === 'function') predicate = predicateOrTimeout;
      else if (typeof predicateOrTimeout === 'number') timeout = predicateOrTimeout;
      return waitForCount(filter, 1, predicate, timeout).then((found) => found[0] as ReceivedMessage);
    },

    waitForCount(filter, count, predicate, timeoutMs = DEFAULT_WAIT_MS) {
      return waitForCount(filter, count, predicate, timeoutMs);
    },

    messages(filter) {
      return filter === undefined ? [...received] : received.filter((m) => topicMatches(filter, m.topic));
    },

    clear() {
      received.length = 0;
    },

    async end() {
      try {
        await Promise.race([
          client.endAsync(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('end timed out')), 3_000).unref()),
        ]);
      } catch {
        await client.endAsync(true);
      }
    },
  };
}
