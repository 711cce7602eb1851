// Home Assistant MQTT discovery, the running part (docs/integrations/home-assistant.md): publishes each person's
// discovery configs (src/mqtt/ha-entities.ts) and the adherence topic, re-sends them on Home Assistant's birth
// message, and handles the entities' commands (buttons, the heat switch, the numbers) as ingest command routes
// (acknowledged after commit).
import { onOff, subscriptionFilter, under } from '../adapters/common.js';
import type { HeatControl } from '../domain/heat.js';
import { isValidId, UnknotError, type Device } from '../domain/types.js';
import { configTopic, ENTITIES, discoveryConfigs, HEAT_PAD_ENTITIES } from '../mqtt/ha-entities.js';
import type { AppContext, CommandRoute } from './context.js';
import type { Methods } from './methods.js';
import type { Sessions } from './sessions.js';
import type { UserHooks, Users } from './users.js';

export interface HaDiscoveryOptions {
  /** Present once the heat service is wired in; without it a heat switch command is logged and refused. */
  heat?: HeatControl;
  /** Present where routines run; without it the start-routine button is logged and refused. */
  routines?: { start(userId: string, name: string | undefined): Promise<{ routineId: string }> };
  /** The methods log: the "that helped" / "did not help" buttons and the desk setup check (docs/concepts/methods.md). */
  methods?: Pick<Methods, 'helped' | 'answerDeskCheck'>;
  /** Quiet time before the adherence topic is re-published after committed log entries. */
  debounceMs?: number;
  /** origin.sw_version of the discovery configs (the package version). */
  swVersion?: string;
}

/** The command topic levels the table's entities send on. */
type Command = 'snooze' | 'heat' | 'routine' | 'break_interval' | 'heat_minutes';
const COMMANDS = new Set<string>(['snooze', 'heat', 'routine', 'break_interval', 'heat_minutes']);

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
    const commands = [...new Set(ENTITIES.flatMap((e) => (e.command ? [e.command] : [])))];
    for (const c of commands) if (!COMMANDS.has(c)) throw new Error(`no handler for Home Assistant command ${c}`);
    return [
      ...commands.map((what) => ({
        filter: users(what),
        handle: (topic: string, payload: Buffer) => this.onCommand(what as Command, topic, payload),
      })),
      // The methods log (docs/concepts/methods.md): the "that helped" / "did not help" buttons of the table, and a
      // desk setup check's answers from an automation.
      ...(['helped', 'not_helped', 'desk_check'] as const).map((what) => ({
        filter: users(what),
        handle: (topic: string, payload: Buffer) => this.onMethodsCommand(what, topic, payload),
      })),
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
      const emptied = ENTITIES.map((e) => configTopic(topics, userId, e)).concat(
        topics.userAdherence(userId),
        topics.userSettings(userId),
      );
      await Promise.all(emptied.map((topic) => mqtt.publish({ topic, payload: '', qos: 1, retain: true })));
      this.ctx.log.info({ userId }, 'user deleted: Home Assistant entities removed');
    };
    await this.guard(remove(), { userId }, 'could not remove discovery of deleted user');
  }

  async deviceChanged(device: Device, previous: Device | null): Promise<void> {
    if (device.role === 'heatpad') await this.userChanged(device.userId);
    if (previous?.role === 'heatpad' && (previous.userId !== device.userId || device.role !== 'heatpad')) {
      await this.dropHeatPadEntitiesIfNoPad(previous.userId);
    }
  }

  async deviceDeleted(device: Device): Promise<void> {
    if (device.role === 'heatpad') await this.dropHeatPadEntitiesIfNoPad(device.userId);
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
    this.ctx.log.info(
      { users: userIds.length, why, prefix: this.ctx.topics.haPrefix },
      'Home Assistant discovery published',
    );
  }

  private async publishUser(userId: string): Promise<void> {
    const profile = await this.ctx.registry.getProfile(userId);
    if (!profile) return;
    const devices = await this.ctx.registry.devicesOf(userId);
    const configs = discoveryConfigs(
      this.ctx.topics,
      userId,
      profile,
      devices.some((d) => d.role === 'heatpad'),
      { swVersion: this.opts.swVersion, dashboardUrl: this.ctx.config.dashboardUrl },
    );
    await Promise.all(configs.map((c) => this.ctx.mqtt.publishJson(c.topic, c.config, { qos: 1, retain: true })));
    // The profile figures the number entities show (retained; re-published whenever the profile changes).
    await this.ctx.mqtt.publishJson(
      this.ctx.topics.userSettings(userId),
      {
        breakAfterMinutes: profile.breakAfterMinutes,
        heat: { defaultMinutes: profile.heat.defaultMinutes, maxMinutes: profile.heat.maxMinutes },
        updatedAt: new Date(this.ctx.now()).toISOString(),
      },
      { qos: 1, retain: true },
    );
    await this.publishAdherence(userId);
  }

  private async dropHeatPadEntitiesIfNoPad(userId: string): Promise<void> {
    const remove = async () => {
      const devices = await this.ctx.registry.devicesOf(userId);
      if (devices.some((d) => d.role === 'heatpad')) return;
      await Promise.all(
        HEAT_PAD_ENTITIES.map((e) =>
          this.ctx.mqtt.publish({ topic: configTopic(this.ctx.topics, userId, e), payload: '', qos: 1, retain: true }),
        ),
      );
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
    // HA sends `online` (its birth message is configurable, so the case is not relied on).
    if (status.toLowerCase() !== 'online') {
      this.ctx.log.info({ status: status.slice(0, 40) }, 'Home Assistant status');
      return;
    }
    this.ctx.log.info('Home Assistant came online: re-publishing discovery');
    this.track(this.publishAll('homeassistant online'));
  }

  // ------------------------------------------------------------------------------------------ commands

  /**
   * A command received: counted, the user its topic names, a logger and how to refuse it (logged and counted).
   * Undefined, refused already, when the topic names no valid user id.
   */
  private commandTarget(what: string, topic: string) {
    const { metrics } = this.ctx;
    metrics.eventsReceived.inc({ protocol: 'homeassistant' });
    const userId = under(topic, `${this.ctx.topics.base}/users`)?.split('/')[0];
    const log = this.ctx.log.child({ userId, command: what });
    const reject = (code: string, detail: string) => {
      metrics.eventsRejected.inc({ reason: code });
      log.warn({ code, detail, topic }, 'rejected Home Assistant command');
    };
    if (!isValidId(userId)) {
      reject('invalid_user_id', 'the user id in the topic is not 1–64 characters of [A-Za-z0-9_-]');
      return undefined;
    }
    return { userId, log, reject };
  }

  /**
   * `{base}/users/{userId}/<command>/set`: snooze and routine (PRESS), heat (ON/OFF), break_interval and
   * heat_minutes (a number, through the same validated profile path as PATCH /api/users/{userId}). Bad input is
   * logged and counted; an infrastructure error is thrown, so ingest retries the message before acknowledging it.
   */
  private async onCommand(what: Command, topic: string, payload: Buffer): Promise<void> {
    const target = this.commandTarget(what, topic);
    if (!target) return;
    const { userId, log, reject } = target;
    const text = payload.length > 64 ? null : payload.toString('utf8').trim();
    try {
      if (what === 'snooze') {
        if (text?.toUpperCase() !== 'PRESS') return reject('invalid_command', 'the snooze button sends PRESS');
        const r = await this.sessions.snooze(userId);
        if (!r.ok) {
          log.info({ reason: r.code }, 'snooze pressed with nothing to snooze');
          return;
        }
        log.info(
          { nextNudgeAt: new Date(r.nextNudgeAt).toISOString(), snoozes: r.snoozes },
          'snoozed from Home Assistant',
        );
        return;
      }
      if (what === 'routine') {
        if (text?.toUpperCase() !== 'PRESS') return reject('invalid_command', 'the start-routine button sends PRESS');
        const routines = this.opts.routines;
        if (!routines) return reject('not_supported', 'routines are not available on this instance');
        const r = await routines.start(userId, undefined);
        log.info({ routineId: r.routineId }, 'routine started from Home Assistant');
        return;
      }
      if (what === 'break_interval' || what === 'heat_minutes') {
        // HA's number entity sends the value as text: "45" or "45.0".
        const n = text !== null && /^\s*-?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : NaN;
        if (!Number.isFinite(n)) return reject('invalid_command', `the ${what} number sends a number`);
        let patch: Record<string, unknown> = { breakAfterMinutes: n };
        if (what === 'heat_minutes') {
          const profile = await this.ctx.registry.getProfile(userId);
          if (!profile) return reject('unknown_user', `no user ${userId}`);
          patch = { heat: { ...profile.heat, defaultMinutes: n } };
        }
        try {
          await this.users.patchProfile(userId, patch);
        } catch (err) {
          if (err instanceof UnknotError && err.code === 'invalid_profile') {
            reject(err.code, err.message);
            // The number shows its state topic, not what was typed: re-publish the profile as it stands.
            await this.userChanged(userId);
            return;
          }
          throw err;
        }
        log.info({ [what]: n }, 'profile changed from Home Assistant');
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
      if (err.code === 'unknown_user' || err.code === 'invalid_user_id') return reject(err.code, err.message);
      // The heat service logs its own refusals (contraindicated, cooling_down, …).
      log[what === 'heat' ? 'debug' : 'info'](
        { code: err.code, detail: err.message },
        'Home Assistant command refused',
      );
      // The switch is not optimistic: show it the state that stands.
      if (what === 'heat') await this.sessions.publishState(userId);
    }
  }

  /**
   * `{base}/users/{userId}/helped/set` and `…/not_helped/set` (PRESS): the outcome of the latest method tried;
   * `…/desk_check/set`: the desk setup check's answers as JSON (the body of POST /desk-check). Bad input and
   * refusals are logged and counted; an infrastructure error is thrown so ingest retries the message.
   */
  private async onMethodsCommand(
    what: 'helped' | 'not_helped' | 'desk_check',
    topic: string,
    payload: Buffer,
  ): Promise<void> {
    const target = this.commandTarget(what, topic);
    if (!target) return;
    const { userId, log, reject } = target;
    const methods = this.opts.methods;
    if (!methods) return reject('not_supported', 'the methods log is not available on this instance');
    try {
      if (what === 'desk_check') {
        let body: unknown;
        try {
          body = payload.length > 4096 ? null : JSON.parse(payload.toString('utf8'));
        } catch {
          return reject('invalid_json', 'the desk check sends its answers as a JSON object');
        }
        await methods.answerDeskCheck(userId, body);
        log.info('desk check answered from Home Assistant');
        return;
      }
      const text = payload.length > 64 ? null : payload.toString('utf8').trim();
      if (text?.toUpperCase() !== 'PRESS') return reject('invalid_command', `the ${what} button sends PRESS`);
      const r = await methods.helped(userId, what === 'helped');
      log.info({ methodId: r.methodId, feeling: r.feeling }, 'method outcome from Home Assistant');
    } catch (err) {
      if (!(err instanceof UnknotError)) throw err;
      reject(err.code, err.message);
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
