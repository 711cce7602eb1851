// Fuzzing the HTTP API of a real service: generated bodies (near-valid fields, random JSON, malformed text, wrong
// content types and charsets, broken compression, oversize), query strings and path ids for every endpoint that
// takes them. Every refusal is a 4xx with {"error": code, "detail": sentence}, never a 5xx or a hang, and leaves
// the stored profile, devices, live state and adherence log as they were. A generated body that happens to be
// valid may succeed; the state it leaves is then the new baseline.
import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchTopic } from '../../src/adapters/index.js';
import { isValidId, type Device } from '../../src/domain/types.js';
import { Topics } from '../../src/mqtt/topics.js';
import type { ServiceHandle } from '../support/service-process.js';
import { eventually, harness, putDevice, putUser, sleep, type Harness } from '../support/unknot.js';
import { HOSTILE_KEYS, hostileObjectText, objectText, wrongValueText } from './payloads.js';
import { FUZZ_SCALE, scaled, tally } from './tally.js';

const counts = tally('http-api');
/** Heat refusals are logged as `heat_refused` by design (docs/concepts/heat-safety.md, "Limits and refusals"): the one allowed change. */
const HEAT_REFUSALS = ['no_heat_pad', 'contraindicated', 'invalid_minutes', 'too_long', 'already_on', 'cooling_down'];
const KNOWN_IDS = ['ana', 'ana-desk', 'ana-pad'];
// No heat cool-down: a short heat session a generated request started can be stopped without blocking the next.
const PROFILE = { breakAfterMinutes: 120, timezone: 'Europe/Vienna', heatCooldownMinutes: 0 };

let h: Harness;
let svc: ServiceHandle;

beforeAll(async () => {
  h = await harness('fzhttp', { UNKNOT_TIME_SCALE: '1', UNKNOT_HA_DISCOVERY: 'false', UNKNOT_API_RATE_LIMIT: '0' });
  svc = await h.start();
  await putUser(svc, 'ana', PROFILE);
  await putDevice(svc, 'ana-desk', { userId: 'ana', role: 'desk', protocol: 'unknot' });
  await putDevice(svc, 'ana-pad', {
    userId: 'ana',
    role: 'heatpad',
    protocol: 'tasmota',
    topic: `${h.ns.baseTopic}-pad`,
  });
  await h.mqtt.publish(`${h.ns.baseTopic}/devices/ana-desk/event`, { type: 'posture', posture: 'sitting' });
  await eventually(
    async () =>
      ((await svc.fetchJson('/api/users/ana')).body as { state: { posture: string } }).state.posture === 'sitting' ||
      undefined,
    10_000,
    'ana seated',
  );
}, 60_000 * FUZZ_SCALE);

afterAll(async () => {
  counts.flush();
  await h?.close();
});

// ------------------------------------------------------------------------------------------ requests

interface Req {
  method: string;
  path: string;
  body?: Buffer;
  headers: Record<string, string>;
  /** What kind of body this is, for messages. */
  kind: string;
  /** True when no valid request can look like this: a 2xx answer is a bug. */
  mustFail: boolean;
  /** The user a path names, when it is an allowed id: once created by an earlier PUT, requests about it may succeed. */
  pathUser?: string;
  /** Served by a third-party router (bull-board) with its own error shape. */
  foreign?: boolean;
  /** Sent exactly as given (Host included) over node:http, to the token-guarded service when `viaToken`. */
  raw?: boolean;
  viaToken?: boolean;
  /** The browser-facing refusal this request must get (unknown_host, foreign_origin, …), or none at all when unset. */
  refusal?: string;
}

/** What the browser guard and the token answer before any route: a request the guard lets through gets none of these. */
const GUARD_CODES = ['unknown_host', 'missing_host', 'foreign_origin', 'unsupported_media_type'];
const TOKEN = 'fuzz-token-0123456789abcdef';
/** The same data as `svc` (same Redis prefix), with UNKNOT_API_TOKEN set: started by the browser-header phase. */
let tokenSvc: ServiceHandle | undefined;

/** One request with exactly these headers (fetch would not let us choose Host). */
function sendRaw(target: ServiceHandle, req: Req): Promise<Awaited<ReturnType<ServiceHandle['fetchJson']>>> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, ...(req.body ? { 'content-length': String(req.body.length) } : {}) };
    const r = request(
      {
        host: '127.0.0.1',
        port: target.httpPort,
        method: req.method,
        path: req.path,
        headers,
        setHost: false,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text === '' ? '' : JSON.parse(text);
          } catch {
            body = text;
          }
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
          resolve({ status: res.statusCode ?? 0, body, headers: h });
        });
      },
    );
    r.on('timeout', () => r.destroy(new Error('timed out')));
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Users the fuzzing itself created (PUT /api/users/{id} with a valid id and body). */
const createdUsers = new Set<string>();

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const JSON_TYPE = { 'content-type': 'application/json' };

/** A body that is not a JSON object can never be valid; an object may be. Empty means "no body" (= {}). */
function mustFailText(text: string): boolean {
  if (text === '') return false;
  try {
    // A byte-order mark before the JSON is allowed (body-parser drops it).
    const v: unknown = JSON.parse(text.replace(/^\ufeff/, ''));
    return typeof v !== 'object' || v === null || Array.isArray(v);
  } catch {
    return true;
  }
}

/** Random bytes sent as `enc`: invalid unless they happen to inflate (brotli has no header, so short runs may). */
function mustFailCompressed(bytes: Buffer, enc: string): boolean {
  if (enc !== 'gzip' && enc !== 'br') return true;
  try {
    return mustFailText((enc === 'gzip' ? gunzipSync(bytes) : brotliDecompressSync(bytes)).toString('utf8'));
  } catch {
    return true;
  }
}

/** An object of the endpoint's fields (each with right or wrong values), some hostile keys, sometimes missing fields. */
function fieldsBody(fields: Record<string, readonly string[]>): fc.Arbitrary<string> {
  const entries = Object.entries(fields).map(([key, good]) =>
    fc
      .option(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: wrongValueText }), {
        nil: undefined,
        freq: 3,
      })
      .map((v): Array<[string, string]> => (v === undefined ? [] : [[key, v]])),
  );
  return fc
    .tuple(
      fc.tuple(...entries),
      fc.array(fc.tuple(fc.constantFrom(...HOSTILE_KEYS, 'extra', 'userId'), wrongValueText), { maxLength: 2 }),
      fc.nat(9),
    )
    .map(([parts, extra, n]) => objectText([...parts.flat(), ...(n < 2 ? extra : [])]));
}

/** Every kind of body for one endpoint, with the headers it is sent with. */
function bodies(fields: Record<string, readonly string[]>): fc.Arbitrary<Omit<Req, 'method' | 'path'>> {
  const json = (text: string, kind: string, headers: Record<string, string> = JSON_TYPE) => ({
    body: utf8(text),
    headers,
    kind,
    mustFail: mustFailText(text),
  });
  return fc.oneof(
    { weight: 8, arbitrary: fieldsBody(fields).map((t) => json(t, 'fields')) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => json(JSON.stringify(v) ?? 'null', 'json value')) },
    { weight: 1, arbitrary: hostileObjectText.map((t) => json(t, 'hostile object')) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            '',
            ' ',
            '{',
            '{"level":',
            "{'a':1}",
            '{"a":1}}',
            '{"a":NaN}',
            '{"minutes":1e309}',
            '{"minutes":Infinity}',
            'null',
            'true',
            '"text"',
            '[]',
            '\ufeff{}',
            '{"a":"\\x41"}',
          ),
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc.string({ maxLength: 60 }).map((s) => `{${s}`),
        )
        .map((t) => json(t, 'malformed')),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fieldsBody(fields),
          fc.constantFrom(
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/octet-stream',
            'a/b/c;;;',
            'application/json; charset=utf-8',
            '',
          ),
        )
        // Only JSON reaches a route (a page may send the others cross-site without asking): anything else is a 415.
        .map(([t, type]) => ({
          ...json(t, `content-type ${JSON.stringify(type)}`, type === '' ? {} : { 'content-type': type }),
          ...(type.startsWith('application/json') ? {} : { mustFail: true }),
        })),
    },
    {
      weight: 1,
      // body-parser reads only UTF-8 (and UTF-16/32, which these bytes are not): anything else is a 415.
      arbitrary: fc
        .tuple(fieldsBody(fields), fc.constantFrom('latin1', 'iso-8859-1', 'us-ascii', 'koi8-r', 'x-unknown'))
        .map(([t, charset]) => ({
          body: utf8(t),
          headers: { 'content-type': `application/json; charset=${charset}` },
          kind: `charset ${charset}`,
          mustFail: true,
        })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.uint8Array({ minLength: 1, maxLength: 60 }), fc.constantFrom('gzip', 'br', 'x-foo', 'compress'))
        .map(([bytes, enc]) => ({
          body: Buffer.from(bytes),
          headers: { ...JSON_TYPE, 'content-encoding': enc },
          kind: `${enc} bytes`,
          mustFail: mustFailCompressed(Buffer.from(bytes), enc),
        })),
    },
    {
      weight: 1,
      arbitrary: fieldsBody(fields).map((t) => ({
        body: gzipSync(utf8(t)),
        headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
        kind: 'gzip',
        mustFail: mustFailText(t),
      })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 64 * 1024 + 1, max: 200 * 1024 }).map((size) => ({
        body: utf8(`{"note":"${'x'.repeat(size)}"}`),
        headers: JSON_TYPE,
        kind: `oversize ${size} bytes`,
        mustFail: true,
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fieldsBody(fields), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82]))
        .map(([t, bad]) => {
          const body = Buffer.concat([utf8(t.slice(0, -1)), utf8(',"x":"'), Buffer.from(bad), utf8('"}')]);
          return { body, headers: JSON_TYPE, kind: 'not UTF-8', mustFail: mustFailText(body.toString('utf8')) };
        }),
    },
  );
}

const long = (n: number) => JSON.stringify('x'.repeat(n));
const FIELDS = {
  profile: {
    timezone: ['"UTC"', '"Europe/Berlin"', '"Mars/Olympus"', '"utc"', '"Etc/GMT+14"', '""', '"Europe/../etc"'],
    breakAfterMinutes: ['10', '120', '9', '121', '30.5', '"30"', '1e309'],
    minBreakSeconds: ['30', '1800', '29', '1801'],
    escalateAfterMinutes: ['1', '30', '0', '31'],
    maxNudges: ['1', '5', '0', '6'],
    snoozeMinutes: ['1', '60', '0', '61'],
    maxSnoozes: ['0', '5', '-1', '6'],
    activeHours: [
      '{"days":[1,2,3],"start":"08:00","end":"18:00"}',
      '{"days":[],"start":"08:00","end":"18:00"}',
      '{"days":[0,8],"start":"08:00","end":"18:00"}',
      '{"days":[1],"start":"8:00","end":"24:00"}',
      '{"days":[1],"start":"24:00","end":"08:00"}',
      '{"days":[1],"start":"08:00","end":"25:00"}',
      '{"days":[1,1],"start":"22:00","end":"06:00"}',
      '{"days":[1.5],"start":"08:00","end":"09:00"}',
      '{"start":"08:00"}',
    ],
    heat: [
      '{"defaultMinutes":10,"maxMinutes":15}',
      '{"defaultMinutes":21,"maxMinutes":20}',
      '{"defaultMinutes":16,"maxMinutes":15}',
      '{"maxMinutes":0}',
      '{}',
      '{"defaultMinutes":"10"}',
    ],
    heatCooldownMinutes: ['0', '240', '241', '-1'],
    contraindications: ['[]', '["diabetes"]', '["fever"]', '["fever","fever"]', '["cold"]', '"fever"', '[null]'],
    routineTargetPerWeek: ['1', '14', '0', '15'],
  },
  device: {
    userId: ['"ana"', '"nobody"', '""', '"a b"', '"ana\\u0000"', long(65)],
    role: ['"desk"', '"chair"', '"wearable"', '"hub"', '"heatpad"', '"sofa"', '"DESK"'],
    protocol: ['"unknot"', '"zigbee2mqtt"', '"tasmota"', '"shelly"', '"matter"'],
    topic: [
      '"office/fp1"',
      '"a/b"',
      '"desk/+"',
      '"#"',
      '"/x"',
      '"x/"',
      '"a//b"',
      '""',
      long(513),
      '"x\\u0000"',
      '"ünï cödé"',
      // Topics unknot would store but never read: Z2M bridge and command levels, a Shelly prefix of three levels.
      '"bridge/state"',
      '"bridge"',
      '"desk/set"',
      '"desk/get/x"',
      '"desk/availability"',
      '"a/b/c"',
      '"a/status"',
    ],
    invert: ['true', 'false', '"true"'],
    deviceId: ['"other"', '""'],
  },
  snooze: { minutes: ['1', '60', '0', '61', '10.5', '"10"', 'null', '-1'] },
  heat: {
    minutes: ['5', '15', '16', '0', '-5', '"10"', 'null', '0.01', '1e-9', '20', '21', '1e308'],
    deviceId: ['"ana-pad"', '"ana-desk"', '"nobody"', '"bad id"', '""', long(65)],
  },
  pain: {
    level: ['0', '10', '11', '-1', '4.5', '"4"'],
    area: ['"neck"', '"shoulders"', '"upper_back"', '"lower_back"', '"glutes"', '"other"', '"knee"', '""'],
    refers: ['"into the right shoulder blade"', long(201), '""', '"   "'],
    symptoms: [
      '[]',
      '["stiffness"]',
      '["tingling"]',
      '[""]',
      JSON.stringify(Array(21).fill('x')),
      `[${long(61)}]`,
      '[12]',
      '"stiffness"',
    ],
    at: [
      '"2026-11-24T08:00:00Z"',
      '"2020-01-01T00:00:00Z"',
      '"2999-01-01T00:00:00Z"',
      '1e12',
      '"yesterday"',
      '""',
      '-1',
      long(41),
    ],
  },
  clearance: { note: ['"GP: just a cold"', '""', long(501), '"\\u0000"'] },
  routines: {
    routine: ['"daily_checklist"', '"yoga"', '""', long(65), '"__proto__"', '"constructor"', '"toString"'],
    area: ['"neck"', '"knee"', '""', '1'],
  },
  methods: {
    method: ['"foam_roller"', '"heat"', '"other"', '"routine"', '"yoga"', '""', '"__proto__"', '1'],
    area: ['"neck"', '"lower_back"', '"knee"', '""'],
    name: ['"Gua sha"', '""', '"   "', long(81)],
    minutes: ['10', '0', '-1', '600', '601', '"10"', '1e309'],
    painBefore: ['0', '10', '11', '4.5', '"4"'],
    note: ['"after work"', long(501)],
    at: ['"2026-11-24T08:00:00Z"', '"2999-01-01T00:00:00Z"', '"yesterday"', '1e12', '-1'],
    outcome: [
      '{"feeling":"better","painAfter":2}',
      '{"feeling":"great"}',
      '{}',
      '"better"',
      '{"feeling":"same","x":1}',
    ],
  },
  deskCheck: {
    screenAtEyeLevel: ['true', 'false', '"yes"', '1'],
    shouldersRelaxed: ['true', 'false', 'null'],
    feetFlat: ['true', 'false'],
    chairSupportsBack: ['true', 'false'],
    keyboardAtElbowHeight: ['true', 'false', '0'],
    note: ['"laptop"', long(501)],
  },
} as const;

// ----------------------------------------------------------------------------------------- the state

/**
 * Everything stored that a request could change: ana's profile, devices and live state and her log; with `lists`
 * (phases whose requests could create someone or something) also every user and device.
 */
let lists = false;
async function snapshot() {
  const paths = ['/api/users/ana', '/api/users/ana/adherence', ...(lists ? ['/api/users', '/api/devices'] : [])];
  const [user, log, users, devices] = await Promise.all(
    paths.map(async (p) => {
      const r = await svc.fetchJson(p);
      expect(r.status, `GET ${p}`).toBe(200);
      return r.body as Record<string, unknown>;
    }),
  );
  const { state, ...profile } = user as { state: Record<string, unknown> };
  // These two tick with the clock.
  const { sittingSeconds: _s, updatedAt: _u, ...live } = state;
  return { profile, live, log: (log as { entries: Array<Record<string, unknown>> }).entries, users, devices };
}
type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/** After a success: wait until whatever it set off (jobs, commands) has settled, and take that as the baseline. */
async function settled(): Promise<Snapshot> {
  let last = await snapshot();
  for (let i = 0; i < 30; i++) {
    await sleep(100);
    const now = await snapshot();
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  return last;
}

let baseline: Snapshot;

/**
 * Ends what a generated valid request may have started and would change on its own later (a heat session's timer,
 * a routine's next step), so that the phases after it see a state that holds still.
 */
async function quiesce(): Promise<void> {
  const heat = await svc.fetchJson('/api/users/ana/heat', { method: 'DELETE' });
  expect([200, 404], JSON.stringify(heat.body)).toContain(heat.status);
  const routines = await svc.fetchJson('/api/users/ana/routines');
  const current = (routines.body as { current?: { routineId?: string } | null }).current;
  if (current?.routineId) {
    const r = await svc.fetchJson(`/api/users/ana/routines/${current.routineId}`, { method: 'DELETE' });
    expect([200, 404], JSON.stringify(r.body)).toContain(r.status);
  }
  await settled();
}

/** A stored device must be one unknot can hear: a report on its own state topic is read as coming from it. */
function expectReadable(device: Device, answer: string): void {
  const base = h.ns.baseTopic;
  const topics = new Topics({ base, z2m: `${base}-z2m`, haPrefix: `${base}-ha` });
  const t = device.topic ?? '';
  const key = device.protocol === 'unknot' ? device.deviceId : t;
  const topic =
    device.protocol === 'unknot'
      ? topics.deviceEvent(device.deviceId)
      : device.protocol === 'zigbee2mqtt'
        ? topics.z2mState(t)
        : device.protocol === 'tasmota'
          ? topics.tasmotaStat(t, 'POWER')
          : topics.shellySwitchStatus(t);
  const m = matchTopic(topic, topics)?.match;
  expect({ protocol: m?.protocol, key: m?.key }, `stored device is never read on ${topic}: ${answer}`).toEqual({
    protocol: device.protocol,
    key,
  });
}

/** Sends one request and checks the answer and what it did to the stored state. */
async function exercise(req: Req, target: string): Promise<void> {
  const where = `${req.method} ${req.path.slice(0, 200)} with ${req.kind} body ${req.body ? JSON.stringify(req.body.subarray(0, 160).toString('latin1')) : '(none)'}`;
  let r: Awaited<ReturnType<ServiceHandle['fetchJson']>>;
  try {
    const to = req.viaToken ? tokenSvc! : svc;
    r = req.raw
      ? await sendRaw(to, req)
      : await to.fetchJson(req.path, {
          method: req.method,
          headers: req.headers,
          ...(req.body ? { body: new Uint8Array(req.body) } : {}),
          signal: AbortSignal.timeout(10_000),
        });
  } catch (err) {
    throw new Error(`${where}: no answer (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  counts.add(`http: ${target}`);
  const answer = `${where}${req.raw ? ` ${JSON.stringify(req.headers)}` : ''} → ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`;
  expect(r.status, answer).toBeLessThan(500);
  const error = (r.body as { error?: unknown } | null)?.error;
  if (req.raw) counts.note(`browser headers: ${req.refusal ?? 'let through'}`);
  if (req.refusal !== undefined) expect(error, answer).toBe(req.refusal);
  else if (req.raw) expect(GUARD_CODES, `refused a request the guard must let through: ${answer}`).not.toContain(error);
  if (r.status < 300 && req.method === 'GET') {
    expect(await snapshot(), `state changed by ${answer}`).toEqual(baseline);
    return;
  }
  if (r.status < 300) {
    const mayExist = req.pathUser !== undefined && createdUsers.has(req.pathUser);
    expect(req.mustFail && !mayExist, `accepted a request that can never be valid: ${answer}`).toBe(false);
    if (req.method === 'PUT' && req.pathUser !== undefined && req.path === `/api/users/${req.pathUser}`)
      createdUsers.add(req.pathUser);
    if (req.method === 'PUT' && req.path.startsWith('/api/devices/')) expectReadable(r.body as Device, answer);
    counts.note('accepted (valid by chance)');
    // A heat session short enough to end during the phase (minutes: 0.01, 0.3…) would change the state on its own
    // timer: stop it now (no cool-down in this profile). Longer ones stay on until quiesce(), and the requests after
    // them meet `already_on`.
    const offAt = Date.parse(String((r.body as { offAt?: unknown })?.offAt));
    if (req.method === 'POST' && Number.isFinite(offAt) && offAt - Date.now() < 10 * 60_000) {
      const stop = await svc.fetchJson('/api/users/ana/heat', { method: 'DELETE' });
      // 404 not_on: it already ended by itself.
      expect([200, 404], `stopping the short session: ${JSON.stringify(stop.body)}`).toContain(stop.status);
    }
    // Heat and routines go on after the answer (an ON job, the routine's first step); the rest is committed by then.
    baseline = /\/(heat|routines)/.test(req.path) ? await settled() : await snapshot();
    return;
  }
  expect(r.status, answer).toBeGreaterThanOrEqual(400);
  if (req.foreign) {
    expect(await snapshot(), `state changed by ${answer}`).toEqual(baseline);
    return;
  }
  expect(r.headers.get('content-type') ?? '', answer).toMatch(/^application\/json/);
  const body = r.body as { error?: unknown; detail?: unknown };
  expect(body?.error, answer).toMatch(/^[a-z][a-z_]*$/);
  expect(typeof body?.detail === 'string' && body.detail.trim().length > 0, `detail missing: ${answer}`).toBe(true);

  const after = await snapshot();
  const heatRefusal =
    req.method === 'POST' && req.path === '/api/users/ana/heat' && HEAT_REFUSALS.includes(String(body.error));
  if (heatRefusal) {
    // Logged by design; nothing else may change.
    expect(after.log.length, `one heat_refused entry: ${answer}`).toBe(baseline.log.length + 1);
    expect(after.log.at(-1), answer).toMatchObject({ type: 'heat_refused', reason: body.error, source: 'api' });
    counts.note('heat refusals (logged by design)');
    expect({ ...after, log: after.log.slice(0, -1) }, `state changed by ${answer}`).toEqual(baseline);
    baseline = after;
  } else {
    expect(after, `state changed by ${answer}`).toEqual(baseline);
  }
}

async function fuzz(
  target: string,
  arb: fc.Arbitrary<Req>,
  baseRuns: number,
  opts: { lists?: boolean } = {},
): Promise<void> {
  const numRuns = scaled(baseRuns);
  lists = opts.lists ?? false;
  baseline = await settled();
  const before = counts.count(`http: ${target}`);
  // endOnFailure: shrinking against a live service would take long; the seed and counterexample are printed.
  await fc.assert(
    fc.asyncProperty(arb, (req) => exercise(req, target)),
    { numRuns, endOnFailure: true },
  );
  expect(counts.count(`http: ${target}`) - before).toBe(numRuns);
  expect((await svc.fetchJson('/healthz')).body).toEqual({ status: 'ok' });
}

const withBody = (method: string, path: string, fields: Record<string, readonly string[]>): fc.Arbitrary<Req> =>
  bodies(fields).map((b) => ({ method, path, ...b }));

// ---------------------------------------------------------------------------------------------- tests

describe('HTTP API under generated bodies', () => {
  it(
    'PUT and PATCH /api/users/{userId}',
    async () => {
      await fuzz('PUT /api/users/ana', withBody('PUT', '/api/users/ana', FIELDS.profile), 70);
      await fuzz('PATCH /api/users/ana', withBody('PATCH', '/api/users/ana', FIELDS.profile), 50);
      await putUser(svc, 'ana', PROFILE);
    },
    60_000 * FUZZ_SCALE,
  );

  it(
    'PUT /api/devices/{deviceId}',
    async () => {
      // Fresh ids only: overwriting ana's own devices is a valid request whose effects are not the point here.
      const arb = fc
        .tuple(fc.stringMatching(/^fz-[a-z0-9]{1,6}$/), bodies(FIELDS.device))
        .map(([id, b]): Req => ({ method: 'PUT', path: `/api/devices/${id}`, ...b }));
      await fuzz('PUT /api/devices/{id}', arb, 60, { lists: true });
    },
    60_000 * FUZZ_SCALE,
  );

  it(
    'PUT /api/devices/{deviceId} with well-formed bodies and odd topics: a stored device is one unknot reads',
    async () => {
      const level = fc.oneof(
        {
          weight: 3,
          arbitrary: fc.constantFrom(
            'desk',
            'bridge',
            'set',
            'get',
            'availability',
            'status',
            'switch:0',
            'events',
            'rpc',
            'online',
            'stat',
            'tele',
            'POWER',
            'LWT',
            'cmnd',
            '$SYS',
            ' ',
            'ü',
          ),
        },
        { weight: 1, arbitrary: fc.stringMatching(/^[^/+#\u0000]{1,12}$/) },
      );
      const arb = fc
        .tuple(
          fc.stringMatching(/^fzt-[a-z0-9]{1,8}$/),
          fc.constantFrom('zigbee2mqtt', 'tasmota', 'shelly'),
          fc.constantFrom('desk', 'chair', 'heatpad'),
          fc.array(level, { minLength: 1, maxLength: 4 }),
        )
        .map(([id, protocol, role, levels]): Req => {
          const body = JSON.stringify({ userId: 'ana', role, protocol, topic: levels.join('/') });
          return {
            method: 'PUT',
            path: `/api/devices/${id}`,
            body: utf8(body),
            headers: JSON_TYPE,
            kind: 'device',
            mustFail: false,
          };
        });
      await fuzz('PUT /api/devices/{id} topics', arb, 60, { lists: true });
    },
    60_000 * FUZZ_SCALE,
  );

  it(
    'POST /api/users/{userId}/snooze and /heat',
    async () => {
      await fuzz('POST /api/users/ana/snooze', withBody('POST', '/api/users/ana/snooze', FIELDS.snooze), 40);
      await fuzz('POST /api/users/ana/heat', withBody('POST', '/api/users/ana/heat', FIELDS.heat), 80);
      await quiesce();
    },
    60_000 * FUZZ_SCALE,
  );

  it(
    'POST /api/users/{userId}/pain, /clearance and /routines',
    async () => {
      await fuzz('POST /api/users/ana/pain', withBody('POST', '/api/users/ana/pain', FIELDS.pain), 70);
      await fuzz('POST /api/users/ana/clearance', withBody('POST', '/api/users/ana/clearance', FIELDS.clearance), 40);
      await fuzz('POST /api/users/ana/routines', withBody('POST', '/api/users/ana/routines', FIELDS.routines), 40);
      await quiesce();
    },
    60_000 * FUZZ_SCALE,
  );

  it(
    'POST /api/users/{userId}/methods and /desk-check',
    async () => {
      await fuzz('POST /api/users/ana/methods', withBody('POST', '/api/users/ana/methods', FIELDS.methods), 70);
      await fuzz('POST /api/users/ana/desk-check', withBody('POST', '/api/users/ana/desk-check', FIELDS.deskCheck), 40);
      await quiesce();
    },
    60_000 * FUZZ_SCALE,
  );
});

describe('HTTP API under generated query strings and path ids', () => {
  const queryValue = fc.oneof(
    fc.constantFrom(
      '',
      '2026-11-24T08:00:00Z',
      '2026-11-24',
      'yesterday',
      '1e309',
      'NaN',
      '-1',
      '0',
      '1',
      '7',
      '90',
      '91',
      '7.5',
      '0x10',
      ' 7',
      'json',
      'csv',
      'CSV',
      'xml',
      '%',
      '%zz',
      '%00',
      '2026-13-45T99:99:99Z',
      '+275760-09-13T00:00:00.001Z',
    ),
    fc.string({ maxLength: 30 }).map(encodeURIComponent),
  );
  const query = fc
    .array(
      fc.tuple(
        fc.constantFrom('from', 'to', 'format', 'days', 'from[a]', '__proto__', 'constructor', 'days[]', 'x'),
        queryValue,
      ),
      { maxLength: 5 },
    )
    .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join('&'));

  it(
    'GET /adherence and /summary answer 200 or a 4xx, never a 5xx',
    async () => {
      const arb = fc
        .tuple(fc.constantFrom('adherence', 'summary', 'methods', 'what-helps', 'report'), query)
        .map(([what, q]): Req => ({
          method: 'GET',
          path: `/api/users/ana/${what}?${q}`,
          headers: {},
          kind: 'query',
          mustFail: false,
        }));
      await fuzz('GET /api/users/ana/{adherence,summary}?…', arb, 80);
    },
    60_000 * FUZZ_SCALE,
  );

  it(
    'every route refuses ids that are not allowed, and unknown ones, with a 4xx',
    async () => {
      const rawId = fc.oneof(
        fc.string({ maxLength: 40 }).map(encodeURIComponent),
        fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        fc.integer({ min: 65, max: 200 }).map((n) => 'a'.repeat(n)),
        fc.constantFrom(
          '%',
          '%zz',
          '%E0%A4%A',
          '%00',
          '%2F',
          '...',
          '%2e%2e%2e',
          'ana%20',
          '__proto__',
          'constructor',
          'toString',
          'ana.json',
          '%F0%9F%99%82',
          '%C0%AF',
          'ana;x',
          'ana%3Fx',
        ),
      );
      const decoded = (id: string) => {
        try {
          return decodeURIComponent(id);
        } catch {
          return null;
        }
      };
      // Never the ids the other tests rely on: DELETE on them would be a valid request.
      // Nor dot segments: the URL parser resolves `/api/users/ana/routines/..` to `/api/users/ana/`, a valid DELETE.
      const id = rawId.filter(
        (raw) => !KNOWN_IDS.includes(decoded(raw) ?? '') && raw !== '' && !/^(\.|%2e){1,2}$/i.test(raw),
      );
      const routes: Array<[string, (id: string) => string, boolean]> = [
        ['GET', (i) => `/api/users/${i}`, false],
        ['PUT', (i) => `/api/users/${i}`, true],
        ['PATCH', (i) => `/api/users/${i}`, true],
        ['DELETE', (i) => `/api/users/${i}`, false],
        ['GET', (i) => `/api/devices/${i}`, false],
        ['PUT', (i) => `/api/devices/${i}`, true],
        ['DELETE', (i) => `/api/devices/${i}`, false],
        ['POST', (i) => `/api/users/${i}/snooze`, true],
        ['GET', (i) => `/api/users/${i}/heat`, false],
        ['POST', (i) => `/api/users/${i}/heat`, true],
        ['DELETE', (i) => `/api/users/${i}/heat`, false],
        ['GET', (i) => `/api/users/${i}/routines`, false],
        ['POST', (i) => `/api/users/${i}/routines`, true],
        ['DELETE', (i) => `/api/users/ana/routines/${i}`, false],
        ['DELETE', (i) => `/api/users/${i}/routines/r1`, false],
        ['POST', (i) => `/api/users/${i}/pain`, true],
        ['POST', (i) => `/api/users/${i}/clearance`, true],
        ['GET', (i) => `/api/users/${i}/adherence`, false],
        ['GET', (i) => `/api/users/${i}/summary`, false],
      ];
      const arb = fc.tuple(fc.constantFrom(...routes), id).map(([[method, path, hasBody], raw]): Req => {
        const user = decoded(raw);
        const valid = isValidId(user);
        // A valid unknown id may be created by PUT /api/users/{id} with {}; everything else about it is a 404.
        const creates = valid && method === 'PUT' && path(raw).startsWith('/api/users/');
        const pathUser = valid && path(raw).startsWith(`/api/users/${raw}`) ? user : undefined;
        return {
          method,
          path: path(raw),
          headers: hasBody ? JSON_TYPE : {},
          ...(hasBody ? { body: utf8('{}') } : {}),
          kind: 'path id',
          mustFail: !creates,
          ...(pathUser ? { pathUser } : {}),
        };
      });
      await fuzz('path ids', arb, 120, { lists: true });
    },
    60_000 * FUZZ_SCALE,
  );
});

/**
 * Requests as a browser (or a page trying to use one) would send them: random Host, Origin, Referer, Sec-Fetch-Site,
 * content type and, on the service with a token, Authorization. The expected answer comes from the rules of
 * docs/operations/browser-security.md, in the order they are checked: Host, then origin, then JSON, then the token.
 */
function browserRequests(port: number, withToken: boolean): fc.Arbitrary<Req> {
  const ownHosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  const host = fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...ownHosts) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        `rebind.evil.example:${port}`,
        'rebind.evil.example',
        `localhost:${port + 1}`,
        '127.0.0.1',
        `127.0.0.2:${port}`,
        `evil.example@127.0.0.1:${port}`,
        `127.0.0.1:${port}.evil.example`,
        `LOCALHOST:${port}`,
      ),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[!-~]{1,30}$/) },
  );
  // Absent as often as present: most real requests carry none of these headers.
  const maybe = (arb: fc.Arbitrary<string>) => fc.oneof(fc.constant(undefined), arb);
  const maybe2 = (arb: fc.Arbitrary<string>) =>
    fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
  const origin = (h: string) =>
    maybe(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(`http://${h}`, `https://${h}`) },
        {
          weight: 3,
          arbitrary: fc.constantFrom(
            'null',
            'https://evil.example',
            `http://127.0.0.2:${port}`,
            `http://localhost:${port + 1}`,
            'http://127.0.0.1',
          ),
        },
        { weight: 1, arbitrary: fc.stringMatching(/^[!-~]{1,30}$/) },
      ),
    );
  const referer = (h: string) =>
    maybe2(
      fc.constantFrom(
        `http://${h}/`,
        `http://${h}/dashboard/`,
        'https://evil.example/cats.html',
        `http://127.0.0.2:${port}/`,
        'not a url',
      ),
    );
  const site = maybe2(fc.constantFrom('same-origin', 'same-site', 'cross-site', 'none'));
  // [content type, is JSON]
  const type = fc.option(
    fc.oneof(
      {
        weight: 2,
        arbitrary: fc.constantFrom<[string, boolean]>(
          ['application/json', true],
          ['application/json; charset=utf-8', true],
          ['APPLICATION/JSON', true],
          ['application/merge-patch+json', true],
          ['application/vnd.unknot+json; charset=UTF-8', true],
        ),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom<[string, boolean]>(
          ['text/plain', false],
          ['text/plain;charset=UTF-8', false],
          ['application/x-www-form-urlencoded', false],
          ['multipart/form-data; boundary=x', false],
          ['text/json', false],
          ['application/jsonx', false],
          ['application/json-seq', false],
        ),
      },
    ),
    { nil: undefined, freq: 6 },
  );
  const auth = withToken
    ? fc.constantFrom<'right' | 'wrong' | 'none'>('right', 'right', 'wrong', 'none')
    : fc.constant<'none'>('none');
  const routes: Array<[string, string, string]> = [
    ['POST', '/api/users/ana/pain', '{"level":2,"area":"neck"}'],
    ['POST', '/api/users/ana/heat', '{"minutes":5}'],
    ['POST', '/api/users/ana/snooze', '{}'],
    ['PATCH', '/api/users/ana', '{"maxSnoozes":2}'],
    ['GET', '/api/users/ana/adherence', ''],
  ];
  return fc
    .record({ route: fc.constantFrom(...routes), host, site, type, auth, withBody: fc.boolean() })
    .chain((r) => fc.record({ origin: origin(r.host), referer: referer(r.host) }).map((o) => ({ ...r, ...o })))
    .map(
      ({
        route: [method, path, json],
        host: h,
        origin: o,
        referer: ref,
        site: sfs,
        type: t,
        auth: a,
        withBody,
      }): Req => {
        const body = method !== 'GET' && withBody ? utf8(json) : undefined;
        const headers: Record<string, string> = { host: h };
        if (o !== undefined) headers.origin = o;
        if (ref !== undefined) headers.referer = ref;
        if (sfs !== undefined) headers['sec-fetch-site'] = sfs;
        if (t !== undefined) headers['content-type'] = t[0];
        if (a !== 'none') headers.authorization = `Bearer ${a === 'right' ? TOKEN : 'wrong-token-0000000000000'}`;
        const lower = h.toLowerCase();
        const hostOk = ownHosts.includes(lower);
        const writes = method !== 'GET';
        const from = o ?? (ref !== undefined ? ref : undefined);
        const sameOrigin = (u: string) =>
          u === `http://${lower}` ||
          u === `https://${lower}` ||
          u.startsWith(`http://${lower}/`) ||
          u.startsWith(`https://${lower}/`);
        const originOk =
          !writes ||
          (from !== undefined ? sameOrigin(from.toLowerCase()) : sfs !== 'cross-site' && sfs !== 'same-site');
        const typeOk = t === undefined ? body === undefined : t[1] || (!writes && body === undefined);
        const refusal = !hostOk
          ? 'unknown_host'
          : !originOk
            ? 'foreign_origin'
            : !typeOk
              ? 'unsupported_media_type'
              : withToken && a !== 'right'
                ? 'unauthorized'
                : undefined;
        return {
          method,
          path,
          headers,
          ...(body ? { body } : {}),
          kind: `browser${withToken ? ' (token)' : ''}`,
          mustFail: refusal !== undefined,
          raw: true,
          viaToken: withToken,
          ...(refusal ? { refusal } : {}),
        };
      },
    );
}

describe('HTTP API under generated browser headers (Host, Origin, Referer, Sec-Fetch-Site, content type)', () => {
  it(
    'nothing changes unless the request is for this host, from this origin (or none), JSON and, with a token, authorised',
    async () => {
      await fuzz('browser headers', browserRequests(svc.httpPort, false), 70);
      tokenSvc = await h.start({ UNKNOT_API_TOKEN: TOKEN }, 'fzhttp-token');
      await fuzz('browser headers, token set', browserRequests(tokenSvc.httpPort, true), 70);
      await quiesce();
    },
    90_000 * FUZZ_SCALE,
  );
});

describe('HTTP paths outside the API under generated input', () => {
  it(
    'the dashboard, the queue board and unknown paths never answer 5xx to a GET, and change nothing',
    async () => {
      const segment = fc.oneof(
        fc.constantFrom(
          'dashboard',
          'app.js',
          'config.json',
          'vendor',
          'admin',
          'queues',
          'api',
          'redis',
          'stats',
          'nudges',
          'heat',
          'routines',
          'logs',
          '%',
          '%zz',
          '%2F',
          '...',
          'index.html',
          '__proto__',
        ),
        // Non-empty: `//x` would be read as a URL with host x.
        fc.string({ minLength: 1, maxLength: 12 }).map(encodeURIComponent),
      );
      const q = fc.array(
        fc.tuple(
          fc.constantFrom('activeQueue', 'page', 'jobsPerPage', 'status', 'token', 'user', 'days', 'x'),
          fc.oneof(
            fc.constantFrom('-1', '0', 'abc', '%zz', '1e309', 'nudges', ''),
            fc.string({ maxLength: 8 }).map(encodeURIComponent),
          ),
        ),
        { maxLength: 4 },
      );
      const arb = fc
        .tuple(
          fc.constantFrom('/', '/dashboard/', '/admin/queues/', '/admin/queues/api/queues/'),
          fc.array(segment, { maxLength: 4 }),
          q,
        )
        .filter(([, segs]) => !segs.some((x) => /^(\.|%2e){1,2}$/i.test(x)))
        .map(([root, segs, pairs]): Req => ({
          method: 'GET',
          path: `${root}${segs.join('/')}${pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''}`,
          headers: {},
          kind: 'path',
          mustFail: false,
          // bull-board answers its own error shape: only "never 5xx, changes nothing" holds there.
          foreign: root.startsWith('/admin/queues'),
        }));
      await fuzz('GET outside /api', arb, 60, { lists: true });
    },
    60_000 * FUZZ_SCALE,
  );
});

describe('regressions found by fuzzing', () => {
  it('a path that does not percent-decode, a charset or encoding we do not read, a broken gzip body: 4xx, not 500; a device topic unknot never reads: 400', async () => {
    const cases: Array<[string, string, Record<string, string>, string | Buffer | undefined, number, string]> = [
      ['GET', '/api/users/%', {}, undefined, 400, 'invalid_path'],
      ['DELETE', '/api/users/ana/routines/%ZZ', {}, undefined, 400, 'invalid_path'],
      ['PUT', '/api/devices/%E0%A4%A', JSON_TYPE, '{}', 400, 'invalid_path'],
      [
        'PUT',
        '/api/users/ana',
        { 'content-type': 'application/json; charset=latin1' },
        '{}',
        415,
        'unsupported_charset',
      ],
      ['PUT', '/api/users/ana', { ...JSON_TYPE, 'content-encoding': 'x-foo' }, '{}', 415, 'unsupported_encoding'],
      ['POST', '/api/users/ana/pain', { ...JSON_TYPE, 'content-encoding': 'gzip' }, 'not gzip', 400, 'bad_request'],
      [
        'POST',
        '/api/users/ana/heat',
        { ...JSON_TYPE, 'content-encoding': 'br' },
        Buffer.from([1, 2, 3]),
        400,
        'bad_request',
      ],
      // Devices that were stored and then never heard from.
      [
        'PUT',
        '/api/devices/fzr-1',
        JSON_TYPE,
        JSON.stringify({ userId: 'ana', role: 'chair', protocol: 'shelly', topic: 'home/office/chair' }),
        400,
        'invalid_device',
      ],
      [
        'PUT',
        '/api/devices/fzr-2',
        JSON_TYPE,
        JSON.stringify({ userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'desk/set' }),
        400,
        'invalid_device',
      ],
      [
        'PUT',
        '/api/devices/fzr-3',
        JSON_TYPE,
        JSON.stringify({ userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'bridge/desk' }),
        400,
        'invalid_device',
      ],
      [
        'PUT',
        '/api/devices/fzr-4',
        JSON_TYPE,
        JSON.stringify({ userId: 'ana', role: 'desk', protocol: 'zigbee2mqtt', topic: 'desk/availability' }),
        400,
        'invalid_device',
      ],
    ];
    lists = true;
    const before = await snapshot();
    for (const [method, path, headers, body, status, error] of cases) {
      const r = await svc.fetchJson(path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : new Uint8Array(body) }),
      });
      expect({ status: r.status, body: r.body }, `${method} ${path}`).toMatchObject({
        status,
        body: { error, detail: expect.stringMatching(/\S/) },
      });
    }
    expect(await snapshot()).toEqual(before);
    expect((await svc.fetchJson('/healthz')).body).toEqual({ status: 'ok' });
  }, 30_000);
});
