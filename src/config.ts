// Environment + config file → a frozen, validated Config (docs/configuration.md). The zod schemas here are the one
// place a variable's default and allowed values live; `npm run docs:config` generates the docs table from them.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { profileSchema, type Profile } from './domain/profile.js';
import { ID_PATTERN, PROTOCOLS, ROLES } from './domain/types.js';
import type { MethodPolicy } from './domain/methods.js';

const ROLE_NAMES = ['api', 'ingest', 'worker'] as const;
export type ProcessRole = (typeof ROLE_NAMES)[number];

const topicLevel = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^+#$\u0000/][^+#\u0000]*$/, 'a topic without wildcards (+, #), not starting with / or $')
  .refine((s) => !s.endsWith('/') && !s.includes('//'), 'no empty topic levels');

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const port = (dflt: string) =>
  z
    .string()
    .default(dflt)
    .refine((s) => /^\d+$/.test(s) && Number(s) <= 65535, 'an integer from 0 to 65535')
    .transform(Number);

/** `name` or `name:port` of a Host header; IPv6 in brackets. Lowercase, IPs as the URL parser writes them. */
export interface HostRule {
  name: string;
  /** Undefined: any port. */
  port?: number;
}

/** A Host header value (or a UNKNOT_HTTP_ALLOWED_HOSTS entry) as name and port, or undefined when it is not one. */
export function parseHostValue(value: string): { name: string; port?: number } | undefined {
  // Only a hostname, an IPv4 or a bracketed IPv6, and a port: nothing the URL parser would read as user info or path.
  if (!/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${value}`);
  } catch {
    return undefined;
  }
  const explicit = /:(\d{1,5})$/.exec(value)?.[1];
  if (explicit !== undefined && Number(explicit) > 65535) return undefined;
  return { name: url.hostname, ...(explicit !== undefined ? { port: Number(explicit) } : {}) };
}

/** `scheme://host[:port]` with scheme http or https, as the browser writes it in `Origin`; undefined otherwise. */
export function parseOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url.origin;
}

const originRule = (entry: string): string | undefined =>
  // No path, query or credentials: an entry is an origin, not a page.
  /^https?:\/\/[^/?#@]+\/?$/i.test(entry) ? parseOrigin(entry) : undefined;

/** A comma list of entries `parse` accepts; an unset or empty variable is an empty list. */
function commaList<T>(parse: (entry: string) => T | undefined, what: string) {
  return z
    .string()
    .default('')
    .transform((s, ctx) => {
      const out: T[] = [];
      for (const entry of s
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean)) {
        const v = parse(entry);
        if (v === undefined) {
          ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry)} is not one of: ${what}` });
          return z.NEVER;
        }
        out.push(v);
      }
      return out;
    });
}

const wholeNumber = (dflt: string, min: number, max: number) =>
  z
    .string()
    .default(dflt)
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max, `a whole number from ${min} to ${max}`)
    .transform(Number);

const decimal = (dflt: string, min: number, max: number) =>
  z
    .string()
    .default(dflt)
    .refine((s) => /^\d+(\.\d+)?$/.test(s) && Number(s) >= min && Number(s) <= max, `a number from ${min} to ${max}`)
    .transform(Number);

/** Every environment variable unknot reads, with its default and what is allowed. */
export const envSchema = z.object({
  MQTT_URL: z
    .string()
    .regex(/^(mqtts?|wss?|tcp|ssl):\/\/.+/, 'a URL such as mqtt://127.0.0.1:1883 or mqtts://host:8883')
    .optional(),
  MQTT_EMBEDDED_PORT: port('1883'),
  MQTT_USERNAME: z.string().optional(),
  MQTT_PASSWORD: z.string().optional(),
  MQTT_CA_FILE: z.string().min(1).optional(),
  MQTT_CERT_FILE: z.string().min(1).optional(),
  MQTT_KEY_FILE: z.string().min(1).optional(),
  MQTT_CLIENT_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/, '1–100 characters of [A-Za-z0-9_-]')
    .optional(),
  MQTT_SHARED_GROUP: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, '1–64 characters of [A-Za-z0-9_-]')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/.+/, 'a URL such as redis://127.0.0.1:6379')
    .default('redis://127.0.0.1:6379'),
  /**
   * Redis Cluster seed nodes, `host:port,host:port,…`: when set, unknot uses a cluster client and REDIS_URL is not
   * used (its password and TLS are not taken over). People's keys are spread over the shards by partition.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, 'host:port,host:port,… (one or more Redis Cluster nodes)')
    .optional(),
  UNKNOT_REDIS_PREFIX: z
    .string()
    .regex(
      /^[A-Za-z0-9_{}-]{1,64}$/,
      '1–64 characters of [A-Za-z0-9_-{}] (a hash tag such as {unknot} for Redis Cluster)',
    )
    .default('unknot'),
  // How many partitions people (and devices) are hashed to; every key of one partition shares a hash tag, so a Redis
  // Cluster spreads partitions over its shards. Stored in Redis at first start: changing it needs
  // `npm run repartition -- --to <P>` with the service stopped (docs/operations/partitions.md).
  UNKNOT_PARTITIONS: z
    .string()
    .default('64')
    .refine(
      (s) => /^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 16384,
      'a whole number of partitions from 1 to 16384',
    )
    .transform(Number),
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_PORT: port('8080'),
  UNKNOT_API_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  UNKNOT_API_RATE_LIMIT: z
    .string()
    .default('600')
    .refine(
      (s) => /^\d+$/.test(s) && Number(s) <= 1_000_000,
      'a whole number of requests per minute from 0 (no limit) to 1000000',
    )
    .transform(Number),
  // Browser-facing checks (docs/operations/browser-security.md). Each is a comma list; unset adds nothing.
  UNKNOT_HTTP_ALLOWED_HOSTS: commaList(
    parseHostValue,
    'names such as unknot.lan or unknot.lan:8443 (a name allows any port; name:port only that port)',
  ).describe(
    'Host header values answered besides localhost, 127.0.0.1, [::1] and HTTP_HOST on the listening port: for a reverse proxy or a LAN name',
  ),
  UNKNOT_HTTP_ALLOWED_ORIGINS: commaList(
    originRule,
    'origins such as https://ha.example:8123 (scheme, host, optional port; no path)',
  ).describe(
    'origins besides the service itself whose pages may send state-changing requests (POST, PUT, PATCH, DELETE)',
  ),
  UNKNOT_HTTP_FRAME_ANCESTORS: commaList(
    originRule,
    'origins such as http://homeassistant.local:8123 (scheme, host, optional port; no path)',
  ).describe("origins besides the service itself that may show its pages in a frame (Home Assistant's iframe panel)"),
  UNKNOT_BASE_TOPIC: topicLevel.default('unknot'),
  Z2M_BASE_TOPIC: topicLevel.default('zigbee2mqtt'),
  UNKNOT_HA_DISCOVERY: bool.default(true),
  HA_DISCOVERY_PREFIX: topicLevel.default('homeassistant'),
  UNKNOT_TIME_SCALE: z
    .string()
    .default('1')
    .refine((s) => /^\d+(\.\d+)?$/.test(s) && Number(s) >= 1 && Number(s) <= 100000, 'a number from 1 to 100000')
    .transform(Number),
  UNKNOT_CONFIG: z.string().min(1).default('config/default.json'),
  // The methods log and its rules (docs/concepts/methods.md); each rule quotes its source sentence there.
  UNKNOT_METHODS_MIN_OUTCOMES: wholeNumber('2', 1, 100),
  UNKNOT_METHODS_BIG_DROP: decimal('2', 0.5, 10),
  UNKNOT_METHODS_SMALL_CHANGE: decimal('0.5', 0, 5),
  UNKNOT_NO_IMPROVEMENT_WEEKS: wholeNumber('4', 1, 4),
  UNKNOT_NO_IMPROVEMENT_POINTS: decimal('1', 0.1, 10),
  UNKNOT_LONG_SITTING_MINUTES: wholeNumber('60', 5, 600),
  UNKNOT_DESK_CHECK_DAYS: wholeNumber('5', 1, 7),
  UNKNOT_DESK_CHECK_REPEAT_DAYS: wholeNumber('30', 1, 365),
  UNKNOT_HELPED_WITHIN_HOURS: wholeNumber('3', 1, 48),
  UNKNOT_HEAT_BLOCKING_SYMPTOMS: z
    .string()
    .default('numbness,tingling')
    .transform((s) =>
      s
        .split(',')
        .map((v) =>
          v
            .trim()
            .toLowerCase()
            .replace(/[\s-]+/g, '_'),
        )
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z_]{1,40}$/, 'symptom words such as numbness,tingling')).max(20)),
  UNKNOT_ROLES: z
    .string()
    .default('api,ingest,worker')
    .transform((s) =>
      s
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(ROLE_NAMES)).min(1)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type EnvName = keyof typeof envSchema.shape;

/**
 * What each variable means, for the table in docs/configuration.md (`npm run docs:config`). Defaults come from
 * envSchema itself; `unset` says what happens without a value when there is no default. A variable may instead
 * carry `.describe('…')` in the schema; test/unit/config-docs.test.ts fails while any variable has neither.
 */
export const envDocs: Partial<Record<EnvName, { unset?: string; meaning: string }>> = {
  MQTT_URL: {
    unset: 'embedded broker on `127.0.0.1:1883`',
    meaning:
      'external broker, e.g. `mqtt://127.0.0.1:1883`, `mqtts://…`; if unset and the port is taken, start-up exits 2 and says how to point `MQTT_URL` at the broker already there',
  },
  MQTT_EMBEDDED_PORT: { meaning: 'port of the embedded broker (Aedes, MQTT 3.1.1)' },
  MQTT_USERNAME: { meaning: 'broker user name' },
  MQTT_PASSWORD: { meaning: 'broker password' },
  MQTT_CA_FILE: {
    unset: "the system's CAs",
    meaning:
      "PEM file of the CA that signed the broker's certificate, for `mqtts://`; read at start (an unreadable file, or a TLS file with a non-TLS `MQTT_URL`, stops start-up)",
  },
  MQTT_CERT_FILE: {
    meaning: 'PEM client certificate, for a broker that asks for one (with `MQTT_KEY_FILE`: both or neither)',
  },
  MQTT_KEY_FILE: { meaning: 'PEM key of the client certificate (with `MQTT_CERT_FILE`: both or neither)' },
  MQTT_CLIENT_ID: {
    unset: '`unknot-<prefix>-<base topic>-ingest`',
    meaning:
      'client id of the persistent ingest session (see [delivery guarantees](reference/mqtt.md#delivery-guarantees))',
  },
  MQTT_SHARED_GROUP: {
    meaning:
      'subscribe through `$share/<group>/…` (MQTT 5) so several ingest instances split the load; they then use clean sessions',
  },
  REDIS_URL: { meaning: 'Redis 6.2+ with `maxmemory-policy noeviction` (checked at start)' },
  REDIS_CLUSTER_NODES: {
    meaning:
      '`host:port,host:port,…` of a Redis Cluster: when set, used instead of `REDIS_URL` (ioredis Cluster client); people are spread over the shards by the hash tags of their partitions ([Redis Cluster](operations/redis-cluster.md))',
  },
  UNKNOT_PARTITIONS: {
    meaning:
      'how many partitions people and devices are hashed to (1–16384); stored in Redis at first start, and a different value later stops start-up until `npm run repartition -- --to <P>` has moved the data ([partitions](operations/partitions.md))',
  },
  UNKNOT_REDIS_PREFIX: { meaning: 'prefix of every Redis key and BullMQ queue; `{unknot}` for Redis Cluster' },
  HTTP_HOST: { meaning: 'HTTP listener address' },
  HTTP_PORT: { meaning: 'HTTP port; `0` picks a free port and logs it' },
  UNKNOT_API_TOKEN: {
    meaning:
      'bearer token (16+ characters) for `/api/*`, the dashboard and `/admin/queues`; without it the API is open only on a loopback `HTTP_HOST`, and a non-loopback host is refused at start',
  },
  UNKNOT_API_RATE_LIMIT: {
    meaning:
      'requests a minute per client address on `/api/*` and `/admin/queues` (429 `rate_limited` with `Retry-After` beyond it); `0` turns the limit off',
  },
  UNKNOT_BASE_TOPIC: { meaning: 'MQTT base topic of everything unknot reads and writes' },
  Z2M_BASE_TOPIC: { meaning: 'Zigbee2MQTT base topic' },
  UNKNOT_HA_DISCOVERY: { meaning: 'publish Home Assistant MQTT discovery' },
  HA_DISCOVERY_PREFIX: { meaning: 'Home Assistant discovery prefix' },
  UNKNOT_TIME_SCALE: {
    meaning:
      'divides every policy duration (break interval, minimum break, escalation, snooze, heat minutes, routine steps, the 1/3/5-minute follow-up windows); for demos and tests, logged as a warning when not 1',
  },
  UNKNOT_CONFIG: {
    meaning: 'policy defaults and an optional static list of users and devices ([the config file](#the-config-file))',
  },
  UNKNOT_ROLES: { meaning: 'which roles this process runs, comma-separated: `api`, `ingest`, `worker`' },
  LOG_LEVEL: { meaning: 'pino level; logs are JSON lines on stdout with `userId`, `deviceId`, `sessionId`' },
  UNKNOT_METHODS_MIN_OUTCOMES: {
    meaning:
      'outcomes a method needs in an area before "what helps" gives it a label; fewer is "not enough data" ([methods](concepts/methods.md))',
  },
  UNKNOT_METHODS_BIG_DROP: {
    meaning: 'an average drop in pain (0–10 scale) of at least this many points is "helped a lot"',
  },
  UNKNOT_METHODS_SMALL_CHANGE: {
    meaning:
      'an average change in pain within ± this many points is "no change"; a bigger drop "helped a little", a bigger rise "made it worse"',
  },
  UNKNOT_NO_IMPROVEMENT_WEEKS: {
    meaning:
      'weeks of regular care (a method tried every week) after which pain that has not improved is a reason to see a professional (`no_improvement`)',
  },
  UNKNOT_NO_IMPROVEMENT_POINTS: {
    meaning: 'a drop in average pain, first week against last week, smaller than this is no improvement',
  },
  UNKNOT_LONG_SITTING_MINUTES: {
    meaning: 'a sitting stretch of at least this many minutes before a break is long sitting (desk setup check)',
  },
  UNKNOT_DESK_CHECK_DAYS: {
    meaning:
      'days of the last seven with long sitting that make "a week of long sitting" and offer the desk setup check',
  },
  UNKNOT_DESK_CHECK_REPEAT_DAYS: { meaning: 'after an answered desk setup check, it is offered again no sooner' },
  UNKNOT_HELPED_WITHIN_HOURS: {
    meaning:
      'a wearable\'s or Home Assistant\'s "that helped" / "did not help" applies to the latest method tried within this many hours',
  },
  UNKNOT_HEAT_BLOCKING_SYMPTOMS: {
    meaning:
      'symptoms that, logged with pain, refuse heat (409 `contraindicated`) until a clearance, besides fever, swelling and injury; comma-separated',
  },
};

const staticDeviceSchema = z
  .object({
    deviceId: z.string().regex(ID_PATTERN, '1–64 characters of [A-Za-z0-9_-]'),
    userId: z.string().regex(ID_PATTERN, '1–64 characters of [A-Za-z0-9_-]'),
    role: z.enum(ROLES),
    protocol: z.enum(PROTOCOLS),
    topic: z.string().min(1).max(200).optional(),
    invert: z.boolean().optional(),
  })
  .strict();

/**
 * `config/default.json`: policy defaults for new users, and users/devices for hubs that never call the API.
 * A user entry is its own fields over `defaults` over the built-in defaults (a partial schema would fill in the
 * built-in defaults first and so override `defaults`); unknown keys are refused, so a typo is not silently lost.
 */
export const fileSchema = z
  .object({
    defaults: profileSchema.partial().default({}),
    users: z
      .array(
        z.object({ userId: z.string().regex(ID_PATTERN, '1–64 characters of [A-Za-z0-9_-]') }).catchall(z.unknown()),
      )
      .default([]),
    devices: z.array(staticDeviceSchema).default([]),
  })
  .transform((file, ctx) => {
    const users: Array<Profile & { userId: string }> = [];
    for (const [i, { userId, ...fields }] of file.users.entries()) {
      const r = profileSchema.strict().safeParse({ ...file.defaults, ...fields });
      if (!r.success) {
        for (const issue of r.error.issues)
          ctx.addIssue({ code: 'custom', message: issue.message, path: ['users', i, ...issue.path] });
        return z.NEVER;
      }
      users.push({ userId, ...r.data });
    }
    return { ...file, users };
  });

export type FileConfig = z.output<typeof fileSchema>;
export type Env = z.output<typeof envSchema>;

export interface Config {
  mqtt: {
    url?: string;
    embeddedPort: number;
    username?: string;
    password?: string;
    sharedGroup?: string;
    clientId?: string;
    /** PEM contents of MQTT_CA_FILE / MQTT_CERT_FILE / MQTT_KEY_FILE, read at start-up. */
    tls?: MqttTls;
  };
  /** `partitions`: UNKNOT_PARTITIONS; `clusterNodes`: REDIS_CLUSTER_NODES, parsed (when set, `url` is not used). */
  redis: { url: string; prefix: string; partitions: number; clusterNodes?: Array<{ host: string; port: number }> };
  /** `rateLimit`: requests per minute per client address on /api and the protected pages; 0 = no limit. */
  http: {
    host: string;
    port: number;
    token?: string;
    rateLimit: number;
    /** UNKNOT_HTTP_ALLOWED_HOSTS, UNKNOT_HTTP_ALLOWED_ORIGINS (normalised origins), UNKNOT_HTTP_FRAME_ANCESTORS. */
    allowedHosts: readonly HostRule[];
    allowedOrigins: readonly string[];
    frameAncestors: readonly string[];
  };
  topics: { base: string; z2m: string; haPrefix: string };
  haDiscovery: boolean;
  timeScale: number;
  roles: ReadonlySet<ProcessRole>;
  logLevel: Env['LOG_LEVEL'];
  configFile: string;
  file: FileConfig;
  /** The methods log's rules (docs/concepts/methods.md); also the advice's options (src/domain/advice.ts). */
  methods: MethodsConfig;
}

export interface MethodsConfig extends MethodPolicy {
  /** A "that helped" action applies to the latest method tried within this long (hours). */
  helpedWithinHours: number;
  /** Symptoms that refuse heat when logged with pain, until a clearance. */
  heatBlockingSymptoms: readonly string[];
}

export interface MqttTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** `host:port,host:port` (validated by the schema) → seed nodes for ioredis's Cluster. */
export function parseClusterNodes(spec: string): Array<{ host: string; port: number }> {
  return spec.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
  });
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const describeIssue = (issue: z.core.$ZodIssue, env: Record<string, string | undefined>, prefix = '') => {
  const name = `${prefix}${issue.path.join('.')}`;
  const got = prefix === '' && issue.path.length === 1 ? env[String(issue.path[0])] : undefined;
  return `${name}: ${issue.message}${got !== undefined ? ` (got ${JSON.stringify(got)})` : ''}`;
};

export const isLoopback = (host: string) =>
  host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

/** Reads and validates everything; throws ConfigError with one line naming the variable and what is allowed. */
export function loadConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): Config {
  const emptyToUndefined = Object.fromEntries(
    Object.keys(envSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = envSchema.safeParse(emptyToUndefined);
  if (!parsed.success) {
    throw new ConfigError(describeIssue(parsed.error.issues[0]!, env));
  }
  const e = parsed.data;
  if (!e.UNKNOT_API_TOKEN && !isLoopback(e.HTTP_HOST)) {
    throw new ConfigError(
      `HTTP_HOST: ${JSON.stringify(e.HTTP_HOST)} is not a loopback address, so UNKNOT_API_TOKEN must be set (at least 16 characters) to protect the API`,
    );
  }
  if (e.REDIS_CLUSTER_NODES && /[{}]/.test(e.UNKNOT_REDIS_PREFIX)) {
    // A hash tag in the prefix comes first in every key, so it would put all of them into one slot of one shard.
    throw new ConfigError(
      `UNKNOT_REDIS_PREFIX: ${JSON.stringify(e.UNKNOT_REDIS_PREFIX)} has a hash tag ({…}), which would put every key on one shard of the Redis Cluster; unknot tags its keys by partition itself: use a prefix without braces`,
    );
  }
  const configFile = resolve(cwd, e.UNKNOT_CONFIG);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError(`UNKNOT_CONFIG: cannot read ${configFile}: ${why}`);
  }
  const file = fileSchema.safeParse(raw);
  if (!file.success) {
    throw new ConfigError(`UNKNOT_CONFIG (${e.UNKNOT_CONFIG}): ${describeFileIssue(file.error.issues[0]!, raw)}`);
  }
  checkStaticEntries(file.data, e.UNKNOT_CONFIG);
  const tls = readTlsFiles(e, cwd);
  return Object.freeze({
    mqtt: {
      url: e.MQTT_URL,
      embeddedPort: e.MQTT_EMBEDDED_PORT,
      username: e.MQTT_USERNAME,
      password: e.MQTT_PASSWORD,
      sharedGroup: e.MQTT_SHARED_GROUP,
      clientId: e.MQTT_CLIENT_ID,
      ...(tls ? { tls } : {}),
    },
    redis: {
      url: e.REDIS_URL,
      prefix: e.UNKNOT_REDIS_PREFIX,
      partitions: e.UNKNOT_PARTITIONS,
      ...(e.REDIS_CLUSTER_NODES ? { clusterNodes: parseClusterNodes(e.REDIS_CLUSTER_NODES) } : {}),
    },
    http: {
      host: e.HTTP_HOST,
      port: e.HTTP_PORT,
      token: e.UNKNOT_API_TOKEN,
      rateLimit: e.UNKNOT_API_RATE_LIMIT,
      allowedHosts: e.UNKNOT_HTTP_ALLOWED_HOSTS,
      allowedOrigins: e.UNKNOT_HTTP_ALLOWED_ORIGINS,
      frameAncestors: e.UNKNOT_HTTP_FRAME_ANCESTORS,
    },
    topics: { base: e.UNKNOT_BASE_TOPIC, z2m: e.Z2M_BASE_TOPIC, haPrefix: e.HA_DISCOVERY_PREFIX },
    haDiscovery: e.UNKNOT_HA_DISCOVERY,
    timeScale: e.UNKNOT_TIME_SCALE,
    roles: new Set(e.UNKNOT_ROLES),
    logLevel: e.LOG_LEVEL,
    configFile,
    file: file.data,
    methods: {
      minOutcomes: e.UNKNOT_METHODS_MIN_OUTCOMES,
      bigDrop: e.UNKNOT_METHODS_BIG_DROP,
      smallChange: e.UNKNOT_METHODS_SMALL_CHANGE,
      noImprovementWeeks: e.UNKNOT_NO_IMPROVEMENT_WEEKS,
      improvementPoints: e.UNKNOT_NO_IMPROVEMENT_POINTS,
      longSittingMinutes: e.UNKNOT_LONG_SITTING_MINUTES,
      deskCheckDays: e.UNKNOT_DESK_CHECK_DAYS,
      deskCheckRepeatDays: e.UNKNOT_DESK_CHECK_REPEAT_DAYS,
      helpedWithinHours: e.UNKNOT_HELPED_WITHIN_HOURS,
      heatBlockingSymptoms: e.UNKNOT_HEAT_BLOCKING_SYMPTOMS,
    },
  });
}

/**
 * The broker's CA and an optional client certificate, read once at start-up so that a missing or unreadable file
 * stops the process with one line (exit 2) instead of failing at the first TLS handshake.
 */
function readTlsFiles(e: Env, cwd: string): MqttTls | undefined {
  const files = { ca: e.MQTT_CA_FILE, cert: e.MQTT_CERT_FILE, key: e.MQTT_KEY_FILE };
  if (!files.ca && !files.cert && !files.key) return undefined;
  const tlsUrl = e.MQTT_URL !== undefined && /^(mqtts|wss|ssl):/.test(e.MQTT_URL);
  if (!tlsUrl) {
    const which = files.ca ? 'MQTT_CA_FILE' : files.cert ? 'MQTT_CERT_FILE' : 'MQTT_KEY_FILE';
    throw new ConfigError(
      `${which}: set, but MQTT_URL is not a TLS URL (mqtts://, wss://); the file would be ignored and the connection unencrypted`,
    );
  }
  if (!files.cert !== !files.key) {
    throw new ConfigError(
      `${files.cert ? 'MQTT_KEY_FILE' : 'MQTT_CERT_FILE'}: a client certificate needs both MQTT_CERT_FILE and MQTT_KEY_FILE`,
    );
  }
  const read = (name: string, path: string | undefined): Buffer | undefined => {
    if (!path) return undefined;
    const full = resolve(cwd, path);
    let data: Buffer;
    try {
      data = readFileSync(full);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new ConfigError(`${name}: cannot read ${full}: ${why}`);
    }
    if (!data.includes('-----BEGIN')) throw new ConfigError(`${name}: ${full} is not a PEM file (no -----BEGIN line)`);
    return data;
  };
  return {
    ca: read('MQTT_CA_FILE', files.ca),
    cert: read('MQTT_CERT_FILE', files.cert),
    key: read('MQTT_KEY_FILE', files.key),
  };
}

/** `users.1 ("bob")` / `devices.0 ("desk-1")`: which entry of the config file a line is about. */
export const entryLabel = (list: 'users' | 'devices', index: number, id: unknown) =>
  `${list}.${index}${typeof id === 'string' ? ` (${JSON.stringify(id.slice(0, 64))})` : ''}`;

/** One line for a config-file issue: the entry (with its id), the field, what is allowed and what was given. */
function describeFileIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const at = (path: readonly PropertyKey[]) =>
    path.reduce<unknown>(
      (v, k) => (typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[k] : undefined),
      raw,
    );
  const [list, index, ...rest] = issue.path;
  let where = issue.path.join('.');
  if ((list === 'users' || list === 'devices') && typeof index === 'number') {
    const entry = at([list, index]) as Record<string, unknown> | undefined;
    where = [entryLabel(list, index, list === 'users' ? entry?.userId : entry?.deviceId), ...rest].join('.');
  }
  const got = issue.path.length > 0 ? at(issue.path) : undefined;
  const shown = got === undefined || typeof got === 'object' ? '' : ` (got ${JSON.stringify(got).slice(0, 80)})`;
  return `${where || 'file'}: ${issue.message}${shown}`;
}

function checkStaticEntries(file: FileConfig, name: string) {
  const users = new Set<string>();
  for (const [i, u] of file.users.entries()) {
    if (users.has(u.userId)) {
      throw new ConfigError(`UNKNOT_CONFIG (${name}): ${entryLabel('users', i, u.userId)}: duplicate userId`);
    }
    users.add(u.userId);
  }
  const seen = new Set<string>();
  for (const [i, d] of file.devices.entries()) {
    const where = `UNKNOT_CONFIG (${name}): ${entryLabel('devices', i, d.deviceId)}`;
    if (seen.has(d.deviceId)) throw new ConfigError(`${where}: duplicate deviceId ${JSON.stringify(d.deviceId)}`);
    seen.add(d.deviceId);
    if (!users.has(d.userId)) {
      throw new ConfigError(`${where}: userId ${JSON.stringify(d.userId)} is not declared under "users"`);
    }
    if (d.protocol !== 'unknot' && !d.topic) {
      throw new ConfigError(`${where}: protocol ${d.protocol} needs a "topic"`);
    }
  }
}
