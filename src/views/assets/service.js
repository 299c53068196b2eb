// The service status page. It uses the public API only — GET /ready, GET /tasks and the
// /ws frames a client gets — so it doubles as a worked example of that API.
import { $, el } from './dom.js';

const STATES = ['queued', 'scheduled', 'active', 'retrying', 'completed', 'failed', 'cancelled'];
const STATE_TONES = {
  queued: 'idle',
  scheduled: 'idle',
  active: 'info',
  retrying: 'warn',
  completed: 'ok',
  failed: 'bad',
  cancelled: 'idle',
};
const CANCELLABLE = new Set(['queued', 'scheduled', 'active', 'retrying']);
const MAX_ROWS = 100;
const HISTORY_MS = 60_000;
const POLL_MS = 1_000;
const CLOSE_NAMES = { 1000: 'normal', 1001: 'going away', 1006: 'lost', 1011: 'server error', 1012: 'service restart' };

const tasks = new Map();
const history = [];
let limits = { min: 0, max: 0 };

const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');

function badge(node, text, tone) {
  node.textContent = text;
  node.className = `badge ${tone}`;
}

// ---- readiness: GET /ready every second (its body says why on 503 too) ----

async function pollReadiness() {
  try {
    const response = await fetch('/ready', { cache: 'no-store' });
    const body = await response.json();
    const load = body.details?.load ?? {};
    const shutdown = body.details?.shutdown ?? {};
    $('hostname').textContent = load.hostname ?? '–';
    $('clients').textContent = load.clients ?? '–';
    $('max-clients').textContent = load.maxClients ?? '–';
    $('min-clients').textContent = load.minClients ?? '–';
    $('phase').textContent = shutdown.phase ?? '–';
    $('redis').textContent = describeRedis(body.details?.redis);
    limits = { min: load.minClients ?? 0, max: load.maxClients ?? 0 };
    if (shutdown.accepting === false) badge($('readiness'), 'shutting down', 'bad');
    else if (load.cooldown) badge($('readiness'), 'cooldown', 'warn');
    else if (response.ok) badge($('readiness'), 'ready', 'ok');
    else badge($('readiness'), `not ready: ${Object.keys(body.error ?? {}).join(', ') || response.status}`, 'bad');
    record(load.clients ?? 0);
  } catch {
    badge($('readiness'), 'unreachable', 'bad');
  }
}

/** How this instance reaches Redis, as /ready's redis indicator says: mode, primaries, replicas and their lag, failovers seen. */
function describeRedis(redis) {
  if (!redis) return 'none (tasks and items in memory)';
  const primaries = redis.primaries ? `primaries ${redis.primaries.join(', ')}` : undefined;
  const parts = [redis.mode ?? 'standalone', redis.primary ? `primary ${redis.primary}` : (primaries ?? redis.connection)];
  if (redis.replicas?.length) {
    const lag = Math.max(...redis.replicas.map((replica) => replica.lagSeconds));
    const behind = Math.max(...redis.replicas.map((replica) => replica.behindBytes));
    parts.push(`${redis.replicas.length} replica${redis.replicas.length === 1 ? '' : 's'}, lag ≤ ${lag} s, ≤ ${behind} B behind`);
  }
  if (redis.primarySwitches)
    parts.push(`${redis.primarySwitches} switch${redis.primarySwitches === 1 ? '' : 'es'}, last ${redis.lastSwitchAt}`);
  if (redis.status === 'down') parts.push(`down: ${redis.error ?? redis.connection}`);
  return parts.join(' · ');
}

function record(clients) {
  const now = Date.now();
  history.push({ at: now, clients });
  while (history.length && history[0].at < now - HISTORY_MS) history.shift();
  drawHistory(now);
}

function drawHistory(now) {
  const svg = $('history');
  const width = 600;
  const height = 90;
  const top = Math.max(limits.max + 1, ...history.map((point) => point.clients), 1);
  const x = (at) => ((at - (now - HISTORY_MS)) / HISTORY_MS) * width;
  const y = (value) => height - 4 - (value / top) * (height - 14);
  const ns = 'http://www.w3.org/2000/svg';
  const line = (className, value) => {
    const node = document.createElementNS(ns, 'line');
    for (const [name, v] of Object.entries({ class: `limit ${className}`, x1: 0, x2: width, y1: y(value), y2: y(value) }))
      node.setAttribute(name, v);
    return node;
  };
  const path = document.createElementNS(ns, 'polyline');
  path.setAttribute('class', 'clients');
  path.setAttribute('points', history.map((point) => `${x(point.at).toFixed(1)},${y(point.clients).toFixed(1)}`).join(' '));
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('x', 4);
  label.setAttribute('y', 10);
  label.textContent = `max ${top}`;
  svg.replaceChildren(line('max', limits.max), line('min', limits.min), path, label);
}

// ---- tasks: GET /tasks for the recent past, then task frames from /ws ----

function upsert(view) {
  const known = tasks.get(view.id);
  // Frames can arrive out of order across reconnects; a finished task never goes back.
  if (known && (known.finishedAt || STATES.indexOf(known.status) > STATES.indexOf(view.status))) return;
  tasks.set(view.id, view);
}

function render() {
  const rows = [...tasks.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, MAX_ROWS);
  for (const id of tasks.keys()) if (!rows.some((row) => row.id === id)) tasks.delete(id);
  $('tasks').replaceChildren(...rows.map(taskRow));
  $('tasks-empty').hidden = rows.length > 0;
  const counts = Object.fromEntries(STATES.map((state) => [state, 0]));
  for (const row of rows) counts[row.status] += 1;
  $('counts').replaceChildren(
    ...STATES.map((state) => el('span', { class: `badge ${STATE_TONES[state]}`, 'data-state': state }, `${state} ${counts[state]}`)),
  );
}

function taskRow(view) {
  const bar = el('span');
  bar.style.width = `${Math.max(0, Math.min(100, view.progress))}%`;
  const progress = el(
    'div',
    {
      class: `progress ${view.status === 'completed' ? 'done' : view.status === 'failed' ? 'failed' : ''}`,
      role: 'progressbar',
      'aria-valuenow': String(view.progress),
    },
    bar,
  );
  const outcome = view.error ?? (view.result === null || view.result === undefined ? '' : JSON.stringify(view.result));
  return el(
    'tr',
    { 'data-task-id': view.id, 'data-status': view.status, class: view.status === 'failed' ? 'bad' : '' },
    el('td', { class: 'mono', title: view.id }, view.id.slice(0, 8)),
    el('td', {}, el('span', { class: `badge ${STATE_TONES[view.status] ?? 'idle'}` }, statusText(view))),
    el('td', {}, progress, ` ${view.progress}%`),
    el('td', {}, time(view.createdAt)),
    el('td', {}, time(view.finishedAt)),
    el('td', { class: 'mono' }, outcome.slice(0, 80)),
    el('td', {}, CANCELLABLE.has(view.status) ? cancelButton(view.id) : ''),
  );
}

function statusText(view) {
  return view.attempts > 1 && view.attempt > 0 ? `${view.status} ${view.attempt}/${view.attempts}` : view.status;
}

// DELETE /tasks/:id: the cancelled frame that follows updates the row.
function cancelButton(id) {
  const button = el('button', { type: 'button', class: 'cancel', 'data-cancel': id }, 'cancel');
  button.addEventListener('click', async () => {
    button.disabled = true;
    const response = await fetch(`/tasks/${encodeURIComponent(id)}`, { method: 'DELETE' }).catch(() => undefined);
    if (!response || response.status >= 400) button.disabled = false;
  });
  return button;
}

async function loadRecentTasks() {
  try {
    const response = await fetch('/tasks?limit=50', { cache: 'no-store' });
    if (!response.ok) throw new Error(`GET /tasks answered ${response.status}`);
    for (const view of await response.json()) upsert(view);
    render();
    return true;
  } catch (error) {
    showTasksBanner(`Could not list tasks: ${error.message}`);
    return false;
  }
}

function showTasksBanner(text) {
  $('tasks-banner').textContent = text;
  $('tasks-banner').hidden = !text;
}

// ---- the socket: subscribe to all, reconnect with backoff, say that it did ----

let socketAttempt = 0;
let reconnects = 0;
let lastClose;
let pollFallback;

function connect() {
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  badge($('socket'), 'socket: connecting', 'idle');
  socket.addEventListener('open', () => {
    socket.send(JSON.stringify({ event: 'subscribe', data: { all: true } }));
    if (lastClose) {
      reconnects += 1;
      $('socket-log').textContent =
        `reconnected ${reconnects}× — last at ${new Date().toLocaleTimeString()}, after close ${describeClose(lastClose)}`;
      // Frames sent while we were away are gone: the list fills the gap.
      void loadRecentTasks();
    }
    socketAttempt = 0;
  });
  socket.addEventListener('message', (message) => {
    const frame = JSON.parse(message.data);
    if (frame.event === 'hello') {
      $('instance').textContent = frame.data.instance;
      badge($('socket'), reconnects ? `socket: live (reconnected ${reconnects}×)` : 'socket: live', 'ok');
      if (!lastClose) $('socket-log').textContent = `connected to ${frame.data.instance} (${frame.data.hostname})`;
    } else if (frame.event === 'task') {
      upsert(frame.data);
      render();
    } else if (frame.event === 'shutdown') {
      badge($('socket'), 'socket: server draining', 'warn');
    } else if (frame.event === 'error') {
      // Without ADMIN_TOKEN on the upgrade the fleet-wide feed is refused: poll the list instead.
      showTasksBanner(`Live updates refused (${frame.data.message}); polling GET /tasks every 2 s.`);
      clearInterval(pollFallback);
      pollFallback = setInterval(() => void loadRecentTasks(), 2_000);
    }
  });
  socket.addEventListener('close', (event) => {
    lastClose = event;
    socketAttempt += 1;
    const delay = Math.min(5_000, 250 * 2 ** socketAttempt) * (0.5 + Math.random() / 2);
    badge($('socket'), `socket: closed ${event.code}, reconnecting`, 'warn');
    $('socket-log').textContent =
      `closed ${describeClose(event)} at ${new Date().toLocaleTimeString()}; reconnecting in ${(delay / 1000).toFixed(1)} s`;
    setTimeout(connect, delay);
  });
}

function describeClose(event) {
  const name = CLOSE_NAMES[event.code];
  return `${event.code}${name ? ` (${name})` : ''}`;
}

async function showQueuesLink() {
  const response = await fetch('/queues', { method: 'HEAD', cache: 'no-store' }).catch(() => undefined);
  $('queues-link').hidden = !response || response.status === 404;
}

render();
void pollReadiness();
setInterval(() => void pollReadiness(), POLL_MS);
void loadRecentTasks().then(connect);
void showQueuesLink();
