// The OpenAPI 3.1 document of the HTTP API, built from the zod schemas the routes validate with. Served at
// GET /api/openapi.json and committed as docs/reference/openapi.json (npm run docs:api).
import { z } from 'zod';
import { clearanceBodySchema, painBodySchema } from '../../app/pain.js';
import { reportQuerySchema } from '../../app/report.js';
import { deskCheckBodySchema, methodBodySchema, methodOutcomeBodySchema } from '../../app/methods.js';
import { adherenceQuerySchema, deviceBodySchema } from '../../app/users.js';
import { profileSchema } from '../../domain/profile.js';
import { AUTO_OFF, CONTRAINDICATIONS, ID_PATTERN, PROTOCOLS, ROLES } from '../../domain/types.js';
import { snoozeBodySchema } from '../app.js';
import { BULL_BOARD_PATH } from '../dashboard.js';
import { heatRequestSchema } from '../heat-routes.js';
import { routineStartBodySchema } from '../routines-routes.js';
import { stateSchema } from './payloads.js';
import { errorBodySchema, jsonSchema, packageVersion, type JsonSchema } from './json-schema.js';

const iso = z.string().describe('ISO 8601 time');

const profileAnswer = profileSchema.extend({ userId: z.string() });
const userAnswer = profileAnswer.extend({ devices: z.array(z.string()), state: stateSchema });
const deviceAnswer = z.object({
  deviceId: z.string(),
  userId: z.string(),
  role: z.enum(ROLES),
  protocol: z.enum(PROTOCOLS),
  topic: z.string().optional(),
  invert: z.boolean().optional(),
  channel: z.union([z.number().int(), z.string()]).optional(),
  autoOff: z.enum(AUTO_OFF).optional(),
});
const heatStarted = z.object({
  sessionId: z.string(),
  deviceId: z.string(),
  minutes: z.number(),
  startedAt: iso,
  offAt: iso,
});
const heatStopped = z.object({
  sessionId: z.string(),
  stoppedAt: iso,
  offSent: z.boolean().describe('the OFF reached the broker before the answer'),
});
const anyObject = (description: string) => z.looseObject({}).describe(description);

type Op = {
  summary: string;
  params?: string[];
  query?: Array<{ name: string; schema: JsonSchema; description?: string }>;
  body?: { schema: z.ZodType; description?: string };
  ok: { status: number; description: string; schema?: z.ZodType | null; content?: Record<string, unknown> };
  errors?: number[];
  tag: string;
  /** Outside /api: no token (health, metrics, the dashboard's files). */
  public?: boolean;
};

const PARAMS: Record<string, { description: string }> = {
  userId: { description: 'a person: 1–64 characters of [A-Za-z0-9_-]' },
  deviceId: { description: 'a device: 1–64 characters of [A-Za-z0-9_-]' },
  routineId: { description: 'a routine run, as POST …/routines answered' },
  methodId: { description: 'a method tried, as POST …/methods answered or GET …/methods lists' },
};

/** Every route the service serves, by OpenAPI path (`{param}`) and method. */
const ROUTES: Record<string, Record<string, Op>> = {
  '/healthz': {
    get: {
      tag: 'operations',
      public: true,
      summary: 'Liveness: the process answers',
      ok: { status: 200, description: 'alive', schema: z.object({ status: z.literal('ok') }) },
    },
  },
  '/readyz': {
    get: {
      tag: 'operations',
      public: true,
      summary: 'Readiness: Redis and MQTT connected',
      ok: {
        status: 200,
        description: 'ready',
        schema: z.object({ status: z.literal('ready'), redis: z.literal('up'), mqtt: z.literal('up') }),
      },
      errors: [503],
    },
  },
  '/metrics': {
    get: {
      tag: 'operations',
      public: true,
      summary: 'Prometheus metrics',
      ok: {
        status: 200,
        description: 'Prometheus text exposition format',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
    },
  },
  '/api/openapi.json': {
    get: {
      tag: 'documents',
      summary: 'This OpenAPI 3.1 document',
      ok: { status: 200, description: 'the document', schema: anyObject('OpenAPI 3.1') },
    },
  },
  '/api/asyncapi.json': {
    get: {
      tag: 'documents',
      summary: "The AsyncAPI 3 document of every MQTT topic, with this instance's base topics",
      ok: { status: 200, description: 'the document', schema: anyObject('AsyncAPI 3.0') },
    },
  },
  '/api/users': {
    get: {
      tag: 'users',
      summary: 'List user ids',
      ok: { status: 200, description: 'the users', schema: z.object({ users: z.array(z.string()) }) },
    },
  },
  '/api/users/{userId}': {
    put: {
      tag: 'users',
      summary: 'Create or replace a profile (fields left out take the defaults)',
      params: ['userId'],
      body: { schema: profileSchema.strict() },
      ok: { status: 200, description: 'the stored profile', schema: profileAnswer },
      errors: [400],
    },
    patch: {
      tag: 'users',
      summary: 'Change some fields of a profile',
      params: ['userId'],
      body: { schema: profileSchema.partial().strict() },
      ok: { status: 200, description: 'the stored profile', schema: profileAnswer },
      errors: [400, 404],
    },
    get: {
      tag: 'users',
      summary: 'A profile with its devices and the current sitting state',
      params: ['userId'],
      ok: { status: 200, description: 'the user', schema: userAnswer },
      errors: [400, 404],
    },
    delete: {
      tag: 'users',
      summary: 'Delete a user, their devices, state and retained topics (the adherence log stays until it expires)',
      params: ['userId'],
      ok: { status: 204, description: 'deleted', schema: null },
      errors: [400, 404],
    },
  },
  '/api/devices': {
    get: {
      tag: 'devices',
      summary: 'List devices',
      ok: { status: 200, description: 'the devices', schema: z.object({ devices: z.array(deviceAnswer) }) },
    },
  },
  '/api/devices/{deviceId}': {
    put: {
      tag: 'devices',
      summary: 'Register or replace a device (the user must exist)',
      params: ['deviceId'],
      body: { schema: deviceBodySchema },
      ok: { status: 200, description: 'the stored device', schema: deviceAnswer },
      errors: [400, 404, 409],
    },
    get: {
      tag: 'devices',
      summary: 'A device',
      params: ['deviceId'],
      ok: { status: 200, description: 'the device', schema: deviceAnswer },
      errors: [400, 404],
    },
    delete: {
      tag: 'devices',
      summary: 'Remove a device',
      params: ['deviceId'],
      ok: { status: 204, description: 'deleted', schema: null },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/snooze': {
    post: {
      tag: 'sessions',
      summary: 'Snooze the coming nudge',
      params: ['userId'],
      body: { schema: snoozeBodySchema },
      ok: { status: 200, description: 'snoozed', schema: z.object({ nextNudgeAt: iso, snoozes: z.number().int() }) },
      errors: [400, 404, 409],
    },
  },
  '/api/users/{userId}/adherence': {
    get: {
      tag: 'adherence',
      summary: 'The adherence log between two times, as JSON or CSV',
      params: ['userId'],
      query: queryParams(adherenceQuerySchema),
      ok: {
        status: 200,
        description: 'the log entries, oldest first',
        content: {
          'application/json': {
            schema: jsonSchema(z.object({ entries: z.array(anyObject('one log entry; `type` says which')) }), 'output'),
          },
          'text/csv': { schema: { type: 'string' } },
        },
      },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/summary': {
    get: {
      tag: 'adherence',
      summary: 'Daily figures of the last days, and whether to see a professional',
      params: ['userId'],
      query: [
        {
          name: 'days',
          schema: { type: 'integer', minimum: 1, maximum: 90, default: 7 },
          description: 'days to sum up',
        },
      ],
      ok: {
        status: 200,
        description: 'the summary',
        schema: anyObject('days, totals, seeProfessional {recommended, reasons}, heatBlocked'),
      },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/heat': {
    post: {
      tag: 'heat',
      summary: 'Switch a heat pad on for a number of minutes (it is switched off by timer, whatever happens)',
      params: ['userId'],
      body: { schema: heatRequestSchema },
      ok: { status: 201, description: 'heat is on', schema: heatStarted },
      errors: [400, 404, 409, 422],
    },
    delete: {
      tag: 'heat',
      summary: 'Switch heat off now',
      params: ['userId'],
      ok: { status: 200, description: 'heat is off', schema: heatStopped },
      errors: [400, 404],
    },
    get: {
      tag: 'heat',
      summary: 'The current heat session',
      params: ['userId'],
      ok: { status: 200, description: 'the session', schema: anyObject('the heat session, or on: false') },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/routines': {
    post: {
      tag: 'routines',
      summary: 'Start a guided routine',
      params: ['userId'],
      body: { schema: routineStartBodySchema },
      ok: { status: 201, description: 'started', schema: anyObject('routineId, routine, steps') },
      errors: [400, 404, 409],
    },
    get: {
      tag: 'routines',
      summary: 'Routines available and the one running',
      params: ['userId'],
      ok: { status: 200, description: 'the routines', schema: anyObject('routines') },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/routines/{routineId}': {
    delete: {
      tag: 'routines',
      summary: 'Stop a running routine',
      params: ['userId', 'routineId'],
      ok: { status: 200, description: 'stopped', schema: anyObject('the stopped routine') },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/pain': {
    post: {
      tag: 'pain',
      summary: 'Log pain; answered with advice',
      params: ['userId'],
      body: { schema: painBodySchema },
      ok: { status: 201, description: 'logged', schema: anyObject('the entry and the advice') },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/clearance': {
    post: {
      tag: 'pain',
      summary: `Say a doctor has seen the contraindication logged (${CONTRAINDICATIONS.join(', ')}): heat is no longer refused for it`,
      params: ['userId'],
      body: { schema: clearanceBodySchema },
      ok: { status: 201, description: 'cleared', schema: anyObject('the entry and the advice') },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/methods': {
    post: {
      tag: 'methods',
      summary: 'Log a self-care method tried (with its outcome when already known)',
      params: ['userId'],
      body: { schema: methodBodySchema },
      ok: { status: 201, description: 'logged', schema: anyObject('methodId and the method as GET lists it') },
      errors: [400, 404],
    },
    get: {
      tag: 'methods',
      summary: 'The methods tried, newest first, each with its latest outcome',
      params: ['userId'],
      query: [
        {
          name: 'days',
          schema: { type: 'integer', minimum: 1, maximum: 365, default: 28 },
          description: 'days to look back',
        },
      ],
      ok: { status: 200, description: 'the methods', schema: anyObject('since, days, methods') },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/methods/{methodId}/outcome': {
    post: {
      tag: 'methods',
      summary: 'How a method felt afterwards (better, same, worse; pain before and after)',
      params: ['userId', 'methodId'],
      body: { schema: methodOutcomeBodySchema },
      ok: { status: 201, description: 'logged', schema: anyObject('the method with its outcome') },
      errors: [400, 404],
    },
    put: {
      tag: 'methods',
      summary: 'Replace the outcome of a method (a later outcome replaces an earlier one)',
      params: ['userId', 'methodId'],
      body: { schema: methodOutcomeBodySchema },
      ok: { status: 201, description: 'logged', schema: anyObject('the method with its outcome') },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/report': {
    get: {
      tag: 'adherence',
      summary:
        'The report for the therapist: one printable HTML page for a period (default the last four weeks), no script',
      params: ['userId'],
      query: queryParams(reportQuerySchema),
      ok: {
        status: 200,
        description:
          'the report (text/html; its own Content-Security-Policy: no script, inline styles only, framed only by this service and UNKNOT_HTTP_FRAME_ANCESTORS)',
        content: { 'text/html': { schema: { type: 'string' } } },
      },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/what-helps': {
    get: {
      tag: 'methods',
      summary: 'What helps: per method and area, how often, the average change in pain and a plain label',
      params: ['userId'],
      query: [
        {
          name: 'days',
          schema: { type: 'integer', minimum: 1, maximum: 365, default: 28 },
          description: 'days to look back',
        },
      ],
      ok: {
        status: 200,
        description: 'what helps',
        schema: anyObject(
          'since, days, methods [{method, name, area, count, withOutcome, averagePainChange, label}], noImprovement, note',
        ),
      },
      errors: [400, 404],
    },
  },
  '/api/users/{userId}/desk-check': {
    get: {
      tag: 'methods',
      summary: 'Whether the desk setup check is offered (a week of long sitting), and the last answers',
      params: ['userId'],
      ok: { status: 200, description: 'the offer', schema: anyObject('offered, longSittingDays, lastCheck, message') },
      errors: [400, 404],
    },
    post: {
      tag: 'methods',
      summary: 'Answer the desk setup check',
      params: ['userId'],
      body: { schema: deskCheckBodySchema },
      ok: { status: 201, description: 'logged', schema: anyObject('the answers and what to fix') },
      errors: [400, 404],
    },
  },
  '/': {
    get: {
      tag: 'dashboard',
      public: true,
      summary: 'The dashboard page (holds no data; it asks for the token)',
      ok: { status: 200, description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } },
    },
  },
  '/dashboard/app.js': {
    get: {
      tag: 'dashboard',
      public: true,
      summary: "The dashboard's script",
      ok: { status: 200, description: 'JavaScript', content: { 'text/javascript': { schema: { type: 'string' } } } },
    },
  },
  '/dashboard/style.css': {
    get: {
      tag: 'dashboard',
      public: true,
      summary: "The dashboard's styles",
      ok: { status: 200, description: 'CSS', content: { 'text/css': { schema: { type: 'string' } } } },
    },
  },
  '/dashboard/vendor/chart.umd.min.js': {
    get: {
      tag: 'dashboard',
      public: true,
      summary: 'chart.js, served locally (no CDN)',
      ok: { status: 200, description: 'JavaScript', content: { 'text/javascript': { schema: { type: 'string' } } } },
    },
  },
  '/dashboard/config.json': {
    get: {
      tag: 'dashboard',
      public: true,
      summary: 'What the page needs before it has a token',
      ok: {
        status: 200,
        description: 'page settings',
        schema: z.object({ tokenRequired: z.boolean(), timeScale: z.number(), queuesPath: z.string() }),
      },
    },
  },
  [BULL_BOARD_PATH]: {
    get: {
      tag: 'operations',
      summary: `bull-board, the queue admin UI; it serves its own pages and JSON under ${BULL_BOARD_PATH}/…, behind the token (header, ?token= once, then a cookie)`,
      ok: { status: 200, description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } },
    },
  },
};

function queryParams(schema: z.ZodObject): Array<{ name: string; schema: JsonSchema }> {
  const js = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema> };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({ name, schema: s }));
}

/** Answers any route may give: the guards in front of every route and the error handler behind them. */
const COMMON_ERRORS: Record<number, string> = {
  400: 'Bad request: invalid JSON, a body or parameter that does not match its schema (`issues` lists why)',
  401: 'Missing or wrong bearer token (`WWW-Authenticate: Bearer realm="unknot"`)',
  403: 'Refused: the request comes from a browser origin that is not allowed',
  404: 'No such user, device, session or route',
  409: 'Conflicts with the current state (e.g. snooze_limit, nothing_to_snooze, heat already on, cooling_down)',
  413: 'The body is larger than 64 KiB',
  415: 'The body is not JSON (`Content-Type: application/json` expected)',
  421: 'The Host header names a host this service does not answer for',
  422: 'Understood but refused by the rules (e.g. invalid_minutes, too_long, contraindicated)',
  429: 'More requests a minute from this address than UNKNOT_API_RATE_LIMIT allows',
  500: 'A bug: see the service log',
  503: 'Redis or MQTT is not reachable right now; try again',
};

/** Every answer of an /api route can be one of these, whatever the route. */
const API_COMMON = [401, 403, 413, 415, 421, 429, 500, 503];
/** Guards in front of every route, /api or not. */
const ALL_COMMON = [403, 421];

const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
export const expressToOpenApiPath = toOpenApiPath;

function operation(path: string, method: string, op: Op): Record<string, unknown> {
  const errors = [...new Set([...(op.errors ?? []), ...(op.public ? ALL_COMMON : API_COMMON)])].sort((a, b) => a - b);
  const ok: Record<string, unknown> =
    op.ok.content !== undefined
      ? { description: op.ok.description, content: op.ok.content }
      : op.ok.schema
        ? {
            description: op.ok.description,
            content: { 'application/json': { schema: jsonSchema(op.ok.schema, 'output') } },
          }
        : { description: op.ok.description };
  return {
    operationId: `${method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: op.summary,
    tags: [op.tag],
    ...(op.public ? { security: [] } : {}),
    parameters: [
      ...(op.params ?? []).map((name) => ({
        name,
        in: 'path',
        required: true,
        description: PARAMS[name]?.description,
        schema: { type: 'string', pattern: ID_PATTERN.source },
      })),
      ...(op.query ?? []).map((q) => ({
        name: q.name,
        in: 'query',
        required: false,
        schema: q.schema,
        ...(q.description ? { description: q.description } : {}),
      })),
    ],
    ...(op.body
      ? {
          requestBody: {
            required: false,
            content: { 'application/json': { schema: jsonSchema(op.body.schema, 'input') } },
          },
        }
      : {}),
    responses: {
      [String(op.ok.status)]: ok,
      ...Object.fromEntries(errors.map((s) => [String(s), { $ref: `#/components/responses/E${s}` }])),
    },
  };
}

/** The OpenAPI 3.1 document. Pure: the same for every instance. */
export function buildOpenApi(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(ROUTES)) {
    paths[path] = Object.fromEntries(Object.entries(methods).map(([m, op]) => [m, operation(path, m, op)]));
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'unknot HTTP API',
      version: packageVersion(),
      description:
        'Profiles, devices, snoozes, heat-pad sessions, routines, the pain log, the methods log and the adherence log of unknot. ' +
        'JSON in and out; every error is {"error": code, "detail": sentence, "issues"?: [...]}. Generated from the ' +
        'zod schemas the routes validate with (npm run docs:api).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/', description: 'the unknot instance (HTTP_HOST:HTTP_PORT, default port 8080)' }],
    security: [{ bearer: [] }],
    tags: [
      'users',
      'devices',
      'sessions',
      'heat',
      'routines',
      'pain',
      'methods',
      'adherence',
      'documents',
      'operations',
      'dashboard',
    ].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'Authorization: Bearer <UNKNOT_API_TOKEN>. Without a token the API answers only on a loopback address. /api takes the header only.',
        },
      },
      schemas: { Error: jsonSchema(errorBodySchema, 'output') },
      responses: Object.fromEntries(
        Object.entries(COMMON_ERRORS).map(([s, description]) => [
          `E${s}`,
          { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        ]),
      ),
    },
  };
}
