// Every route the running service serves is in the OpenAPI document, and every topic it subscribes to or publishes
// is in the AsyncAPI document: the real service (main()) against the real Redis and broker, driven through a day
// of use (users, devices of each protocol, events, a nudge, heat on each kind of pad, a refused event, deletion).
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildAsyncApi, documentedFilters } from '../../src/http/api-docs/asyncapi.js';
import { buildOpenApi, expressToOpenApiPath } from '../../src/http/api-docs/openapi.js';
import { BULL_BOARD_PATH } from '../../src/http/dashboard.js';
import { main } from '../../src/main.js';
import { MqttGateway } from '../../src/mqtt/gateway.js';
import type { OutboundMessage } from '../../src/domain/types.js';
import { connectClient, type TestMqttClient } from '../support/mqtt-client.js';
import { cleanupRedisPrefix, uniqueNamespace } from '../support/namespace.js';

type Doc = Record<string, any>;

interface RouteLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: RouteLayer[] };
  name?: string;
  rawPath?: string | string[];
  slash?: boolean;
}

/** `METHOD path` of every route in an express 5 app, mounted routers included (router 2.x layers). */
function servedRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: RouteLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const p of [layer.route.path].flat()) {
          for (const [m, on] of Object.entries(layer.route.methods))
            if (on && m !== '_all') out.push(`${m} ${prefix}${p === '/' && prefix ? '' : p}`);
        }
      } else if (layer.handle.stack) {
        const mount = layer.slash || layer.rawPath === undefined ? '' : String(layer.rawPath);
        walk(layer.handle.stack, prefix + (mount === '/' ? '' : mount));
      } else if (layer.name === 'mounted_app') {
        // express wraps a mounted sub-application (bull-board's) so its routes cannot be walked: it answers any
        // method on anything under its path.
        out.push(`* ${prefix}${String(layer.rawPath)}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: RouteLayer[] } }).router.stack, '');
  return out;
}

/** An AsyncAPI address as a topic pattern: multi-level names (Z2M, Shelly) may hold `/`. */
const addressPattern = (address: string) =>
  new RegExp(
    `^${address
      .split(/(\{[A-Za-z0-9_]+\})/)
      .map((part) =>
        part.startsWith('{')
          ? /friendlyName|shellyPrefix/.test(part)
            ? '.+'
            : '[^/]+'
          : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'),
      )
      .join('')}$`,
  );

describe('API documents cover what the service really serves', () => {
  const redisUrl = inject('redisUrl');
  const mqttUrl = inject('mqttUrl');
  const ns = uniqueNamespace('apidocs');
  const roots = { base: ns.baseTopic, z2m: `${ns.baseTopic}-z2m`, haPrefix: `${ns.baseTopic}-ha` };
  const published: OutboundMessage[] = [];
  const subscribed: string[] = [];
  const restore: Array<() => void> = [];
  let svc: Awaited<ReturnType<typeof main>>;
  let client: TestMqttClient;
  let base: string;

  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return {
      status: r.status,
      body: text && r.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as Doc) : text,
    };
  };
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await api(method, path, body);
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
    return r.body as Doc;
  };
  const until = async (what: string, check: () => boolean | Promise<boolean>) => {
    const deadline = Date.now() + 20_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    // Recorded on the real gateway, which still subscribes and publishes as always.
    const proto = MqttGateway.prototype;
    // Kept unbound on purpose: each wrapper calls the original with its own `this`.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const { publish, subscribe, subscribeIngest } = proto;
    proto.publish = function (this: MqttGateway, msg: OutboundMessage) {
      published.push(msg);
      return publish.call(this, msg);
    };
    proto.subscribe = function (this: MqttGateway, filter, ...rest) {
      subscribed.push(filter);
      return subscribe.call(this, filter, ...rest);
    };
    proto.subscribeIngest = function (this: MqttGateway, filters, handler) {
      subscribed.push(...filters);
      return subscribeIngest.call(this, filters, handler);
    };
    restore.push(() => Object.assign(proto, { publish, subscribe, subscribeIngest }));
    svc = await main({
      env: {
        REDIS_URL: redisUrl,
        MQTT_URL: mqttUrl,
        UNKNOT_REDIS_PREFIX: ns.prefix,
        UNKNOT_BASE_TOPIC: roots.base,
        Z2M_BASE_TOPIC: roots.z2m,
        HA_DISCOVERY_PREFIX: roots.haPrefix,
        UNKNOT_HA_DISCOVERY: 'true',
        UNKNOT_TIME_SCALE: '600',
        UNKNOT_API_RATE_LIMIT: '0',
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '0',
        LOG_LEVEL: 'silent',
      },
    });
    base = `http://127.0.0.1:${svc.httpPort}`;
    client = await connectClient(mqttUrl);
  });

  afterAll(async () => {
    await client?.end();
    await svc?.stop();
    for (const r of restore) r();
    await cleanupRedisPrefix(redisUrl, ns.prefix);
  });

  it('documents every route of the express app, and documents no route it does not serve', async () => {
    const doc = buildOpenApi() as Doc;
    const documented = new Set(
      Object.entries(doc.paths as Record<string, Doc>).flatMap(([path, methods]) =>
        Object.keys(methods).map((m) => `${m} ${path}`),
      ),
    );
    const served = servedRoutes(svc.httpApp!).map((r) => {
      const [m, path] = r.split(' ') as [string, string];
      // bull-board serves its own pages and JSON API under its path; the document has one entry for it.
      return path.startsWith(BULL_BOARD_PATH) ? `get ${BULL_BOARD_PATH}` : `${m} ${expressToOpenApiPath(path)}`;
    });
    expect(served.length).toBeGreaterThan(25);
    expect([...new Set(served)].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !served.includes(r))).toEqual([]);
    // The served documents are the built ones, with this instance's topic roots.
    expect((await ok('GET', '/api/openapi.json')).paths).toEqual(doc.paths);
    expect(await ok('GET', '/api/asyncapi.json')).toEqual(buildAsyncApi(roots));
  });

  it('documents every topic filter the service subscribes to, and no other', () => {
    const documented = new Set(documentedFilters(buildAsyncApi(roots)));
    expect(subscribed.length).toBeGreaterThan(5);
    expect([...new Set(subscribed)].filter((f) => !documented.has(f))).toEqual([]);
    expect([...documented].filter((f) => !subscribed.includes(f))).toEqual([]);
  });

  it('documents every topic the service publishes to, with the QoS and retain flag it uses', async () => {
    const u = 'ada';
    const tas = `${ns.baseTopic}-tas`;
    const shelly = `${ns.baseTopic}-sh`;
    await ok('PUT', `/api/users/${u}`, {
      breakAfterMinutes: 10,
      heatCooldownMinutes: 0,
      heat: { defaultMinutes: 20, maxMinutes: 20 },
    });
    await ok('PUT', '/api/devices/watch', { userId: u, role: 'wearable', protocol: 'unknot' });
    await ok('PUT', '/api/devices/pad-native', { userId: u, role: 'heatpad', protocol: 'unknot' });
    await ok('PUT', '/api/devices/pad-z2m', { userId: u, role: 'heatpad', protocol: 'zigbee2mqtt', topic: 'desk/pad' });
    await ok('PUT', '/api/devices/pad-tas', { userId: u, role: 'heatpad', protocol: 'tasmota', topic: tas });
    await ok('PUT', '/api/devices/pad-sh', { userId: u, role: 'heatpad', protocol: 'shelly', topic: shelly });
    await ok('PUT', '/api/devices/chair', { userId: u, role: 'chair', protocol: 'zigbee2mqtt', topic: 'desk/chair' });

    // Sitting (Z2M chair) until a nudge goes out: 10 policy minutes are 1 s at time scale 600.
    await client.publish(`${roots.z2m}/desk/chair`, { occupancy: true });
    await until('a nudge', () => published.some((m) => m.topic === `${roots.base}/users/${u}/nudge`));
    // Heat on each kind of pad: its ON command goes out (from the heat job), then heat is switched off (by hand, or
    // by the timer if that came first on a slow machine).
    const onTopics: Record<string, string> = {
      'pad-native': `${roots.base}/devices/pad-native/command`,
      'pad-z2m': `${roots.z2m}/desk/pad/set`,
      'pad-tas': `cmnd/${tas}/Backlog`,
      'pad-sh': `${shelly}/rpc`,
    };
    for (const [deviceId, topic] of Object.entries(onTopics)) {
      await ok('POST', `/api/users/${u}/heat`, { minutes: 20, deviceId });
      await until(`the ON to ${deviceId}`, () => published.some((m) => m.topic === topic));
      expect([200, 404]).toContain((await api('DELETE', `/api/users/${u}/heat`)).status);
      await until(`heat off on ${deviceId}`, async () => (await ok('GET', `/api/users/${u}/heat`)).on === false);
    }
    // A refused event of a known device is answered on its error topic.
    await client.publish(`${roots.base}/devices/watch/event`, { type: 'posture', posture: 'flying' });
    await until('an error answer', () => published.some((m) => m.topic === `${roots.base}/devices/watch/error`));
    await until('the adherence topic', () => published.some((m) => m.topic === `${roots.base}/users/${u}/adherence`));
    await ok('DELETE', `/api/users/${u}`);

    const doc = buildAsyncApi(roots) as Doc;
    const sends = Object.values(doc.operations as Record<string, Doc>)
      .filter((o) => o.action === 'send')
      .map((o) => {
        const channel = doc.channels[String(o.channel.$ref).split('/').pop()!];
        return { address: channel.address as string, pattern: addressPattern(channel.address), mqtt: o.bindings.mqtt };
      });
    const kinds = new Set<string>();
    for (const m of published) {
      const hit = sends.find((s) => s.pattern.test(m.topic));
      expect(hit, `unknot published to ${m.topic}, which the AsyncAPI document does not name`).toBeDefined();
      kinds.add(hit!.address);
      expect(m.qos, m.topic).toBe(hit!.mqtt.qos);
      // Clearing a retained topic is an empty retained message on a topic documented as retained.
      expect(m.retain ?? false, m.topic).toBe(hit!.mqtt.retain);
    }
    // The run really went through the protocols: commands to each kind of pad, HA discovery, nudges.
    for (const address of [
      '{shellyPrefix}/rpc',
      'cmnd/{tasmotaTopic}/Backlog',
      'cmnd/{tasmotaTopic}/POWER',
      `${roots.z2m}/{friendlyName}/set`,
      `${roots.base}/devices/{deviceId}/command`,
      `${roots.haPrefix}/{component}/{nodeId}/{objectId}/config`,
      `${roots.base}/users/{userId}/nudge`,
      `${roots.base}/users/{userId}/last-heat-off`,
    ]) {
      expect(kinds, address).toContain(address);
    }
  });
});

describe('served API documents', () => {
  it('are behind the same bearer token as the rest of /api', async () => {
    const ns = uniqueNamespace('apidocs-auth');
    const token = 'apidocs-test-token-0123456789';
    const svc = await main({
      roles: ['api'],
      env: {
        REDIS_URL: inject('redisUrl'),
        MQTT_URL: inject('mqttUrl'),
        UNKNOT_REDIS_PREFIX: ns.prefix,
        UNKNOT_BASE_TOPIC: ns.baseTopic,
        UNKNOT_HA_DISCOVERY: 'false',
        UNKNOT_API_TOKEN: token,
        UNKNOT_API_RATE_LIMIT: '0',
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '0',
        LOG_LEVEL: 'silent',
      },
    });
    try {
      const url = (p: string) => `http://127.0.0.1:${svc.httpPort}${p}`;
      for (const doc of ['/api/openapi.json', '/api/asyncapi.json']) {
        const refused = await fetch(url(doc));
        expect(refused.status, doc).toBe(401);
        expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(((await refused.json()) as Doc).error).toBe('unauthorized');
        const wrong = await fetch(url(doc), { headers: { authorization: 'Bearer not-the-token-at-all' } });
        expect(wrong.status, doc).toBe(401);
        const shown = await fetch(url(doc), { headers: { authorization: `Bearer ${token}` } });
        expect(shown.status, doc).toBe(200);
        expect(Object.keys((await shown.json()) as Doc)).toContain('info');
      }
    } finally {
      await svc.stop();
      await cleanupRedisPrefix(inject('redisUrl'), ns.prefix);
    }
  });
});
