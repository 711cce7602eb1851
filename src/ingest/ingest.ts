// MQTT ingest: subscription → adapter → domain → store → effects, acknowledged only after all of it
// committed. Bad input is counted, logged and answered on the device's error topic; it never stops the stream.
import type { IPublishPacket } from 'mqtt';
import { allSubscriptions, describeShellyReply, matchTopic } from '../adapters/index.js';
import { decodeJsonObject } from '../adapters/common.js';
import type { AppContext, CommandRoute } from '../app/context.js';
import { topicMatches } from '../mqtt/gateway.js';
import type { SensorEventOptions, Sessions } from '../app/sessions.js';
import {
  type Action,
  type Device,
  InvalidInputError,
  isValidId,
  type Observation,
  UnknotError,
} from '../domain/types.js';

/** Extra handlers for observations other roles own (heat, routines), registered by those units. */
export interface ObservationHandlers {
  /** Button actions other than snooze and ack (heat_on, heat_off, routine_stop). */
  actions: Partial<Record<Action, (device: Device, obs: Extract<Observation, { type: 'action' }>) => Promise<void>>>;
  /** A heat pad reporting its own state (the watchdog). */
  heat?: (device: Device, obs: Extract<Observation, { type: 'heat' }>) => Promise<void>;
  /** Command topics that are not device events (Home Assistant's buttons and switches), handled with the same ack. */
  commands?: CommandRoute[];
}

const ERROR_INTERVAL_MS = 1000;

/**
 * Errors that come from the data or the code, not from Redis or the broker being away (those are retried until
 * they pass): e.g. a stored profile whose time zone this Node.js no longer knows (RangeError).
 */
export const isDeterministic = (err: unknown): boolean =>
  err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError || err instanceof ReferenceError;

export class Ingest {
  private readonly lastError = new Map<string, number>();
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
    private readonly handlers: ObservationHandlers = { actions: {} },
  ) {}

  async start(): Promise<void> {
    const filters = [...allSubscriptions(this.ctx.topics), ...(this.handlers.commands ?? []).map((c) => c.filter)];
    await this.ctx.mqtt.subscribeIngest(filters, (topic, payload, packet) => this.handle(topic, payload, packet));
  }

  /** Takes no new messages and lets the ones in hand commit and be acknowledged (graceful shutdown). */
  stop(): Promise<void> {
    return this.ctx.mqtt.stopIngest();
  }

  /** One inbound message. Throws only for infrastructure failures (the gateway then retries before acking). */
  async handle(topic: string, payload: Buffer, packet?: IPublishPacket): Promise<void> {
    const started = process.hrtime.bigint();
    const command = this.handlers.commands?.length
      ? this.handlers.commands.find((c) => topicMatches(c.filter, topic))
      : undefined;
    if (command) {
      try {
        await command.handle(topic, payload);
      } catch (err) {
        if (!isDeterministic(err)) throw err;
        this.ctx.log.error({ err, topic }, 'a command failed with an error that a retry would repeat');
      }
      return;
    }
    const m = matchTopic(topic, this.ctx.topics);
    if (!m) return;
    const { adapter, match } = m;
    this.received(match.protocol).inc();

    // The look-ups below answer from this process's registry cache (kept current by pub/sub). When the device is
    // already known and nothing of its person's is queued here, their state read starts now, alongside them.
    const hint = this.ctx.registry.peekDevice(
      match.protocol === 'unknot' ? match.key : this.ctx.registry.peekTopic(match.protocol, match.key),
    );
    const prefetch =
      hint && !this.chains.has(hint.userId) && !this.sessions.hasRecent(hint.userId)
        ? this.ctx.store.read(hint.userId)
        : undefined;
    prefetch?.catch(() => undefined); // awaited (or dropped) below; never an unhandled rejection

    let device: Device | null;
    if (match.protocol === 'unknot') {
      if (!isValidId(match.key)) {
        return this.reject(
          'invalid_id',
          `device id ${JSON.stringify(match.key)} is not 1–64 characters of [A-Za-z0-9_-]`,
          topic,
        );
      }
      device = await this.ctx.registry.getDevice(match.key);
      if (!device) {
        return this.reject(
          'unknown_device',
          `no device ${match.key}; register it with PUT /api/devices/${match.key}`,
          topic,
          match.key,
        );
      }
    } else {
      // A Shelly's answer to one of our heat commands: nothing to apply, but worth a log line (an error means the
      // command did not take).
      if (match.protocol === 'shelly' && match.kind === 'rpc_reply') return this.shellyReply(payload);
      const id = await this.ctx.registry.deviceIdForTopic(match.protocol, match.key);
      device = id ? await this.ctx.registry.getDevice(id) : null;
      // An address left claimed by a device that no longer names it (a registry write cut short) is not its.
      if (device && (device.protocol !== match.protocol || device.topic !== match.key)) device = null;
      // Other devices on a shared Zigbee2MQTT/Tasmota/Shelly tree are not ours: not an error.
      if (!device) return;
    }
    if (device.protocol !== match.protocol) {
      return this.reject(
        'wrong_protocol',
        `device ${device.deviceId} is registered with protocol ${device.protocol}`,
        topic,
        device.deviceId,
      );
    }

    const parsed = adapter.parse(device, match, payload, { topics: this.ctx.topics, now: this.ctx.now() });
    if (!parsed.ok) return this.reject(parsed.code, parsed.detail, topic, device.deviceId);

    // The prefetched state is for the first observation only, and only if the device still belongs to that person.
    let firstRead = hint?.userId === device.userId ? prefetch : undefined;
    for (const obs of parsed.observations) {
      const read = firstRead;
      firstRead = undefined;
      try {
        await this.serially(device.userId, () =>
          this.dispatch(device, obs, { redelivered: !!packet?.dup, firstRead: read }),
        );
      } catch (err) {
        if (err instanceof UnknotError) {
          this.reject(err.code, err.message, topic, device.deviceId);
          continue;
        }
        if (isDeterministic(err)) {
          // A retry would fail the same way and hold every message behind this one: refuse it instead.
          this.ctx.log.error(
            { err, topic, deviceId: device.deviceId, userId: device.userId },
            'a message failed with an error that a retry would repeat',
          );
          this.reject(
            'internal_error',
            `unknot could not handle this event (${(err as Error).message}); it is logged`,
            topic,
            device.deviceId,
          );
          continue;
        }
        throw err;
      }
    }
    this.ctx.metrics.eventToCommit.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  /**
   * Messages are handled several at a time (see MqttGateway.pipelineAcks); one person's run one after another
   * in this process, so their effects (jobs, the retained state) are applied in commit order.
   */
  private serially<T>(key: string, fn: () => Promise<T>): Promise<T> {
    // Nothing of this person's in hand (the usual case): run at once. Either way the next one waits for this one,
    // failed or not.
    const prev = this.chains.get(key);
    const run = prev ? prev.then(fn, fn) : fn();
    this.chains.set(key, run);
    const done = () => {
      if (this.chains.get(key) === run) this.chains.delete(key);
    };
    run.then(done, done);
    return run;
  }

  private async dispatch(device: Device, obs: Observation, opts: SensorEventOptions): Promise<void> {
    // Built only when needed: the posture path is hot.
    const log = () => this.ctx.log.child({ userId: device.userId, deviceId: device.deviceId });
    switch (obs.type) {
      case 'posture': {
        if (device.role === 'heatpad') throw new InvalidInputError('wrong_role', 'a heat pad does not report posture');
        const outcome = await this.sessions.sensorEvent(device, obs.posture, obs.at, obs.id, opts);
        if (this.ctx.log.isLevelEnabled('debug')) log().debug({ posture: obs.posture, at: obs.at, outcome }, 'posture');
        return;
      }
      case 'availability': {
        // An offline seat sensor no longer says anyone sits there: we would rather miss a nudge than nag
        // someone whose sensor died (docs/concepts/fusion.md).
        if (!obs.online && (device.role === 'desk' || device.role === 'chair')) {
          await this.sessions.sensorEvent(device, 'away', obs.at, undefined, opts);
          log().info('seat sensor offline: treated as away');
        }
        return;
      }
      case 'action': {
        if (obs.action === 'snooze') {
          const r = await this.sessions.snooze(device.userId, obs.minutes);
          if (!r.ok)
            throw new InvalidInputError(
              r.code,
              r.code === 'snooze_limit' ? 'no snoozes left for this session' : 'there is no nudge to snooze',
            );
          log().info({ nextNudgeAt: new Date(r.nextNudgeAt).toISOString() }, 'snoozed from device');
          return;
        }
        if (obs.action === 'ack') return this.sessions.ack(device.userId, device.deviceId);
        const handler = this.handlers.actions[obs.action];
        if (handler) return handler(device, obs);
        throw new InvalidInputError('not_supported', `action ${obs.action} is not available on this instance`);
      }
      case 'heat':
        if (this.handlers.heat) return this.handlers.heat(device, obs);
        return;
    }
  }

  /** The received-events counter of a protocol (its labelled child, looked up once). */
  private received(protocol: string) {
    let c = this.receivedBy.get(protocol);
    if (!c) {
      c = this.ctx.metrics.eventsReceived.labels({ protocol });
      this.receivedBy.set(protocol, c);
    }
    return c;
  }

  private readonly receivedBy = new Map<string, { inc(): void }>();

  private shellyReply(payload: Buffer): void {
    const frame = decodeJsonObject(payload);
    if (!frame.ok) {
      this.ctx.log.debug({ code: frame.code }, 'unreadable Shelly RPC reply');
      return;
    }
    const reply = describeShellyReply(frame.value);
    if (reply.error) this.ctx.log.warn({ shelly: reply }, 'a Shelly refused a command');
    else this.ctx.log.debug({ shelly: reply }, 'Shelly RPC reply');
  }

  private reject(code: string, detail: string, topic: string, deviceId?: string): void {
    this.ctx.metrics.eventsRejected.inc({ reason: code });
    this.ctx.log.warn({ code, detail, topic, deviceId }, 'rejected inbound message');
    if (!deviceId || !isValidId(deviceId)) return;
    const now = this.ctx.now();
    if ((this.lastError.get(deviceId) ?? 0) > now - ERROR_INTERVAL_MS) return;
    this.lastError.set(deviceId, now);
    if (this.lastError.size > 10_000) this.lastError.clear();
    this.ctx.mqtt
      .publishJson(
        this.ctx.topics.deviceError(deviceId),
        { error: code, detail, topic, at: new Date(now).toISOString() },
        { qos: 0 },
      )
      .catch((err) => this.ctx.log.warn({ err }, 'could not publish error'));
  }
}
