// The one place topic strings are built. Every part that comes from a user, a device or a config value
// is validated here: no wildcards, no empty levels, no NUL, and ids follow the id rule.
import { InvalidInputError, isValidId } from '../domain/types.js';

/** A topic level (or a `/`-separated run of levels, e.g. a Z2M friendly name) that is safe to publish to. */
export function assertTopicPart(part: string, what = 'topic part'): string {
  if (typeof part !== 'string' || part.length === 0 || part.length > 512) {
    throw new InvalidInputError('invalid_topic', `${what} must be 1–512 characters`);
  }
  if (/[+#\u0000]/.test(part)) {
    throw new InvalidInputError(
      'invalid_topic',
      `${what} must not contain MQTT wildcards (+, #) or NUL: ${JSON.stringify(part)}`,
    );
  }
  if (part.startsWith('/') || part.endsWith('/') || part.includes('//')) {
    throw new InvalidInputError('invalid_topic', `${what} must not have empty topic levels: ${JSON.stringify(part)}`);
  }
  return part;
}

export function assertId(id: string, what: 'userId' | 'deviceId'): string {
  if (!isValidId(id)) {
    throw new InvalidInputError(
      `invalid_${what === 'userId' ? 'user' : 'device'}_id`,
      `${what} must be 1–64 characters of [A-Za-z0-9_-]`,
    );
  }
  return id;
}

export const joinTopic = (...parts: string[]): string => parts.map((p) => assertTopicPart(p)).join('/');

export interface TopicRoots {
  base: string;
  z2m: string;
  haPrefix: string;
  /** Where Home Assistant's birth message comes (HA_STATUS_TOPIC); `homeassistant/status` when not given. */
  haStatus?: string;
}

/** Topic builders for every topic unknot reads or writes (docs/reference/mqtt.md). */
export class Topics {
  readonly base: string;
  readonly z2mBase: string;
  readonly haPrefix: string;
  readonly haStatusTopic: string;

  constructor(roots: TopicRoots) {
    this.base = assertTopicPart(roots.base, 'UNKNOT_BASE_TOPIC');
    this.z2mBase = assertTopicPart(roots.z2m, 'Z2M_BASE_TOPIC');
    this.haPrefix = assertTopicPart(roots.haPrefix, 'HA_DISCOVERY_PREFIX');
    this.haStatusTopic = assertTopicPart(roots.haStatus ?? 'homeassistant/status', 'HA_STATUS_TOPIC');
  }

  bridgeState = () => joinTopic(this.base, 'bridge', 'state');
  userState = (userId: string) => joinTopic(this.base, 'users', assertId(userId, 'userId'), 'state');
  userNudge = (userId: string) => joinTopic(this.base, 'users', assertId(userId, 'userId'), 'nudge');
  /** Retained `{nudgeId, level, at}` of the last nudge the broker got: how a worker's successor knows it went out. */
  userLastNudge = (userId: string) => joinTopic(this.base, 'users', assertId(userId, 'userId'), 'last-nudge');
  /** Retained `{sessionId, at}` of the last heat OFF the broker got, as userLastNudge for nudges. */
  userLastHeatOff = (userId: string) => joinTopic(this.base, 'users', assertId(userId, 'userId'), 'last-heat-off');
  /** Extension: retained figures of the user's local today (Home Assistant's compliance sensor reads it). */
  userAdherence = (userId: string) => joinTopic(this.base, 'users', assertId(userId, 'userId'), 'adherence');
  /** Extension: HA button and switch command topics for a user. */
  userCommand = (userId: string, what: string) =>
    joinTopic(this.base, 'users', assertId(userId, 'userId'), what, 'set');
  deviceEvent = (deviceId: string) => joinTopic(this.base, 'devices', assertId(deviceId, 'deviceId'), 'event');
  deviceCommand = (deviceId: string) => joinTopic(this.base, 'devices', assertId(deviceId, 'deviceId'), 'command');
  deviceError = (deviceId: string) => joinTopic(this.base, 'devices', assertId(deviceId, 'deviceId'), 'error');

  /** Zigbee2MQTT: `{z2m}/{friendly_name}` state and `…/set` commands; friendly names may contain `/`. */
  z2mState = (friendlyName: string) => joinTopic(this.z2mBase, friendlyName);
  z2mSet = (friendlyName: string) => joinTopic(this.z2mBase, friendlyName, 'set');
  z2mAvailability = (friendlyName: string) => joinTopic(this.z2mBase, friendlyName, 'availability');

  tasmotaCommand = (topic: string, command: string) => joinTopic('cmnd', topic, command);
  tasmotaStat = (topic: string, what: string) => joinTopic('stat', topic, what);

  shellyRpc = (prefix: string) => joinTopic(prefix, 'rpc');
  shellySwitchStatus = (prefix: string) => joinTopic(prefix, 'status', 'switch:0');
  /** Where Shelly devices answer our RPC calls (`src` of the request + `/rpc`). */
  shellyReplySrc = () => joinTopic(this.base, 'shelly');

  haConfig = (component: string, nodeId: string, objectId: string) =>
    joinTopic(this.haPrefix, component, nodeId, objectId, 'config');
  /**
   * Home Assistant announces itself on `homeassistant/status` whatever its discovery prefix: the birth message is a
   * setting of its own (docs/integrations/home-assistant.md), so this one is too.
   */
  haStatus = () => this.haStatusTopic;
  /** Extension: retained profile figures Home Assistant's number entities show. */
  userSettings = (userId: string) => joinTopic(this.base, 'users', assertId(userId, 'userId'), 'settings');
}
