// `npm run demo`: unknot on its embedded broker at 120× speed with a simulated desk sensor, printing what a
// person would see in about 40 seconds: sitting, nudges escalating, a break, a natural break, the summary.
// Needs only Redis (REDIS_URL, default redis://127.0.0.1:6379); everything it writes is removed at the end.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import mqtt from 'mqtt';
import { main } from '../src/main.js';

const SCALE = 120;
const demoMinutes = (realMs: number) => (realMs * SCALE) / 60_000;
const t0 = Date.now();
const clock = () => {
  const m = demoMinutes(Date.now() - t0);
  return `[${String(Math.floor(m)).padStart(2, '0')}:${String(Math.round((m % 1) * 60) % 60).padStart(2, '0')} demo time]`;
};
const say = (line: string) => process.stdout.write(`${clock()} ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

const prefix = `unknot-demo-${randomBytes(3).toString('hex')}`;
const brokerPort = await freePort();
process.stdout.write(
  `unknot demo: 1 real second = ${SCALE / 60} demo minutes. Break after 30 min, escalation every 5 min, a break is 2 min up.\n` +
    `Embedded MQTT broker on 127.0.0.1:${brokerPort}; Redis keys under "${prefix}" (removed at the end).\n\n`,
);

const { stop, ctx, httpPort } = await main({
  env: {
    ...process.env,
    MQTT_URL: '',
    MQTT_EMBEDDED_PORT: String(brokerPort),
    HTTP_PORT: '0',
    UNKNOT_TIME_SCALE: String(SCALE),
    UNKNOT_REDIS_PREFIX: prefix,
    UNKNOT_HA_DISCOVERY: 'false',
    LOG_LEVEL: 'error',
  },
});
const api = `http://127.0.0.1:${httpPort}/api`;
const put = (path: string, body: unknown) =>
  fetch(`${api}${path}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

await put('/users/sam', { timezone: 'Europe/Berlin', breakAfterMinutes: 30, escalateAfterMinutes: 5, maxNudges: 3 });
await put('/devices/sam-desk', { userId: 'sam', role: 'desk', protocol: 'unknot' });
await put('/devices/sam-watch', { userId: 'sam', role: 'wearable', protocol: 'unknot' });

const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`);
await client.subscribeAsync(['unknot/users/sam/nudge', 'unknot/devices/sam-watch/command', 'unknot/users/sam/state']);
let lastPosture = '';
client.on('message', (topic, payload) => {
  const msg = JSON.parse(payload.toString()) as {
    level?: number;
    message?: string;
    command?: string;
    posture?: string;
    nextNudgeAt?: string;
  };
  if (topic.endsWith('/nudge')) say(`🔔 nudge level ${msg.level ?? '?'}: "${msg.message ?? ''}"`);
  else if (topic.endsWith('/command'))
    say(`⌚ the watch buzzes (command ${msg.command ?? '?'}, level ${msg.level ?? '?'})`);
  else if (topic.endsWith('/state') && msg.posture !== lastPosture) {
    lastPosture = String(msg.posture);
    say(
      `   state: ${msg.posture ?? 'unknown'}${msg.nextNudgeAt ? `, next nudge due in ${demoMinutes(Date.parse(msg.nextNudgeAt) - Date.now()).toFixed(0)} demo minutes` : ''}`,
    );
  }
});
const desk = (posture: string) =>
  client.publishAsync('unknot/devices/sam-desk/event', JSON.stringify({ type: 'posture', posture }), { qos: 1 });

say('🪑 the desk sensor sees Sam sit down');
await desk('sitting');
await sleep(21_000); // 42 demo minutes: level 1 at 30, level 2 at 35, level 3 at 40
say('🚶 Sam gets up after the third nudge');
await desk('standing');
await sleep(2_000);
say('🪑 back at the desk');
await desk('sitting');
await new Promise<void>((resolve) => {
  const onNudge = (topic: string) => {
    if (!topic.endsWith('/nudge')) return;
    client.off('message', onNudge);
    resolve();
  };
  client.on('message', onNudge);
});
await sleep(1_000); // 2 demo minutes after the nudge
say('🧘 Sam stands up and stretches right after the first nudge');
await desk('standing');
await sleep(2_000);
say('🪑 back at the desk');
await desk('sitting');
await sleep(5_000); // 10 demo minutes
say('☕ Sam gets up for a coffee before any nudge');
await desk('away');
await sleep(2_000);

const summary = (await (await fetch(`${api}/users/sam/summary?days=1`)).json()) as {
  total: Record<string, number | null>;
};
const log = (await (await fetch(`${api}/users/sam/adherence`)).json()) as {
  entries: Array<{ type: string; at: string }>;
};
process.stdout.write('\nAdherence log:\n');
for (const e of log.entries) process.stdout.write(`  ${e.at}  ${e.type}\n`);
const t = summary.total;
process.stdout.write(
  `\nToday's summary: ${t.breaks} breaks (${t.naturalBreaks} natural), ${t.nudgesSent} nudges sent, ` +
    `followed within 5 min: ${t.followedWithin5}, compliance ${t.compliance === null ? 'n/a' : `${Math.round(Number(t.compliance) * 100)}%`}, ` +
    `longest sitting ${t.longestSittingMinutes} real minutes.\n`,
);

await client.endAsync();
const keys = await ctx.redis.keys(`${prefix}:*`);
if (keys.length) await ctx.redis.del(...keys);
await stop();
process.exit(0);
