// The Home Assistant blueprints shipped in blueprints/automation/unknot (docs/integrations/home-assistant.md#blueprints):
// each is YAML of the blueprint schema (blueprint: name, domain, input; triggers; actions), every `!input` it uses is
// one it declares, and the entities, event type, attributes and button it relies on are the ones the real service
// announces and publishes. Nothing here is hard-coded: the entity rows come from src/mqtt/ha-entities.ts and the
// payloads from a running service.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, type ScalarTag } from 'yaml';
import { ENTITIES } from '../../src/mqtt/ha-entities.js';
import { harness, putDevice, putUser, type Harness } from '../support/unknot.js';

const DIR = join(import.meta.dirname, '../../blueprints/automation/unknot');

/** `!input name`, as Home Assistant's YAML loader reads it. */
class InputRef {
  constructor(readonly name: string) {}
}
const inputTag: ScalarTag = {
  tag: '!input',
  identify: (v) => v instanceof InputRef,
  resolve: (name: string) => new InputRef(name),
};

type Selector = Record<string, { filter?: Array<{ integration?: string; domain?: string }> } | null>;
interface Blueprint {
  blueprint: {
    name: string;
    description?: string;
    domain: string;
    input: Record<string, { name: string; description?: string; selector: Selector; default?: unknown }>;
  };
  triggers: unknown[];
  conditions?: unknown[];
  actions: unknown[];
  mode?: string;
}

const load = (file: string) => parse(readFileSync(join(DIR, file), 'utf8'), { customTags: [inputTag] }) as Blueprint;

function walk(node: unknown, visit: (v: unknown) => void): void {
  visit(node);
  if (Array.isArray(node)) for (const x of node) walk(x, visit);
  else if (node && typeof node === 'object' && !(node instanceof InputRef))
    for (const x of Object.values(node)) walk(x, visit);
}
const inputsUsed = (bp: Blueprint) => {
  const names = new Set<string>();
  walk(bp, (v) => v instanceof InputRef && names.add(v.name));
  return names;
};
const templateText = (bp: Blueprint) => {
  const parts: string[] = [];
  walk(
    { triggers: bp.triggers, conditions: bp.conditions, actions: bp.actions, variables: (bp as never)['variables'] },
    (v) => {
      if (typeof v === 'string') parts.push(v);
    },
  );
  return parts.join('\n');
};
/** `trigger.to_state.attributes.<name>` (and `new.<name>` after `set new = trigger.to_state.attributes`). */
const attributesRead = (bp: Blueprint) => {
  const text = templateText(bp);
  const names = new Set([...text.matchAll(/trigger\.to_state\.attributes\.(\w+)/g)].map((m) => m[1]!));
  for (const m of text.matchAll(/\b(?:new|old)\.(\w+)/g)) names.add(m[1]!);
  return names;
};

/**
 * The unknot entities a blueprint's inputs ask for: an input whose selector is an MQTT entity of one domain, and whose
 * description names it as `<domain>.unknot_<person>_<object>`.
 */
function unknotInputs(bp: Blueprint) {
  return Object.entries(bp.blueprint.input).flatMap(([key, input]) => {
    const filter = input.selector.entity?.filter?.[0];
    if (filter?.integration !== 'mqtt') return [];
    const m = /\b([a-z_]+)\.unknot_<person>_([a-z_]+)\b/.exec(input.description ?? '');
    expect(m, `input ${key} names the entity it wants`).not.toBeNull();
    return [{ key, domain: filter.domain!, component: m![1]!, object: m![2]! }];
  });
}

const FILES = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

describe('Home Assistant blueprints', () => {
  it('ships the nudge and routine blueprints', () => {
    expect(FILES.sort()).toEqual(['nudge_notification.yaml', 'routine_announcement.yaml']);
  });

  for (const file of FILES) {
    it(`${file} is an automation blueprint of the schema HA requires, and uses only inputs it declares`, () => {
      const bp = load(file);
      expect(typeof bp.blueprint.name).toBe('string');
      expect(bp.blueprint.name.length).toBeGreaterThan(0);
      expect(bp.blueprint.domain).toBe('automation');
      const declared = Object.keys(bp.blueprint.input);
      expect(declared.length).toBeGreaterThan(0);
      for (const [key, input] of Object.entries(bp.blueprint.input)) {
        expect(typeof input.name, key).toBe('string');
        expect(Object.keys(input.selector), key).toHaveLength(1);
      }
      expect(Array.isArray(bp.triggers) && bp.triggers.length).toBeTruthy();
      expect(Array.isArray(bp.actions) && bp.actions.length).toBeTruthy();
      expect(['single', 'restart', 'queued', 'parallel']).toContain(bp.mode ?? 'single');
      expect([...inputsUsed(bp)].sort()).toEqual([...declared].sort());
      // Every unknot entity it asks for is a row of the entity table, of the domain its selector allows.
      for (const u of unknotInputs(bp)) {
        expect(u.component).toBe(u.domain);
        expect(
          ENTITIES.some((e) => e.component === u.component && e.object === u.object),
          u.key,
        ).toBe(true);
      }
    });
  }

  it('refuses a broken blueprint (the checks can fail)', () => {
    const bp = load('nudge_notification.yaml');
    delete (bp.blueprint.input as Record<string, unknown>).snooze_button;
    expect([...inputsUsed(bp)].sort()).not.toEqual(Object.keys(bp.blueprint.input).sort());
  });
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('Home Assistant blueprints against the real service', () => {
  it('use entity ids, an event type, attributes and a snooze button that unknot really announces and publishes', async () => {
    h = await harness('ha-blueprints');
    const ha = h.env.HA_DISCOVERY_PREFIX!;
    const base = h.ns.baseTopic;
    await h.mqtt.subscribe([`${ha}/#`, `${base}/users/ana/#`]);
    const svc = await h.start();
    await putUser(svc, 'ana', { breakAfterMinutes: 10, snoozeMinutes: 30 });
    await putDevice(svc, 'ana-desk', { userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'office/fp1' });
    const config = async (component: string, object: string) =>
      (await h!.mqtt.waitFor(`${ha}/${component}/unknot_ana/${object}/config`, (m) => m.payload !== '')).json as Record<
        string,
        unknown
      >;

    const nudgeBp = load('nudge_notification.yaml');
    const routineBp = load('routine_announcement.yaml');
    const configs = new Map<string, Record<string, unknown>>();
    for (const bp of [nudgeBp, routineBp]) {
      for (const u of unknotInputs(bp)) {
        const cfg = await config(u.component, u.object);
        // The entity id the blueprint's description promises, for the person `ana`.
        expect(cfg.default_entity_id).toBe(`${u.component}.unknot_ana_${u.object}`);
        configs.set(u.key, cfg);
      }
    }

    // Nudge: the event entity fires with event type `nudge` and the payload's other fields as attributes.
    const event = configs.get('nudge_event')!;
    expect(templateText(nudgeBp)).toContain("event_type == 'nudge'");
    expect(event.event_types).toEqual(['nudge']);
    await h.mqtt.publish(`${h.env.Z2M_BASE_TOPIC}/office/fp1`, { presence: true });
    const nudge = (await h.mqtt.waitFor(event.state_topic as string, 15_000)).json as Record<string, unknown>;
    expect(nudge.event_type).toBe('nudge');
    for (const a of attributesRead(nudgeBp)) expect(Object.keys(nudge), `nudge attribute ${a}`).toContain(a);

    // The notification's Snooze presses the button: HA publishes payload_press on its command topic.
    const button = configs.get('snooze_button')!;
    await h.mqtt.publish(button.command_topic as string, button.payload_press as string);
    await h.mqtt.waitFor(`${base}/users/ana/state`, (m) => (m.json as { snoozes: number }).snoozes === 1);

    // Routine: the progress sensor's attributes are the state's `routine`; what the blueprint reads is in it.
    const progress = configs.get('routine_progress')!;
    expect(progress.json_attributes_topic).toBe(`${base}/users/ana/state`);
    expect(progress.json_attributes_template).toContain('value_json.routine');
    const start = await config('button', 'start_routine');
    await h.mqtt.publish(start.command_topic as string, start.payload_press as string);
    const state = await h.mqtt.waitFor(
      `${base}/users/ana/state`,
      (m) => (m.json as { routine: unknown }).routine !== null,
    );
    const routine = (state.json as { routine: Record<string, unknown> }).routine;
    for (const a of attributesRead(routineBp)) expect(Object.keys(routine), `routine attribute ${a}`).toContain(a);
    expect(typeof routine.message).toBe('string');
  });
});
