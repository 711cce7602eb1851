// Redis key builders. Every key starts with the configured prefix, so two prefixes never see each other's data.
export class Keys {
  constructor(readonly prefix: string) {}
  users = () => `${this.prefix}:users`;
  profile = (userId: string) => `${this.prefix}:user:${userId}`;
  userDevices = (userId: string) => `${this.prefix}:user-devices:${userId}`;
  state = (userId: string) => `${this.prefix}:state:${userId}`;
  log = (userId: string) => `${this.prefix}:log:${userId}`;
  devices = () => `${this.prefix}:devices`;
  device = (deviceId: string) => `${this.prefix}:device:${deviceId}`;
  /** Reverse index: a protocol address (Z2M friendly name, Tasmota topic, Shelly prefix) → deviceId. */
  deviceTopic = (protocol: string, topic: string) => `${this.prefix}:device-topic:${protocol}:${topic}`;
  /** Heat sessions whose OFF may be due, as members `userId.sessionId` scored by when: the heat sweep's index. */
  heatDue = () => `${this.prefix}:heat-due`;
  /** Bumped by every change of a profile or device: in-process caches of the registry are valid while it holds. */
  registryVersion = () => `${this.prefix}:registry-v`;
}
