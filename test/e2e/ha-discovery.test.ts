// Home Assistant MQTT discovery end to end (docs/integrations/home-assistant.md): config shape, topics the service really
// publishes or handles, the snooze button, HA's birth message, start-up, and removal of users and heat pads.
// UNKNOT_TIME_SCALE=600 (the harness): 10 minutes are 1 s, 20 minutes 2 s, 60 minutes 6 s.
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, type ReceivedMessage, type TestMqttClient } from '../support/mqtt-client.js';
import { eventually, harness, putDevice, putUser, type Harness } from '../support/unknot.js';

type Config = Record<string, unknown> & {
  unique_id: string;
  default_entity_id: string;
  name: string;
  device: { identifiers: string[]; name: string; manufacturer: string; model: string };
  availability: Array<Record<string, string>>;
  qos: number;
  state_topic?: string;
  command_topic?: string;
  json_attributes_topic?: string;
  event_types?: string[];
};

const REQUIRED: Record<string, string[]> = {
  sensor: ['state_topic'],
  binary_sensor: ['state_topic'],
  button: ['command_topic'],
  switch: ['command_topic'],
  event: ['state_topic', 'event_types'],
};

let h: Harness | undefined;
const extraClients: TestMqttClient[] = [];

afterEach(async () => {
  for (const c of extraClients.splice(0)) await c.end();
  await h?.close();
  h = undefined;
});

async function client(): Promise<TestMqttClient> {
  const c = await connectClient(h!.env.MQTT_URL!);
  extraClients.push(c);
  return c;
}

const ha = () => h!.env.HA_DISCOVERY_PREFIX!;
const base = () => h!.ns.baseTopic;
const configFilter = (userId: string) => `${ha()}/+/unknot_${userId}/+/config`;
const nonEmpty = (m: ReceivedMessage) => m.payload !== '';
const empty = (m: ReceivedMessage) => m.payload === '';

/** The latest config of each entity of `userId` received by `c`, by `component/object`, once there are `count`. */
function configsOf(c: TestMqttClient, userId: string, count: number): Promise<Map<string, Config>> {
  return eventually(
    async () => {
      const out = new Map<string, Config>();
      for (const m of c.messages(configFilter(userId))) {
        const [, component, , object] = m.topic.slice(ha().length).split('/');
        if (m.payload === '') out.delete(`${component}/${object}`);
        else out.set(`${component}/${object}`, m.json as Config);
      }
      return out.size === count ? out : undefined;
    },
    15_000,
    `${count} discovery configs of ${userId}`,
  );
}

/** Fresh subscription: the retained configs of everyone, read up to a sentinel published after the subscription. */
async function retainedConfigs(): Promise<ReceivedMessage[]> {
  const c = await client();
  await c.subscribe(`${ha()}/#`);
  const sentinel = `${ha()}/sentinel-${Math.random().toString(16).slice(2)}`;
  await c.publish(sentinel, 'end');
  await c.waitFor(sentinel);
  return c.messages(`${ha()}/+/+/+/config`);
}

interface State {
  posture: string;
  nextNudgeAt: string | null;
  snoozes: number;
  heat: { on: boolean };
}

describe('Home Assistant discovery', () => {
  it('publishes valid, retained configs per user whose topics the service publishes or handles, and the snooze button works', async () => {
    h = await harness('ha-shape');
    await h.mqtt.subscribe([`${ha()}/#`, `${base()}/#`]);
    const svc = await h.start();
    await putUser(svc, 'ana', {
      name: 'Ana',
      breakAfterMinutes: 10,
      escalateAfterMinutes: 20,
      snoozeMinutes: 60,
      maxSnoozes: 2,
    });
    await putUser(svc, 'bo');
    await putDevice(svc, 'ana-desk', { userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/fp1' });
    await putDevice(svc, 'ana-pad', {
      userId: 'ana',
      role: 'heatpad',
      protocol: 'zigbee2mqtt',
      topic: 'office/heat plug',
    });

    const ana = await configsOf(h.mqtt, 'ana', 10);
    const bo = await configsOf(h.mqtt, 'bo', 9);
    expect([...ana.keys()].sort()).toEqual([
      'binary_sensor/break_due',
      'binary_sensor/sitting',
      'button/helped',
      'button/not_helped',
      'button/snooze',
      'event/nudge',
      'sensor/compliance_today',
      'sensor/next_nudge',
      'sensor/sitting_minutes',
      'switch/heat',
    ]);
    // No heat pad, no heat switch.
    expect([...bo.keys()].sort()).toEqual([...ana.keys()].filter((k) => k !== 'switch/heat').sort());

    // Shape: required keys per component, ids, device, availability, QoS.
    const uniqueIds = new Set<string>();
    for (const [userId, configs] of [
      ['ana', ana],
      ['bo', bo],
    ] as const) {
      for (const [key, cfg] of configs) {
        const [component, object] = key.split('/') as [string, string];
        for (const k of REQUIRED[component]!) expect(cfg, `${userId} ${key} needs ${k}`).toHaveProperty(k);
        expect(cfg.unique_id).toBe(`unknot_${userId}_${object}`);
        expect(cfg.default_entity_id).toBe(`${component}.unknot_${userId}_${object}`);
        expect(cfg.unique_id).toMatch(/^[a-zA-Z0-9_-]+$/);
        expect(typeof cfg.name).toBe('string');
        expect(cfg.device).toMatchObject({
          identifiers: [`unknot_${userId}`],
          manufacturer: 'unknot',
          model: expect.any(String),
        });
        expect(cfg.availability).toEqual([
          {
            topic: `${base()}/bridge/state`,
            value_template: '{{ value_json.state }}',
            payload_available: 'online',
            payload_not_available: 'offline',
          },
        ]);
        expect(cfg.qos).toBe(1);
        uniqueIds.add(cfg.unique_id);
      }
    }
    expect(uniqueIds.size).toBe(ana.size + bo.size);
    expect(ana.get('sensor/sitting_minutes')).toMatchObject({ unit_of_measurement: 'min' });
    expect(ana.get('sensor/next_nudge')).toMatchObject({ device_class: 'timestamp' });
    expect(ana.get('event/nudge')).toMatchObject({ event_types: ['nudge'] });
    expect(ana.get('switch/heat')).toMatchObject({
      payload_on: 'ON',
      payload_off: 'OFF',
      command_topic: `${base()}/users/ana/heat/set`,
    });
    expect(ana.get('button/snooze')).toMatchObject({ command_topic: `${base()}/users/ana/snooze/set` });
    expect(ana.get('sensor/sitting_minutes')!.device.name).toContain('Ana');

    // Retained: a new subscriber gets all of them.
    const retained = await retainedConfigs();
    expect(retained.filter((m) => m.retain && m.payload !== '').length).toBe(ana.size + bo.size);

    // Every topic a config reads is one the service publishes: subscribe to each and see a message. The nudge
    // topic is not retained, so sit down and wait for the nudge.
    await h.mqtt.publish(`${h.env.Z2M_BASE_TOPIC}/office/fp1`, {
      presence: true,
      presence_event: 'enter',
      linkquality: 80,
    });
    const readTopics = new Set<string>();
    for (const cfg of ana.values()) {
      for (const t of [cfg.state_topic, cfg.json_attributes_topic, ...cfg.availability.map((a) => a.topic)])
        if (t) readTopics.add(t);
    }
    expect(readTopics).toEqual(
      new Set([
        `${base()}/users/ana/state`,
        `${base()}/users/ana/adherence`,
        `${base()}/users/ana/nudge`,
        `${base()}/bridge/state`,
      ]),
    );
    const watcher = await client();
    await watcher.subscribe([...readTopics]);
    for (const t of readTopics) await watcher.waitFor(t, 15_000);
    const adherenceMsg = await watcher.waitFor(`${base()}/users/ana/adherence`);
    expect(adherenceMsg.retain).toBe(true);
    expect(adherenceMsg.json).toMatchObject({
      date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      compliance: null,
      timezone: 'UTC',
    });

    // The snooze button, while the next level is pending: garbage first (logged, counted, harmless), then PRESS.
    const snoozeTopic = ana.get('button/snooze')!.command_topic!;
    await h.mqtt.publish(snoozeTopic, 'not a press');
    await h.mqtt.publish(snoozeTopic, Buffer.from([0xff, 0x00, 0xfe]));
    await svc.waitForLog((e) => e.msg === 'rejected Home Assistant command');
    const before = h.mqtt
      .messages(`${base()}/users/ana/state`)
      .map((m) => m.json as State)
      .at(-1)!;
    expect(before.nextNudgeAt).not.toBeNull();
    await h.mqtt.publish(snoozeTopic, ana.get('button/snooze')!.payload_press as string);
    const after = await h.mqtt.waitFor(`${base()}/users/ana/state`, (m) => (m.json as State).snoozes === 1);
    expect(Date.parse((after.json as State).nextNudgeAt!)).toBeGreaterThan(Date.parse(before.nextNudgeAt!));
    const c2 = await client();
    await c2.subscribe(`${base()}/users/ana/state`);
    const retainedState = await c2.waitFor(`${base()}/users/ana/state`);
    expect(retainedState.json).toMatchObject({ snoozes: 1, nextNudgeAt: (after.json as State).nextNudgeAt });

    // Compliance: the adherence topic follows committed entries.
    await h.mqtt.publish(`${h.env.Z2M_BASE_TOPIC}/office/fp1`, {
      presence: false,
      presence_event: 'leave',
      linkquality: 80,
    });
    const fig = await h.mqtt.waitFor(
      `${base()}/users/ana/adherence`,
      (m) => (m.json as { breaks: number }).breaks === 1,
      10_000,
    );
    expect(fig.json).toMatchObject({ nudgedSessions: 1, compliance: expect.any(Number), snoozes: 1 });
    expect((fig.json as { nudgesSent: number }).nudgesSent).toBeGreaterThanOrEqual(1);

    // A press with nothing to snooze, an unknown user, a bad user id: logged, never fatal.
    await h.mqtt.publish(snoozeTopic, 'PRESS');
    await svc.waitForLog((e) => e.msg === 'snooze pressed with nothing to snooze');
    await h.mqtt.publish(`${base()}/users/ghost/snooze/set`, 'PRESS');
    await h.mqtt.publish(`${base()}/users/bad id!/snooze/set`, 'PRESS');
    await h.mqtt.publish(ana.get('switch/heat')!.command_topic!, 'MAYBE');
    await eventually(
      async () => {
        const text = String((await svc.fetchJson('/metrics')).body);
        return ['reason="invalid_command"} 3', 'reason="invalid_user_id"} 1', 'reason="unknown_user"} 1'].every((s) =>
          text.includes(s),
        );
      },
      10_000,
      'rejections counted',
    );
    expect((await svc.fetchJson('/healthz')).status).toBe(200);
  });

  it('re-publishes every config when Home Assistant announces itself, and at start-up', async () => {
    h = await harness('ha-birth');
    await h.mqtt.subscribe(`${ha()}/#`);
    const svc = await h.start();
    await putUser(svc, 'ana');
    await configsOf(h.mqtt, 'ana', 9);

    h.mqtt.clear();
    await h.mqtt.publish(`${ha()}/status`, 'offline');
    await h.mqtt.publish(`${ha()}/status`, 'online');
    const again = await configsOf(h.mqtt, 'ana', 9);
    expect(again.size).toBe(9);
    await svc.waitForLog((e) => e.msg === 'Home Assistant came online: re-publishing discovery');

    // Start-up: with the retained configs gone, a restarted service publishes them again.
    await svc.stop();
    for (const m of again.keys()) {
      const [component, object] = m.split('/');
      await h.mqtt.publish(`${ha()}/${component}/unknot_ana/${object}/config`, '', { retain: true });
    }
    expect((await retainedConfigs()).filter(nonEmpty)).toHaveLength(0);
    h.mqtt.clear();
    await h.start();
    expect((await configsOf(h.mqtt, 'ana', 9)).size).toBe(9);
  });

  it('the heat switch starts and stops a heat session, and a refused ON leaves the switch off', async () => {
    h = await harness('ha-heat');
    await h.mqtt.subscribe([`${ha()}/switch/#`, `${base()}/#`]);
    // Time scale 60 so that 20 minutes of heat (20 s) outlast the test.
    const svc = await h.start({ UNKNOT_TIME_SCALE: '60' });
    await putUser(svc, 'ana', { heat: { defaultMinutes: 20, maxMinutes: 20 } });
    await putUser(svc, 'bo', { contraindications: ['fever'] });
    await putDevice(svc, 'ana-pad', { userId: 'ana', role: 'heatpad', protocol: 'unknot' });
    await putDevice(svc, 'bo-pad', { userId: 'bo', role: 'heatpad', protocol: 'unknot' });
    const sw = (await h.mqtt.waitFor(`${ha()}/switch/unknot_ana/heat/config`, nonEmpty)).json as Config;
    const stateOf = (userId: string) => `${base()}/users/${userId}/state`;

    await h.mqtt.publish(sw.command_topic!, sw.payload_on as string);
    const on = await h.mqtt.waitFor(
      `${base()}/devices/ana-pad/command`,
      (m) => (m.json as { state: string }).state === 'on',
    );
    expect(on.json).toMatchObject({ command: 'heat', state: 'on', autoOffSeconds: expect.any(Number) });
    await h.mqtt.waitFor(stateOf('ana'), (m) => (m.json as State).heat.on === true);
    await h.mqtt.publish(sw.command_topic!, sw.payload_off as string);
    const off = await h.mqtt.waitFor(
      `${base()}/devices/ana-pad/command`,
      (m) => (m.json as { state: string }).state === 'off',
    );
    expect(off.json).toMatchObject({ command: 'heat', state: 'off', reason: 'manual' });
    await h.mqtt.waitFor(stateOf('ana'), (m) => (m.json as State).heat.on === false && m.receivedAt >= off.receivedAt);

    // Contraindicated: refused by the heat service; the state is re-published so HA's switch falls back to off.
    const before = h.mqtt.messages(stateOf('bo')).length;
    await h.mqtt.publish(`${base()}/users/bo/heat/set`, 'ON');
    await svc.waitForLog((e) => e.msg === 'heat refused' && e.json?.code === 'contraindicated');
    const republished = await h.mqtt.waitForCount(stateOf('bo'), before + 1);
    expect((republished.at(-1)!.json as State).heat.on).toBe(false);
    expect(h.mqtt.messages(`${base()}/devices/bo-pad/command`)).toHaveLength(0);
  });

  it('removes the heat switch with the last heat pad and every config with the user', async () => {
    h = await harness('ha-remove');
    await h.mqtt.subscribe([`${ha()}/#`, `${base()}/users/+/adherence`]);
    const svc = await h.start();
    await putUser(svc, 'ana');
    await putUser(svc, 'bo');
    await putDevice(svc, 'pad-1', { userId: 'ana', role: 'heatpad', protocol: 'unknot' });
    await putDevice(svc, 'pad-2', { userId: 'ana', role: 'heatpad', protocol: 'tasmota', topic: 'heatpad2' });
    await configsOf(h.mqtt, 'ana', 10);
    const heatTopic = (userId: string) => `${ha()}/switch/unknot_${userId}/heat/config`;

    // One of two pads gone: the switch stays.
    await svc.fetchJson('/api/devices/pad-2', { method: 'DELETE' });
    // The last one moves to bo: ana's switch goes, bo's comes.
    await putDevice(svc, 'pad-1', { userId: 'bo', role: 'heatpad', protocol: 'unknot' });
    await h.mqtt.waitFor(heatTopic('ana'), empty);
    await h.mqtt.waitFor(heatTopic('bo'), nonEmpty);
    expect(h.mqtt.messages(heatTopic('ana')).filter(empty)).toHaveLength(1);
    // The pad stops being a heat pad: bo's switch goes.
    await putDevice(svc, 'pad-1', { userId: 'bo', role: 'hub', protocol: 'unknot' });
    await h.mqtt.waitFor(heatTopic('bo'), empty);

    let retained = await retainedConfigs();
    expect(retained.filter((m) => m.topic.includes('/heat/') && m.payload !== '')).toHaveLength(0);
    expect(retained.filter((m) => m.topic.includes('unknot_ana') && m.payload !== '')).toHaveLength(9);

    // Deleting a user empties every config of theirs (and the adherence topic), and nobody else's.
    h.mqtt.clear();
    const del = await svc.fetchJson('/api/users/ana', { method: 'DELETE' });
    expect(del.status).toBe(204);
    await h.mqtt.waitForCount(configFilter('ana'), 10, empty);
    await h.mqtt.waitFor(`${base()}/users/ana/adherence`, empty);
    retained = await retainedConfigs();
    expect(retained.filter((m) => m.topic.includes('unknot_ana') && m.payload !== '')).toHaveLength(0);
    expect(retained.filter((m) => m.topic.includes('unknot_bo') && m.payload !== '')).toHaveLength(9);
  });
});
