// Home Assistant MQTT discovery end to end (docs/integrations/home-assistant.md): config shape, topics the service really
// publishes or handles, the snooze button, HA's birth message, start-up, and removal of users and heat pads.
// UNKNOT_TIME_SCALE=600 (the harness): 10 minutes are 1 s, 20 minutes 2 s, 60 minutes 6 s.
import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, type ReceivedMessage, type TestMqttClient } from '../support/mqtt-client.js';
import { eventually, harness, putDevice, putUser, type Harness } from '../support/unknot.js';
import { ENTITIES, VALID_ENTITY_ID } from '../../src/mqtt/ha-entities.js';
import { packageVersion } from '../../src/http/api-docs/json-schema.js';

/** With a heat pad every entity; without one, all but the heat-pad ones. */
const ALL = ENTITIES.length;
const NO_PAD = ENTITIES.filter((e) => !e.heatPad).length;

/**
 * The keys Home Assistant's MQTT schemas know (homeassistant/components/mqtt: schemas.py MQTT_ENTITY_COMMON_SCHEMA and
 * the availability schemas, plus each platform's PLATFORM_SCHEMA_MODERN). HA drops any other key without a word.
 */
const COMMON_KEYS = [
  'name',
  'unique_id',
  'default_entity_id',
  'device',
  'origin',
  'availability',
  'availability_mode',
  'qos',
  'entity_category',
  'icon',
  'json_attributes_topic',
  'json_attributes_template',
  'enabled_by_default',
  'encoding',
  'entity_picture',
];
const PLATFORM_KEYS: Record<string, string[]> = {
  sensor: [
    'state_topic',
    'value_template',
    'unit_of_measurement',
    'device_class',
    'state_class',
    'options',
    'suggested_display_precision',
    'expire_after',
    'force_update',
    'last_reset_value_template',
  ],
  binary_sensor: [
    'state_topic',
    'value_template',
    'payload_on',
    'payload_off',
    'device_class',
    'expire_after',
    'force_update',
    'off_delay',
  ],
  button: ['command_topic', 'command_template', 'payload_press', 'retain', 'device_class'],
  switch: [
    'command_topic',
    'state_topic',
    'value_template',
    'payload_on',
    'payload_off',
    'state_on',
    'state_off',
    'device_class',
    'optimistic',
    'retain',
    'command_template',
  ],
  number: [
    'command_topic',
    'command_template',
    'state_topic',
    'value_template',
    'min',
    'max',
    'step',
    'mode',
    'unit_of_measurement',
    'device_class',
    'optimistic',
    'retain',
    'payload_reset',
  ],
  event: ['state_topic', 'value_template', 'event_types', 'device_class'],
};
const DEVICE_KEYS = [
  'identifiers',
  'connections',
  'manufacturer',
  'model',
  'model_id',
  'name',
  'hw_version',
  'serial_number',
  'sw_version',
  'via_device',
  'suggested_area',
  'configuration_url',
];

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
  number: ['command_topic', 'state_topic', 'min', 'max'],
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
    const svc = await h.start({ UNKNOT_DASHBOARD_URL: 'http://unknot.test:8123/' });
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

    const ana = await configsOf(h.mqtt, 'ana', ALL);
    const bo = await configsOf(h.mqtt, 'bo', NO_PAD);
    expect([...ana.keys()].sort()).toEqual([
      'binary_sensor/break_due',
      'binary_sensor/sitting',
      'button/helped',
      'button/not_helped',
      'button/snooze',
      'button/start_routine',
      'event/nudge',
      'number/break_interval',
      'number/heat_minutes',
      'sensor/compliance_today',
      'sensor/heat_off_at',
      'sensor/next_nudge',
      'sensor/posture',
      'sensor/routine_progress',
      'sensor/sitting_minutes',
      'switch/heat',
    ]);
    // No heat pad, no heat switch, heat minutes or heat off-at.
    const padOnly = ['switch/heat', 'number/heat_minutes', 'sensor/heat_off_at'];
    expect([...bo.keys()].sort()).toEqual([...ana.keys()].filter((k) => !padOnly.includes(k)).sort());

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
        expect(cfg.default_entity_id).toMatch(VALID_ENTITY_ID);
        expect(cfg.unique_id).toMatch(/^[a-zA-Z0-9_-]+$/);
        // Only keys Home Assistant reads (has_entity_name is not one of them).
        for (const k of Object.keys(cfg))
          expect([...COMMON_KEYS, ...PLATFORM_KEYS[component]!], `${userId} ${key}: ${k}`).toContain(k);
        for (const k of Object.keys(cfg.device)) expect(DEVICE_KEYS).toContain(k);
        expect(cfg.origin).toEqual({
          name: 'unknot',
          sw_version: packageVersion(),
          support_url: 'http://unknot.test:8123/',
        });
        expect(cfg.device).toMatchObject({
          sw_version: packageVersion(),
          configuration_url: 'http://unknot.test:8123/',
        });
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
    expect(ana.get('sensor/next_nudge')).toMatchObject({ device_class: 'timestamp', entity_category: 'diagnostic' });
    expect(ana.get('sensor/heat_off_at')).toMatchObject({ device_class: 'timestamp', entity_category: 'diagnostic' });
    expect(ana.get('sensor/posture')).toMatchObject({
      device_class: 'enum',
      options: ['sitting', 'standing', 'moving', 'away'],
    });
    expect(ana.get('sensor/compliance_today')).toMatchObject({
      unit_of_measurement: '%',
      suggested_display_precision: 0,
    });
    expect(ana.get('sensor/routine_progress')).toMatchObject({
      unit_of_measurement: '%',
      suggested_display_precision: 0,
    });
    // Ranges from the profile: break interval 10–120, heat minutes up to the person's own maximum (default 15).
    expect(ana.get('number/break_interval')).toMatchObject({ min: 10, max: 120, entity_category: 'config' });
    expect(ana.get('number/heat_minutes')).toMatchObject({ min: 1, max: 15, entity_category: 'config' });
    expect(ana.get('button/start_routine')).toMatchObject({
      command_topic: `${base()}/users/ana/routine/set`,
      payload_press: 'PRESS',
    });
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
        `${base()}/users/ana/settings`,
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
    await configsOf(h.mqtt, 'ana', NO_PAD);

    h.mqtt.clear();
    // HA_STATUS_TOPIC (the harness gives each test its own); the case of `online` does not matter.
    await h.mqtt.publish(h.env.HA_STATUS_TOPIC!, 'offline');
    await h.mqtt.publish(h.env.HA_STATUS_TOPIC!, 'Online');
    const again = await configsOf(h.mqtt, 'ana', NO_PAD);
    expect(again.size).toBe(NO_PAD);
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
    expect((await configsOf(h.mqtt, 'ana', NO_PAD)).size).toBe(NO_PAD);
  });

  it('the heat switch starts and stops a heat session, and a refused ON leaves the switch off', async () => {
    h = await harness('ha-heat');
    await h.mqtt.subscribe([`${ha()}/switch/#`, `${ha()}/sensor/#`, `${base()}/#`]);
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
    const heating = await h.mqtt.waitFor(stateOf('ana'), (m) => (m.json as State).heat.on === true);
    // What the heat off-at sensor shows: when the pad goes off, about 20 (scaled) minutes from now.
    const offAt = Date.parse((heating.json as { heat: { offAt: string } }).heat.offAt);
    expect(offAt).toBeGreaterThan(heating.receivedAt);
    const offAtCfg = (await h.mqtt.waitFor(`${ha()}/sensor/unknot_ana/heat_off_at/config`, nonEmpty)).json as Config;
    expect(offAtCfg).toMatchObject({ state_topic: stateOf('ana'), device_class: 'timestamp' });
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
    await configsOf(h.mqtt, 'ana', ALL);
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
    expect(retained.filter((m) => m.topic.includes('/heat') && m.payload !== '')).toHaveLength(0);
    expect(retained.filter((m) => m.topic.includes('unknot_ana') && m.payload !== '')).toHaveLength(NO_PAD);

    // Deleting a user empties every config of theirs (and the adherence topic), and nobody else's.
    h.mqtt.clear();
    const del = await svc.fetchJson('/api/users/ana', { method: 'DELETE' });
    expect(del.status).toBe(204);
    await h.mqtt.waitForCount(configFilter('ana'), ALL, empty);
    await h.mqtt.waitFor(`${base()}/users/ana/adherence`, empty);
    retained = await retainedConfigs();
    expect(retained.filter((m) => m.topic.includes('unknot_ana') && m.payload !== '')).toHaveLength(0);
    expect(retained.filter((m) => m.topic.includes('unknot_bo') && m.payload !== '')).toHaveLength(NO_PAD);
  });

  it('gives user ids that are no HA slug valid, distinct entity ids, and keeps unique_id as it was', async () => {
    h = await harness('ha-slugs');
    await h.mqtt.subscribe(`${ha()}/#`);
    const svc = await h.start();
    const ids = ['ana_maria', 'ana-maria', 'Ana_Maria', '_x', 'x', 'Bo_'];
    for (const id of ids) await putUser(svc, id);
    const entityIds = new Set<string>();
    for (const id of ids) {
      const configs = await configsOf(h.mqtt, id, NO_PAD);
      for (const [key, cfg] of configs) {
        const object = key.split('/')[1]!;
        expect(cfg.unique_id).toBe(`unknot_${id}_${object}`);
        expect(cfg.default_entity_id, `${id} ${key}`).toMatch(VALID_ENTITY_ID);
        entityIds.add(cfg.default_entity_id);
      }
    }
    // Nobody shares an entity id, although ana_maria, ana-maria and Ana_Maria (and _x and x) slug alike.
    expect(entityIds.size).toBe(ids.length * NO_PAD);
    // An id that is a slug already keeps the entity ids it always had.
    expect(entityIds).toContain('sensor.unknot_ana_maria_sitting_minutes');
    expect(entityIds).toContain('sensor.unknot_x_sitting_minutes');
    const sitting = [...entityIds].filter((e) => e.startsWith('sensor.') && e.endsWith('_sitting_minutes'));
    expect(sitting.filter((e) => /^sensor\.unknot_ana_maria_[0-9a-f]{6}_sitting_minutes$/.test(e))).toHaveLength(2);
    expect(sitting.filter((e) => /^sensor\.unknot_bo_[0-9a-f]{6}_sitting_minutes$/.test(e))).toHaveLength(1);

    // Restarted, the service announces the same entity ids (they depend on the user id alone).
    await svc.stop();
    h.mqtt.clear();
    await h.start();
    const again = await configsOf(h.mqtt, 'ana-maria', NO_PAD);
    for (const cfg of again.values()) expect(entityIds).toContain(cfg.default_entity_id);
  });

  it("hears Home Assistant's birth message on homeassistant/status whatever the discovery prefix", async () => {
    h = await harness('ha-status');
    await h.mqtt.subscribe(`${ha()}/#`);
    // HA_STATUS_TOPIC unset: the default, homeassistant/status, although the discovery prefix is another.
    const svc = await h.start({ HA_STATUS_TOPIC: undefined });
    await putUser(svc, 'ana');
    await configsOf(h.mqtt, 'ana', NO_PAD);

    // <prefix>/status is not HA's topic: nothing happens. The offline that follows it on HA's topic is logged as it
    // arrives, so by then an online on the wrong topic would have been logged too.
    const cameOnline = () =>
      svc.logs().filter((l) => l.msg === 'Home Assistant came online: re-publishing discovery').length;
    await h.mqtt.publish(`${ha()}/status`, 'online');
    await h.mqtt.publish('homeassistant/status', 'offline');
    await svc.waitForLog((e) => e.msg === 'Home Assistant status' && e.json?.status === 'offline');
    expect(cameOnline()).toBe(0);

    h.mqtt.clear();
    await h.mqtt.publish('homeassistant/status', 'ONLINE');
    await svc.waitForLog((e) => e.msg === 'Home Assistant came online: re-publishing discovery');
    expect((await configsOf(h.mqtt, 'ana', NO_PAD)).size).toBe(NO_PAD);
    expect(cameOnline()).toBe(1);
  });

  it('the break-interval and heat-minutes numbers change the profile through its validation', async () => {
    h = await harness('ha-numbers');
    await h.mqtt.subscribe([`${ha()}/number/#`, `${base()}/users/+/settings`]);
    const svc = await h.start();
    await putUser(svc, 'ana', { breakAfterMinutes: 30, heat: { defaultMinutes: 10, maxMinutes: 15 } });
    await putDevice(svc, 'ana-pad', { userId: 'ana', role: 'heatpad', protocol: 'unknot' });
    const interval = (await h.mqtt.waitFor(`${ha()}/number/unknot_ana/break_interval/config`, nonEmpty)).json as Config;
    const minutes = (await h.mqtt.waitFor(`${ha()}/number/unknot_ana/heat_minutes/config`, nonEmpty)).json as Config;
    const settings = `${base()}/users/ana/settings`;
    expect(interval.state_topic).toBe(settings);
    expect(minutes.state_topic).toBe(settings);
    await h.mqtt.waitFor(settings, (m) => (m.json as { breakAfterMinutes: number }).breakAfterMinutes === 30);
    const profile = async () =>
      (await svc.fetchJson('/api/users/ana')).body as {
        breakAfterMinutes: number;
        heat: { defaultMinutes: number; maxMinutes: number };
      };

    // HA sends the number as text, sometimes with a decimal point.
    await h.mqtt.publish(interval.command_topic!, '45.0');
    await h.mqtt.waitFor(settings, (m) => (m.json as { breakAfterMinutes: number }).breakAfterMinutes === 45);
    expect((await profile()).breakAfterMinutes).toBe(45);
    await h.mqtt.publish(minutes.command_topic!, '12');
    await h.mqtt.waitFor(settings, (m) => (m.json as { heat: { defaultMinutes: number } }).heat.defaultMinutes === 12);
    expect((await profile()).heat).toEqual({ defaultMinutes: 12, maxMinutes: 15 });

    // Out of range (the profile's 10–120; above the person's heat maximum) or not a number: refused, nothing changes.
    await h.mqtt.publish(interval.command_topic!, '5');
    await h.mqtt.publish(minutes.command_topic!, '18');
    await h.mqtt.publish(interval.command_topic!, 'lots');
    await eventually(
      async () => {
        const text = String((await svc.fetchJson('/metrics')).body);
        return text.includes('reason="invalid_profile"} 2') && text.includes('reason="invalid_command"} 1');
      },
      10_000,
      'refusals counted',
    );
    const p = await profile();
    expect(p.breakAfterMinutes).toBe(45);
    expect(p.heat).toEqual({ defaultMinutes: 12, maxMinutes: 15 });
    // The numbers are shown the profile as it stands again.
    const last = h.mqtt.messages(settings).at(-1)!.json as {
      breakAfterMinutes: number;
      heat: { defaultMinutes: number };
    };
    expect(last).toMatchObject({ breakAfterMinutes: 45, heat: { defaultMinutes: 12 } });
    expect((await svc.fetchJson('/healthz')).status).toBe(200);
  });

  it('the start-routine button starts a routine whose progress the state carries, and a second press is refused', async () => {
    h = await harness('ha-routine');
    await h.mqtt.subscribe([`${ha()}/+/unknot_ana/+/config`, `${base()}/users/ana/state`]);
    const svc = await h.start();
    await putUser(svc, 'ana');
    const button = (await h.mqtt.waitFor(`${ha()}/button/unknot_ana/start_routine/config`, nonEmpty)).json as Config;
    const progress = (await h.mqtt.waitFor(`${ha()}/sensor/unknot_ana/routine_progress/config`, nonEmpty))
      .json as Config;
    expect(progress.state_topic).toBe(`${base()}/users/ana/state`);

    await h.mqtt.publish(button.command_topic!, button.payload_press as string);
    const running = await h.mqtt.waitFor(
      `${base()}/users/ana/state`,
      (m) => (m.json as { routine: unknown }).routine !== null,
    );
    const routine = (running.json as { routine: Record<string, unknown> }).routine;
    // What the progress template and its attributes read.
    expect(routine).toMatchObject({
      routineId: expect.any(String),
      index: 0,
      steps: expect.any(Number),
      step: expect.any(String),
      kind: expect.stringMatching(/^(pressure|heat|stretch)$/),
      message: expect.any(String),
    });
    expect(routine.steps as number).toBeGreaterThan(1);
    const api = (await svc.fetchJson('/api/users/ana/routines')).body as { current: { routineId: string } | null };
    expect(api.current?.routineId).toBe(routine.routineId);

    await h.mqtt.publish(button.command_topic!, 'PRESS');
    await svc.waitForLog((e) => e.msg === 'Home Assistant command refused' && e.json?.code === 'routine_running');
    expect(((await svc.fetchJson('/api/users/ana/routines')).body as typeof api).current?.routineId).toBe(
      routine.routineId,
    );
  });
});
