// `npm run mosquitto-auth -- --out config/generated`: Mosquitto's password file and ACL for unknot's devices.
// Every `unknot` device may publish only `{base}/devices/<id>/event` and read only its own `…/command` and
// `…/error`; Tasmota and Shelly devices get their own topics; Zigbee2MQTT, Home Assistant and the service get
// what they need. Devices come from Redis (the registry: REDIS_URL, UNKNOT_REDIS_PREFIX) and from UNKNOT_CONFIG.
// Passwords: kept for accounts already in <out>/passwd, taken from --passwords <file.json>, MQTT_PASSWORD for the
// service account, otherwise generated and printed once. Only salted PBKDF2 hashes are written to disk.
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../src/config.js';
import type { Device } from '../src/domain/types.js';
import { Topics } from '../src/mqtt/topics.js';
import { Keys } from '../src/store/keys.js';
import { createRedisClient } from '../src/store/redis.js';
import { Registry } from '../src/store/registry.js';

export interface Account {
  username: string;
  /** What this account is for, written as a comment above its ACL block. */
  about: string;
  /** `topic read|write|readwrite <filter>` lines. */
  rules: Array<['read' | 'write' | 'readwrite', string]>;
}

export interface AuthOptions {
  out: string;
  source: 'redis' | 'static' | 'both';
  /** account → plaintext password, from --passwords. */
  passwords: Record<string, string>;
  serviceUser: string;
  /** Give Home Assistant an account (default: when UNKNOT_HA_DISCOVERY is on). */
  homeAssistant: boolean;
}

const USAGE = `usage: npm run mosquitto-auth -- --out <dir> [--source both|redis|static] [--passwords <file.json>]
                              [--service-user <name>] [--no-home-assistant]
Writes <dir>/passwd and <dir>/acl for Mosquitto from unknot's registered devices (Redis and UNKNOT_CONFIG).
Existing passwords in <dir>/passwd are kept; new ones are printed once. Reload Mosquitto afterwards (SIGHUP).`;

/** Mosquitto 2's password hash (`mosquitto_passwd`): PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt. */
export function mosquittoHash(password: string, salt = randomBytes(12)): string {
  const hash = pbkdf2Sync(password, salt, 101, 64, 'sha512');
  return `$7$101$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** The accounts and their rules, service first, then bridges, then one per device (sorted by id). */
export function accountsFor(
  config: Config,
  devices: Device[],
  opts: Pick<AuthOptions, 'serviceUser' | 'homeAssistant'>,
): Account[] {
  const topics = new Topics(config.topics);
  const { base, z2mBase, haPrefix } = topics;
  const sorted = [...devices].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
  const shelly = sorted.filter((d) => d.protocol === 'shelly' && d.topic);
  const accounts: Account[] = [
    {
      username: opts.serviceUser,
      about:
        'the unknot service: device events and commands, user topics, Zigbee2MQTT, Tasmota, Shelly, Home Assistant',
      rules: [
        ['readwrite', `${base}/#`],
        ['readwrite', `${z2mBase}/#`],
        ['write', 'cmnd/#'],
        ['read', 'stat/#'],
        ['read', 'tele/#'],
        ...shelly.map((d): Account['rules'][number] => ['readwrite', `${d.topic}/#`]),
        ['readwrite', `${haPrefix}/#`],
        // The compose health check logs in as the service and reads the broker's uptime.
        ['read', '$SYS/#'],
      ],
    },
  ];
  if (sorted.some((d) => d.protocol === 'zigbee2mqtt')) {
    accounts.push({
      username: 'zigbee2mqtt',
      about: 'the Zigbee2MQTT bridge: its own tree and its Home Assistant discovery',
      rules: [
        ['readwrite', `${z2mBase}/#`],
        ['readwrite', `${haPrefix}/#`],
      ],
    });
  }
  if (opts.homeAssistant) {
    accounts.push({
      username: 'homeassistant',
      // It reads unknot's topics and sends only the user-level buttons and switches: never a device's event.
      about: "Home Assistant: discovery, unknot's entities and their buttons and switches, Zigbee2MQTT devices",
      rules: [
        ['readwrite', `${haPrefix}/#`],
        ['read', `${base}/#`],
        ['write', `${base}/users/+/+/set`],
        ['readwrite', `${z2mBase}/#`],
      ],
    });
  }
  for (const d of sorted) {
    const who = `device ${d.deviceId} (${d.role} of ${d.userId}, ${d.protocol})`;
    if (d.protocol === 'unknot') {
      accounts.push({
        username: d.deviceId,
        about: who,
        rules: [
          ['write', topics.deviceEvent(d.deviceId)],
          ['read', topics.deviceCommand(d.deviceId)],
          ['read', topics.deviceError(d.deviceId)],
        ],
      });
    } else if (d.protocol === 'tasmota' && d.topic) {
      accounts.push({
        username: d.deviceId,
        about: who,
        rules: [
          ['read', `cmnd/${d.topic}/#`],
          ['write', `stat/${d.topic}/#`],
          ['write', `tele/${d.topic}/#`],
        ],
      });
    } else if (d.protocol === 'shelly' && d.topic) {
      accounts.push({
        username: d.deviceId,
        about: who,
        // Its own tree (status, events, online; reads <prefix>/rpc) and the topic it answers our RPC calls on.
        rules: [
          ['readwrite', `${d.topic}/#`],
          ['write', `${topics.shellyReplySrc()}/rpc`],
        ],
      });
    }
    // Zigbee2MQTT devices speak through the bridge's account.
  }
  const seen = new Map<string, string>();
  for (const a of accounts) {
    const other = seen.get(a.username);
    if (other !== undefined) {
      throw new Error(
        `two accounts would be called ${JSON.stringify(a.username)} (${other}; ${a.about}): rename the device`,
      );
    }
    seen.set(a.username, a.about);
  }
  return accounts;
}

export function renderAcl(accounts: Account[]): string {
  const lines = [
    '# Generated by `npm run mosquitto-auth`; edits are lost on the next run.',
    '# Anything not listed here is denied (Mosquitto denies by default once an acl_file is set).',
  ];
  for (const a of accounts) {
    lines.push(
      '',
      `# ${a.about}`,
      `user ${a.username}`,
      ...a.rules.map(([access, topic]) => `topic ${access} ${topic}`),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `user:hash` lines of an existing password file (comments and blank lines dropped). */
export function readPasswd(file: string): Map<string, string> {
  const kept = new Map<string, string>();
  if (!existsSync(file)) return kept;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf(':');
    if (line.startsWith('#') || at <= 0) continue;
    kept.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return kept;
}

/** Generates both files. Returns the plaintext passwords created in this run (to be shown once). */
export function writeAuthFiles(
  accounts: Account[],
  opts: Pick<AuthOptions, 'out' | 'passwords'> & { servicePassword?: string; serviceUser: string },
): { created: Array<[string, string]>; kept: string[]; dropped: string[] } {
  mkdirSync(opts.out, { recursive: true });
  const passwdFile = join(opts.out, 'passwd');
  const before = readPasswd(passwdFile);
  const created: Array<[string, string]> = [];
  const kept: string[] = [];
  const lines: string[] = [];
  for (const a of accounts) {
    const given = opts.passwords[a.username] ?? (a.username === opts.serviceUser ? opts.servicePassword : undefined);
    const old = before.get(a.username);
    if (given !== undefined) lines.push(`${a.username}:${mosquittoHash(given)}`);
    else if (old) {
      lines.push(`${a.username}:${old}`);
      kept.push(a.username);
    } else {
      const password = randomBytes(18).toString('base64url');
      created.push([a.username, password]);
      lines.push(`${a.username}:${mosquittoHash(password)}`);
    }
  }
  const dropped = [...before.keys()].filter((u) => !accounts.some((a) => a.username === u));
  // Written next to the target and renamed, so Mosquitto never reads half a file. Owner-only (0600): password
  // hashes can be attacked offline, and Mosquitto 2 warns that it will refuse world-readable password and ACL files.
  const write = (name: string, text: string) => {
    const tmp = join(opts.out, `.${name}.tmp`);
    writeFileSync(tmp, text, { mode: 0o600 });
    chmodSync(tmp, 0o600); // a stale temp file keeps its old mode through writeFileSync
    renameSync(tmp, join(opts.out, name));
  };
  write('passwd', `${lines.join('\n')}\n`);
  write('acl', renderAcl(accounts));
  return { created, kept, dropped };
}

function parseArgs(argv: string[]): AuthOptions {
  const opts: AuthOptions = { out: '', source: 'both', passwords: {}, serviceUser: '', homeAssistant: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new ConfigError(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    if (arg === '--out') opts.out = value();
    else if (arg === '--source') {
      const v = value();
      if (v !== 'redis' && v !== 'static' && v !== 'both')
        throw new ConfigError(`--source: redis, static or both (got ${v})`);
      opts.source = v;
    } else if (arg === '--passwords') {
      const file = value();
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new ConfigError(`--passwords: cannot read ${file}: ${(err as Error).message}`);
      }
      if (
        typeof parsed !== 'object' ||
        parsed === null ||
        Array.isArray(parsed) ||
        Object.values(parsed).some((v) => typeof v !== 'string' || v === '')
      ) {
        throw new ConfigError(
          `--passwords: ${file} must be a JSON object of account name → password (non-empty strings)`,
        );
      }
      opts.passwords = parsed as Record<string, string>;
    } else if (arg === '--service-user') opts.serviceUser = value();
    else if (arg === '--no-home-assistant') opts.homeAssistant = false;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new ConfigError(`unknown argument ${arg}\n${USAGE}`);
  }
  if (!opts.out) throw new ConfigError(`--out is required\n${USAGE}`);
  return opts;
}

async function registeredDevices(config: Config): Promise<Device[]> {
  const redis = createRedisClient(config.redis, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    return await new Registry(redis, new Keys(config.redis.prefix)).listDevices();
  } catch (err) {
    throw new ConfigError(
      `REDIS_URL: cannot read the registered devices from ${config.redis.url} (${(err as Error).message}); use --source static to generate from UNKNOT_CONFIG alone`,
    );
  } finally {
    redis.disconnect();
  }
}

export async function run(argv: string[], env: Record<string, string | undefined> = process.env): Promise<void> {
  const opts = parseArgs(argv);
  const config = loadConfig(env);
  opts.homeAssistant &&= config.haDiscovery;
  opts.serviceUser ||= config.mqtt.username ?? 'unknot';
  const byId = new Map<string, Device>();
  if (opts.source !== 'redis') {
    for (const d of config.file.devices) byId.set(d.deviceId, { ...d });
  }
  // The registry wins over the config file: it is what the service acts on (static entries are written to it).
  if (opts.source !== 'static') for (const d of await registeredDevices(config)) byId.set(d.deviceId, d);
  const accounts = accountsFor(config, [...byId.values()], opts);
  const out = resolve(opts.out);
  const r = writeAuthFiles(accounts, {
    out,
    passwords: opts.passwords,
    serviceUser: opts.serviceUser,
    servicePassword: config.mqtt.password,
  });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`wrote ${join(out, 'passwd')} and ${join(out, 'acl')}: ${accounts.length} accounts (${byId.size} devices)`);
  if (r.kept.length > 0) say(`kept the existing passwords of: ${r.kept.join(', ')}`);
  if (r.dropped.length > 0) say(`removed accounts no longer needed: ${r.dropped.join(', ')}`);
  if (r.created.length > 0) {
    say('new passwords (shown only this once; set them on each device):');
    for (const [user, password] of r.created) say(`  ${user} ${password}`);
    if (r.created.some(([u]) => u === opts.serviceUser))
      say(`give the service MQTT_USERNAME=${opts.serviceUser} and MQTT_PASSWORD=<its password above>`);
  }
  say('reload Mosquitto to apply: kill -HUP <pid>, or docker compose kill -s SIGHUP mosquitto');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await run(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`mosquitto-auth: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
}
