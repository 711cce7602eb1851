// `npm run demo`: unknot on its embedded broker at 120× speed with a simulated desk sensor, printing what a
// person would see in about 40 seconds: sitting, nudges escalating, a break, a natural break, a self-care method
// and how it went, the log in plain words, the summary, and the therapist report written to a file. Every time it
// prints is demo time (1 real second = 2 demo minutes). Needs only Redis (REDIS_URL, default
// redis://127.0.0.1:6379); everything it writes to Redis is removed at the end.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { METHOD_NAMES, type Method } from '../src/domain/types.js';
import { main } from '../src/main.js';

const SCALE = 120;
const demoMinutes = (realMs: number) => (realMs * SCALE) / 60_000;
let t0 = Date.now();
/** mm:ss of demo time since the demo started. */
const demoClock = (at: number) => {
  const seconds = Math.max(0, Math.round(demoMinutes(at - t0) * 60));
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
};
const clock = () => `[${demoClock(Date.now())} demo time]`;
const say = (line: string) => process.stdout.write(`${clock()} ${line}\n`);
/** Real seconds or minutes of the log and the summary, as demo minutes. */
const demoMin = (realSeconds: number) => `${Math.round((realSeconds * SCALE) / 60)} demo min`;
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
  `unknot demo: 1 real second = ${SCALE / 60} demo minutes; every time below is demo time. Break after 30 min, escalation every 5 min, a break is 2 min up.\n` +
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
const send = (method: string, path: string, body: unknown) =>
  fetch(`${api}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const put = (path: string, body: unknown) => send('PUT', path, body);
const post = async (path: string, body: unknown) => {
  const r = await send('POST', path, body);
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
  return r;
};

interface LogLine {
  type: string;
  at: string;
  [k: string]: unknown;
}
/** One log entry in plain words (docs/concepts/adherence.md), durations in demo time. */
function explain(e: LogLine): string {
  const n = (k: string) => Number(e[k] ?? 0);
  const str = (k: string) => (typeof e[k] === 'string' ? e[k] : '');
  switch (e.type) {
    case 'sitting_started':
      return 'sat down: a sitting session began';
    case 'nudge_sent':
      return `reminder ${n('level')} sent: time to get up`;
    case 'nudge_snoozed':
      return 'reminder snoozed';
    case 'nudge_ignored':
      return `every reminder (${n('nudges')}) went unanswered`;
    case 'break_taken':
      return `got up after a reminder, ${demoMin(n('latencySeconds'))} after the first, having sat ${demoMin(n('sittingSeconds'))}`;
    case 'natural_break':
      return `got up before any reminder, having sat ${demoMin(n('sittingSeconds'))}`;
    case 'nudge_acked':
      return 'reminder acknowledged on a device';
    case 'heat_on':
      return `heat pad on for ${n('minutes')} demo min`;
    case 'heat_off':
      return `heat pad off (${String(e.reason)})`;
    case 'heat_refused':
      return `heat refused: ${String(e.reason)}`;
    case 'pain_logged':
      return `pain ${n('level')} of 10 in the ${String(e.area).replace(/_/g, ' ')}${str('refers') ? `, spreading ${str('refers')}` : ''}`;
    case 'method_tried':
      return `tried ${str('name') || METHOD_NAMES[str('method') as Method] || str('method')} on the ${String(e.area).replace(/_/g, ' ')}${e.minutes ? ` for ${n('minutes')} min` : ''}`;
    case 'method_outcome':
      return `how it went: ${String(e.feeling)}${e.painAfter !== undefined ? `, pain ${e.painBefore !== undefined ? `${n('painBefore')} → ` : 'afterwards '}${n('painAfter')}` : ''}`;
    default:
      return e.type.replace(/_/g, ' ');
  }
}

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

t0 = Date.now(); // demo time starts when Sam sits down
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

say('🤕 Sam logs a sore neck that spreads up into the head, 5 of 10');
await post('/users/sam/pain', { level: 5, area: 'neck', refers: 'up into the back of the head' });
say('🎾 Sam presses a ball into the knot for 5 minutes; afterwards it feels better, pain 5 → 3');
await post('/users/sam/methods', {
  method: 'trigger_point_ball',
  area: 'neck',
  minutes: 5,
  painBefore: 5,
  outcome: { feeling: 'better', painAfter: 3 },
});

const summary = (await (await fetch(`${api}/users/sam/summary?days=1`)).json()) as {
  total: Record<string, number | null>;
};
const log = (await (await fetch(`${api}/users/sam/adherence`)).json()) as { entries: LogLine[] };
process.stdout.write('\nAdherence log (demo time since the start):\n');
// A break is shown when it began (it is logged once it has lasted long enough to count).
for (const e of log.entries) {
  const at = typeof e.breakStartedAt === 'string' ? e.breakStartedAt : e.at;
  process.stdout.write(`  ${demoClock(Date.parse(at))}  ${explain(e)}\n`);
}
const t = summary.total as Record<string, number>;
const compliance = summary.total.compliance;
// The summary rounds real minutes to tenths, 6 demo minutes at this speed: the sitting figures come from the
// log's seconds instead.
const sat = log.entries
  .filter((e) => e.type === 'break_taken' || e.type === 'natural_break')
  .map((e) => Number(e.sittingSeconds));
process.stdout.write(
  `\nToday's summary: ${t.breaks} breaks (${t.naturalBreaks} on Sam's own), ${t.nudgesSent} reminders sent, ` +
    `up within 5 demo minutes of a reminder: ${t.followedWithin5} of ${t.nudgedSessions}` +
    ` (${compliance === null ? 'n/a' : `${Math.round(Number(compliance) * 100)}%`}), ` +
    `${demoMin(sat.reduce((a, b) => a + b, 0))} sitting in all, the longest ${demoMin(Math.max(0, ...sat))} in one go.\n`,
);

const report = await fetch(`${api}/users/sam/report`);
const reportPath = join(tmpdir(), `unknot-demo-report-sam.html`);
await writeFile(reportPath, await report.text());
process.stdout.write(
  `\nThe report for Sam's therapist (${report.status === 200 ? 'one printable page' : `HTTP ${report.status}`}): ${reportPath}\n` +
    `Open it in a browser; Print → "Save as PDF" makes the PDF.\n`,
);

await client.endAsync();
const keys = await ctx.redis.keys(`${prefix}:*`);
if (keys.length) await ctx.redis.del(...keys);
await stop();
process.exit(0);
