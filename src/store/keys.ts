// Redis key builders. Every key starts with the configured prefix, so two prefixes never see each other's data.
// A person's keys carry the hash tag of their partition (`{p<n>}`), so one script may touch them all, also on a
// Redis Cluster; a device's keys carry the tag of the device id's partition.
import { DEFAULT_PARTITIONS, partitionOf } from './partitions.js';

export class Keys {
  constructor(
    readonly prefix: string,
    readonly partitions: number = DEFAULT_PARTITIONS,
  ) {}

  partitionOf = (id: string): number => partitionOf(id, this.partitions);
  /** The start of every key of partition `n`: the prefix and the partition's hash tag. */
  tag = (n: number): string => `${this.prefix}:{p${n}}`;
  private of = (id: string): string => this.tag(this.partitionOf(id));

  /** The ids of partition `n`'s people (the same tag as their profiles, so one MULTI writes both). */
  usersIn = (n: number) => `${this.tag(n)}:users`;
  /**
   * A person's registry record, a hash: field `p` their profile (what differs from the defaults, as JSON) and one
   * field `d:<deviceId>` (value empty) per device of theirs. One small hash is a listpack in Redis: ~150 B, where a
   * profile string and a device-id set took ~350 B (docs/operations/partitions.md).
   */
  person = (userId: string) => `${this.of(userId)}:u:${userId}`;
  /** Before the person hash: the profile as a string. Read only by the layout migration (Registry.migrate). */
  legacyProfile = (userId: string) => `${this.of(userId)}:user:${userId}`;
  /** Before the person hash: the person's device ids as a set. Read only by the layout migration. */
  legacyUserDevices = (userId: string) => `${this.of(userId)}:user-devices:${userId}`;
  state = (userId: string) => `${this.of(userId)}:state:${userId}`;
  log = (userId: string) => `${this.of(userId)}:log:${userId}`;
  /** The ids of the devices whose id falls in partition `n` (the same tag as their records). */
  devicesIn = (n: number) => `${this.tag(n)}:devices`;
  device = (deviceId: string) => `${this.of(deviceId)}:device:${deviceId}`;
  /** Reverse index: a protocol address (Z2M friendly name, Tasmota topic, Shelly prefix) → deviceId. */
  deviceTopic = (protocol: string, topic: string) =>
    `${this.of(`${protocol}:${topic}`)}:device-topic:${protocol}:${topic}`;
  /** Partition n's timer wheel: member userId, score = when the person is next due (epoch ms). */
  due = (n: number) => `${this.tag(n)}:due`;
  /** People of partition n a sweep has claimed from the due set, scored by when the claim's lease lapses. */
  claims = (n: number) => `${this.tag(n)}:claims`;
  /**
   * Partition n's nudges committed as published before their publish (field userId, value the nudge id): a field
   * outlives its sweep only when the worker died or the publish failed, and then says "find out whether it went out".
   */
  publishing = (n: number) => `${this.tag(n)}:publishing`;
  /** Partition n's heat sessions whose OFF may be due, as members `userId.sessionId` scored by when: the heat sweep's index. */
  heatDue = (n: number) => `${this.tag(n)}:heat-due`;
  /** Settings the data was laid out with (a hash: `partitions`), checked at start. */
  meta = () => `${this.prefix}:meta`;
  /** The pub/sub channel on which every registry write names what it changed (in-process caches drop it). */
  registryChannel = () => `${this.prefix}:registry-changes`;
}
