// unknot dashboard: reads the API with the bearer token (from ?token= or the form, kept in localStorage) and
// draws the charts with chart.js (served by the service from node_modules). No build step, no CDN.
// Type-checked as JavaScript (src/http/dashboard/tsconfig.json, run by `npm run lint`).
// @ts-check
'use strict';

(() => {
  /**
   * An element of the page by id (index.html has every one this script asks for).
   * @template {HTMLElement} [T=HTMLElement]
   * @param {string} id
   * @returns {T}
   */
  const $ = (id) => {
    const el = document.getElementById(id);
    if (!el) throw new Error(`the page has no #${id}`);
    return /** @type {T} */ (el);
  };
  /** @param {string} id */
  const input = (id) => /** @type {HTMLInputElement} */ ($(id));
  const DAY_MS = 86_400_000;
  const LIVE_REFRESH_MS = 5_000;
  const CHART_REFRESH_MS = 60_000;

  // Okabe–Ito colours: told apart by people with colour-blindness too.
  const C = {
    blue: '#0072B2',
    orange: '#E69F00',
    green: '#009E73',
    sky: '#56B4E9',
    vermillion: '#D55E00',
    purple: '#CC79A7',
    yellow: '#F0E442',
    grey: '#8c969f',
    darkGreen: '#00664a',
    paleGreen: '#86d3bd',
  };
  const AREA = {
    neck: { label: 'Neck', color: C.blue },
    shoulders: { label: 'Shoulders', color: C.vermillion },
    upper_back: { label: 'Upper back', color: C.green },
    lower_back: { label: 'Lower back', color: C.purple },
    glutes: { label: 'Buttocks (glutes)', color: C.orange },
    other: { label: 'Other', color: C.grey },
  };
  const POSTURE = {
    sitting: 'Sitting',
    standing: 'Standing',
    moving: 'Moving',
    away: 'Away',
    unknown: 'Not known yet',
  };
  const STEP = {
    pressure: 'Pressure on the knot',
    heat: 'Heat',
    neck_side_stretch: 'Neck side stretch',
    doorway_chest_stretch: 'Doorway chest stretch',
  };

  const params = new URLSearchParams(location.search);
  /**
   * @type {{ token: string, config: { tokenRequired: boolean, timeScale: number, queuesPath: string },
   *   userId: string | null, days: number, charts: Record<string, any>, live: any, heatBlocked: boolean,
   *   liveTimer?: ReturnType<typeof setInterval>, chartTimer?: ReturnType<typeof setInterval>,
   *   tickTimer?: ReturnType<typeof setInterval> }}
   */
  const state = {
    token: '',
    config: { tokenRequired: false, timeScale: 1, queuesPath: '/admin/queues' },
    userId: null,
    days: 14,
    charts: {},
    live: null,
    heatBlocked: false,
  };
  // Read by the browser test (and handy in the console).
  window.unknotDashboard = state;

  // ------------------------------------------------------------------ token and API

  const urlToken = params.get('token');
  if (urlToken) {
    localStorage.setItem('unknot.token', urlToken);
    params.delete('token');
    history.replaceState(null, '', location.pathname + (params.toString() ? `?${params}` : ''));
  }
  state.token = localStorage.getItem('unknot.token') || '';

  class AuthError extends Error {}

  async function api(path) {
    const headers = { accept: 'application/json' };
    if (state.token) headers.authorization = `Bearer ${state.token}`;
    const r = await fetch(path, { headers });
    if (r.status === 401) throw new AuthError('The access token was not accepted.');
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error((body && body.detail) || `${r.status} ${r.statusText}`);
    return body;
  }

  function askForToken(message) {
    $('main').hidden = true;
    $('token-form').hidden = false;
    $('token-error').textContent = message || '';
    $('token-input').focus();
    document.body.dataset.state = 'token';
  }

  $('token').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = input('token-input').value.trim();
    localStorage.setItem('unknot.token', state.token);
    start();
  });

  // The person/period form only filters the page (no inline handler: the CSP allows no inline script).
  $('controls').addEventListener('submit', (ev) => ev.preventDefault());

  // bull-board cannot send our header: showing the token once sets an HttpOnly cookie for it.
  $('queues-link').addEventListener('click', async (ev) => {
    if (!state.token) return;
    ev.preventDefault();
    const path = `${state.config.queuesPath}/`;
    await fetch(path, { headers: { authorization: `Bearer ${state.token}` } }).catch(() => undefined);
    location.href = path;
  });

  // The therapist report (GET /api/users/{id}/report, text/html): fetched with the token like every API call,
  // then shown in a new tab from a blob, so the token never goes into a URL. The tab is opened at the click (a
  // popup blocker allows that) and pointed at the report once it has arrived.
  $('report-button').addEventListener('click', async () => {
    if (!state.userId) return;
    const tab = window.open('', '_blank');
    try {
      const headers = { accept: 'text/html' };
      if (state.token) headers.authorization = `Bearer ${state.token}`;
      const r = await fetch(`/api/users/${encodeURIComponent(state.userId)}/report`, { headers });
      if (r.status === 401) throw new AuthError('The access token was not accepted.');
      if (!r.ok) {
        const body = await r.json().catch(() => null);
        throw new Error((body && body.detail) || `${r.status} ${r.statusText}`);
      }
      const url = URL.createObjectURL(new window.Blob([await r.text()], { type: 'text/html' }));
      if (tab) tab.location.href = url;
      else location.href = url;
    } catch (err) {
      tab?.close();
      showError(err);
    }
  });

  // ------------------------------------------------------------------ words and numbers

  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const cap = (word) => word.charAt(0).toUpperCase() + word.slice(1);

  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return plural(s, 'second');
    const m = Math.round(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    return `${h} h ${m % 60} min`;
  }

  const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

  // Two short lines (weekday, day of the month) so two weeks fit without slanted text; the axis title gives
  // the months.
  const dayLabel = (date, today) => {
    const d = new Date(`${date}T12:00:00Z`);
    return [
      date === today ? 'Today' : d.toLocaleDateString([], { weekday: 'short', timeZone: 'UTC' }),
      String(d.getUTCDate()),
    ];
  };
  const dateText = (date) =>
    new Date(`${date}T12:00:00Z`).toLocaleDateString([], { day: 'numeric', month: 'short', timeZone: 'UTC' });

  const shortDate = (ms) => new Date(ms).toLocaleDateString([], { day: 'numeric', month: 'short' });

  /** Minutes, or seconds when everything shown is under two minutes (a demo at a fast time scale). */
  function timeUnit(valuesInMinutes) {
    const max = Math.max(0, ...valuesInMinutes.filter((v) => typeof v === 'number'));
    return max > 0 && max < 2
      ? { factor: 60, word: 'seconds', short: 's', round: (v) => Math.round(v * 60) }
      : { factor: 1, word: 'minutes', short: 'min', round: (v) => Math.round(v * 10) / 10 };
  }

  /** Monday of the ISO week of a YYYY-MM-DD date. */
  function weekStartOf(date) {
    const d = new Date(`${date}T12:00:00Z`);
    const weekday = (d.getUTCDay() + 6) % 7; // 0 = Monday
    return new Date(d.getTime() - weekday * DAY_MS).toISOString().slice(0, 10);
  }

  // ------------------------------------------------------------------ charts

  function setupChartDefaults() {
    const d = window.Chart.defaults;
    d.font.family = getComputedStyle(document.body).fontFamily;
    d.font.size = 13;
    d.color = '#1f2933';
    d.animation = false;
    d.maintainAspectRatio = false;
    d.plugins.legend.position = 'bottom';
    d.plugins.legend.labels.usePointStyle = true;
    d.plugins.legend.labels.pointStyleWidth = 18;
    d.plugins.legend.labels.padding = 14;
    d.elements.bar.pointStyle = 'rectRounded';
    d.plugins.tooltip.mode = 'index';
    d.plugins.tooltip.intersect = false;
  }

  const axisTitle = (text) => ({ display: true, text, font: { weight: '600' } });
  const countAxis = (title) => ({
    beginAtZero: true,
    title: axisTitle(title),
    ticks: { precision: 0 },
    grid: { color: '#e9edf0' },
  });
  /** @type {{ title: unknown, grid: unknown, ticks: Record<string, unknown> }} */
  let dayAxis = {
    title: axisTitle('Day'),
    grid: { display: false },
    ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 4 },
  };
  /** A dashed reference line (goal, reminder time), drawn as a line in the legend too. */
  const referenceLine = (label, data) => ({
    type: 'line',
    label,
    data,
    borderColor: '#6b7680',
    backgroundColor: '#6b7680',
    borderDash: [6, 5],
    borderWidth: 2,
    pointRadius: 0,
    pointStyle: 'line',
    order: 1,
  });

  function draw(id, config, emptyText) {
    const card = $(`card-${id}`);
    const canvas = $(`chart-${id}`);
    const empty = /** @type {HTMLElement} */ (card.querySelector('.empty'));
    if (state.charts[id]) {
      state.charts[id].destroy();
      delete state.charts[id];
    }
    if (emptyText) {
      canvas.hidden = true;
      empty.hidden = false;
      empty.textContent = emptyText;
      card.dataset.empty = 'true';
      return;
    }
    canvas.hidden = false;
    empty.hidden = true;
    card.dataset.empty = 'false';
    state.charts[id] = new window.Chart(canvas, config);
  }

  const allZero = (values) => values.every((v) => !v);

  function drawCharts({ summary, profile, painEntries }) {
    const days = summary.days.slice(-state.days);
    const today = days[days.length - 1].date;
    const labels = days.map((d) => dayLabel(d.date, today));
    // Every day, every other or every fourth, counted back from today so that today always has its label.
    const every = days.length <= 8 ? 1 : days.length <= 16 ? 2 : 4;
    dayAxis = {
      ...dayAxis,
      title: axisTitle(`Day (${dateText(days[0].date)} to ${dateText(today)})`),
      ticks: {
        maxRotation: 0,
        autoSkip: false,
        callback: (_v, i) => ((days.length - 1 - i) % every === 0 ? labels[i] : ''),
      },
    };
    const scale = state.config.timeScale || 1;

    // Time sitting per day.
    const sitUnit = timeUnit(days.map((d) => d.sittingMinutes));
    draw(
      'sitting',
      {
        type: 'bar',
        data: {
          labels,
          datasets: [
            {
              label: `Time sitting (${sitUnit.word})`,
              data: days.map((d) => sitUnit.round(d.sittingMinutes)),
              backgroundColor: C.blue,
              borderRadius: 4,
            },
          ],
        },
        options: { scales: { x: dayAxis, y: { ...countAxis(cap(sitUnit.word)), ticks: {} } } },
      },
      allZero(days.map((d) => d.sittingMinutes)) &&
        'No sitting recorded in these days yet. It shows up here once a chair, desk or wearable reports sitting.',
    );

    // Longest stretch, against the reminder interval.
    const reminderMinutes = profile.breakAfterMinutes / scale;
    const longUnit = timeUnit([...days.map((d) => d.longestSittingMinutes), reminderMinutes]);
    draw(
      'longest',
      {
        type: 'bar',
        data: {
          labels,
          datasets: [
            {
              type: 'bar',
              label: `Longest time sitting in one go (${longUnit.word})`,
              data: days.map((d) => longUnit.round(d.longestSittingMinutes)),
              backgroundColor: C.orange,
              borderRadius: 4,
              order: 2,
            },
            referenceLine(
              `Break reminder comes after ${longUnit.round(reminderMinutes)} ${longUnit.short}`,
              days.map(() => longUnit.round(reminderMinutes)),
            ),
          ],
        },
        options: { scales: { x: dayAxis, y: { ...countAxis(cap(longUnit.word)), ticks: {} } } },
      },
      allZero(days.map((d) => d.longestSittingMinutes)) && 'No sitting recorded in these days yet.',
    );

    // Breaks, natural and after a reminder.
    draw(
      'breaks',
      {
        type: 'bar',
        data: {
          labels,
          datasets: [
            {
              label: 'Got up on my own (before any reminder)',
              data: days.map((d) => d.naturalBreaks),
              backgroundColor: C.green,
              stack: 'b',
              borderRadius: 2,
            },
            {
              label: 'Got up after a reminder',
              data: days.map((d) => Math.max(0, d.breaks - d.naturalBreaks)),
              backgroundColor: C.sky,
              stack: 'b',
              borderRadius: 2,
            },
          ],
        },
        options: { scales: { x: { ...dayAxis, stacked: true }, y: { ...countAxis('Breaks'), stacked: true } } },
      },
      allZero(days.map((d) => d.breaks)) && 'No breaks recorded in these days yet.',
    );

    // Reminders and how soon they were followed.
    const windowMinutes = (m) =>
      scale === 1 ? plural(m, 'minute') : `${m} min (${Math.round(((m * 60) / scale) * 10) / 10} s in demo time)`;
    draw(
      'nudges',
      {
        type: 'bar',
        data: {
          labels,
          datasets: [
            {
              // Every reminder sent (escalations too): a session nudged twice is 2, not 1.
              label: 'Reminders sent',
              data: days.map((d) => d.nudgesSent),
              backgroundColor: C.grey,
              borderRadius: 3,
            },
            {
              label: `Up within ${windowMinutes(1)}`,
              data: days.map((d) => d.followedWithin1),
              backgroundColor: C.darkGreen,
              borderRadius: 3,
            },
            {
              label: `Up within ${windowMinutes(3)}`,
              data: days.map((d) => d.followedWithin3),
              backgroundColor: C.green,
              borderRadius: 3,
            },
            {
              label: `Up within ${windowMinutes(5)}`,
              data: days.map((d) => d.followedWithin5),
              backgroundColor: C.paleGreen,
              borderRadius: 3,
            },
          ],
        },
        options: { scales: { x: dayAxis, y: countAxis('Times') } },
      },
      allZero(days.map((d) => d.nudgedSessions + d.nudgesSent)) &&
        'No break reminders in these days: either every break came before one was due, or nothing was tracked.',
    );
    const total = summary.total;
    $('nudges-hint').textContent =
      total.compliance === null
        ? 'Every reminder sent, and how many times you were up within 1, 3 or 5 minutes of the first one.'
        : `Every reminder sent, and how soon after the first one you got up. Over these days you were up within 5 minutes ${Math.round(total.compliance * 100)}% of the times a reminder came.`;

    // Heat: sessions, and the time with heat on: from heatSeconds, so a 3-second session shows as 3 s (rounding
    // minutes to tenths made it 6 s).
    const heatMinutesOf = (d) => (typeof d.heatSeconds === 'number' ? d.heatSeconds / 60 : d.heatMinutes);
    const heatUnit = timeUnit(days.map(heatMinutesOf));
    const showHeatTime = !allZero(days.map(heatMinutesOf));
    draw(
      'heat',
      {
        type: 'bar',
        data: {
          labels,
          datasets: [
            {
              type: 'bar',
              label: 'Heat sessions',
              data: days.map((d) => d.heatSessions),
              backgroundColor: C.vermillion,
              borderRadius: 4,
              yAxisID: 'y',
              order: 2,
            },
            ...(showHeatTime
              ? [
                  {
                    type: 'line',
                    label: `Time with heat on (${heatUnit.word})`,
                    data: days.map((d) => heatUnit.round(heatMinutesOf(d))),
                    borderColor: C.orange,
                    backgroundColor: C.orange,
                    borderWidth: 2,
                    pointRadius: (ctx) => (ctx.raw > 0 ? 4 : 0),
                    pointStyle: 'circle',
                    yAxisID: 'y2',
                    order: 1,
                  },
                ]
              : []),
          ],
        },
        options: {
          scales: {
            x: dayAxis,
            y: countAxis('Sessions'),
            y2: {
              display: showHeatTime,
              position: 'right',
              beginAtZero: true,
              title: axisTitle(cap(heatUnit.word)),
              grid: { display: false },
            },
          },
        },
      },
      allZero(days.map((d) => d.heatSessions)) &&
        'No heat-pad sessions in these days. Heat starts from the pad’s button, Home Assistant, or the heat step of a routine.',
    );

    // Routines per week against the goal.
    const weeks = new Map();
    for (const d of summary.days) {
      const w = weekStartOf(d.date);
      weeks.set(w, (weeks.get(w) || 0) + d.routinesCompleted);
    }
    const weekKeys = [...weeks.keys()].sort().slice(-Math.max(2, Math.ceil(state.days / 7) + 1));
    const thisWeek = weekStartOf(summary.days[summary.days.length - 1].date);
    const target = summary.routines.target;
    draw(
      'routines',
      {
        type: 'bar',
        data: {
          labels: weekKeys.map((w) =>
            w === thisWeek ? 'This week' : `Week of ${shortDate(Date.parse(`${w}T12:00:00Z`))}`,
          ),
          datasets: [
            {
              type: 'bar',
              label: 'Routines done',
              data: weekKeys.map((w) => weeks.get(w)),
              backgroundColor: C.purple,
              borderRadius: 4,
              order: 2,
            },
            referenceLine(
              `Weekly goal: ${plural(target, 'routine')}`,
              weekKeys.map(() => target),
            ),
          ],
        },
        options: {
          scales: {
            x: { title: axisTitle('Week (Monday to Sunday)'), grid: { display: false } },
            y: { ...countAxis('Routines'), suggestedMax: target + 1 },
          },
        },
      },
      allZero(weekKeys.map((w) => weeks.get(w))) &&
        `No routines done in these weeks yet. The goal is ${plural(target, 'routine')} a week.`,
    );
    const r = summary.routines;
    $('routines-hint').textContent =
      `This week: ${r.doneThisWeek} of ${plural(r.target, 'routine')} done` +
      (r.doneThisWeek >= r.target
        ? ' — goal reached, well done.'
        : '. Pressure, heat and stretches; the dashed line is your weekly goal.');

    // Pain over time, one line per area.
    const now = Date.now();
    const from = now - state.days * DAY_MS;
    const byArea = new Map();
    for (const e of painEntries) {
      const at = Date.parse(e.at);
      if (!(at >= from)) continue;
      if (!byArea.has(e.area)) byArea.set(e.area, []);
      byArea.get(e.area).push({ x: at, y: e.level });
    }
    draw(
      'pain',
      {
        type: 'line',
        data: {
          datasets: Object.keys(AREA)
            .filter((a) => byArea.has(a))
            .map((a) => ({
              label: AREA[a].label,
              data: byArea.get(a),
              borderColor: AREA[a].color,
              backgroundColor: AREA[a].color,
              borderWidth: 2.5,
              pointRadius: 5,
              pointHoverRadius: 7,
              tension: 0.15,
            })),
        },
        options: {
          parsing: false,
          plugins: {
            tooltip: {
              mode: 'nearest',
              intersect: true,
              callbacks: {
                title: (items) =>
                  items[0]
                    ? new Date(items[0].parsed.x).toLocaleString([], {
                        day: 'numeric',
                        month: 'short',
                        hour: '2-digit',
                        minute: '2-digit',
                      })
                    : '',
                label: (item) => `${item.dataset.label}: ${item.parsed.y} of 10`,
              },
            },
          },
          scales: {
            x: {
              type: 'linear',
              min: from,
              max: now,
              title: axisTitle('Date'),
              ticks: { callback: (v) => shortDate(v), maxTicksLimit: 10, stepSize: DAY_MS },
              grid: { color: '#f0f2f4' },
            },
            y: { min: 0, max: 10, title: axisTitle('Pain (0–10)'), ticks: { stepSize: 2 }, grid: { color: '#e9edf0' } },
          },
        },
      },
      byArea.size === 0 && 'No pain logged in these days. Log it whenever a knot hurts, so you can watch it ease.',
    );
  }

  // ------------------------------------------------------------------ right now

  function setTile(id, value, sub, mood) {
    $(id).textContent = value;
    const subEl = document.getElementById(`${id}-sub`);
    if (subEl) subEl.textContent = sub || '';
    const tile = /** @type {HTMLElement} */ ($(id).closest('.tile'));
    tile.classList.remove('on', 'good', 'alert');
    if (mood) tile.classList.add(mood);
  }

  function renderLive() {
    const live = state.live;
    if (!live) return;
    const s = live.user.state;
    const now = Date.now();
    $('now-posture').textContent = POSTURE[s.posture] || s.posture;
    $('now-posture-since').textContent = s.since ? `since ${clock(s.since)}` : '';
    if (s.sittingSince) {
      setTile(
        'now-sitting',
        duration(now - Date.parse(s.sittingSince)),
        s.breakDue ? 'A break is due: time to get up' : `since ${clock(s.sittingSince)}`,
        s.breakDue ? 'alert' : null,
      );
    } else {
      setTile('now-sitting', 'Not sitting', '', 'good');
    }
    if (s.nextNudgeAt) {
      const at = Date.parse(s.nextNudgeAt);
      setTile('now-nudge', clock(s.nextNudgeAt), at - now >= 1000 ? `in ${duration(at - now)}` : 'due now');
    } else {
      setTile(
        'now-nudge',
        'None planned',
        s.sittingSince ? 'No more reminders this time' : 'Comes once you sit for a while',
      );
    }
    if (s.heat && s.heat.on) {
      setTile('now-heat', 'On', s.heat.offAt ? `switches off at ${clock(s.heat.offAt)}` : '', 'on');
    } else {
      setTile('now-heat', 'Off', state.heatBlocked ? 'Heat is refused for now: see the advice below' : '');
    }
    const cur = live.routines.current;
    const week = live.routines.week;
    if (cur) {
      const left = Math.max(0, Date.parse(cur.stepEndsAt) - now);
      setTile(
        'now-routine',
        `Step ${cur.index + 1} of ${cur.of}`,
        `${STEP[cur.step] || cur.step}, ${duration(left)} left`,
        'on',
      );
    } else {
      setTile(
        'now-routine',
        `${week.doneThisWeek} of ${week.target} this week`,
        week.remaining === 0 ? 'Weekly goal reached' : `${week.remaining} more to reach the goal`,
        week.remaining === 0 ? 'good' : null,
      );
    }
  }

  function renderAdvice(summary) {
    const sp = summary.seeProfessional;
    $('advice').hidden = !sp.recommended;
    const ul = $('advice-reasons');
    ul.replaceChildren(
      ...sp.reasons.map((r) => {
        const li = document.createElement('li');
        li.textContent = r.detail;
        return li;
      }),
    );
  }

  // ------------------------------------------------------------------ what helps, desk setup check

  const DESK_QUESTIONS = [
    'screenAtEyeLevel',
    'shouldersRelaxed',
    'feetFlat',
    'chairSupportsBack',
    'keyboardAtElbowHeight',
  ];

  /** @param {number | null} n */
  const signed = (n) => (n === null ? '–' : n > 0 ? `+${n}` : String(n));

  /** @param {any} helps the answer of GET /what-helps */
  function renderWhatHelps(helps) {
    const rows = helps.methods;
    $('what-helps-table').hidden = rows.length === 0;
    $('what-helps-empty').hidden = rows.length > 0;
    $('what-helps-rows').replaceChildren(
      ...rows.map((/** @type {any} */ r) => {
        const tr = document.createElement('tr');
        const cell = (/** @type {string} */ text, /** @type {string} */ cls = '') => {
          const td = document.createElement('td');
          td.textContent = text;
          if (cls) td.className = cls;
          return td;
        };
        tr.append(
          cell(r.name.charAt(0).toUpperCase() + r.name.slice(1)),
          cell((AREA[/** @type {keyof typeof AREA} */ (r.area)] || AREA.other).label),
          cell(String(r.count), 'num'),
          cell(String(r.withOutcome), 'num'),
          cell(signed(r.averagePainChange), 'num'),
          cell(r.label, `verdict ${r.verdict}`),
        );
        return tr;
      }),
    );
    $('what-helps-note').hidden = !helps.note;
    $('what-helps-note').textContent = helps.note || '';
  }

  /** @param {any} desk the answer of GET /desk-check */
  function renderDeskCheck(desk) {
    $('card-desk').classList.toggle('offered', desk.offered);
    const last = desk.lastCheck
      ? ` Last answered ${new Date(desk.lastCheck.at).toLocaleDateString()}` +
        (desk.lastCheck.fixes.length ? `; worth changing: ${desk.lastCheck.fixes.join('; ')}.` : ': all good.')
      : '';
    $('desk-offer').textContent = desk.message + last;
    if (desk.lastCheck) {
      for (const q of DESK_QUESTIONS) {
        const box = /** @type {HTMLInputElement | null} */ ($('desk-form').querySelector(`input[name="${q}"]`));
        if (box) box.checked = !!desk.lastCheck.answers[q];
      }
    }
  }

  $('desk-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!state.userId) return;
    const form = /** @type {HTMLFormElement} */ ($('desk-form'));
    /** @type {Record<string, boolean | string>} */
    const body = {};
    for (const q of DESK_QUESTIONS) {
      body[q] = !!(/** @type {HTMLInputElement | null} */ (form.querySelector(`input[name="${q}"]`))?.checked);
    }
    const note = /** @type {HTMLInputElement | null} */ (form.querySelector('input[name="note"]'))?.value.trim();
    if (note) body.note = note;
    /** @type {Record<string, string>} */
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (state.token) headers.authorization = `Bearer ${state.token}`;
    try {
      const r = await fetch(`/api/users/${encodeURIComponent(state.userId)}/desk-check`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
      const answer = await r.json().catch(() => null);
      if (r.status === 401) throw new AuthError('The access token was not accepted.');
      if (!r.ok) throw new Error((answer && answer.detail) || `${r.status} ${r.statusText}`);
      $('desk-result').textContent = `Saved. ${answer.message}`;
      renderDeskCheck(await api(`/api/users/${encodeURIComponent(state.userId)}/desk-check`));
    } catch (err) {
      $('desk-result').textContent = `Could not save the answers: ${/** @type {Error} */ (err).message}`;
    }
  });

  // ------------------------------------------------------------------ loading

  function showError(err) {
    if (err instanceof AuthError) return askForToken(err.message);
    $('error-banner').hidden = false;
    $('error-banner').textContent = `Could not load the data: ${err.message}`;
  }

  async function loadLive() {
    if (!state.userId) return;
    const u = encodeURIComponent(state.userId);
    const [user, routines] = await Promise.all([api(`/api/users/${u}`), api(`/api/users/${u}/routines`)]);
    state.live = { user, routines };
    renderLive();
  }

  async function loadCharts() {
    if (!state.userId) return;
    const u = encodeURIComponent(state.userId);
    const from = new Date(Date.now() - state.days * DAY_MS).toISOString();
    const [summary, user, adherence] = await Promise.all([
      api(`/api/users/${u}/summary?days=${Math.max(state.days, 28)}`),
      api(`/api/users/${u}`),
      api(`/api/users/${u}/adherence?from=${encodeURIComponent(from)}`),
    ]);
    const painEntries = adherence.entries.filter((e) => e.type === 'pain_logged');
    drawCharts({ summary, profile: user, painEntries });
    renderAdvice(summary);
    const [helps, desk] = await Promise.all([api(`/api/users/${u}/what-helps`), api(`/api/users/${u}/desk-check`)]);
    renderWhatHelps(helps);
    renderDeskCheck(desk);
    state.heatBlocked = !!summary.heatBlocked;
    $('status-line').textContent = `Updated ${new Date().toLocaleTimeString()} · times in ${summary.timezone}`;
  }

  async function refreshAll() {
    try {
      $('error-banner').hidden = true;
      await loadCharts();
      await loadLive();
      document.body.dataset.state = 'ready';
    } catch (err) {
      showError(err);
    }
  }

  function schedule() {
    clearInterval(state.liveTimer);
    clearInterval(state.chartTimer);
    clearInterval(state.tickTimer);
    state.liveTimer = setInterval(() => loadLive().catch(showError), LIVE_REFRESH_MS);
    state.chartTimer = setInterval(() => loadCharts().catch(showError), CHART_REFRESH_MS);
    state.tickTimer = setInterval(renderLive, 1000);
  }

  function remember() {
    const p = new URLSearchParams(location.search);
    if (state.userId) p.set('user', state.userId);
    p.set('days', String(state.days));
    history.replaceState(null, '', `${location.pathname}?${p}`);
    if (state.userId) localStorage.setItem('unknot.user', state.userId);
  }

  $('user').addEventListener('change', () => {
    state.userId = input('user').value;
    state.live = null;
    remember();
    refreshAll();
  });
  $('days').addEventListener('change', () => {
    state.days = Number(input('days').value) || 14;
    remember();
    loadCharts().catch(showError);
  });

  async function start() {
    try {
      state.config = await fetch('/dashboard/config.json').then((r) => r.json());
    } catch {
      // Keep the defaults: the API calls will say what is wrong.
    }
    if (state.config.timeScale && state.config.timeScale !== 1) {
      $('demo-banner').hidden = false;
      $('demo-banner').textContent =
        `Demo mode: timers run ${state.config.timeScale} times faster than real time (UNKNOT_TIME_SCALE=${state.config.timeScale}). ` +
        'Times in the charts are real time, so they are short.';
    }
    if (state.config.tokenRequired && !state.token) return askForToken('');
    let users;
    try {
      users = (await api('/api/users')).users;
    } catch (err) {
      return showError(err);
    }
    $('token-form').hidden = true;
    $('main').hidden = false;
    setupChartDefaults();
    const select = input('user');
    select.replaceChildren(
      ...users.map((u) => {
        const o = document.createElement('option');
        o.value = u;
        o.textContent = u;
        return o;
      }),
    );
    $('no-users').hidden = users.length > 0;
    $('today').hidden = users.length === 0;
    $('charts').hidden = users.length === 0;
    $('methods').hidden = users.length === 0;
    if (users.length === 0) {
      document.body.dataset.state = 'ready';
      return;
    }
    const wanted = params.get('user') || localStorage.getItem('unknot.user');
    const userId = wanted && users.includes(wanted) ? wanted : users[0];
    state.userId = userId;
    select.value = userId;
    const days = Number(params.get('days'));
    if ([7, 14, 30].includes(days)) state.days = days;
    input('days').value = String(state.days);
    remember();
    await refreshAll();
    schedule();
  }

  start();
})();
