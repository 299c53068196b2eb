// npm run chaos [-- NAME ...] — the fleet under faults, counted from the clients' side. Three
// services on one Redis (AOF, as shipped) behind the balancer, real processes, and one fault at a
// time under load. Each scenario is a named function returning its figures and its verdict; with
// names only those run (in the order below), with none all of them. The table comes first, then
// `N passed, M failed`; the exit code is 1 when any verdict failed, 2 for an unknown name.
// The balancer runs as CHAOS_BALANCER_WORKERS (2) cluster workers; CHAOS_KEEP_LOGS=1 keeps the
// processes' access logs. Bounded: about two minutes
// for all, every loop ends by time and by count. Traffic goes to 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { freePort, MAIN, readyPathFor, startRedisServer, untilAnswers } from '../test/support/spawn.mjs';
import { openLoop, percentile, summariseRun } from './lib/open-loop.mjs';
import { listenOverflows } from './lib/proc-cpu.mjs';

const SERVICES = 3;
const BALANCER_WORKERS = process.env.CHAOS_BALANCER_WORKERS ?? '2';
/** CHAOS_BALANCER_<NAME>=value sets the balancer's <NAME> (a deliberate fault: CHAOS_BALANCER_EJECT_CONSECUTIVE_5XX=1). */
const BALANCER_OVERRIDES = Object.fromEntries(
  Object.entries(process.env)
    .filter(([name]) => name.startsWith('CHAOS_BALANCER_') && name !== 'CHAOS_BALANCER_WORKERS')
    .map(([name, value]) => [name.slice('CHAOS_BALANCER_'.length), value]),
);
const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
const children = new Set();

/** Every "ejected ..." line the balancer logs, so each row can say why its ejections happened. */
const ejectionLog = [];

/** Lines of a process's output kept, to say why it exited other than 0. */
const LAST_LINES = 30;

function spawnTracked(command, args, env = {}, onLine) {
  const child = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const last = [];
  const keep = (line) => {
    last.push(line);
    if (last.length > LAST_LINES) last.shift();
  };
  createInterface({ input: child.stdout }).on('line', (line) => (keep(line), onLine?.(line)));
  createInterface({ input: child.stderr }).on('line', keep);
  children.add(child);
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    if (code !== 0 && signal === null) console.log(`pid ${child.pid} exited ${code}; its last lines:\n  ${last.join('\n  ')}`);
    return { code, signal };
  });
  return { child, exited };
}

/** A service (or the balancer) on a fixed port, restartable there. */
function node(port, env) {
  let current;
  const proc = {
    port,
    url: `http://127.0.0.1:${port}`,
    async start(extraEnv = {}) {
      const onLine =
        env.ROLE === 'balancer' ? (line) => line.includes('"msg":"ejected') && ejectionLog.push(JSON.parse(line).msg) : undefined;
      const started = spawnTracked(
        process.execPath,
        [MAIN],
        { HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env, ...extraEnv },
        onLine,
      );
      current = started;
      let exited = false;
      void started.exited.then(() => (exited = true));
      await untilAnswers(`${proc.url}${readyPathFor(env)}`, { exited: () => exited });
    },
    async kill(signal = 'SIGKILL') {
      current.child.kill(signal);
      return current.exited;
    },
  };
  return proc;
}

async function call(url, options = {}) {
  try {
    const response = await request(url, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000, ...options });
    const text = await response.body.text();
    return { status: response.statusCode, text };
  } catch (error) {
    return { status: 0, text: error.code ?? String(error) };
  }
}

/** `clients` loops of `once()` until `ms` pass (and at most `maxEach` each); counts outcomes. */
async function loadFor(ms, clients, once_, maxEach = 100_000) {
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; i < maxEach && Date.now() < until; i += 1) await once_(client, i);
    }),
  );
}

/** Successful attempts over every backend, as /_balancer/backends counts them (all workers). */
const successfulAttempts = async (balancer) => {
  const status = JSON.parse((await call(`${balancer.url}/_balancer/backends`)).text);
  return { workers: status.workers, success: status.backends.reduce((sum, backend) => sum + backend.outcomes.success, 0) };
};

const ejectionsTotal = async (balancer) => {
  const { text } = await call(`${balancer.url}/_balancer/metrics`);
  return [...text.matchAll(/^ballast_balancer_ejections_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
};

/** Until the balancer sends to every backend again: its checks saw them ready, none ejected (a returning one may still await its probe). */
async function untilAllUp(balancer, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { status, text } = await call(`${balancer.url}/_balancer/backends`);
    if (status === 200 && JSON.parse(text).backends.every((backend) => backend.state === 'up' || backend.state === 'probing')) return;
    await sleep(50);
  }
  throw new Error('the balancer did not see every backend up again');
}

/** A verdict: every named check must hold; the failed ones are what it says. */
function verdict(checks) {
  const failed = Object.entries(checks)
    .filter(([, holds]) => !holds)
    .map(([name]) => name);
  return { passed: failed.length === 0, failed };
}

// The fleet: Redis with AOF, three services, the balancer; each process appends its access log
// to a file of its own (the balancer's workers share one), as in production.
const redis = await startRedisServer({ aof: true });
const logDir = mkdtempSync(join(tmpdir(), 'ballast-chaos-logs-'));
const accessLogOf = (name) => join(logDir, `${name}.log`);
const ports = await Promise.all(Array.from({ length: SERVICES }, () => freePort()));
const serviceEnv = { REDIS_URL: redis.url, TASK_LOCK_MS: '3000', TASK_CONCURRENCY: '4', SHUTDOWN_GRACE_MS: '15000' };
const services = ports.map((port) => node(port, { ...serviceEnv, ACCESS_LOG_FILE: accessLogOf(`service-${port}`) }));
const balancer = node(await freePort(), {
  ROLE: 'balancer',
  ACCESS_LOG_FILE: accessLogOf('balancer'),
  BALANCER_WORKERS,
  BACKENDS: services.map((s) => s.url).join(','),
  HEALTH_CHECK_INTERVAL_MS: '500',
  RETRY_DOWNTIME_MS: '2000',
  MAX_RESPONSE_DELAY_MS: '1000',
  SHUTDOWN_GRACE_MS: '15000',
  ...BALANCER_OVERRIDES,
});
const base = () => balancer.url;
let nextItem = 1;

/** Each scenario: name -> [what it does, async () => { figures, verdict }]. They leave the fleet up, except drain. */
const SCENARIOS = {
  kill: ['kill -9 a backend every 5 s', killBackends],
  slow: ['a slow backend (3 s per request)', slowBackend],
  poison: ['a poison request (500 everywhere)', poisonRequest],
  bodies: ['20 bodies of 5 MB', bigBodies],
  'redis-restart': ['Redis restart (SIGTERM) with tasks in flight', () => redisOutage('SIGTERM')],
  'redis-crash': ['Redis crash (kill -9) with tasks in flight', () => redisOutage('SIGKILL')],
  rolling: ['rolling SIGTERM of 2 services, then the balancer, 10 WebSocket clients', rollingRestart],
  tasks: [
    'rolling SIGTERM of 2 services; creates with Idempotency-Key re-posted on no answer or 5xx, retries, cancels from another instance',
    taskFeatures,
  ],
  overload: ['3x the fleet for 20 s (open loop), a SIGTERM and a kill -9 in the middle', overloadWithFaults],
  'access-log': ['mixed and hostile requests, WebSocket tunnels, a service restarted: every one logged', accessLogged],
  drain: ['SIGTERM: 3 services, then the balancer', drainAll],
};

// 1. kill -9 of a backend every 5 s (restarted 1 s later), under GET + POST load.
async function killBackends() {
  const before = await ejectionsTotal(balancer);
  const attemptsBefore = await successfulAttempts(balancer);
  const gets = { ok: 0, failed: 0 };
  const posts = { ok: 0, failed: 0 };
  const created = [];
  const killer = (async () => {
    for (let round = 0; round < 4; round += 1) {
      await sleep(5_000);
      const victim = services[round % SERVICES];
      await victim.kill('SIGKILL');
      await sleep(1_000);
      await victim.start();
    }
  })();
  await loadFor(24_000, 10, async (client) => {
    if (client < 8) {
      const { status } = await call(`${base()}/ping`);
      gets[status === 200 ? 'ok' : 'failed'] += 1;
      return;
    }
    const id = nextItem++;
    const { status } = await call(`${base()}/items/?item_id=${id}`, {
      method: 'POST',
      body: JSON.stringify({ name: `item ${id}`, price: 1 }),
      headers: { 'content-type': 'application/json' },
    });
    if (status === 200) {
      posts.ok += 1;
      created.push(id);
    } else posts.failed += 1;
  });
  await killer;
  let lost = 0;
  for (const id of created) if ((await call(`${services[0].url}/items/${id}`)).status !== 200) lost += 1;
  const attemptsAfter = await successfulAttempts(balancer);
  const counted = attemptsAfter.success - attemptsBefore.success;
  return {
    figures: {
      'requests ok': gets.ok + posts.ok,
      failed: `${gets.failed} GET, ${posts.failed} POST`,
      ejections: (await ejectionsTotal(balancer)) - before,
      'items lost': `${lost} of ${created.length}`,
      // Every 200 the clients got is exactly one successful attempt; the status must count them all.
      'status counted': `${counted} successes over ${attemptsAfter.workers} workers`,
    },
    verdict: verdict({
      'no GET failed (each is retried on another backend)': gets.failed === 0,
      'no created item lost': lost === 0,
      'the status counted every answer the clients got': counted === gets.ok + posts.ok,
    }),
  };
}

// 2. A slow backend (every non-probe request held 3 s; /ready still healthy).
async function slowBackend() {
  const victim = services[1];
  await victim.kill('SIGKILL');
  await victim.start({ FAULT_MODE: 'slow', FAULT_DELAY_MS: '3000' });
  const before = await ejectionsTotal(balancer);
  const counts = { ok: 0, failed: 0, stalled: 0 };
  await loadFor(10_000, 8, async () => {
    const started = performance.now();
    const { status } = await call(`${base()}/ping`);
    counts[status === 200 ? 'ok' : 'failed'] += 1;
    if (performance.now() - started > 900) counts.stalled += 1;
  });
  const ejections = (await ejectionsTotal(balancer)) - before;
  await victim.kill('SIGKILL');
  await victim.start();
  await untilAllUp(balancer);
  return {
    figures: {
      'requests ok': counts.ok,
      failed: `${counts.failed} (${counts.stalled} stalled ~1 s)`,
      ejections,
    },
    verdict: verdict({
      'no request failed (a timed-out GET goes to another backend)': counts.failed === 0,
      'the slow backend was ejected': ejections > 0,
    }),
  };
}

// 3. A poison request (every backend answers it 500) among normal traffic.
async function poisonRequest() {
  await untilAllUp(balancer);
  const before = await ejectionsTotal(balancer);
  const pings = { ok: 0, failed: 0 };
  let poisons = 0;
  await loadFor(10_000, 8, async (client) => {
    if (client === 0) {
      await call(`${base()}/api/work?error=1&hang=0&invalid=0&min=0&max=0`);
      poisons += 1;
      return;
    }
    const { status } = await call(`${base()}/ping`);
    pings[status === 200 ? 'ok' : 'failed'] += 1;
  });
  const ejections = (await ejectionsTotal(balancer)) - before;
  return {
    figures: { 'requests ok': pings.ok, failed: `${pings.failed} pings; ${poisons} poison requests`, ejections },
    verdict: verdict({ 'no ping failed': pings.failed === 0, 'a poison request ejected nothing': ejections === 0 }),
  };
}

// 4. 5 MB bodies (413 before the body is read) among normal traffic.
async function bigBodies() {
  const before = await ejectionsTotal(balancer);
  const body = Buffer.alloc(5 * 1024 * 1024, 0x78);
  const big = {};
  const pings = { ok: 0, failed: 0 };
  await Promise.all([
    (async () => {
      for (let i = 0; i < 20; i += 1) {
        const { status, text } = await call(`${base()}/tasks`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        const key = status === 0 ? text : String(status);
        big[key] = (big[key] ?? 0) + 1;
      }
    })(),
    loadFor(5_000, 4, async () => {
      const { status } = await call(`${base()}/ping`);
      pings[status === 200 ? 'ok' : 'failed'] += 1;
    }),
  ]);
  const ejections = (await ejectionsTotal(balancer)) - before;
  return {
    figures: {
      'requests ok': pings.ok,
      failed: `${pings.failed} pings; big bodies: ${Object.entries(big)
        .map(([k, v]) => `${v}x ${k}`)
        .join(', ')}`,
      ejections,
    },
    verdict: verdict({
      'no ping failed': pings.failed === 0,
      'every big body got its 413': big['413'] === 20,
      'nothing ejected': ejections === 0,
    }),
  };
}

// 5 and 6. Redis down for about 3 s with tasks in flight: a restart (SIGTERM) or a crash (kill -9).
async function redisOutage(signal) {
  const accepted = [];
  const refused = {};
  const outage = (async () => {
    await sleep(3_000);
    await redis.stop(signal);
    await sleep(3_000);
    await redis.start();
  })();
  // Four clients, each posting a 50 ms task about every 50 ms: ~80 tasks/s, under the
  // fleet's 3 x 4 workers' ~240/s, so what is pending at the end is Redis's doing, not a backlog.
  await loadFor(10_000, 4, async () => {
    const { status, text } = await call(`${base()}/tasks`, {
      method: 'POST',
      body: JSON.stringify({ durationMs: 50 }),
      headers: { 'content-type': 'application/json' },
    });
    if (status === 202) accepted.push(JSON.parse(text).id);
    else refused[status] = (refused[status] ?? 0) + 1;
    await sleep(status === 202 ? 50 : 200); // pacing; a refused client backs off, as Retry-After asks
  });
  await outage;
  const deadline = Date.now() + 30_000;
  let pending = [...accepted];
  let completed = 0;
  let lost = 0;
  while (pending.length > 0 && Date.now() < deadline) {
    const still = [];
    for (const id of pending) {
      const { status, text } = await call(`${base()}/tasks/${id}`);
      if (status === 200 && JSON.parse(text).status === 'completed') completed += 1;
      else if (status === 404)
        lost += 1; // Redis did not keep it
      else still.push(id);
    }
    pending = still;
    if (pending.length > 0) await sleep(500);
  }
  const refusedOther = Object.keys(refused).filter((status) => status !== '503');
  return {
    figures: {
      'requests ok': accepted.length,
      failed: Object.entries(refused)
        .map(([status, n]) => `${n}x ${status}`)
        .join(', '),
      'tasks accepted': accepted.length,
      completed: `${completed}${pending.length ? ` (${pending.length} still pending)` : ''}`,
      'tasks lost': lost,
    },
    verdict: verdict({
      'every accepted task completed': completed === accepted.length,
      'no accepted task lost': lost === 0,
      'refusals are 503s only': refusedOther.length === 0,
    }),
  };
}

// 7. WebSocket clients through the balancer across a rolling restart of two services, then
//    of the balancer itself: does every client learn every final state of its tasks?
async function rollingRestart() {
  await untilAllUp(balancer);
  const ws = `ws://127.0.0.1:${balancer.port}/ws`;
  let stopping = false;
  const closes = {};
  const learned = new Map(); // clientId -> Map(taskId -> completed frame)
  const clients = Array.from({ length: 10 }, (_, i) => `ws-client-${i}`);
  const connect = (clientId) => {
    const socket = new WebSocket(`${ws}?clientId=${clientId}`);
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.event === 'task' && frame.data.status === 'completed') learned.get(clientId).set(frame.data.id, frame.data);
    });
    socket.on('error', () => undefined);
    socket.on('close', (code) => {
      closes[code] = (closes[code] ?? 0) + 1;
      // Reconnect, as a browser client would, unless the scenario is over.
      if (!stopping) setTimeout(() => connect(clientId), 100);
    });
    return socket;
  };
  for (const clientId of clients) {
    learned.set(clientId, new Map());
    connect(clientId);
  }
  // One observer on the service that is not restarted counts completions per task.
  const completions = new Map();
  const observer = new WebSocket(`ws://127.0.0.1:${services[2].port}/ws`);
  const subscribed = new Promise((resolve) => {
    observer.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.event === 'subscribed') resolve();
      if (frame.event === 'task' && frame.data.status === 'completed')
        completions.set(frame.data.id, (completions.get(frame.data.id) ?? 0) + 1);
    });
  });
  await once(observer, 'open');
  observer.send(JSON.stringify({ event: 'subscribe', data: { all: true } }));
  await subscribed;

  const owner = new Map(); // taskId -> clientId
  for (const clientId of clients) {
    for (let k = 0; k < 2; k += 1) {
      const { status, text } = await call(`${base()}/tasks`, {
        method: 'POST',
        body: JSON.stringify({ durationMs: 1500, clientId }),
        headers: { 'content-type': 'application/json' },
      });
      if (status === 202) owner.set(JSON.parse(text).id, clientId);
    }
  }
  const gets = { ok: 0, failed: 0 };
  const exitCodes = [];
  let rolling = true;
  const pingUntil = Date.now() + 60_000;
  const pinger = Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 100_000 && rolling && Date.now() < pingUntil; i += 1) {
        const { status } = await call(`${base()}/ping`);
        gets[status === 200 ? 'ok' : 'failed'] += 1;
      }
    }),
  );
  for (const index of [0, 1]) {
    exitCodes.push((await services[index].kill('SIGTERM')).code);
    await services[index].start();
    await untilAllUp(balancer); // the balancer's checks see it ready again
  }
  rolling = false;
  await pinger;
  const deadline = Date.now() + 30_000;
  const stored = new Map();
  for (const id of owner.keys()) {
    while (Date.now() < deadline) {
      const { status, text } = await call(`${base()}/tasks/${id}`);
      if (status === 200 && JSON.parse(text).status === 'completed') {
        stored.set(id, JSON.parse(text));
        break;
      }
      await sleep(200);
    }
  }
  // The frames of the last completions are on their way: wait for them, bounded.
  const knownToOwner = ([id, clientId]) => learned.get(clientId).has(id);
  const framesBy = Date.now() + 5_000;
  while (![...owner].every(knownToOwner) && Date.now() < framesBy) await sleep(20);
  let knew = 0;
  let sameFinishedAt = 0;
  for (const [id, clientId] of owner) {
    const frame = learned.get(clientId).get(id);
    if (frame) knew += 1;
    if (frame && stored.get(id) && frame.finishedAt === stored.get(id).finishedAt) sameFinishedAt += 1;
  }
  const completedOnce = [...owner.keys()].filter((id) => completions.get(id) === 1).length;
  stopping = true;
  observer.close();
  const balancerExit = (await balancer.kill('SIGTERM')).code;
  await balancer.start();
  return {
    figures: {
      'requests ok': gets.ok,
      failed: `${gets.failed} GET; closes seen: ${Object.entries(closes)
        .map(([code, n]) => `${n}x ${code}`)
        .join(', ')}`,
      'tasks accepted': owner.size,
      completed: `${stored.size} (once: ${completedOnce}; finishedAt as stored: ${sameFinishedAt})`,
      'clients learned': `${knew} of ${owner.size}`,
      'exit codes': `${exitCodes.join(' ')} ${balancerExit}`,
    },
    verdict: verdict({
      'no ping failed': gets.failed === 0,
      'every task completed exactly once': stored.size === owner.size && completedOnce === owner.size,
      'every client learned every final state, as stored': knew === owner.size && sameFinishedAt === owner.size,
      'every process exited 0': [...exitCodes, balancerExit].every((code) => code === 0),
    }),
  };
}

// 7b. Task features while 2 of 3 services are restarted with SIGTERM, one after the other: clients
//     create tasks with an Idempotency-Key and post again (same key, same body) whenever a create
//     got no answer or a 5xx; a fifth of the tasks fail twice then succeed (retries); a fifth are
//     long and cancelled mid-run through a service other than the one they were created on.
async function taskFeatures() {
  await untilAllUp(balancer);
  const runId = Date.now().toString(36);
  const ids = new Map(); // key -> Set of ids answered for it
  const kinds = new Map(); // key -> 'plain' | 'retried' | 'cancelled'
  const repost = { count: 0 };
  const cancels = new Map(); // id -> { askedAt, status }
  // One observer on the service that is not restarted: when each task's final frame came.
  const finals = new Map(); // id -> { status, at }
  const observer = new WebSocket(`ws://127.0.0.1:${services[2].port}/ws`);
  const subscribed = new Promise((resolve) => {
    observer.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.event === 'subscribed') resolve();
      const { id, status } = frame.data ?? {};
      if (frame.event === 'task' && ['completed', 'failed', 'cancelled'].includes(status) && !finals.has(id))
        finals.set(id, { status, at: Date.now() });
    });
  });
  await once(observer, 'open');
  observer.send(JSON.stringify({ event: 'subscribe', data: { all: true } }));
  await subscribed;

  const create = async (key, body) => {
    // Re-posted until answered 202 (at most 20 times): what a client that must not lose its task does.
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const { status, text } = await call(`${base()}/tasks`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
      });
      if (status === 202) {
        const set = ids.get(key) ?? new Set();
        set.add(JSON.parse(text).id);
        ids.set(key, set);
        return JSON.parse(text).id;
      }
      repost.count += 1;
      await sleep(200);
    }
    return undefined;
  };
  const cancelLater = async (id) => {
    await sleep(700);
    const askedAt = Date.now();
    const { status } = await call(`${services[2].url}/tasks/${id}`, { method: 'DELETE' });
    cancels.set(id, { askedAt, status });
  };

  let creating = true;
  const pending = [];
  const creators = Promise.all(
    Array.from({ length: 6 }, async (_, client) => {
      for (let i = 0; i < 1_000 && creating; i += 1) {
        const key = `${runId}-${client}-${i}`;
        const kind = i % 5 === 1 ? 'retried' : i % 5 === 3 ? 'cancelled' : 'plain';
        kinds.set(key, kind);
        const input = { payload: key, durationMs: kind === 'cancelled' ? 5_000 : 100, ...(kind === 'retried' && { failTimes: 2 }) };
        const id = await create(key, { type: 'demo', input });
        if (id && kind === 'cancelled') pending.push(cancelLater(id));
        await sleep(100);
      }
    }),
  );
  const exitCodes = [];
  for (const index of [0, 1]) {
    await sleep(3_000);
    exitCodes.push((await services[index].kill('SIGTERM')).code);
    await services[index].start();
    await untilAllUp(balancer);
  }
  await sleep(2_000);
  creating = false;
  await creators;
  await Promise.all(pending);

  // Every task to its end (retries back off 1 s, then 2 s), bounded.
  const everyId = [...ids.values()].flatMap((set) => [...set]);
  const deadline = Date.now() + 30_000;
  while (everyId.some((id) => !finals.has(id)) && Date.now() < deadline) await sleep(100);
  observer.close();
  // Duplicates as Redis holds them: jobs per key, whatever the clients were answered.
  const { Redis } = await import('ioredis');
  const store = new Redis(redis.url);
  const jobsPerKey = new Map();
  let cursor = '0';
  do {
    const [next, keys] = await store.scan(cursor, 'MATCH', 'ballast:bull:ballast-tasks:*', 'COUNT', 1000);
    cursor = next;
    const jobKeys = keys.filter((key) => /:[0-9a-f-]{36}$/.test(key));
    const datas = jobKeys.length ? await store.pipeline(jobKeys.map((key) => ['hget', key, 'data'])).exec() : [];
    for (const [, data] of datas) {
      const payload = data && JSON.parse(data).input?.payload;
      if (typeof payload === 'string' && payload.startsWith(runId)) jobsPerKey.set(payload, (jobsPerKey.get(payload) ?? 0) + 1);
    }
  } while (cursor !== '0');
  store.disconnect();

  const idOf = (key) => [...(ids.get(key) ?? [])][0];
  const keysOf = (kind) => [...kinds].filter(([key, k]) => k === kind && ids.has(key)).map(([key]) => key);
  const duplicates = [...jobsPerKey.values()].filter((n) => n > 1).length + [...ids.values()].filter((set) => set.size > 1).length;
  const retried = keysOf('retried');
  const retriedCompleted = retried.filter((key) => finals.get(idOf(key))?.status === 'completed').length;
  const plain = keysOf('plain');
  const plainCompleted = plain.filter((key) => finals.get(idOf(key))?.status === 'completed').length;
  const cancelled = keysOf('cancelled').map(idOf);
  // A cancel that found the task finished (409) is not a failed cancel: it came too late.
  const asked = cancelled.filter((id) => cancels.get(id)?.status !== 409);
  const cancelledInTime = asked.filter(
    (id) => finals.get(id)?.status === 'cancelled' && finals.get(id).at - cancels.get(id).askedAt <= 1_000,
  );
  const slowest = Math.max(0, ...asked.map((id) => (finals.get(id)?.at ?? Infinity) - cancels.get(id).askedAt));
  const lost = everyId.filter((id) => !finals.has(id)).length;
  return {
    figures: {
      'keys created': `${ids.size} (${repost.count} re-posts)`,
      duplicates,
      'retried -> completed': `${retriedCompleted} of ${retried.length}`,
      'plain completed': `${plainCompleted} of ${plain.length}`,
      'cancelled within 1 s': `${cancelledInTime.length} of ${asked.length} (slowest ${slowest === Infinity ? 'never' : `${slowest} ms`}; ${cancelled.length - asked.length} finished first)`,
      lost,
      'exit codes': exitCodes.join(' '),
    },
    verdict: verdict({
      'one task per key': duplicates === 0 && jobsPerKey.size === ids.size,
      'every retry sequence ends completed': retriedCompleted === retried.length,
      'every plain task completed': plainCompleted === plain.length,
      'every cancel ends cancelled within 1 s': cancelledInTime.length === asked.length,
      'nothing lost': lost === 0,
      'every process exited 0': exitCodes.every((code) => code === 0),
    }),
  };
}

// 8. Three times what the fleet can serve, at a fixed arrival rate, while one service is
//    restarted with SIGTERM and another killed -9. The services shed (READY_SHED, MAX 8, MIN 6)
//    for this one: they are restarted so, and back without it after.
async function overloadWithFaults() {
  const shedding = { READY_SHED: 'true', READY_MAX_CLIENTS: '8', READY_MIN_CLIENTS: '6' };
  for (const service of services) {
    await service.kill('SIGTERM');
    await service.start(shedding);
  }
  await untilAllUp(balancer);
  const path = '/long_task?ms=20';
  const direct = [];
  for (let i = 0; i < 40; i += 1) {
    const started = performance.now();
    await call(`${services[0].url}${path}`);
    if (i >= 10) direct.push(performance.now() - started);
  }
  const serviceMs = percentile(direct, 50);
  const capacity = (SERVICES * 7 * 1000) / serviceMs;
  const rate = Math.round(3 * capacity);
  // The services were just restarted: fresh processes, which cost more per request until they
  // have served some thousands (bench:data-path). Without carrying the fleet's capacity first,
  // a run's first second served 393/s of 972/s (64% over the run, below the bar) where the next
  // runs, on the same build, served 719 and 641 in theirs. So 5 s at capacity, uncounted.
  await openLoop({ url: `${base()}${path}`, rate: Math.round(capacity), seconds: 5 });
  // A warm-up at the same rate first: the client's connections are opened before counting (thousands
  // of connects at once overflow the listen backlog, and a SYN retried a second later is the client's delay).
  await openLoop({ url: `${base()}${path}`, rate, seconds: 2 });
  const exitCodes = [];
  const faults = (async () => {
    await sleep(5_000);
    const t0 = performance.now();
    exitCodes.push((await services[0].kill('SIGTERM')).code);
    const t1 = performance.now();
    await services[0].start(shedding);
    const t2 = performance.now();
    await sleep(3_000);
    await services[1].kill('SIGKILL');
    const t3 = performance.now();
    await services[1].start(shedding);
    console.log(
      `overload: drain ${Math.round(t1 - t0)} ms, boot ${Math.round(t2 - t1)} ms; kill, boot ${Math.round(performance.now() - t3)} ms`,
    );
  })();
  const seconds = 20;
  const overflowsBefore = listenOverflows();
  // The client runs in this process: a stall of its event loop sends a second's requests at once.
  const clientLag = monitorEventLoopDelay({ resolution: 5 });
  clientLag.enable();
  const records = await openLoop({ url: `${base()}${path}`, rate, seconds });
  clientLag.disable();
  await faults;
  const overflows = listenOverflows() - overflowsBefore;
  const summary = summariseRun(records, seconds);
  const perSecond = Array.from({ length: seconds }, () => 0);
  const interval = 1000 / rate;
  records.forEach((r, i) => r.status === 200 && (perSecond[Math.floor((i * interval) / 1000)] += 1));
  console.log(`overload: served per second ${perSecond.join(' ')}`);
  const count = (status) => summary.statuses[status] ?? 0;
  for (const service of services) {
    await service.kill('SIGTERM');
    await service.start();
  }
  await untilAllUp(balancer);
  const other = Object.keys(summary.statuses).filter((status) => status !== '503' && status !== '429');
  for (const [body, n] of summary.errorBodies) console.log(`overload: ${n}x ${body}`);
  return {
    figures: {
      'requests ok': records.length - Object.values(summary.statuses).reduce((a, b) => a + b, 0),
      failed: Object.entries(summary.statuses)
        .map(([status, n]) => `${n}x ${status}`)
        .join(', '),
      served: `${Math.round(summary.servedPerSecond)}/s = ${Math.round((100 * summary.servedPerSecond) / capacity)}% of ${Math.round(capacity)}/s; p99 ${summary.p99?.toFixed(1)} ms, rest p99 ${summary.rejectedP99?.toFixed(1)} ms`,
      'exit codes': exitCodes.join(' '),
      'refusals without Retry-After': summary.withoutRetryAfter,
      // Machine-wide, so the services' and Redis's listen queues count too.
      'listen overflows': overflows,
      "client's loop delay": `p99 ${(clientLag.percentile(99) / 1e6).toFixed(1)} ms, max ${(clientLag.max / 1e6).toFixed(1)} ms`,
    },
    verdict: verdict({
      'every refusal a 503 or 429 with Retry-After, no 502, no connection error':
        other.length === 0 && summary.withoutRetryAfter === 0 && count(0) === 0,
      // At most one service is down at a time, so two thirds of the capacity is always there.
      'the fleet served at least two thirds of its capacity through the faults': summary.servedPerSecond >= (2 / 3) * capacity,
      'the SIGTERMed service exited 0': exitCodes.every((code) => code === 0),
    }),
  };
}

/** The access lines in `file` so far (a process flushes its batch at least once a second). */
function accessLines(file) {
  const text = (() => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return ''; // nothing written yet
    }
  })();
  return text
    .split('\n')
    .filter((line) => line.includes('"log":"access"'))
    .map((line) => JSON.parse(line));
}

// 9. The access log: every request a client sent has its balancer line, and every answer a
// backend gave has that service's line under the same request id (the client chooses the ids).
async function accessLogged() {
  const prefix = `chaos-${Date.now()}-`;
  let next = 0;
  /** Request id -> the status the client saw (0: no answer at all). */
  const sent = new Map();
  const tagged = async (path, options = {}) => {
    const id = `${prefix}${next++}`;
    const result = await call(`${base()}${path}`, { ...options, headers: { ...options.headers, 'x-request-id': id } });
    sent.set(id, result.status);
  };
  const json = { 'content-type': 'application/json' };
  const restart = (async () => {
    await sleep(2_000);
    await services[1].kill('SIGTERM');
    await sleep(500);
    await services[1].start();
  })();
  await loadFor(6_000, 8, async (client, i) => {
    const kind = (client + i) % 6;
    if (kind === 0) return tagged('/ping?token=not-for-the-log');
    if (kind === 1) {
      const id = nextItem++;
      return tagged(`/items/?item_id=${id}`, { method: 'POST', body: JSON.stringify({ name: `logged ${id}`, price: 1 }), headers: json });
    }
    if (kind === 2) return tagged(`/items/${900_000_000 + i}`); // 404
    if (kind === 3) return tagged('/items/?item_id=1', { method: 'POST', body: '{"name":', headers: json }); // 400, bad JSON
    if (kind === 4 && client === 0 && i % 20 === 4)
      return tagged('/items/?item_id=2', { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024, 97), headers: json }); // 413
    return tagged('/long_task?ms=30');
  });
  // WebSocket tunnels: one line each, written when the tunnel closes.
  const wsIds = [];
  for (let i = 0; i < 5; i += 1) {
    const id = `${prefix}ws-${i}`;
    wsIds.push(id);
    const ws = new WebSocket(`ws://127.0.0.1:${balancer.port}/ws`, { headers: { 'x-request-id': id } });
    const opened = await Promise.race([once(ws, 'open').then(() => true), once(ws, 'error').then(() => false)]);
    sent.set(id, opened ? 101 : 0);
    ws.close();
    await once(ws, 'close');
  }
  await restart;
  await sleep(1_500); // every process's batch reaches its file at least once a second

  const ours = (line) => line.requestId.startsWith(prefix);
  const balancerLines = accessLines(accessLogOf('balancer')).filter(ours);
  const byId = new Map();
  for (const line of balancerLines) byId.set(line.requestId, [...(byId.get(line.requestId) ?? []), line]);
  const answered = [...sent].filter(([, status]) => status > 0);
  const unanswered = sent.size - answered.length;
  const missing = answered.filter(([id]) => !byId.has(id)).length;
  const duplicated = [...byId.values()].filter((lines) => lines.length > 1).length;
  const strangers = [...byId.keys()].filter((id) => !sent.has(id)).length;
  const wrongStatus = answered.filter(([id, status]) => byId.get(id)?.[0].status !== status).length;
  const serviceLines = new Map(
    services.map((service) => [
      service.url,
      new Map(
        accessLines(accessLogOf(`service-${service.port}`))
          .filter(ours)
          .map((l) => [l.requestId, l]),
      ),
    ]),
  );
  // Every answer a backend gave (the client got it whole) is in that backend's own log.
  const fromBackends = balancerLines.filter((line) => line.backend && !line.tunnel && line.status < 499);
  const notInService = fromBackends.filter((line) => {
    const own = serviceLines.get(line.backend)?.get(line.requestId);
    return !own || own.status !== line.status || own.path !== line.path;
  }).length;
  const withQuery = balancerLines.filter((line) => line.path.includes('?')).length;
  const retried = balancerLines.filter((line) => (line.attempts?.length ?? 0) > 1).length;
  const statuses = {};
  for (const line of balancerLines) {
    const key = `${line.status}${line.rejected ? ` ${line.rejected}` : line.status >= 500 ? ` ${line.method} ${line.path.split('/')[1]}` : ''}`;
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  return {
    figures: {
      'requests sent': `${sent.size} (${unanswered} unanswered)`,
      'balancer lines': balancerLines.length,
      statuses: Object.entries(statuses)
        .map(([status, count]) => `${count}x${status}`)
        .join(', '),
      'found in the service log': `${fromBackends.length - notInService} of ${fromBackends.length}`,
      'lines with retries': retried,
    },
    verdict: verdict({
      'every answered request has exactly one balancer line, with the status the client saw':
        missing === 0 && duplicated === 0 && wrongStatus === 0,
      'no line for a request nobody sent': strangers === 0,
      'as many lines as requests answered': balancerLines.length === answered.length,
      "every backend's answer is in that service's log under the same id, path and status": notInService === 0,
      'no query string logged': withQuery === 0,
      'every tunnel logged as 101': wsIds.every((id) => byId.get(id)?.[0].status === 101 && byId.get(id)?.[0].tunnel === true),
    }),
  };
}

// 10. Drain: SIGTERM to every service, then the balancer.
async function drainAll() {
  const codes = [];
  for (const service of services) codes.push((await service.kill('SIGTERM')).code);
  codes.push((await balancer.kill('SIGTERM')).code);
  return { figures: { 'exit codes': codes.join(' ') }, verdict: verdict({ 'every process exited 0': codes.every((code) => code === 0) }) };
}

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in SCENARIOS));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
const chosen = Object.keys(SCENARIOS).filter((name) => asked.length === 0 || asked.includes(name));

const rows = [];
const why = [];
const failures = [];
try {
  await Promise.all(services.map((s) => s.start()));
  await balancer.start();
  for (const name of chosen) {
    const [label, run] = SCENARIOS[name];
    const logged = ejectionLog.length;
    let result;
    try {
      result = await run();
    } catch (error) {
      result = { figures: {}, verdict: { passed: false, failed: [`it could not run: ${error.message}`] } };
    }
    rows.push({ scenario: `${name}: ${label}`, verdict: result.verdict.passed ? 'pass' : 'FAIL', ...result.figures });
    why.push([name, ejectionLog.slice(logged)]);
    if (!result.verdict.passed) failures.push([name, result.verdict.failed]);
  }
} finally {
  for (const child of children) child.kill('SIGKILL');
  await redis.stop('SIGKILL');
  await agent.close();
  rmSync(redis.dir, { recursive: true, force: true });
  // CHAOS_KEEP_LOGS=1 keeps every process's access log for reading after the run.
  if (process.env.CHAOS_KEEP_LOGS === '1') console.log(`access logs kept in ${logDir}`);
  else rmSync(logDir, { recursive: true, force: true });
}

console.log(
  `\nballast chaos: ${SERVICES} services + balancer (${BALANCER_WORKERS} workers) + Redis (AOF everysec), real processes on 127.0.0.1\n`,
);
console.table(rows);
for (const [scenario, lines] of why) {
  if (lines.length === 0) continue;
  console.log(`${scenario} ejections:`);
  for (const line of lines) console.log(`  ${line}`);
}
for (const [scenario, failed] of failures) console.log(`${scenario} FAILED: ${failed.join('; ')}`);
console.log(`${rows.length - failures.length} passed, ${failures.length} failed`);
process.exit(failures.length > 0 ? 1 : 0);
