// The balancer status page: GET /_balancer/backends every second, one row per backend,
// red where something is wrong (HAProxy's stats page is the model).
import { $, el } from './dom.js';

const REFRESH_MS = 1_000;
const TONES = { up: 'ok', probing: 'info', busy: 'warn', unready: 'warn', ejected: 'bad' };
const ROW_TONES = { busy: 'warn', unready: 'warn', ejected: 'bad' };

function stateCell(backend, now) {
  const cell = el('td', {}, el('span', { class: `badge ${TONES[backend.state]}`, 'data-testid': 'state' }, backend.state));
  const until = backend.ejectedUntil ?? backend.busyUntil;
  if (until && (backend.state === 'ejected' || backend.state === 'busy')) {
    const seconds = Math.max(0, (Date.parse(until) - now) / 1000).toFixed(1);
    cell.append(el('div', { class: 'muted' }, `until ${new Date(until).toLocaleTimeString()} (${seconds} s)`));
  }
  if (backend.lastVerdict && backend.state !== 'up') cell.append(el('div', { class: 'muted' }, backend.lastVerdict));
  if (backend.ejections > 0) cell.append(el('div', { class: 'muted' }, `ejections in a row: ${backend.ejections}`));
  return cell;
}

/** What the backend says of its own load (x-ballast-load): clients of its MAX, cooldown, full. */
function loadCell(load) {
  if (!load) return el('td', { class: 'muted' }, 'none reported');
  const tone = load.cooldown ? 'bad' : load.freeSlot ? 'ok' : 'warn';
  const cell = el('td', {}, el('span', { class: `badge ${tone}`, 'data-testid': 'load' }, `${load.clients} of ${load.maxClients}`));
  const notes = [load.cooldown ? 'cooldown' : '', load.shed ? 'sheds' : '', load.freeSlot ? '' : 'full'].filter(Boolean);
  if (notes.length > 0) cell.append(el('div', { class: 'muted' }, notes.join(', ')));
  return cell;
}

function outcomeChips(outcomes) {
  const chips = Object.entries(outcomes)
    .filter(([, count]) => count > 0)
    .map(([outcome, count]) =>
      el('span', { class: `badge ${outcome === 'success' ? 'ok' : outcome === 'client_gone' ? 'idle' : 'bad'}` }, `${outcome} ${count}`),
    );
  return el('td', {}, el('div', { class: 'chips' }, ...chips));
}

function row(backend, now) {
  const num = (value) => el('td', { class: 'num' }, String(value));
  return el(
    'tr',
    { 'data-backend': backend.url, 'data-state': backend.state, class: ROW_TONES[backend.state] ?? '' },
    el('td', { class: 'mono' }, backend.url),
    stateCell(backend, now),
    num(backend.inFlight),
    loadCell(backend.reportedLoad),
    num(backend.tunnels),
    num(backend.ewmaLatencyMs.toFixed(1)),
    num(backend.requests),
    num(backend.failures),
    outcomeChips(backend.outcomes),
    // A backend without Redis holds its tasks: they and its clientIds are sticky too.
    num(backend.keepsTasksLocally ? `${backend.stickyItems} (tasks local)` : backend.stickyItems),
  );
}

async function refresh() {
  try {
    const response = await fetch('/_balancer/backends', { cache: 'no-store' });
    if (!response.ok) throw new Error(`GET /_balancer/backends answered ${response.status}`);
    const status = await response.json();
    const now = Date.now();
    const up = status.backends.filter((backend) => backend.state === 'up').length;
    $('backends').replaceChildren(...status.backends.map((backend) => row(backend, now)));
    $('strategy').textContent = status.strategy;
    $('up').textContent = `${up} of ${status.backends.length}`;
    $('sticky').textContent = status.stickyItems;
    $('queue').textContent = `${status.queue.waiting} (at most ${status.queue.maxWaitMs} ms each)`;
    $('refreshed').textContent = new Date(now).toLocaleTimeString();
    $('panic').hidden = !status.panic;
    const summary = $('summary');
    summary.textContent = up === status.backends.length ? 'all backends up' : `${status.backends.length - up} backend(s) not up`;
    summary.className = `badge ${up === status.backends.length ? 'ok' : up === 0 ? 'bad' : 'warn'}`;
    $('banner').hidden = true;
  } catch (error) {
    $('banner').textContent = `Refresh failed: ${error.message}`;
    $('banner').hidden = false;
  }
}

void refresh();
setInterval(() => void refresh(), REFRESH_MS);
