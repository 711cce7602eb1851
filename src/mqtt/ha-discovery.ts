// Home Assistant MQTT discovery (docs/integrations/home-assistant.md): one HA device per user with sensors on the retained
// user state, a compliance sensor on the retained adherence topic, a snooze button, a heat switch for users with a
// heat pad and an event entity on the nudge topic; plus the handlers of the button and the switch.
import { onOff, subscriptionFilter, under } from '../adapters/common.js';
import type { AppContext } from '../app/context.js';
import type { CommandRoute } from '../ingest/ingest.js';
import type { Sessions } from '../app/sessions.js';
import type { UserHooks, Users } from '../app/users.js';
import type { HeatControl } from '../domain/heat.js';
import type { Profile } from '../domain/profile.js';
import { isValidId, UnknotError, type Device } from '../domain/types.js';
import type { Topics } from './topics.js';


export interface HaDiscoveryOptions {
  /** Present once the heat service is wired in; without it a heat switch command is logged and refused. */
  heat?: HeatControl;
  /** Quiet time before the adherence topic is re-published after committed log entries. */
  debounceMs?: number;
}

export type HaComponent = 'sensor' | 'binary_sensor' | 'button' | 'switch' | 'event';

export interface DiscoveryConfig {
  component: HaComponent;
  /** The entity's part of its ids: `unknot_<userId>_<object>`. */
  object: string;
  /** `<prefix>/<component>/unknot_<userId>/<object>/config` */
  topic: string;
  config: Record<string, unknown>;
}

/** Every entity a user can have, so that deleting a user removes them all (the heat switch included). */
export const ENTITIES: ReadonlyArray<{ component: HaComponent; object: string }> = [
  { component: 'sensor', object: 'sitting_minutes' },
  { component: 'binary_sensor', object: 'sitting' },
  { component: 'binary_sensor', object: 'break_due' },
  { component: 'sensor', object: 'next_nudge' },
  { component: 'sensor', object: 'compliance_today' },
  { component: 'button', object: 'snooze' },
  { component: 'switch', object: 'heat' },
  { component: 'event', object: 'nudge' },
];

const HEAT = ENTITIES.find((e) => e.object === 'heat')!;
const nodeIdOf = (userId: string) => `unknot_${userId}`;
const configTopic = (topics: Topics, userId: string, e: { component: HaComponent; object: string }) =>
  topics.haConfig(e.component, nodeIdOf(userId), e.object);

/**
 * The discovery configs of one user (pure). Every topic in them is one the service publishes (user state,
 * adherence, nudge, bridge state) or handles (snooze and heat commands).
 */
export function discoveryConfigs(topics: Topics, userId: string, profile: Pick<Profile, 'name'>, hasHeatPad: boolean): DiscoveryConfig[] {
  const nodeId = nodeIdOf(userId);
  const state = topics.userState(userId);
  const common = (component: HaComponent, object: string, name: string) => ({
    name,
    unique_id: `${nodeId}_${object}`,
    // HA 2025.10 replaced `object_id` with `default_entity_id` (domain.object id): stable entity ids.
    default_entity_id: `${component}.${nodeId}_${object}`,
    has_entity_name: true,
    device: {
      identifiers: [nodeId],
      name: `unknot ${profile.name ?? userId}`,
      manufacturer: 'unknot',
      model: 'Sitting coach',
    },
    origin: { name: 'unknot' },
    availability: [
      {
        topic: topics.bridgeState(),
        value_template: '{{ value_json.state }}',
        payload_available: 'online',
        payload_not_available: 'offline',
      },
    ],
    qos: 1,
  });
  const entity = (component: HaComponent, object: string, name: string, rest: Record<string, unknown>): DiscoveryConfig => ({
    component,
    object,
    topic: configTopic(topics, userId, { component, object }),
    config: { ...common(component, object, name), ...rest },
  });
  const configs = [
    entity('sensor', 'sitting_minutes', 'Sitting minutes', {
      state_topic: state,
      // The state is published on every change, not every minute: sittingSince (an attribute) gives a live count.
      value_template: '{{ ((value_json.sittingSeconds | float(0)) / 60) | round(1) }}',
      json_attributes_topic: state,
      unit_of_measurement: 'min',
      device_class: 'duration',
      state_class: 'measurement',
      icon: 'mdi:seat',
    }),
    entity('binary_sensor', 'sitting', 'Sitting', {
      state_topic: state,
      value_template: "{{ 'ON' if value_json.posture == 'sitting' else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'occupancy',
      icon: 'mdi:seat',
    }),
    entity('binary_sensor', 'break_due', 'Break due', {
      state_topic: state,
      value_template: "{{ 'ON' if value_json.breakDue else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      icon: 'mdi:human-handsup',
    }),
    entity('sensor', 'next_nudge', 'Next nudge', {
      state_topic: state,
      // HA reads a rendered `None` as unknown.
      value_template: '{{ value_json.nextNudgeAt if value_json.nextNudgeAt else None }}',
      device_class: 'timestamp',
      icon: 'mdi:bell-clock',
    }),
    entity('sensor', 'compliance_today', 'Compliance today', {
      state_topic: topics.userAdherence(userId),
      value_template: '{{ (value_json.compliance * 100) | round(0) if value_json.compliance is number else None }}',
      json_attributes_topic: topics.userAdherence(userId),
      unit_of_measurement: '%',
      state_class: 'measurement',
      icon: 'mdi:percent-circle',
    }),
    entity('button', 'snooze', 'Snooze', {
      command_topic: topics.userCommand(userId, 'snooze'),
      payload_press: 'PRESS',
      icon: 'mdi:alarm-snooze',
    }),
  ];
  if (hasHeatPad) {
    configs.push(
      entity('switch', 'heat', 'Heat pad', {
        command_topic: topics.userCommand(userId, 'heat'),
        payload_on: 'ON',
        payload_off: 'OFF',
        state_topic: state,
        value_template: "{{ 'ON' if value_json.heat.on else 'OFF' }}",
        state_on: 'ON',
        state_off: 'OFF',
        device_class: 'switch',
        icon: 'mdi:heat-wave',
      }),
    );
  }
  configs.push(
    entity('event', 'nudge', 'Nudge', {
      state_topic: topics.userNudge(userId),
      event_types: ['nudge'],
      icon: 'mdi:bell-ring',
    }),
  );
  return configs;
}

/** Publishes and removes discovery configs, keeps the adherence topic current and handles HA's commands. */
export class HaDiscovery implements UserHooks {
  private running = false;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly onLogs = (userId: string) => this.scheduleAdherence(userId);

  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
    private readonly users: Users,
    private readonly opts: HaDiscoveryOptions,
  ) {}

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { mqtt, topics } = this.ctx;
    this.sessions.logListeners.push(this.onLogs);
    await this.publishAll('start');
    await mqtt.subscribe(topics.haStatus(), (_topic, payload) => this.onHaStatus(payload));
  }

  /**
   * The button and switch command topics, for ingest to handle like every device event: acknowledged only after
   * the snooze or heat change committed, retried while Redis is away (a press during an outage is not lost).
   */
  commandRoutes(): CommandRoute[] {
    const users = (what: string) => subscriptionFilter(this.ctx.topics.base, 'users', '+', what, 'set');
    return [
      { filter: users('snooze'), handle: (topic, payload) => this.onCommand('snooze', topic, payload) },
      { filter: users('heat'), handle: (topic, payload) => this.onCommand('heat', topic, payload) },
    ];
  }

  async stop(): Promise<void> {
    this.running = false;
    const i = this.sessions.logListeners.indexOf(this.onLogs);
    if (i >= 0) this.sessions.logListeners.splice(i, 1);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  // ------------------------------------------------------------------------------------------ user hooks
  // A hook never fails the API call that triggered it: the profile or device is stored either way.

  async userChanged(userId: string): Promise<void> {
    await this.guard(this.publishUser(userId), { userId }, 'could not publish discovery for user');
  }

  async userDeleted(userId: string, _devices: Device[]): Promise<void> {
    const t = this.timers.get(userId);
    if (t) clearTimeout(t);
    this.timers.delete(userId);
    const { mqtt, topics } = this.ctx;
    const remove = async () => {
      const emptied = ENTITIES.map((e) => configTopic(topics, userId, e)).concat(topics.userAdherence(userId));
      await Promise.all(emptied.map((topic) => mqtt.publish({ topic, payload: '', qos: 1, retain: true })));
      this.ctx.log.info({ userId }, 'user deleted: Home Assistant entities removed');
    };
    await this.guard(remove(), { userId }, 'could not remove discovery of deleted user');
  }

  async deviceChanged(device: Device, previous: Device | null): Promise<void> {
    if (device.role === 'heatpad') await this.userChanged(device.userId);
    if (previous?.role === 'heatpad' && (previous.userId !== device.userId || device.role !== 'heatpad')) {
      await this.dropHeatSwitchIfNoPad(previous.userId);
    }
  }

  async deviceDeleted(device: Device): Promise<void> {
    if (device.role === 'heatpad') await this.dropHeatSwitchIfNoPad(device.userId);
  }

  // ------------------------------------------------------------------------------------------ publishing

  /** Configs and adherence of every user (start-up, HA birth). One user's failure does not stop the others. */
  private async publishAll(why: string): Promise<void> {
    let userIds: string[];
    try {
      userIds = await this.ctx.registry.listUsers();
    } catch (err) {
      this.ctx.log.warn({ err, why }, 'could not list users for Home Assistant discovery');
      return;
    }
    for (const userId of userIds) {
      await this.guard(this.publishUser(userId), { userId, why }, 'could not publish discovery for user');
    }
    this.ctx.log.info({ users: userIds.length, why, prefix: this.ctx.topics.haPrefix }, 'Home Assistant discovery published');
  }

  private async publishUser(userId: string): Promise<void> {
    const profile = await this.ctx.registry.getProfile(userId);
    if (!profile) return;
    const devices = await this.ctx.registry.devicesOf(userId);
    const configs = discoveryConfigs(this.ctx.topics, userId, profile, devices.some((d) => d.role === 'heatpad'));
    await Promise.all(configs.map((c) => this.ctx.mqtt.publishJson(c.topic, c.config, { qos: 1, retain: true })));
    await this.publishAdherence(userId);
  }

  private async dropHeatSwitchIfNoPad(userId: string): Promise<void> {
    const remove = async () => {
      const devices = await this.ctx.registry.devicesOf(userId);
      if (devices.some((d) => d.role === 'heatpad')) return;
      await this.ctx.mqtt.publish({ topic: configTopic(this.ctx.topics, userId, HEAT), payload: '', qos: 1, retain: true });
      this.ctx.log.info({ userId }, 'last heat pad gone: Home Assistant heat switch removed');
    };
    await this.guard(remove(), { userId }, 'could not remove the heat switch');
  }

  /** Today's figures (the user's time zone) on the retained adherence topic. */
  private async publishAdherence(userId: string): Promise<void> {
    let summary;
    try {
      summary = await this.users.summary(userId, { days: 1 });
    } catch (err) {
      if (err instanceof UnknotError && err.code === 'unknown_user') return; // deleted meanwhile
      throw err;
    }
    const today = summary.days[summary.days.length - 1];
    if (!today) return;
    await this.ctx.mqtt.publishJson(
      this.ctx.topics.userAdherence(userId),
      { ...today, timezone: summary.timezone, updatedAt: new Date(this.ctx.now()).toISOString() },
      { qos: 1, retain: true },
    );
  }

  /** Committed adherence entries: re-publish once things settle (a break commits several entries at once). */
  private scheduleAdherence(userId: string): void {
    if (!this.running) return;
    const old = this.timers.get(userId);
    if (old) clearTimeout(old);
    const timer = setTimeout(() => {
      this.timers.delete(userId);
      if (!this.running) return;
      this.track(this.guard(this.publishAdherence(userId), { userId }, 'could not publish adherence'));
    }, this.opts.debounceMs ?? 250);
    timer.unref();
    this.timers.set(userId, timer);
  }

  private onHaStatus(payload: Buffer): void {
    if (!this.running) return;
    const status = payload.toString('utf8').trim();
    if (status !== 'online') {
      this.ctx.log.info({ status: status.slice(0, 40) }, 'Home Assistant status');
      return;
    }
    this.ctx.log.info('Home Assistant came online: re-publishing discovery');
    this.track(this.publishAll('homeassistant online'));
  }

  // ------------------------------------------------------------------------------------------ commands

  /**
   * `{base}/users/{userId}/snooze/set` (PRESS) and `…/heat/set` (ON/OFF). Bad input is logged and counted; an
   * infrastructure error is thrown, so ingest retries the message before acknowledging it.
   */
  private async onCommand(what: 'snooze' | 'heat', topic: string, payload: Buffer): Promise<void> {
    const { metrics } = this.ctx;
    metrics.eventsReceived.inc({ protocol: 'homeassistant' });
    const userId = under(topic, `${this.ctx.topics.base}/users`)?.split('/')[0];
    const log = this.ctx.log.child({ userId, command: what });
    const reject = (code: string, detail: string) => {
      metrics.eventsRejected.inc({ reason: code });
      log.warn({ code, detail, topic }, 'rejected Home Assistant command');
    };
    if (!isValidId(userId)) return reject('invalid_user_id', 'the user id in the topic is not 1–64 characters of [A-Za-z0-9_-]');
    const text = payload.length > 64 ? null : payload.toString('utf8').trim();
    try {
      if (what === 'snooze') {
        if (text?.toUpperCase() !== 'PRESS') return reject('invalid_command', 'the snooze button sends PRESS');
        const r = await this.sessions.snooze(userId);
        if (!r.ok) {
          log.info({ reason: r.code }, 'snooze pressed with nothing to snooze');
          return;
        }
        log.info({ nextNudgeAt: new Date(r.nextNudgeAt).toISOString(), snoozes: r.snoozes }, 'snoozed from Home Assistant');
        return;
      }
      const on = onOff(text);
      if (on === null) return reject('invalid_command', 'the heat switch sends ON or OFF');
      const heat = this.opts.heat;
      if (!heat) return reject('not_supported', 'heat control is not available on this instance');
      if (on) await heat.start(userId, { source: 'homeassistant' });
      else await heat.stop(userId, 'manual');
      log.info({ on }, 'heat switched from Home Assistant');
    } catch (err) {
      if (!(err instanceof UnknotError)) throw err;
      if (err.code === 'unknown_user') return reject(err.code, err.message);
      // The heat service logs its own refusals (contraindicated, cooling_down, …).
      log[what === 'heat' ? 'debug' : 'info']({ code: err.code, detail: err.message }, 'Home Assistant command refused');
      // The switch is not optimistic: show it the state that stands.
      if (what === 'heat') await this.sessions.publishState(userId);
    }
  }

  // ------------------------------------------------------------------------------------------ helpers

  private async guard(p: Promise<unknown>, fields: Record<string, unknown>, msg: string): Promise<void> {
    try {
      await p;
    } catch (err) {
      this.ctx.log.warn({ ...fields, err }, msg);
    }
  }

  /** Work started from an MQTT callback or a timer: never an unhandled rejection, and awaited by stop(). */
  private track(p: Promise<unknown>): void {
    const q = p.catch((err) => this.ctx.log.warn({ err }, 'Home Assistant handler failed'));
    this.inFlight.add(q);
    void q.finally(() => this.inFlight.delete(q));
  }
}
