// npm run chaos:failover [-- ROW ...] — Redis failovers under task load, counted from the
// clients' side. Each row starts its own Redis (a Sentinel fleet: primary, 2 replicas, 3
// sentinels, down-after 1 s; or a 6-node Cluster), three services and the balancer, real
// processes on loopback. Four clients create 100 ms tasks through the balancer every 100 ms each,
// with an Idempotency-Key, retrying a 503 / no answer with the same key as Retry-After asks; each
// follows its tasks on a WebSocket (`?clientId=`) through the balancer, reconnecting when closed.
// Probe tasks scheduled before the fault (one due every 100 ms) keep work waiting whatever the
// fault does to creates, so the workers' resumption is timed on work that is there.
// At 3 s the row's fault happens; the load goes on 6 s after it is over. Then every acknowledged
// (202) task must reach a final state. Per row: 202s, 503s and their window, the slowest request,
// the time until every instance completes a task again, tasks lost (acknowledged, never completed),
// tasks run twice (Redis's job record: a stalled run or a second attempt), clients that missed a
// final state. The exit code is 1 when a verdict failed, 2 for an unknown row. Bounded: every loop
// ends by time and by count; about five minutes for all rows.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { freePort, MAIN, startRedisCluster, startSentinelFleet, untilAnswers } from '../test/support/spawn.mjs';

const CLIENTS = 4;
const EVERY_MS = 100;
const TASK_MS = 100;
const FAULT_AT_MS = 3_000;
const LOAD_AFTER_FAULT_MS = 6_000;
const COMMAND_TIMEOUT_MS = 1_000;
/** The sentinels' down-after-milliseconds (test/support/spawn.mjs). */
const DOWN_AFTER_MS = 1_000;
const SETTLE_MS = 40_000;
const PROBE_EVERY_MS = 100;
const PROBE_SPAN_MS = 25_000;
const QUEUE = 'ballast-tasks';

const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
const children = new Set();

async function call(url, options = {}) {
  const started = performance.now();
  try {
    const response = await request(url, { dispatcher: agent, headersTimeout: 15_000, bodyTimeout: 15_000, ...options });
    const text = await response.body.text();
    return { status: response.statusCode, text, headers: response.headers, ms: performance.now() - started };
  } catch (error) {
    return { status: 0, text: error.code ?? String(error), headers: {}, ms: performance.now() - started };
  }
}

/** FAILOVER_LOGS=<dir>: each process's output (LOG_LEVEL=info) in <dir>/<port>.log, to see why a row failed. */
const LOG_DIR = process.env.FAILOVER_LOGS;

function startProcess(port, env) {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: LOG_DIR ? 'info' : 'error', ...env },
    stdio: [
      'ignore',
      LOG_DIR ? openSync(join(LOG_DIR, `${port}.log`), 'a') : 'ignore',
      LOG_DIR ? openSync(join(LOG_DIR, `${port}.log`), 'a') : 'inherit',
    ],
  });
  children.add(child);
  const exited = once(child, 'exit').then(() => children.delete(child));
  return { child, port, url: `http://127.0.0.1:${port}`, exited };
}

async function startFleet(redisEnv, extraEnv) {
  const prefix = `failover-${Math.random().toString(16).slice(2, 8)}`;
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const services = ports.map((port) =>
    startProcess(port, {
      ...redisEnv,
      REDIS_PREFIX: prefix,
      REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
      TASK_CONCURRENCY: '4',
      TASK_LOCK_MS: '3000',
      ...extraEnv,
    }),
  );
  for (const service of services) await untilAnswers(`${service.url}/live`);
  const balancer = startProcess(await freePort(), {
    ROLE: 'balancer',
    BACKENDS: services.map((service) => service.url).join(','),
    BALANCER_WORKERS: '1',
    HEALTH_CHECK_INTERVAL_MS: '500',
  });
  await untilAnswers(`${balancer.url}/_balancer/ready`);
  return { prefix, services, balancer, processes: [...services, balancer] };
}

async function completedOn(service) {
  const { status, text } = await call(`${service.url}/metrics`);
  if (status !== 200) return undefined;
  return [...text.matchAll(/^ballast_tasks_finished_total\{[^}]*outcome="completed"[^}]*\} (\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

/**
 * The workload of one row: clients creating tasks with keys (retrying refusals with the same
 * key), each following its tasks on a socket through the balancer.
 */
function startLoad(balancer, until) {
  const started = performance.now();
  const statuses = {};
  const refusals = [];
  const acknowledged = new Map(); // task id -> client
  const acknowledgedAt = new Map(); // task id -> performance.now() of its 202
  let slowestMs = 0;
  let stopping = false;
  const learned = new Map(); // client -> Map(task id -> final status)
  const sockets = new Set();
  const follow = (client) => {
    const socket = new WebSocket(`${balancer.url.replace('http', 'ws')}/ws?clientId=${client}`);
    sockets.add(socket);
    socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString());
      if (frame.event === 'task' && ['completed', 'failed', 'cancelled'].includes(frame.data.status))
        learned.get(client).set(frame.data.id, frame.data.status);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      if (!stopping) setTimeout(() => follow(client), 200);
    });
  };
  const clients = Array.from({ length: CLIENTS }, (_, i) => `failover-client-${i}`);
  for (const client of clients) {
    learned.set(client, new Map());
    follow(client);
  }
  const creating = Promise.all(
    clients.map(async (client) => {
      for (let seq = 0; seq < 10_000 && Date.now() < until(); seq += 1) {
        const key = `${client}-${seq}`;
        const next = performance.now() + EVERY_MS;
        // The same create again until it is acknowledged, as a client with a key may safely do.
        for (let attempt = 0; attempt < 200 && Date.now() < until() + 5_000; attempt += 1) {
          const answer = await call(`${balancer.url}/tasks`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': key },
            body: JSON.stringify({ durationMs: TASK_MS, clientId: client }),
          });
          slowestMs = Math.max(slowestMs, answer.ms);
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          if (answer.status === 202) {
            acknowledged.set(JSON.parse(answer.text).id, client);
            acknowledgedAt.set(JSON.parse(answer.text).id, performance.now());
            break;
          }
          refusals.push(performance.now() - started);
          const retryAfterS = Number(answer.headers['retry-after'] ?? 0.2);
          await sleep(Math.min(500, Math.max(50, retryAfterS * 1000)));
        }
        await sleep(Math.max(0, next - performance.now()));
      }
    }),
  );
  return {
    async stop() {
      await creating;
      return { statuses, refusals, acknowledged, acknowledgedAt, slowestMs, learned, clients };
    },
    close() {
      stopping = true;
      for (const socket of sockets) socket.close();
    },
  };
}

/**
 * Work that is there whatever the fault does to creates: tasks scheduled before it, one due every
 * PROBE_EVERY_MS for PROBE_SPAN_MS. Without them, a row whose creates are refused until a replica
 * resyncs (REDIS_MIN_REPLICAS_ACK) leaves the workers nothing to run, and "resumed" would time
 * the replica, not the workers.
 */
async function scheduleProbes(balancer) {
  const ids = new Map();
  for (let due = PROBE_EVERY_MS; due <= PROBE_SPAN_MS; due += PROBE_EVERY_MS) {
    const answer = await call(`${balancer.url}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ durationMs: TASK_MS, delayMs: due }),
    });
    if (answer.status !== 202) throw new Error(`a probe task was refused: ${answer.status} ${answer.text}`);
    ids.set(JSON.parse(answer.text).id, 'probe');
  }
  return ids;
}

/** Each acknowledged task's final state through the balancer (bounded), and Redis's record of how often it ran. */
async function settle(balancer, acknowledged, runsOf) {
  const deadline = Date.now() + SETTLE_MS;
  const final = new Map();
  let pending = [...acknowledged.keys()];
  while (pending.length > 0 && Date.now() < deadline) {
    const still = [];
    for (const id of pending) {
      const { status, text } = await call(`${balancer.url}/tasks/${id}`);
      if (status === 404) final.set(id, 'lost');
      else if (status === 200 && ['completed', 'failed', 'cancelled'].includes(JSON.parse(text).status))
        final.set(id, JSON.parse(text).status);
      else still.push(id);
    }
    pending = still;
    if (pending.length > 0) await sleep(500);
  }
  let twice = 0;
  for (const [id, state] of final) if (state === 'completed' && runsOf(id) > 1) twice += 1;
  return { final, pending, twice };
}

/** How many times Redis says a job ran: attempts made plus stalls (a run cut short and started again). */
function jobRuns(port, key, cluster) {
  try {
    const reply = execFileSync('redis-cli', [...(cluster ? ['-c'] : []), '-p', String(port), 'HMGET', key, 'atm', 'stc'], {
      encoding: 'utf8',
    });
    const [atm, stc] = reply.trim().split('\n');
    return Math.max(1, Number(atm || 0)) + Number(stc || 0);
  } catch {
    return 1;
  }
}

// ---- faults -------------------------------------------------------------------------------
// Each fault calls `at.fault()` when it strikes and `at.healed()` once Redis can serve again (a
// new primary named, or the old one back); the workers' resumption is timed from those.

const sentinelFaults = {
  async 'kill -9 the primary'(fleet, at) {
    const port = fleet.primaryPort();
    at.fault();
    await fleet.nodes.find((node) => node.port === port).stop('SIGKILL');
    await fleet.untilPrimaryIsNot(port);
    at.healed();
  },
  async 'planned switchover'(fleet, at) {
    await fleet.untilAgreed(fleet.primaryPort());
    at.fault();
    await fleet.switchover();
    at.healed();
  },
  async 'SIGSTOP the primary 10 s'(fleet, at) {
    const port = fleet.primaryPort();
    const node = fleet.nodes.find((candidate) => candidate.port === port);
    const frozenAt = performance.now();
    at.fault();
    node.freeze();
    await fleet.untilPrimaryIsNot(port);
    at.healed();
    await sleep(Math.max(0, 10_000 - (performance.now() - frozenAt)));
    node.freeze(false);
  },
  /**
   * The replicas stopped (SIGTERM: their AOF holds what they had), the primary takes creates for
   * 3 s alone, then dies; the replicas start again and the sentinels promote one of them: what
   * only the primary had is gone.
   */
  async 'forced loss'(fleet, at) {
    const port = fleet.primaryPort();
    const replicas = fleet.nodes.filter((node) => node.port !== port);
    await Promise.all(replicas.map((replica) => replica.stop('SIGTERM')));
    await sleep(3_000);
    at.fault();
    await fleet.nodes.find((node) => node.port === port).stop('SIGKILL');
    for (const replica of replicas) await replica.start();
    await fleet.untilPrimaryIsNot(port);
    at.healed();
  },
  /** Two sentinels stopped: no quorum, no failover; the primary is down 5 s (stopped: its AOF keeps what it had), then back. */
  async '2 of 3 sentinels down, then the primary'(fleet, at) {
    const port = fleet.primaryPort();
    const node = fleet.nodes.find((candidate) => candidate.port === port);
    await fleet.stopSentinels(2);
    at.fault();
    await node.stop('SIGTERM');
    await sleep(5_000);
    await node.start();
    at.healed();
    if (fleet.primaryPort() !== port) throw new Error('a failover happened with 1 of 3 sentinels');
  },
};

const clusterFaults = {
  async 'kill -9 the queue’s primary'(cluster, at, tag) {
    const port = cluster.ownerOf(tag);
    at.fault();
    await cluster.nodes.find((node) => node.port === port).stop('SIGKILL');
    await cluster.untilOwnerIsNot(tag, port);
    at.healed();
  },
  async 'planned failover of the queue’s primary'(cluster, at, tag) {
    at.fault();
    await cluster.switchover(tag);
    at.healed();
  },
};

const ROWS = {
  'sentinel: kill -9 primary': { topology: 'sentinel', fault: sentinelFaults['kill -9 the primary'] },
  'sentinel: switchover': { topology: 'sentinel', fault: sentinelFaults['planned switchover'] },
  'sentinel: switchover, ACK=2': {
    topology: 'sentinel',
    fault: sentinelFaults['planned switchover'],
    env: { REDIS_MIN_REPLICAS_ACK: '2' },
    zeroLoss: true,
  },
  'sentinel: SIGSTOP primary 10 s': { topology: 'sentinel', fault: sentinelFaults['SIGSTOP the primary 10 s'] },
  'sentinel: forced loss, ACK=0': {
    topology: 'sentinel',
    fault: sentinelFaults['forced loss'],
    env: { REDIS_MIN_REPLICAS_ACK: '0' },
    expectLoss: true,
  },
  'sentinel: forced loss, ACK=1': {
    topology: 'sentinel',
    fault: sentinelFaults['forced loss'],
    env: { REDIS_MIN_REPLICAS_ACK: '1' },
    redis: { snapshots: true },
    zeroLoss: true,
  },
  'sentinel: 2 of 3 sentinels down + primary': {
    topology: 'sentinel',
    fault: sentinelFaults['2 of 3 sentinels down, then the primary'],
    noFailover: true,
  },
  'cluster: kill -9 queue primary': { topology: 'cluster', fault: clusterFaults['kill -9 the queue’s primary'] },
  'cluster: failover of queue primary': {
    topology: 'cluster',
    fault: clusterFaults['planned failover of the queue’s primary'],
    zeroLoss: true,
  },
};

async function runRow(name, row) {
  const redis = row.topology === 'sentinel' ? await startSentinelFleet(row.redis ?? { aof: true }) : await startRedisCluster();
  const redisEnv =
    row.topology === 'sentinel'
      ? { REDIS_SENTINELS: redis.sentinels, REDIS_SENTINEL_NAME: redis.name }
      : { REDIS_CLUSTER_NODES: redis.startupNodes };
  const fleet = await startFleet(redisEnv, row.env ?? {});
  const tag = `{${fleet.prefix}}`;
  try {
    const probes = await scheduleProbes(fleet.balancer);
    let loadUntil = Date.now() + 60_000;
    const load = startLoad(fleet.balancer, () => loadUntil);
    await sleep(FAULT_AT_MS);
    // Each instance's completed count, polled: when did each complete a task again after the fault healed?
    const resumedAt = new Map();
    let polling = true;
    let faultAt;
    let healedAt;
    const healedCounts = new Map();
    const poller = (async () => {
      for (let i = 0; polling && i < 2_000; i += 1) {
        for (const service of fleet.services) {
          const count = await completedOn(service);
          if (count === undefined || healedAt === undefined) continue;
          if (!healedCounts.has(service.port)) healedCounts.set(service.port, count);
          else if (count > healedCounts.get(service.port) && !resumedAt.has(service.port))
            resumedAt.set(service.port, performance.now() - faultAt);
        }
        await sleep(100);
      }
    })();
    await row.fault(redis, { fault: () => (faultAt = performance.now()), healed: () => (healedAt = performance.now()) }, tag);
    const outcome = { faultAt, healedAt };
    loadUntil = Date.now() + LOAD_AFTER_FAULT_MS;
    const seen = await load.stop();
    const resumeBy = Date.now() + 20_000;
    while (resumedAt.size < fleet.services.length && Date.now() < resumeBy) await sleep(100);
    polling = false;
    await poller;

    const primaryPort = row.topology === 'sentinel' ? () => redis.primaryPort() : () => redis.livePort();
    const { final, pending, twice } = await settle(fleet.balancer, new Map([...seen.acknowledged, ...probes]), (id) =>
      jobRuns(primaryPort(), `${row.topology === 'cluster' ? tag : fleet.prefix}:bull:${QUEUE}:${id}`, row.topology === 'cluster'),
    );
    // The last final frames are on their way: wait for them, bounded.
    const knows = ([id, client]) => final.get(id) === 'lost' || seen.learned.get(client).has(id);
    const framesBy = Date.now() + 5_000;
    while (![...seen.acknowledged].every(knows) && Date.now() < framesBy) await sleep(50);
    load.close();
    const lost = [...final.values()].filter((state) => state === 'lost').length;
    // A failover must not fail a task: it runs again instead (at least once).
    const failedTasks = [...final.values()].filter((state) => state === 'failed').length;
    const missed = [...seen.acknowledged].filter((entry) => !knows(entry)).length;
    if (LOG_DIR) {
      // When, relative to the fault, the lost and the missed tasks were acknowledged.
      const relative = (ids) =>
        ids.map((id) => (seen.acknowledgedAt.has(id) ? ((seen.acknowledgedAt.get(id) - faultAt) / 1000).toFixed(2) : 'probe')).join(' ');
      const lostIds = [...final].filter(([, state]) => state === 'lost').map(([id]) => id);
      const missedIds = [...seen.acknowledged].filter((entry) => !knows(entry)).map(([id]) => id);
      console.error(
        `${name}: healed at ${((healedAt - faultAt) / 1000).toFixed(2)} s; lost acknowledged at ${relative(lostIds)}; missed ${missedIds.map((id) => `${id}@${final.get(id)}`).join(' ')} acknowledged at ${relative(missedIds)}`,
      );
    }
    const window = seen.refusals.length ? `${((seen.refusals.at(-1) - seen.refusals[0]) / 1000).toFixed(1)} s` : '-';
    const resumeS = resumedAt.size === fleet.services.length ? Math.max(...resumedAt.values()) / 1000 : Infinity;
    const figures = {
      202: seen.statuses[202] ?? 0,
      503: seen.statuses[503] ?? 0,
      other:
        Object.entries(seen.statuses)
          .filter(([status]) => status !== '202' && status !== '503')
          .map(([status, n]) => `${n}x${status}`)
          .join(' ') || '-',
      '503 window': window,
      'slowest ms': Math.round(seen.slowestMs),
      'all resumed s': Number.isFinite(resumeS) ? resumeS.toFixed(1) : `not all (${resumedAt.size}/3)`,
      lost,
      failed: failedTasks,
      'run twice': twice,
      'missed final': missed,
      pending: pending.length,
    };
    const bar = COMMAND_TIMEOUT_MS + COMMAND_TIMEOUT_MS / 2;
    const checks = {
      [`no request slower than ${bar} ms`]: seen.slowestMs <= bar,
      // From the fault; without a failover, from the primary's return.
      'every worker resumed within down-after + 5 s':
        resumeS <= (DOWN_AFTER_MS + 5_000) / 1000 + (row.noFailover ? (outcome.healedAt - outcome.faultAt) / 1000 : 0),
      'every client learned every final state': missed === 0,
      'nothing pending': pending.length === 0,
      'no task failed': failedTasks === 0,
      ...(row.zeroLoss && { 'no acknowledged task lost': lost === 0 }),
      ...(row.expectLoss && { 'the documented loss shows': lost > 0 }),
      'refusals are 503s': Object.keys(seen.statuses).every((status) => status === '202' || status === '503'),
    };
    const failed = Object.entries(checks)
      .filter(([, holds]) => !holds)
      .map(([check]) => check);
    return { name, figures, failed };
  } finally {
    for (const proc of fleet.processes) proc.child.kill('SIGKILL');
    await Promise.all(fleet.processes.map((proc) => proc.exited));
    await redis.stop();
  }
}

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in ROWS));
if (unknown.length) {
  console.error(`unknown rows: ${unknown.join(', ')}; known: ${Object.keys(ROWS).join(' | ')}`);
  process.exit(2);
}
const chosen = Object.keys(ROWS).filter((name) => asked.length === 0 || asked.includes(name));
const results = [];
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const name of chosen) {
  process.stderr.write(`${name} ...\n`);
  try {
    results.push(await runRow(name, ROWS[name]));
  } catch (error) {
    results.push({ name, figures: {}, failed: [`did not run: ${error.message}`] });
  }
}
const columns = [
  '202',
  '503',
  'other',
  '503 window',
  'slowest ms',
  'all resumed s',
  'lost',
  'failed',
  'run twice',
  'missed final',
  'pending',
];
console.log(`| row | ${columns.join(' | ')} | verdict |`);
console.log(`|---|${columns.map(() => '---').join('|')}|---|`);
for (const { name, figures, failed } of results) {
  console.log(
    `| ${name} | ${columns.map((column) => figures[column] ?? '').join(' | ')} | ${failed.length ? `FAIL: ${failed.join('; ')}` : 'pass'} |`,
  );
}
const failures = results.filter((result) => result.failed.length).length;
console.log(`\n${results.length - failures} passed, ${failures} failed`);
await agent.close();
process.exit(failures ? 1 : 0);
