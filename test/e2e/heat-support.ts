// Shared bits of the heat end-to-end tests: the HTTP calls, and a log of what the service put on the wire.
import type { ReceivedMessage, TestMqttClient } from '../support/mqtt-client.js';
import type { FetchJsonResult, ServiceHandle } from '../support/service-process.js';

export interface Started {
  sessionId: string;
  deviceId: string;
  minutes: number;
  startedAt: string;
  offAt: string;
}

export const heatOn = (
  svc: Pick<ServiceHandle, 'fetchJson'>,
  userId: string,
  body: unknown = {},
): Promise<FetchJsonResult> => svc.fetchJson(`/api/users/${userId}/heat`, { method: 'POST', json: body });

export const heatOff = (svc: Pick<ServiceHandle, 'fetchJson'>, userId: string): Promise<FetchJsonResult> =>
  svc.fetchJson(`/api/users/${userId}/heat`, { method: 'DELETE' });

/** POST …/heat that must succeed. */
export async function startHeat(
  svc: Pick<ServiceHandle, 'fetchJson'>,
  userId: string,
  body: unknown = {},
): Promise<Started> {
  const r = await heatOn(svc, userId, body);
  if (r.status !== 201) throw new Error(`POST heat for ${userId}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Started;
}

/** How late a message arrived after `dueIso` (negative: early), in ms. */
export const lateness = (m: ReceivedMessage, dueIso: string): number => m.receivedAt - Date.parse(dueIso);

/** The first message on `topic` whose payload (JSON or text) satisfies `match`. */
export function waitPayload(
  mqtt: TestMqttClient,
  topic: string,
  match: (payload: unknown, text: string) => boolean,
  timeoutMs = 10_000,
): Promise<ReceivedMessage> {
  return mqtt.waitFor(topic, (m) => match(m.json, m.payload), timeoutMs);
}

/** Prints a measurement so it shows in the test output (vitest keeps console lines). */
export function report(what: string, ms: number): void {
  console.log(`[heat e2e] ${what}: ${Math.round(ms)} ms`);
}
