// bench:tasks — on one Redis, in one run: (1) tasks/s end-to-end (POST /tasks -> the
// `completed` frame on a socket subscribed to all) for ballast against the minimal Fastify +
// BullMQ + QueueEvents + ws app doing the same job (bench/peers/minimal-tasks.mjs), in
// interleaved rounds on fresh processes (the peer also run sending every status frame, as
// ballast does), with raw BullMQ add + no-op process + QueueEvents as the floor;
// (2) the same with 200 more sockets subscribed to all, against the peer sending every frame;
// (3) end-to-end latency p50/p99 at a paced 500 tasks/s (3 runs, medians); (4) RSS of a
// service holding 10k idle subscribed sockets. Redis: REDIS_URL, else 127.0.0.1:6379. Bounded.
// TASKS_BASELINE=<another build>/dist/main.js adds that build to (1), with ballast's ratio to it
// per round (a change against the build before it, same run; TASKS_BASELINE_ENV='{"K":"v"}'
// gives it settings of its own); BENCH_TASKS_ONLY=throughput stops after (1).
import { Queue, QueueEvents, Worker } from 'bullmq';
import { fork } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { freePort, inFlightLoop, median, onFreshProcesses, perRound, printSummary, startService } from './lib/harness.mjs';
import { dropPrefix } from './lib/redis-prefix.mjs';
import { openSocket, postTask, runTasks } from './lib/tasks-load.mjs';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const N = Number(process.env.BENCH_TASKS ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const IN_FLIGHT = 50;
const RATE = 500;
const PACED_SECONDS = 5;
const PACED_RUNS = 3;
const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 10_000);
const FOLLOWERS = Number(process.env.BENCH_FOLLOWERS ?? 200);
const FANOUT_TASKS = 1500;
const FANOUT_ROUNDS = 3;
const url = new URL(REDIS_URL);
const connection = { host: url.hostname, port: Number(url.port || 6379) };
const prefix = () => `ballast-bench-${randomBytes(3).toString('hex')}`;

async function rawBullmq() {
  const opts = { connection, prefix: prefix() };
  const queue = new Queue('raw', opts);
  const events = new QueueEvents('raw', opts);
  await events.waitUntilReady();
  const worker = new Worker('raw', async () => ({ ok: true }), { ...opts, concurrency: IN_FLIGHT });
  let completed = 0;
  const done = new Promise((resolve) => events.on('completed', () => ++completed === N && resolve()));
  const started = performance.now();
  await inFlightLoop(N, IN_FLIGHT, (n) => queue.add('job', { n }, { removeOnComplete: true }));
  await done;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return N / seconds;
}

async function ballastThroughput(base) {
  return N / (await runTasks(base, { tasks: N, inFlight: IN_FLIGHT }));
}

async function pacedLatency(base) {
  // The latencies are taken here, so this process's own stalls (its GC, the shared cores) are in
  // them: reported beside them, as bench:smart does.
  const stall = monitorEventLoopDelay({ resolution: 5 });
  stall.enable();
  const ws = await openSocket(base);
  ws.send(JSON.stringify({ event: 'subscribe', data: { all: true } }));
  const sentAt = new Map();
  const latencies = [];
  const completedEarly = new Map();
  ws.on('message', (raw) => {
    const frame = JSON.parse(raw.toString());
    if (frame.event !== 'task' || frame.data.status !== 'completed') return;
    const at = performance.now();
    const sent = sentAt.get(frame.data.id);
    if (sent === undefined) completedEarly.set(frame.data.id, at);
    else latencies.push(at - sent);
  });
  const total = RATE * PACED_SECONDS;
  const started = performance.now();
  const posts = [];
  for (let i = 0; i < total; i += 1) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    posts.push(
      postTask(base).then((id) => {
        const early = completedEarly.get(id);
        if (early !== undefined) latencies.push(early - sent);
        else sentAt.set(id, sent);
      }),
    );
  }
  await Promise.all(posts);
  const deadline = Date.now() + 30_000;
  while (latencies.length < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  ws.close();
  stall.disable();
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
  return {
    tasks: total,
    measured: latencies.length,
    achievedRate: total / ((performance.now() - started) / 1000),
    p50: at(50),
    p99: at(99),
    benchStallMs: stall.max / 1e6,
  };
}

async function socketsRss() {
  const service = await startService({ READY_TRACK_CLIENTS: 'false', WS_MAX_SUBSCRIPTIONS: '10' });
  const rss = async () => Number(/^process_resident_memory_bytes (\d+)/m.exec(await (await fetch(`${service.url}/metrics`)).text())[1]);
  const before = await rss();
  const sockets = [];
  try {
    for (let i = 0; i < SOCKETS; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, SOCKETS - i) }, () => openSocket(service.url, `?clientId=c${i}`)));
      for (const ws of batch) ws.send(JSON.stringify({ event: 'subscribe', data: { taskId: `t${i}` } }));
      sockets.push(...batch);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000)); // let the subscriptions land
    return { sockets: sockets.length, rssBeforeMB: before / 2 ** 20, rssAfterMB: (await rss()) / 2 ** 20 };
  } finally {
    for (const ws of sockets) ws.terminate();
    await service.stop();
  }
}

async function startPeer(frames = 'progress') {
  const port = await freePort();
  const keys = prefix();
  const child = fork(
    fileURLToPath(new URL('./peers/minimal-tasks.mjs', import.meta.url)),
    [String(port), REDIS_URL, keys, String(IN_FLIGHT), frames],
    {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  await once(child, 'message');
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
      await dropPrefix(REDIS_URL, keys);
    },
  };
}

async function startBallast(env = {}, main = undefined) {
  const keys = prefix();
  const service = await startService(
    {
      REDIS_URL,
      REDIS_PREFIX: keys,
      TASK_CONCURRENCY: String(IN_FLIGHT),
      READY_TRACK_CLIENTS: 'false',
      ...env,
    },
    { main },
  );
  return {
    ...service,
    stop: async () => {
      await service.stop();
      await dropPrefix(REDIS_URL, keys);
    },
  };
}
const figures = [];
const BASELINE = process.env.TASKS_BASELINE;
const throughputVariants = { peer: () => startPeer(), everyFrame: () => startPeer('every'), ballast: () => startBallast() };
// TASKS_BASELINE_ENV (JSON) sets the baseline's environment: the same build with a setting changed.
const BASELINE_ENV = JSON.parse(process.env.TASKS_BASELINE_ENV ?? '{}');
if (BASELINE) throughputVariants.baseline = () => startBallast(BASELINE_ENV, BASELINE);
const samples = await onFreshProcesses(throughputVariants, ROUNDS, {
  warmUp: (app) => ballastThroughput(app.url).catch(() => undefined), // JIT
  measure: (app) => ballastThroughput(app.url),
});
samples.raw = [];
for (let round = 0; round < ROUNDS; round += 1) samples.raw.push(await rawBullmq());
const raw = median(samples.raw);
const minimal = median(samples.peer);
const everyFrame = median(samples.everyFrame);
const ours = median(samples.ballast);
console.log(
  `Throughput, ${N} tasks per round, ${IN_FLIGHT} in flight, ${ROUNDS} rounds on fresh processes, interleaved, medians, one Redis (${REDIS_URL})`,
);
console.table({
  'raw BullMQ add + no-op process (floor)': { 'tasks/s': Math.round(raw) },
  'minimal Fastify + BullMQ + ws app (progress, completed frames)': { 'tasks/s': Math.round(minimal) },
  'minimal app, every status frame (queued, active, progress, completed)': { 'tasks/s': Math.round(everyFrame) },
  'ballast POST -> completed frame (every status frame)': { 'tasks/s': Math.round(ours) },
});
const vsMinimal = perRound(samples.ballast, samples.peer);
const vsEveryFrame = perRound(samples.ballast, samples.everyFrame);
console.log(`ratio ballast / minimal app: ${vsMinimal.median.toFixed(2)}x, rounds ${vsMinimal.range} (goal >= 1.0)`);
console.log(`ratio ballast / minimal app sending the same frames: ${vsEveryFrame.median.toFixed(2)}x, rounds ${vsEveryFrame.range}`);
console.log(`ratio ballast / raw BullMQ: ${(ours / raw).toFixed(2)}x`);
console.log(`rounds ballast: ${samples.ballast.map(Math.round).join(' ')}; minimal app: ${samples.peer.map(Math.round).join(' ')}`);
if (BASELINE) {
  const vsBaseline = perRound(samples.ballast, samples.baseline);
  console.log(
    `ratio ballast / baseline build (${BASELINE}): ${vsBaseline.median.toFixed(2)}x, rounds ${vsBaseline.range}; baseline rounds ${samples.baseline.map(Math.round).join(' ')}`,
  );
}
if (process.env.BENCH_TASKS_ONLY === 'throughput') process.exit(0);
figures.push(
  `raw BullMQ ${Math.round(raw)} tasks/s, minimal app ${Math.round(minimal)} (every status frame ${Math.round(everyFrame)}), ballast ${Math.round(ours)}: ${vsMinimal.median.toFixed(2)}x the minimal app per round (${vsMinimal.range}; ${vsEveryFrame.median.toFixed(2)}x with the same frames), ${(ours / raw).toFixed(2)}x raw`,
);

const service = await startBallast();
try {
  await ballastThroughput(service.url).catch(() => undefined); // warm-up
  // Three paced runs, medians: one 5 s run's p99 is its 25th-worst task, which one stall of this
  // machine can double.
  const runs = [];
  for (let run = 0; run < PACED_RUNS; run += 1) runs.push(await pacedLatency(service.url));
  const paced = {
    achievedRate: median(runs.map((r) => r.achievedRate)),
    measured: runs.reduce((sum, r) => sum + r.measured, 0),
    tasks: runs.reduce((sum, r) => sum + r.tasks, 0),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    benchStallMs: Math.max(...runs.map((r) => r.benchStallMs)),
  };
  console.log(
    `\nPaced ${RATE} tasks/s, ${PACED_RUNS} runs of ${PACED_SECONDS}s, medians: achieved ${paced.achievedRate.toFixed(0)}/s, measured ${paced.measured}/${paced.tasks}`,
  );
  console.log(
    `end-to-end latency (POST sent -> completed frame): p50 ${paced.p50.toFixed(1)} ms, p99 ${paced.p99.toFixed(1)} ms (runs: ${runs.map((r) => r.p99.toFixed(1)).join(', ')}; goal p99 <= 20); the bench's own longest stall ${paced.benchStallMs.toFixed(1)} ms`,
  );
  figures.push(
    `paced ${paced.achievedRate.toFixed(0)}/s (3 runs, medians): p50 ${paced.p50.toFixed(1)} ms, p99 ${paced.p99.toFixed(1)} ms (bench stall up to ${paced.benchStallMs.toFixed(1)} ms)`,
  );
} finally {
  await service.stop();
}
// Fan-out: the same job with FOLLOWERS more sockets subscribed to all (a wall of dashboards),
// ballast against the minimal app sending the same four frames to each of them.
const withFollowers = (start) => async () => {
  const app = await start();
  const followers = [];
  for (let i = 0; i < FOLLOWERS; i += 1) {
    const ws = await openSocket(app.url);
    ws.send(JSON.stringify({ event: 'subscribe', data: { all: true } }));
    followers.push(ws);
  }
  return {
    url: app.url,
    stop: async () => {
      for (const ws of followers) ws.terminate();
      await app.stop();
    },
  };
};
const fanoutThroughput = async (app) => FANOUT_TASKS / (await runTasks(app.url, { tasks: FANOUT_TASKS, inFlight: IN_FLIGHT }));
const fanout = await onFreshProcesses(
  { everyFrame: withFollowers(() => startPeer('every')), ballast: withFollowers(startBallast) },
  FANOUT_ROUNDS,
  { warmUp: (app) => fanoutThroughput(app).catch(() => undefined), measure: fanoutThroughput },
);
const vsFanoutPeer = perRound(fanout.ballast, fanout.everyFrame);
console.log(
  `\nFan-out, ${FOLLOWERS} more sockets subscribed to all, ${FANOUT_TASKS} tasks per round, ${FANOUT_ROUNDS} rounds on fresh processes: ` +
    `minimal app (every status frame) ${Math.round(median(fanout.everyFrame))} tasks/s, ballast ${Math.round(median(fanout.ballast))}: ` +
    `${vsFanoutPeer.median.toFixed(2)}x, rounds ${vsFanoutPeer.range}`,
);
figures.push(`with ${FOLLOWERS} sockets following all: ${vsFanoutPeer.median.toFixed(2)}x the minimal app sending the same frames`);

const rss = await socketsRss();
console.log(
  `\n${rss.sockets} idle subscribed sockets: RSS ${rss.rssBeforeMB.toFixed(0)} MB -> ${rss.rssAfterMB.toFixed(0)} MB (goal < 300 MB)`,
);
figures.push(`${rss.sockets} idle subscribed sockets: RSS ${rss.rssBeforeMB.toFixed(0)} -> ${rss.rssAfterMB.toFixed(0)} MB`);
printSummary(figures.join('; '));
