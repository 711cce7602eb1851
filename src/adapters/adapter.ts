// The contract every protocol adapter fulfils. Adapters are pure: topic + payload in, canonical
// observations out; canonical commands in, device payloads out. The only place that knows a protocol.
import type { Topics } from '../mqtt/topics.js';
import type { Command, Device, Observation, OutboundMessage, Protocol } from '../domain/types.js';

export interface AdapterContext {
  topics: Topics;
  /** Receipt time, epoch ms. Device-supplied times later than this are clamped to it. */
  now: number;
}

/** Which device an inbound topic is about, before the device itself has been looked up. */
export interface TopicMatch {
  protocol: Protocol;
  /** `unknot`: the deviceId; other protocols: the device's protocol `topic` (friendly name, Tasmota topic, prefix). */
  key: string;
  /** Which kind of message this is, for the adapter's own use (e.g. `state`, `availability`, `POWER`, `RESULT`). */
  kind: string;
}

export type ParseResult = { ok: true; observations: Observation[] } | { ok: false; code: string; detail: string };

export interface Adapter {
  readonly protocol: Protocol;
  /** Subscription filters (may contain wildcards) that cover every topic this protocol reads. */
  subscriptions(topics: Topics): string[];
  /** Recognise an inbound topic; null when it is not this protocol's (or is one we ignore, e.g. our own `/set`). */
  match(topic: string, topics: Topics): TopicMatch | null;
  /**
   * Turn one payload into canonical observations. Fields a device does not send are not errors; an empty
   * list means "nothing to say about sitting" (e.g. a `still` activity, a battery-only report).
   */
  parse(device: Device, match: TopicMatch, payload: Buffer, ctx: AdapterContext): ParseResult;
  /** Device payloads for a canonical command, or [] when this protocol/role has no use for it. */
  format(device: Device, command: Command, topics: Topics): OutboundMessage[];
}
