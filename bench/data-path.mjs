// bench:data-path — what ballast's own data path costs, apart from the process it runs in.
// bench:balancer compares whole processes, and on these machines two processes of one build
// measure up to 20% apart for their life; a Node process that has loaded Nest, Fastify and
// the rest also runs the same code slower than a bare one. Here ballast's balancer and a peer
// answer in ONE process (bench/peers/in-process-fronts.mjs), switched phase by phase under the
// same open-loop rate, so the ratio is the code's: (1) proxied GET /ping to 4 bare backends,
// ballast's proxy against a bare undici Pool.stream proxy; (2) refusals (BALANCER_CLIENT_RATE=1:
// every request but one a second is a 429), ballast against a bare writer of the same answer.
// Then (3) the process's own share: the bare undici proxy alone in a bare process against the
// same handler inside ballast's process, fresh processes each round.
// CPU per request is the front process's user + system time (/proc) over the phase.
// A fresh process costs more per request for its first 10,000-20,000 requests (V8 still
// compiling), and ballast's, with more code, for longer: measured 2-4 s after a 2 s warm-up at
// 2000/s, the bare proxy cost 1.31x as much in ballast's process; from 8 s on, about what it
// costs alone. (3) is steady state: each process warms up DATA_PATH_PROCESS_WARM_UP seconds.
// DATA_PATH_ROUNDS (8), DATA_PATH_RATE (2000 req/s: below every front's capacity here),
// DATA_PATH_SECONDS (2 per phase), DATA_PATH_PROCESS_ROUNDS (4), DATA_PATH_PROCESS_WARM_UP (10).
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort, median, printSummary } from './lib/harness.mjs';
import { OPEN_LOOP_AGENT, openLoop, percentile } from './lib/open-loop.mjs';
import { cpuMs } from './lib/proc-cpu.mjs';
import { untilAnswers } from '../test/support/spawn.mjs';

const ROUNDS = Number(process.env.DATA_PATH_ROUNDS ?? 8);
const RATE = Number(process.env.DATA_PATH_RATE ?? 2000);
const SECONDS = Number(process.env.DATA_PATH_SECONDS ?? 2);
const PROCESS_ROUNDS = Number(process.env.DATA_PATH_PROCESS_ROUNDS ?? 4);
const PROCESS_WARM_UP = Number(process.env.DATA_PATH_PROCESS_WARM_UP ?? 10);
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const cleanups = [];

/** One phase at RATE: the front process's CPU per request (µs), p99 (ms), and answers not `expected`. */
async function phase(pid, url, expected) {
  const before = cpuMs(pid);
  const records = await openLoop({ url, rate: RATE, seconds: SECONDS });
  const usPerRequest = ((cpuMs(pid) - before) * 1000) / records.length;
  const unexpected = records.filter((record) => record.status !== expected).length;
  return {
    usPerRequest,
    p99: percentile(
      records.map((record) => record.ms),
      99,
    ),
    unexpected,
  };
}

async function startFronts(env, peer) {
  const port = await freePort();
  const child = fork(here('./peers/in-process-fronts.mjs'), [], {
    env: { PATH: process.env.PATH, ROLE: 'balancer', LOG_LEVEL: 'error', ACCESS_LOG: 'off', PORT: String(port), PEER: peer, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  cleanups.push(() => child.kill('SIGKILL'));
  await once(child, 'message');
  const url = `http://127.0.0.1:${port}`;
  await untilAnswers(`${url}/_balancer/live`, { timeoutMs: 30_000 });
  const use = async (front) => {
    child.send({ front });
    await once(child, 'message');
  };
  return { child, url, use };
}

/** Alternates ballast and the peer in one process, ROUNDS times; per-round ratios of CPU per request. */
async function inOneProcess(label, fronts, path, expected) {
  const samples = { ballast: [], peer: [] };
  for (const front of ['ballast', 'peer']) {
    await fronts.use(front);
    await openLoop({ url: `${fronts.url}${path}`, rate: RATE, seconds: 2 }); // warm both paths
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const front of round % 2 ? ['peer', 'ballast'] : ['ballast', 'peer']) {
      await fronts.use(front);
      await openLoop({ url: `${fronts.url}${path}`, rate: RATE, seconds: 0.3 });
      samples[front].push(await phase(fronts.child.pid, `${fronts.url}${path}`, expected));
    }
  }
  const ratios = samples.ballast.map((sample, round) => sample.usPerRequest / samples.peer[round].usPerRequest);
  const row = (front) => ({
    'CPU per request': `${median(samples[front].map((s) => s.usPerRequest)).toFixed(1)} µs`,
    'each phase (µs)': samples[front].map((s) => s.usPerRequest.toFixed(0)).join(' '),
    'p99 (median)': `${median(samples[front].map((s) => s.p99)).toFixed(1)} ms`,
    unexpected: samples[front].reduce((sum, s) => sum + s.unexpected, 0),
  });
  console.log(`\n${label}: ${RATE}/s open loop, ${SECONDS} s phases, ${ROUNDS} rounds`);
  console.table({ ballast: row('ballast'), peer: row('peer') });
  return { median: median(ratios), range: `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}` };
}

try {
  const backendPorts = await Promise.all([0, 1, 2, 3].map(() => freePort()));
  const backends = fork(here('./peers/bare-backends.mjs'), backendPorts.map(String), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  cleanups.push(() => backends.kill('SIGKILL'));
  await once(backends, 'message');
  const backendUrls = backendPorts.map((port) => `http://127.0.0.1:${port}`);

  const proxying = await startFronts({ BACKENDS: backendUrls.join(',') }, 'proxy');
  const proxied = await inOneProcess('(1) Proxied GET /ping: ballast vs a bare undici proxy, in one process', proxying, '/ping', 200);
  proxying.child.kill('SIGKILL');

  // One backend is enough: all but one request a second are refused before any is chosen.
  const refusing = await startFronts({ BACKENDS: backendUrls[0], BALANCER_CLIENT_RATE: '1' }, 'refusal');
  // The one request a second ballast admits is a 200 from the backend: not "unexpected" enough to count.
  const refused = await inOneProcess('(2) Refusals (429, client rate): ballast vs a bare writer, in one process', refusing, '/x', 429);
  refusing.child.kill('SIGKILL');

  // (3) The same bare handler, alone and inside ballast's process.
  const processSamples = { 'bare process': [], "ballast's process": [] };
  const starters = {
    'bare process': async () => {
      const port = await freePort();
      const child = spawn(process.execPath, [here('./peers/undici-proxy.mjs'), String(port), ...backendUrls], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      cleanups.push(() => child.kill('SIGKILL'));
      await once(child, 'message');
      return { child, url: `http://127.0.0.1:${port}` };
    },
    "ballast's process": async () => {
      const fronts = await startFronts({ BACKENDS: backendUrls.join(',') }, 'proxy');
      await fronts.use('peer');
      return fronts;
    },
  };
  for (let round = 0; round < PROCESS_ROUNDS; round += 1) {
    const names = Object.keys(starters);
    if (round % 2) names.reverse();
    for (const name of names) {
      const { child, url } = await starters[name]();
      await openLoop({ url: `${url}/ping`, rate: RATE, seconds: PROCESS_WARM_UP });
      processSamples[name].push(await phase(child.pid, `${url}/ping`, 200));
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  const processRatios = processSamples["ballast's process"].map(
    (s, round) => s.usPerRequest / processSamples['bare process'][round].usPerRequest,
  );
  console.log(
    `\n(3) The bare undici proxy's handler alone, and inside ballast's process: fresh processes, ${PROCESS_WARM_UP} s warm-up, ${PROCESS_ROUNDS} rounds`,
  );
  console.table(
    Object.fromEntries(
      Object.entries(processSamples).map(([name, samples]) => [
        name,
        {
          'CPU per request': `${median(samples.map((s) => s.usPerRequest)).toFixed(1)} µs`,
          'each round (µs)': samples.map((s) => s.usPerRequest.toFixed(0)).join(' '),
        },
      ]),
    ),
  );
  const process_ = {
    median: median(processRatios),
    range: `${Math.min(...processRatios).toFixed(2)}-${Math.max(...processRatios).toFixed(2)}`,
  };
  printSummary(
    `CPU per request at ${RATE}/s, ballast / its peer in one process: proxied ${proxied.median.toFixed(2)}x (rounds ${proxied.range}), ` +
      `refused ${refused.median.toFixed(2)}x (rounds ${refused.range}); the same bare proxy inside ballast's process / alone: ` +
      `${process_.median.toFixed(2)}x (rounds ${process_.range})`,
  );
} finally {
  for (const cleanup of cleanups.reverse()) cleanup();
  await OPEN_LOOP_AGENT.close();
}
