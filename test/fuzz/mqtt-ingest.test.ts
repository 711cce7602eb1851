// End-to-end fuzzing of MQTT ingest: the real service, one seated person with one device of every protocol, and a
// few hundred generated payloads per adapter published over a real MQTT client — only payloads the adapter's pure
// parser refuses, so "nothing changed" is the right expectation — plus odd topics. Afterwards the process is alive,
// the person's live state and adherence log are as before, every refusal was counted and answered on the device's
// error topic, and good events from every protocol are still processed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters, matchTopic } from '../../src/adapters/index.js';
import { isValidId, type Device } from '../../src/domain/types.js';
import { Topics } from '../../src/mqtt/topics.js';
import type { ServiceHandle } from '../support/service-process.js';
import { REPO_ROOT } from '../support/service-process.js';
import { adherence, eventually, harness, putDevice, putUser, type Harness } from '../support/unknot.js';
import {
  deviceJsonText,
  describePayload,
  hostilePayload,
  plainValue,
  unknotEventText,
  z2mStateText,
} from './payloads.js';
import { FUZZ_SCALE, fuzzSeed, scaled, tally } from './tally.js';

/** Payloads per adapter; with the odd topics about 1,700 messages, a few seconds of ingest. */
const PER_ADAPTER = scaled(400);
const ODD_TOPICS = scaled(80);
const SEED = fuzzSeed();
const counts = tally('mqtt-ingest');

let h: Harness;
let svc: ServiceHandle;
let topics: Topics;
const devices: Record<'watch' | 'chair' | 'pad' | 'plug', Device> = {} as never;
let tasmotaTopic: string;
let shellyPrefix: string;

const replay = `replay with FUZZ_SEED=${SEED} npx vitest run test/fuzz/mqtt-ingest.test.ts`;

beforeAll(async () => {
  console.log(`[fuzz] mqtt-ingest seed ${SEED} (${replay})`);
  // Real time (scale 1) and a long break interval: nothing the service does on its own changes the state meanwhile.
  // Home Assistant discovery on: its command topics are MQTT input too.
  h = await harness('fzmqtt', { UNKNOT_TIME_SCALE: '1', UNKNOT_HA_DISCOVERY: 'true', UNKNOT_API_RATE_LIMIT: '0' });
  svc = await h.start();
  const base = h.ns.baseTopic;
  topics = new Topics({ base, z2m: `${base}-z2m`, haPrefix: `${base}-ha`, haStatus: h.env.HA_STATUS_TOPIC });
  // Tasmota and Shelly topics are not under our base topic: keep them unique to this run.
  tasmotaTopic = `${base}-pad`;
  shellyPrefix = `${base}-shelly/plug`;
  await putUser(svc, 'ana', { breakAfterMinutes: 120 });
  const register = async (id: string, body: Omit<Device, 'deviceId'>) =>
    (await putDevice(svc, id, body)) as unknown as Device;
  devices.watch = await register('ana-watch', { userId: 'ana', role: 'wearable', protocol: 'unknot' });
  devices.chair = await register('ana-chair', {
    userId: 'ana',
    role: 'chair',
    protocol: 'zigbee2mqtt',
    topic: 'office/chair',
  });
  devices.pad = await register('ana-pad', { userId: 'ana', role: 'heatpad', protocol: 'tasmota', topic: tasmotaTopic });
  devices.plug = await register('ana-plug', {
    userId: 'ana',
    role: 'heatpad',
    protocol: 'shelly',
    topic: shellyPrefix,
  });
  await h.mqtt.subscribe([`${base}/devices/+/error`, `cmnd/${tasmotaTopic}/#`, `${shellyPrefix}/rpc`]);
  // Seated: the chair says so.
  await h.mqtt.publish(topics.z2mState('office/chair'), { occupancy: true });
  await eventually(async () => (await liveState()).posture === 'sitting' || undefined, 10_000, 'ana seated');
}, 60_000);

afterAll(async () => {
  counts.flush({ seed: SEED });
  await h?.close();
});

async function liveState(): Promise<Record<string, unknown>> {
  const r = await svc.fetchJson('/api/users/ana');
  expect(r.status).toBe(200);
  return (r.body as { state: Record<string, unknown> }).state;
}

/** Everything a person could see of themselves, minus the two fields that tick with the clock. */
async function snapshot() {
  const r = await svc.fetchJson('/api/users/ana');
  expect(r.status).toBe(200);
  const { state, ...profile } = r.body as { state: Record<string, unknown> };
  const { sittingSeconds: _s, updatedAt: _u, ...stable } = state;
  return { profile, state: stable, log: await adherence(svc, 'ana') };
}

const rejectedTotal = async (): Promise<number> => {
  const text = (await svc.fetchJson('/metrics')).body as string;
  return [...text.matchAll(/^unknot_events_rejected_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
};

interface Case {
  target: string;
  topic: string;
  payload: Buffer;
  /** Whether ingest must count this message as rejected. */
  counted: boolean;
}

/** `n` payloads the adapter's own parser refuses for this device and topic, sampled with the run's seed. */
function refusedPayloads(
  target: string,
  device: Device,
  topic: string,
  arb: fc.Arbitrary<Buffer>,
  n: number,
  seedOffset: number,
): Case[] {
  const m = matchTopic(topic, topics);
  if (!m) throw new Error(`no adapter reads ${topic}`);
  const ctx = { topics, now: Date.now() };
  const refused = arb.filter((p) => !m.adapter.parse(device, m.match, p, ctx).ok);
  return fc
    .sample(refused, { numRuns: n, seed: SEED + seedOffset })
    .map((payload) => ({ target, topic, payload, counted: true }));
}

/**
 * The other MQTT input: Home Assistant's snooze button and heat switch (only PRESS, ON and OFF are commands; the rest
 * is counted as rejected, as is a user id that is not allowed), its status topic, and Shelly RPC replies.
 */
function otherInputCases(): Case[] {
  const base = topics.base;
  const text = hostilePayload(plainValue.map((b) => b.toString('utf8')));
  const notCommand = (valid: (t: string) => boolean) =>
    text.filter((p) => p.length > 64 || !valid(p.toString('utf8').trim().toUpperCase()));
  const sample = (arb: fc.Arbitrary<Buffer>, n: number, offset: number) =>
    fc.sample(arb, { numRuns: n, seed: SEED + offset });
  const n = Math.max(1, Math.floor(PER_ADAPTER / 8));
  const badUser = fc.constantFrom('a b', 'ü', 'x'.repeat(65), '..', 'ana%', '*');
  return [
    ...sample(
      notCommand((t) => t === 'PRESS'),
      n,
      300,
    ).map((payload) => ({ target: 'home assistant', topic: `${base}/users/ana/snooze/set`, payload, counted: true })),
    ...sample(
      notCommand((t) => t === 'ON' || t === 'OFF'),
      n,
      301,
    ).map((payload) => ({ target: 'home assistant', topic: `${base}/users/ana/heat/set`, payload, counted: true })),
    ...sample(
      notCommand((t) => t === 'PRESS'),
      n,
      305,
    ).map((payload) => ({ target: 'home assistant', topic: `${base}/users/ana/routine/set`, payload, counted: true })),
    // The numbers: anything but a number is refused (a number would change the profile: not fuzzed here).
    ...sample(
      notCommand((t) => /^-?\d+(\.\d+)?$/.test(t)),
      n,
      306,
    ).map((payload, i) => ({
      target: 'home assistant',
      topic: `${base}/users/ana/${i % 2 ? 'heat_minutes' : 'break_interval'}/set`,
      payload,
      counted: true,
    })),
    ...fc.sample(badUser, { numRuns: 10, seed: SEED + 302 }).map((u, i) => ({
      target: 'home assistant',
      topic: `${base}/users/${u}/${i % 2 ? 'heat' : 'snooze'}/set`,
      payload: Buffer.from(i % 2 ? 'ON' : 'PRESS'),
      counted: true,
    })),
    ...sample(
      text.filter((p) => p.toString('utf8').trim().toLowerCase() !== 'online'),
      n,
      303,
    ).map((payload) => ({ target: 'home assistant', topic: topics.haStatus(), payload, counted: false })),
    ...sample(hostilePayload(deviceJsonText), n, 304).map((payload) => ({
      target: 'shelly rpc replies',
      topic: `${topics.shellyReplySrc()}/rpc`,
      payload,
      counted: false,
    })),
  ];
}

/** Topics around the registered ones with odd device ids or names; each carries an otherwise good event. */
function oddTopicCases(): Case[] {
  const base = topics.base;
  const chars = fc.constantFrom(
    'a',
    'Z',
    '0',
    '-',
    '_',
    '.',
    ' ',
    '$',
    '%',
    '*',
    '&',
    'é',
    'ß',
    '日',
    '本',
    '🙂',
    '\u200b',
    '\u202e',
    ':',
    '"',
    '\\',
  );
  const oddId = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', 'b', '0', '-', '_'), minLength: 65, maxLength: 400 }),
    fc.string({ unit: chars, minLength: 1, maxLength: 40 }),
    fc.constantFrom(
      '..',
      '.',
      '...',
      'ana-watch ',
      ' ana-watch',
      'ANA-WATCH',
      'ana-watch\u0301',
      '%2e%2e',
      'null',
      '__proto__',
      'constructor',
    ),
  );
  const unknotTopic = fc.oneof(
    { weight: 4, arbitrary: oddId.map((id) => `${base}/devices/${id}/event`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        `${base}/devices//event`,
        `${base}/devices/ana-watch/event/`,
        `${base}//devices/ana-watch/event`,
        `${base}/devices/ana-watch//event`,
        `${base}/devices/ana-watch/event/extra`,
        `${base}/devices/ana-watch/../ana-watch/event`,
        `${base}/devices/ana-watch`,
        `${base}/devices/ana-watch/EVENT`,
        `/${base}/devices/ana-watch/event`,
      ),
    },
    // Ids that are allowed but registered to nobody.
    { weight: 1, arbitrary: fc.stringMatching(/^nobody-[a-z0-9]{1,8}$/).map((id) => `${base}/devices/${id}/event`) },
  );
  const z2m = topics.z2mBase;
  const z2mTopic = fc.oneof(
    fc.constantFrom(
      `${z2m}/office//chair`,
      `${z2m}/office/chair/..`,
      `${z2m}/office/chair/extra`,
      `${z2m}/OFFICE/chair`,
      `${z2m}//office/chair`,
      `${z2m}/office/chair/`,
      `${z2m}/office/chair/availability/x`,
    ),
    oddId.map((id) => `${z2m}/office/${id}`),
  );
  const good = Buffer.from(JSON.stringify({ type: 'posture', posture: 'away', occupancy: false, presence: false }));
  return fc
    .sample(fc.oneof(unknotTopic, z2mTopic), { numRuns: ODD_TOPICS, seed: SEED + 99 })
    .filter(
      (topic) =>
        topic !== topics.deviceEvent('ana-watch') &&
        topic !== topics.z2mState('office/chair') &&
        topic !== topics.z2mAvailability('office/chair'),
    )
    .map((topic) => {
      const m = matchTopic(topic, topics);
      // The unknot protocol counts a bad or unknown id; on a shared Zigbee2MQTT tree an unknown name is ignored.
      const counted = m?.match.protocol === 'unknot' && (!isValidId(m.match.key) || m.match.key !== 'ana-watch');
      return { target: 'odd topics', topic, payload: good, counted };
    });
}

async function publishAll(cases: Case[]): Promise<void> {
  // A few at a time in flight, as many devices would; each publish waits for the broker's PUBACK.
  const CONCURRENCY = 32;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) {
        const c = cases[next++] as Case;
        await h.mqtt.publish(c.topic, c.payload);
      }
    }),
  );
}

function keepFailureArtifact(cases: Case[]): void {
  try {
    const dir = join(REPO_ROOT, 'test-artifacts', 'fuzz');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `mqtt-ingest-failure-${SEED}.json`);
    writeFileSync(
      file,
      JSON.stringify(
        cases.map((c) => ({ target: c.target, topic: c.topic, payloadBase64: c.payload.toString('base64') })),
      ),
    );
    console.log(`[fuzz] the published cases are in ${file}`);
  } catch {
    // Only a convenience for debugging.
  }
}

describe('MQTT ingest under generated bad input', () => {
  it(
    'stays up, changes nothing, counts and answers every refusal, and still processes good events',
    async () => {
      const base = topics.base;
      const unknotJson = hostilePayload(unknotEventText);
      const plain = hostilePayload(plainValue.map((b) => b.toString('utf8')));
      const frames = hostilePayload(deviceJsonText);
      const third = Math.floor(PER_ADAPTER / 3);
      const quarter = Math.floor(PER_ADAPTER / 4);
      const eighth = Math.floor(PER_ADAPTER / 8);
      const cases: Case[] = [
        ...refusedPayloads('unknot', devices.watch, topics.deviceEvent('ana-watch'), unknotJson, PER_ADAPTER, 1),
        ...refusedPayloads(
          'zigbee2mqtt',
          devices.chair,
          topics.z2mState('office/chair'),
          hostilePayload(z2mStateText),
          PER_ADAPTER - third,
          2,
        ),
        ...refusedPayloads('zigbee2mqtt', devices.chair, topics.z2mAvailability('office/chair'), plain, third, 3),
        ...refusedPayloads('tasmota', devices.pad, `stat/${tasmotaTopic}/POWER`, plain, quarter, 4),
        ...refusedPayloads('tasmota', devices.pad, `stat/${tasmotaTopic}/RESULT`, frames, quarter, 5),
        ...refusedPayloads('tasmota', devices.pad, `tele/${tasmotaTopic}/STATE`, frames, quarter, 6),
        ...refusedPayloads('tasmota', devices.pad, `tele/${tasmotaTopic}/LWT`, plain, PER_ADAPTER - 3 * quarter, 7),
        ...refusedPayloads('shelly', devices.plug, `${shellyPrefix}/status/switch:0`, frames, third, 8),
        ...refusedPayloads('shelly', devices.plug, `${shellyPrefix}/events/rpc`, frames, third, 9),
        ...refusedPayloads('shelly', devices.plug, `${shellyPrefix}/online`, plain, PER_ADAPTER - 2 * third, 10),
        // Topics added later (Tasmota switch inputs and relays after the first, Shelly inputs): a sample each.
        ...refusedPayloads('tasmota', devices.pad, `tele/${tasmotaTopic}/SENSOR`, frames, eighth, 11),
        ...refusedPayloads('tasmota', devices.pad, `stat/${tasmotaTopic}/POWER2`, plain, eighth, 12),
        ...refusedPayloads('shelly', devices.plug, `${shellyPrefix}/status/input:0`, frames, eighth, 13),
        ...oddTopicCases(),
        ...otherInputCases(),
      ];
      // Fixed examples of every hostile kind, whatever the sample holds.
      const watchTopic = topics.deviceEvent('ana-watch');
      for (const payload of [
        Buffer.from(JSON.stringify({ type: 'posture', posture: 'away', pad: 'x'.repeat(17 * 1024) })),
        Buffer.from([0xff, 0xfe, 0x00, 0x01]),
        Buffer.from('{"type":"posture","posture":"away"'),
        Buffer.from(`${'['.repeat(2_000)}${']'.repeat(2_000)}`),
        Buffer.from('{"type":"posture","__proto__":{"posture":"away"}}'),
        Buffer.from('{"type":"posture","constructor":{"prototype":{"posture":"away"}}}'),
        Buffer.from('{"type":"steps","count":1e309,"periodSeconds":60}'),
        Buffer.from('{"type":"action","action":"snooze","minutes":"NaN"}'),
        Buffer.from('{"type":"posture","posture":"away","id":12}'),
        Buffer.from(JSON.stringify({ type: 'posture', posture: 'away', at: '1970-01-01T00:00:00Z' })),
      ]) {
        expect(
          adapters.unknot.parse(devices.watch, { protocol: 'unknot', key: 'ana-watch', kind: 'event' }, payload, {
            topics,
            now: Date.now(),
          }).ok,
        ).toBe(false);
        cases.push({ target: 'unknot', topic: watchTopic, payload, counted: true });
      }

      const before = await snapshot();
      const rejectedBefore = await rejectedTotal();
      const expected = cases.filter((c) => c.counted).length;

      try {
        await publishAll(cases);
        // Every counted message has been handled once the counter has moved by exactly that many.
        const rejected = await eventually(
          async () => {
            const n = (await rejectedTotal()) - rejectedBefore;
            return n >= expected ? n : undefined;
          },
          30_000,
          `${expected} rejections counted`,
        );
        expect(rejected, 'each refused message counted once').toBe(expected);

        expect((await svc.fetchJson('/healthz')).body).toEqual({ status: 'ok' });
        expect(() => process.kill(svc.pid, 0), 'the service process is alive').not.toThrow();
        expect(await snapshot(), 'live state, profile and adherence log unchanged').toEqual(before);

        // Every error answer is the contract's {"error","detail"}; every device that sent bad input got at least one.
        const errors = h.mqtt.messages(`${base}/devices/+/error`);
        for (const m of errors) {
          const body = m.json as { error?: unknown; detail?: unknown };
          expect(body?.error, m.payload).toMatch(/^[a-z][a-z_]*$/);
          expect(typeof body?.detail === 'string' && body.detail.trim().length > 0, m.payload).toBe(true);
        }
        for (const id of ['ana-watch', 'ana-chair', 'ana-pad', 'ana-plug']) {
          expect(
            errors.some((m) => m.topic === topics.deviceError(id)),
            `an error answer for ${id}`,
          ).toBe(true);
        }
        expect(
          errors.filter((m) => m.topic === topics.deviceError('ana-watch')).length,
          'rate-limited: not one per message',
        ).toBeLessThan(PER_ADAPTER);
      } catch (err) {
        keepFailureArtifact(cases);
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${replay}`, { cause: err });
      }
      for (const c of cases) counts.add(`mqtt: ${c.target}`);

      // Good events from every protocol are still processed.
      await h.mqtt.publish(watchTopic, { type: 'activity', activity: 'walking' });
      await eventually(
        async () => (await liveState()).posture === 'moving' || undefined,
        10_000,
        'the watch says walking',
      );
      await h.mqtt.publish(topics.z2mState('office/chair'), { occupancy: true });
      await eventually(
        async () => (await liveState()).posture === 'sitting' || undefined,
        10_000,
        'the chair says sitting again',
      );
      // A pad that reports ON with no session is switched off by the watchdog.
      await h.mqtt.publish(`stat/${tasmotaTopic}/POWER`, 'ON');
      const off = await h.mqtt.waitFor(`cmnd/${tasmotaTopic}/POWER`, 10_000);
      expect(off.payload).toBe('OFF');
      await h.mqtt.publish(`${shellyPrefix}/status/switch:0`, { id: 0, output: true });
      const rpc = await h.mqtt.waitFor(`${shellyPrefix}/rpc`, 10_000);
      expect(rpc.json).toMatchObject({ method: 'Switch.Set', params: { id: 0, on: false } });
      const log = (await adherence(svc, 'ana')).map((e) => e.type);
      expect(
        log.filter((t) => t === 'sitting_started'),
        'one session throughout',
      ).toHaveLength(1);
      expect(
        log.filter((t) => t === 'heat_off'),
        'two watchdog OFFs',
      ).toHaveLength(2);
      console.log(
        `[fuzz] mqtt-ingest: ${cases.length} messages, ${expected} refusals counted, e.g. ${describePayload(cases[0]!.payload)}`,
      );
    },
    90_000 * FUZZ_SCALE,
  );

  it(
    'button presses with any number of minutes and events at the edges never wedge ingest: a hundred later events are still processed',
    async () => {
      const watchTopic = topics.deviceEvent('ana-watch');
      const minutes = fc.oneof(
        fc.constantFrom(1e308, Number.MAX_VALUE, 2 ** 53, 1e15, 8.64e12, 1e6, 61, 60, 1, 0.5, 1e-300, Number.MIN_VALUE),
        fc.double({ min: 1e-6, max: 1e308, noNaN: true }),
      );
      const presses = fc
        .sample(
          fc.record({
            action: fc.constantFrom('snooze', 'ack', 'heat_on', 'heat_off', 'routine_stop'),
            minutes: fc.option(minutes, { nil: undefined }),
          }),
          { numRuns: scaled(60), seed: SEED + 200 },
        )
        .map((p) => Buffer.from(JSON.stringify({ type: 'action', ...p })));
      // Events with values at their edges: times back to 2000 (refused as too_old beyond 24 h), step counts up to 2^53.
      const edges = fc
        .sample(
          fc.oneof(
            fc.record({
              type: fc.constant('posture'),
              posture: fc.constantFrom('sitting', 'standing', 'moving', 'away'),
              at: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.now() + 86_400_000 }),
            }),
            fc.record({
              type: fc.constant('steps'),
              count: fc.constantFrom(0, 10, 2 ** 53 - 1, 1e300),
              periodSeconds: fc.constantFrom(1, 60, 86_400),
            }),
          ),
          { numRuns: scaled(40), seed: SEED + 201 },
        )
        .map((e) => Buffer.from(JSON.stringify(e)));
      presses.push(...edges);
      // Regression: this one overflowed the date arithmetic of a snooze; ingest retried it for ever and, holding its
      // acknowledgement, stopped receiving anything once the broker's in-flight window was full.
      presses.unshift(Buffer.from('{"type":"action","action":"snooze","minutes":1e308}'));
      const logsBefore = svc.logs().length;
      try {
        await publishAll(
          presses.map((payload) => ({ target: 'button presses', topic: watchTopic, payload, counted: false })),
        );
        // More than the broker lets be in flight unacknowledged (64), each saying nothing about sitting…
        await publishAll(
          Array.from({ length: 100 }, (_, i) => ({
            target: 'filler',
            topic: watchTopic,
            payload: Buffer.from(JSON.stringify({ type: 'steps', count: 0, periodSeconds: 60, id: `f${i}` })),
            counted: false,
          })),
        );
        // …and then one that does.
        await h.mqtt.publish(watchTopic, { type: 'posture', posture: 'away', id: 'last' });
        await eventually(
          async () => (await liveState()).posture === 'away' || undefined,
          15_000,
          'the event after the button presses processed',
        );
        const failures = svc
          .logs()
          .slice(logsBefore)
          .filter((e) => typeof e.json?.level === 'number' && e.json.level >= 50);
        expect(
          failures.map((e) => e.line.slice(0, 300)),
          'no handler failed',
        ).toEqual([]);
        for (const m of h.mqtt.messages(topics.deviceError('ana-watch'))) {
          expect(m.json, m.payload).toMatchObject({
            error: expect.stringMatching(/^[a-z][a-z_]*$/),
            detail: expect.stringMatching(/\S/),
          });
        }
        expect((await svc.fetchJson('/healthz')).body).toEqual({ status: 'ok' });
      } catch (err) {
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${replay}`, { cause: err });
      }
      counts.add('mqtt: accepted edge events (button presses, old times, huge counts)', presses.length);
    },
    60_000 * FUZZ_SCALE,
  );
});
