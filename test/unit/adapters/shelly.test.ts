// Shelly Gen2/Gen3. Payloads follow shelly-api-docs.shelly.cloud/gen2 (General/RPCProtocol, General/Notifications,
// ComponentsAndServices/Mqtt, ComponentsAndServices/Switch), as summarised in docs/integrations/shelly.md.
import { describe, expect, it } from 'vitest';
import { describeShellyReply, rpcIdFor, shellyAdapter as adapter } from '../../../src/adapters/shelly.js';
import type { Command, Device } from '../../../src/domain/types.js';
import { GARBAGE, NOW, bytes, ctx, device, json, observations, rejection, topics } from './fixtures.js';

const ID = 'shellyplus1pm-a8032ab12345';
const pad = device('shelly', 'heatpad', { topic: ID });
const chair = device('shelly', 'chair', { topic: 'home/chair-relay' });

const parse = (d: Device, kind: string, payload: Buffer) =>
  adapter.parse(d, { protocol: 'shelly', key: d.topic ?? '', kind }, payload, ctx);

/** Switch.GetStatus shape, published on <prefix>/status/switch:0 (Switch component docs). */
const switchStatus = (output: boolean) =>
  json({
    id: 0,
    source: 'MQTT',
    output,
    timer_started_at: 1738315800.12,
    timer_duration: 600,
    apower: output ? 45.2 : 0,
    voltage: 230.1,
    current: output ? 0.197 : 0,
    aenergy: { total: 12.345, by_minute: [0, 0, 0], minute_ts: 1738315800 },
    temperature: { tC: 40.1, tF: 104.2 },
  });

describe('shelly adapter: topics', () => {
  it('subscribes to status, online and events for prefixes of one or two levels, and to our reply topic', () => {
    const components = ['switch:0', 'switch:1', 'switch:2', 'switch:3', 'input:0', 'input:1', 'input:2', 'input:3'];
    expect(adapter.subscriptions(topics).sort()).toEqual(
      [
        ...components.flatMap((c) => [`+/status/${c}`, `+/+/status/${c}`]),
        '+/online',
        '+/+/online',
        '+/events/rpc',
        '+/+/events/rpc',
        'unknot/shelly/rpc',
      ].sort(),
    );
  });

  it.each([
    [`${ID}/status/switch:0`, ID, 'status/switch:0'],
    ['home/chair-relay/status/switch:0', 'home/chair-relay', 'status/switch:0'],
    [`${ID}/status/switch:1`, ID, 'status/switch:1'],
    ['shellyplusi4-c4d8d5561234/status/input:0', 'shellyplusi4-c4d8d5561234', 'status/input:0'],
    ['home/i4/status/input:3', 'home/i4', 'status/input:3'],
    [`${ID}/online`, ID, 'online'],
    ['home/chair-relay/online', 'home/chair-relay', 'online'],
    [`${ID}/events/rpc`, ID, 'events'],
    ['home/chair-relay/events/rpc', 'home/chair-relay', 'events'],
  ])('matches %s (key %s, kind %s)', (topic, key, kind) => {
    expect(adapter.match(topic, topics)).toEqual({ protocol: 'shelly', key, kind });
  });

  it('matches replies to our calls on <src>/rpc', () => {
    expect(adapter.match('unknot/shelly/rpc', topics)).toEqual({
      protocol: 'shelly',
      key: 'unknot/shelly',
      kind: 'rpc_reply',
    });
  });

  it('ignores our own RPC requests, other components and deeper prefixes', () => {
    for (const topic of [
      `${ID}/rpc`,
      topics.shellyRpc(ID),
      `${ID}/status/switch:4`,
      `${ID}/status/input:4`,
      `${ID}/status/sys`,
      `${ID}/status`,
      'a/b/c/status/switch:0',
      'a/b/c/online',
      'status/switch:0',
      'online',
      '+/online',
      '/online',
      'events/rpc',
    ]) {
      expect(adapter.match(topic, topics), topic).toBeNull();
    }
  });
});

describe('shelly adapter: switch status', () => {
  it('output true / false → heat on / off for a heat pad', () => {
    expect(observations(parse(pad, 'status/switch:0', switchStatus(true)))).toEqual([
      { type: 'heat', state: 'on', at: NOW },
    ]);
    expect(observations(parse(pad, 'status/switch:0', switchStatus(false)))).toEqual([
      { type: 'heat', state: 'off', at: NOW },
    ]);
  });

  it('output true / false → sitting / away for a chair switch; invert flips it', () => {
    expect(observations(parse(chair, 'status/switch:0', switchStatus(true)))).toEqual([
      { type: 'posture', posture: 'sitting', at: NOW },
    ]);
    expect(observations(parse(chair, 'status/switch:0', switchStatus(false)))[0]).toMatchObject({ posture: 'away' });
    expect(observations(parse({ ...chair, invert: true }, 'status/switch:0', switchStatus(true)))[0]).toMatchObject({
      posture: 'away',
    });
  });

  it('a status without output says nothing; a non-object is rejected', () => {
    expect(observations(parse(pad, 'status/switch:0', json({ id: 0, temperature: { tC: 40 } })))).toEqual([]);
    expect(rejection(parse(pad, 'status/switch:0', bytes('true'))).code).toBe('invalid_event');
    expect(rejection(parse(pad, 'status/switch:0', bytes('on'))).code).toBe('not_json');
  });
});

describe('shelly adapter: events/rpc notifications', () => {
  it('NotifyStatus with switch:0 output', () => {
    // General/Notifications: NotifyStatus params carry ts and the changed part of each component's status.
    const frame = json({
      src: ID,
      dst: `${ID}/events`,
      method: 'NotifyStatus',
      params: { ts: 1738315800.12, 'switch:0': { id: 0, output: true, source: 'MQTT' } },
    });
    expect(observations(parse(pad, 'events', frame))).toEqual([{ type: 'heat', state: 'on', at: NOW }]);
  });

  it('NotifyStatus without output (a power reading) says nothing', () => {
    const frame = json({
      src: ID,
      dst: `${ID}/events`,
      method: 'NotifyStatus',
      params: { ts: 1738315860.5, 'switch:0': { id: 0, apower: 44.9 } },
    });
    expect(observations(parse(pad, 'events', frame))).toEqual([]);
  });

  it('NotifyEvent (a button push) says nothing', () => {
    const frame = json({
      src: ID,
      dst: `${ID}/events`,
      method: 'NotifyEvent',
      params: { ts: 1738315800.1, events: [{ component: 'input:0', id: 0, event: 'single_push', ts: 1738315800.1 }] },
    });
    expect(observations(parse(pad, 'events', frame))).toEqual([]);
  });
});

describe('shelly adapter: online', () => {
  it('true / false → availability', () => {
    expect(observations(parse(pad, 'online', bytes('true')))).toEqual([
      { type: 'availability', online: true, at: NOW },
    ]);
    expect(observations(parse(pad, 'online', bytes('false')))).toEqual([
      { type: 'availability', online: false, at: NOW },
    ]);
  });

  it('rejects anything else', () => {
    expect(rejection(parse(pad, 'online', bytes('online'))).code).toBe('invalid_event');
  });
});

describe('shelly adapter: RPC replies', () => {
  // General/RPCProtocol: a response frame has id, src, dst and either result or error {code, message}.
  const success = { id: 1375086133, src: ID, dst: 'unknot/shelly', result: { was_on: false } };
  const failure = {
    id: 1375086133,
    src: ID,
    dst: 'unknot/shelly',
    error: { code: -103, message: "Invalid argument 'id': no such component" },
  };

  it('a success or an error reply is ok with no observations (the caller logs it)', () => {
    expect(observations(parse(pad, 'rpc_reply', json(success)))).toEqual([]);
    expect(observations(parse(pad, 'rpc_reply', json(failure)))).toEqual([]);
    expect(rejection(parse(pad, 'rpc_reply', bytes('nope'))).code).toBe('not_json');
  });

  it('describes a reply for the log', () => {
    expect(describeShellyReply(success)).toEqual({ id: 1375086133, src: ID });
    expect(describeShellyReply(failure)).toEqual({
      id: 1375086133,
      src: ID,
      error: { code: -103, message: "Invalid argument 'id': no such component" },
    });
  });
});

describe('shelly adapter: bad input', () => {
  it.each(GARBAGE)('never throws on %s', (_what, payload) => {
    for (const d of [pad, chair]) {
      for (const kind of ['status/switch:0', 'events', 'online', 'rpc_reply', 'bogus']) {
        const result = parse(d, kind, payload);
        expect(typeof result.ok).toBe('boolean');
        if (!result.ok) expect(['too_large', 'not_json', 'invalid_event']).toContain(result.code);
      }
    }
  });
});

describe('shelly adapter: format', () => {
  const heatOn: Command = { command: 'heat', state: 'on', sessionId: 'sess-42', autoOffSeconds: 600 };
  const heatOff: Command = { command: 'heat', state: 'off', sessionId: 'sess-42', reason: 'watchdog' };

  it('heat on: Switch.Set with toggle_after, replies to unknot/shelly, QoS 1', () => {
    const [msg, ...rest] = adapter.format(pad, heatOn, topics);
    expect(rest).toEqual([]);
    expect(msg?.topic).toBe(`${ID}/rpc`);
    expect(msg?.qos).toBe(1);
    expect(JSON.parse(msg?.payload ?? '')).toEqual({
      id: rpcIdFor('sess-42', 'on'),
      src: 'unknot/shelly',
      method: 'Switch.Set',
      params: { id: 0, on: true, toggle_after: 600 },
    });
  });

  it('heat off: Switch.Set on:false', () => {
    const [msg] = adapter.format(pad, heatOff, topics);
    expect(JSON.parse(msg?.payload ?? '')).toEqual({
      id: rpcIdFor('sess-42', 'off'),
      src: 'unknot/shelly',
      method: 'Switch.Set',
      params: { id: 0, on: false },
    });
  });

  it('request ids are deterministic positive int32s, distinct for on and off', () => {
    expect(rpcIdFor('sess-42', 'on')).toBe(rpcIdFor('sess-42', 'on'));
    expect(rpcIdFor('sess-42', 'on')).not.toBe(rpcIdFor('sess-42', 'off'));
    for (const s of ['', 'a', 'sess-1', 'x'.repeat(1000)]) {
      const id = rpcIdFor(s, 'on');
      expect(Number.isInteger(id) && id >= 1 && id <= 0x7fffffff).toBe(true);
    }
  });

  it('uses a two-level prefix as given', () => {
    const twoLevel = { ...pad, topic: 'home/heat-pad' };
    expect(adapter.format(twoLevel, heatOn, topics)[0]?.topic).toBe('home/heat-pad/rpc');
  });

  it('never switches a chair switch, and sends nothing for nudges', () => {
    expect(adapter.format(chair, heatOn, topics)).toEqual([]);
    expect(adapter.format(pad, { command: 'nudge', nudgeId: 'n', level: 1, message: 'up' }, topics)).toEqual([]);
  });
});

describe('shelly adapter: inputs and channels (issue 14)', () => {
  const i4 = device('shelly', 'chair', { topic: 'shellyplusi4-c4d8d5561234' });
  const p = (d: Device, kind: string, payload: Buffer) =>
    adapter.parse(d, { protocol: 'shelly', key: d.topic ?? '', kind }, payload, ctx);

  it('status/input:0 {"id":0,"state":true} is sitting; a button input (state null) says nothing', () => {
    expect(observations(p(i4, 'status/input:0', json({ id: 0, state: true })))).toEqual([
      { type: 'posture', posture: 'sitting', at: NOW },
    ]);
    expect(observations(p(i4, 'status/input:0', json({ id: 0, state: false })))[0]).toMatchObject({ posture: 'away' });
    expect(observations(p(i4, 'status/input:0', json({ id: 0, state: null })))).toEqual([]);
    // Another input is not this device's; inputs say nothing for a heat pad.
    expect(observations(p(i4, 'status/input:1', json({ id: 1, state: true })))).toEqual([]);
    expect(observations(p(pad, 'status/input:0', json({ id: 0, state: true })))).toEqual([]);
  });

  it('NotifyStatus: input:<channel-1> and switch:<channel-1> only', () => {
    const ch3 = { ...i4, channel: 3 };
    const notify = (params: object) => json({ src: 'x', dst: 'x/events', method: 'NotifyStatus', params });
    expect(observations(p(ch3, 'events', notify({ ts: 1, 'input:0': { id: 0, state: true } })))).toEqual([]);
    expect(observations(p(ch3, 'events', notify({ ts: 1, 'input:2': { id: 2, state: true } })))).toEqual([
      { type: 'posture', posture: 'sitting', at: NOW },
    ]);
    const pad2 = { ...pad, channel: 2 };
    expect(
      observations(p(pad2, 'events', notify({ 'switch:0': { output: true }, 'switch:1': { output: false } }))),
    ).toEqual([{ type: 'heat', state: 'off', at: NOW }]);
    expect(observations(p(pad2, 'status/switch:0', switchStatus(true)))).toEqual([]);
  });

  it('an empty payload on a status or online topic says nothing; on events it is still refused', () => {
    expect(observations(p(i4, 'status/input:0', Buffer.alloc(0)))).toEqual([]);
    expect(observations(p(i4, 'online', Buffer.alloc(0)))).toEqual([]);
    expect(rejection(p(i4, 'events', Buffer.alloc(0))).code).toBe('not_json');
  });

  it('Switch.Set for channel 2 is id 1; autoOff none leaves toggle_after out', () => {
    const on = (d: Device) =>
      JSON.parse(
        adapter.format(d, { command: 'heat', state: 'on', sessionId: 's', autoOffSeconds: 600 }, topics)[0]!.payload,
      ) as { params: unknown };
    expect(on({ ...pad, channel: 2 }).params).toEqual({ id: 1, on: true, toggle_after: 600 });
    expect(on({ ...pad, channel: 2, autoOff: 'none' }).params).toEqual({ id: 1, on: true });
    expect(on(pad).params).toEqual({ id: 0, on: true, toggle_after: 600 });
  });
});
