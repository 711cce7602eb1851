// Users, devices and the read side of adherence, as the HTTP API and the static config use them.
import { z } from 'zod';
import { summarize } from '../domain/adherence.js';
import { adviseProfessional } from '../domain/advice.js';
import { toCsv } from '../domain/csv.js';
import { profileSchema, type Profile } from '../domain/profile.js';
import { sessionSummary } from '../domain/session.js';
import {
  AUTO_OFF,
  AUTO_OFF_BY_PROTOCOL,
  ConflictError,
  ENDPOINT_NAME,
  MAX_CHANNEL,
  type Device,
  ID_PATTERN,
  InvalidInputError,
  type LogEntry,
  NotFoundError,
  PROTOCOLS,
  ROLES,
} from '../domain/types.js';
import { zodIssues } from '../domain/validation.js';
import { matchTopic } from '../adapters/index.js';
import { assertTopicPart, type Topics } from '../mqtt/topics.js';
import type { AppContext } from './context.js';
import { publicState } from './public-state.js';
import type { Sessions } from './sessions.js';

export const deviceBodySchema = z
  .object({
    userId: z.string().regex(ID_PATTERN, '1–64 characters of [A-Za-z0-9_-]'),
    role: z.enum(ROLES),
    protocol: z.enum(PROTOCOLS),
    topic: z.string().min(1).max(200).optional(),
    invert: z.boolean().optional(),
    channel: z
      .union([z.number().int().min(1).max(8), z.string().regex(ENDPOINT_NAME, 'a Zigbee2MQTT endpoint name, e.g. l2')])
      .optional(),
    autoOff: z.enum(AUTO_OFF).optional(),
    deviceId: z.string().optional(),
  })
  .strict()
  .superRefine((d, c) => {
    if (d.channel !== undefined) {
      const max = MAX_CHANNEL[d.protocol];
      if (d.protocol === 'unknot' || (d.protocol === 'zigbee2mqtt' && d.role !== 'heatpad')) {
        c.addIssue({
          code: 'custom',
          path: ['channel'],
          message: `a channel applies to Tasmota and Shelly devices and Zigbee2MQTT heat pads, not to a ${d.protocol} ${d.role}`,
        });
      } else if (typeof d.channel === 'string' && d.protocol !== 'zigbee2mqtt') {
        c.addIssue({ code: 'custom', path: ['channel'], message: `a ${d.protocol} channel is a number, 1–${max}` });
      } else if (typeof d.channel === 'number' && d.channel > max) {
        c.addIssue({ code: 'custom', path: ['channel'], message: `a ${d.protocol} channel is 1–${max}` });
      }
    }
    if (d.autoOff !== undefined) {
      const offered = AUTO_OFF_BY_PROTOCOL[d.protocol];
      if (d.role !== 'heatpad' || !offered.includes(d.autoOff)) {
        c.addIssue({
          code: 'custom',
          path: ['autoOff'],
          message:
            d.role !== 'heatpad'
              ? 'autoOff applies to heat pads only'
              : offered.length === 0
                ? `a ${d.protocol} heat pad always gets autoOffSeconds; autoOff does not apply`
                : `a ${d.protocol} heat pad offers ${offered.join(', ')}`,
        });
      }
    }
    if (d.protocol !== 'unknot' && !d.topic) {
      c.addIssue({ code: 'custom', path: ['topic'], message: `protocol ${d.protocol} needs a topic` });
    }
    if (d.topic) {
      try {
        assertTopicPart(d.topic, 'topic');
      } catch (err) {
        c.addIssue({ code: 'custom', path: ['topic'], message: (err as Error).message });
      }
      if (d.protocol === 'tasmota' && d.topic.includes('/')) {
        c.addIssue({ code: 'custom', path: ['topic'], message: 'a Tasmota topic is a single level (no /)' });
      }
    }
  });

/**
 * A device unknot could store but never hear from is refused: its own state topic must be read back as that device
 * (a Zigbee2MQTT name under `bridge/` or with a `set`/`get`/`availability` level, a Shelly prefix of three levels…).
 */
function assertReadable(device: Device, topics: Topics): void {
  const topic = device.topic ?? '';
  const probe =
    device.protocol === 'zigbee2mqtt'
      ? topics.z2mState(topic)
      : device.protocol === 'tasmota'
        ? topics.tasmotaStat(topic, 'POWER')
        : topics.shellySwitchStatus(topic);
  const m = matchTopic(probe, topics)?.match;
  if (m?.protocol !== device.protocol || m.key !== topic) {
    const rule = {
      zigbee2mqtt: 'a friendly name must not start with bridge/ or have a set, get or availability level',
      tasmota: 'a Tasmota topic is one level',
      shelly: 'a Shelly topic prefix has one or two levels',
      unknot: '',
    }[device.protocol];
    throw new InvalidInputError(
      'invalid_device',
      `topic: unknot would never read ${JSON.stringify(topic)} as a ${device.protocol} device (${rule})`,
    );
  }
}

/** Things other units want to hear about (Home Assistant discovery). */
export interface UserHooks {
  userChanged?(userId: string): Promise<void>;
  userDeleted?(userId: string, devices: Device[]): Promise<void>;
  deviceChanged?(device: Device, previous: Device | null): Promise<void>;
  deviceDeleted?(device: Device): Promise<void>;
}

/** The query of GET /api/users/{userId}/adherence (also in the OpenAPI document). */
export const adherenceQuerySchema = z.object({
  from: z.string().optional(),
  to: z.string().optional(),
  format: z.enum(['json', 'csv']).default('json'),
});

const toIsoEntry = (e: LogEntry): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...e, at: new Date(e.at).toISOString() };
  for (const k of ['until', 'startedAt', 'breakStartedAt', 'offAt'] as const) {
    const v = (e as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = new Date(v).toISOString();
  }
  return out;
};

export class Users {
  readonly hooks: UserHooks[] = [];

  constructor(
    private readonly ctx: AppContext,
    private readonly sessions: Sessions,
  ) {}

  private validateProfile(body: unknown): Profile {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InvalidInputError('invalid_profile', 'the profile must be a JSON object');
    }
    const r = profileSchema.strict().safeParse({ ...this.ctx.config.file.defaults, ...body });
    if (!r.success) {
      const first = r.error.issues[0];
      throw new InvalidInputError(
        'invalid_profile',
        `${first?.path.join('.') || 'profile'}: ${first?.message}`,
        zodIssues(r.error),
      );
    }
    return r.data;
  }

  /** PUT: the profile is replaced; fields left out take the defaults (config file, then built-in). */
  async putProfile(userId: string, body: unknown): Promise<Profile & { userId: string }> {
    const profile = this.validateProfile(body ?? {});
    return this.storeProfile(userId, profile);
  }

  /** PATCH (extension): only the given fields change. */
  async patchProfile(userId: string, body: unknown): Promise<Profile & { userId: string }> {
    const old = await this.ctx.registry.getProfile(userId);
    if (!old) throw new NotFoundError('unknown_user', `no user ${userId}`);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InvalidInputError('invalid_profile', 'the profile must be a JSON object');
    }
    return this.storeProfile(userId, this.validateProfile({ ...old, ...body }));
  }

  async storeProfile(userId: string, profile: Profile): Promise<Profile & { userId: string }> {
    await this.ctx.registry.putProfile(userId, profile);
    // Break interval, active hours or time zone may have moved what is due.
    await this.sessions.reconcile(userId, { publishState: true });
    for (const h of this.hooks) await h.userChanged?.(userId);
    return { userId, ...profile };
  }

  async get(userId: string) {
    const profile = await this.sessions.profile(userId);
    const { state } = await this.ctx.store.read(userId);
    const devices = await this.ctx.registry.devicesOf(userId);
    return {
      userId,
      ...profile,
      devices: devices.map((d) => d.deviceId),
      state: publicState(state, this.sessions.policy(profile), this.ctx.now()),
    };
  }

  async deleteUser(userId: string): Promise<void> {
    await this.sessions.profile(userId);
    const devices = await this.ctx.registry.deleteUser(userId);
    await this.ctx.store.delete(userId);
    await this.ctx.mqtt.publish({ topic: this.ctx.topics.userState(userId), payload: '', qos: 1, retain: true });
    for (const topic of [this.ctx.topics.userLastNudge(userId), this.ctx.topics.userLastHeatOff(userId)]) {
      await this.ctx.mqtt.publish({ topic, payload: '', qos: 1, retain: true });
    }
    for (const h of this.hooks) await h.userDeleted?.(userId, devices);
  }

  async putDevice(deviceId: string, body: unknown): Promise<Device> {
    const r = deviceBodySchema.safeParse(body ?? {});
    if (!r.success) {
      const first = r.error.issues[0];
      throw new InvalidInputError(
        'invalid_device',
        `${first?.path.join('.') || 'device'}: ${first?.message}`,
        zodIssues(r.error),
      );
    }
    if (r.data.deviceId !== undefined && r.data.deviceId !== deviceId) {
      throw new InvalidInputError('invalid_device', 'deviceId in the body differs from the one in the path');
    }
    if (!(await this.ctx.registry.getProfile(r.data.userId))) {
      throw new NotFoundError(
        'unknown_user',
        `no user ${r.data.userId}; create it with PUT /api/users/${r.data.userId} first`,
      );
    }
    const { deviceId: _ignored, ...rest } = r.data;
    const device: Device = { deviceId, ...rest };
    if (device.protocol === 'unknot') delete device.topic;
    else assertReadable(device, this.ctx.topics);
    const previous = await this.ctx.registry.putDevice(device);
    for (const h of this.hooks) await h.deviceChanged?.(device, previous);
    return device;
  }

  async deleteDevice(deviceId: string): Promise<void> {
    const old = await this.ctx.registry.deleteDevice(deviceId);
    if (!old) throw new NotFoundError('unknown_device', `no device ${deviceId}`);
    for (const h of this.hooks) await h.deviceDeleted?.(old);
  }

  async snooze(userId: string, minutes?: number): Promise<{ nextNudgeAt: string; snoozes: number }> {
    const r = await this.sessions.snooze(userId, minutes);
    if (!r.ok) {
      throw r.code === 'snooze_limit'
        ? new ConflictError('snooze_limit', 'no snoozes left for this sitting session; time to get up')
        : new ConflictError('nothing_to_snooze', 'there is no sitting session with a nudge to come');
    }
    return { nextNudgeAt: new Date(r.nextNudgeAt).toISOString(), snoozes: r.snoozes };
  }

  async adherence(userId: string, query: unknown) {
    await this.sessions.profile(userId);
    const q = adherenceQuerySchema.safeParse(query);
    if (!q.success) throw new InvalidInputError('invalid_range', 'format must be json or csv', zodIssues(q.error));
    const from = q.data.from === undefined ? 0 : Date.parse(q.data.from);
    const to = q.data.to === undefined ? Number.MAX_SAFE_INTEGER : Date.parse(q.data.to);
    if (Number.isNaN(from) || Number.isNaN(to)) {
      throw new InvalidInputError('invalid_range', 'from and to must be ISO 8601 times, e.g. 2026-11-24T08:00:00Z');
    }
    if (from > to) throw new InvalidInputError('invalid_range', 'from must not be after to');
    const entries = (await this.ctx.adherence.read(userId, from, to)).map(toIsoEntry);
    return q.data.format === 'csv'
      ? { format: 'csv' as const, csv: toCsv(entries) }
      : { format: 'json' as const, entries };
  }

  /** The sitting session still open, from the state: its sitting so far counts in the figures. */
  async openSession(userId: string, profile: Profile, now: number) {
    const { state } = await this.ctx.store.read(userId);
    const s = sessionSummary(state.session, this.sessions.policy(profile), now);
    if (s.sittingSince === null) return null;
    // sittingSeconds runs to now, or to when the person got up (a break not long enough yet to end the session).
    return { startedAt: s.sittingSince, upSince: s.sittingSince + s.sittingSeconds * 1000 };
  }

  async summary(userId: string, query: Record<string, unknown>) {
    const profile = await this.sessions.profile(userId);
    const days = query.days === undefined ? 7 : Number(query.days);
    if (!Number.isInteger(days) || days < 1 || days > 90) {
      throw new InvalidInputError('invalid_days', 'days must be a whole number from 1 to 90');
    }
    const now = this.ctx.now();
    // Pain advice looks further back than the summary window.
    const entries = await this.ctx.adherence.read(userId, now - Math.max(days + 8, 45) * 86_400_000, now + 1);
    const s = summarize(entries, {
      timezone: profile.timezone,
      days,
      now,
      routineTargetPerWeek: profile.routineTargetPerWeek,
      timeScale: this.ctx.config.timeScale,
      openSession: await this.openSession(userId, profile, now),
    });
    const advice = adviseProfessional(entries, profile.contraindications, now, this.ctx.config.methods);
    return {
      userId,
      timezone: profile.timezone,
      ...s,
      seeProfessional: { recommended: advice.recommended, reasons: advice.reasons },
      heatBlocked: advice.heatBlocked,
    };
  }
}
