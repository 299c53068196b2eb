// Shared pieces of the benchmarks: start built processes on free ports, run bounded
// autocannon rounds, summarise. Every load here targets 127.0.0.1 and stops by itself.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { freePort, MAIN, readyPathFor, untilAnswers } from '../../test/support/spawn.mjs';

export { freePort, MAIN } from '../../test/support/spawn.mjs';

/** The environment a built ballast process is started with on `port`: quiet, no access log, then `env`. */
export const serviceEnv = (port, env = {}) => ({
  PATH: process.env.PATH,
  HOST: '127.0.0.1',
  PORT: String(port),
  LOG_LEVEL: 'warn',
  ACCESS_LOG: 'off',
  ...env,
});

/**
 * Starts `node dist/main.js` (or another build's `main`) with env on a free port; resolves when
 * it can be measured (readyPathFor). No access log unless `env` asks for one: the peers (nginx
 * with `access_log off`, the bare proxies) keep none.
 */
export async function startService(env = {}, { main = MAIN } = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [main], {
    env: serviceEnv(port, env),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await untilAnswers(`${url}${readyPathFor(env)}`, { timeoutMs: 15_000, exited: () => child.exitCode !== null });
  return {
    url,
    port,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/** One bounded load round. */
export async function load(url, { connections = 50, durationSeconds = 5, pipelining = 1 } = {}) {
  const result = await autocannon({ url, connections, duration: durationSeconds, pipelining });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + (result.non2xx ?? 0),
  };
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/**
 * Ratios of `ours` to `theirs` round by round (`pick` reads the figure from a sample): both were
 * measured on the same machine state, so the ratios carry less of its drift than a ratio of
 * medians. Their median, and `range` ("0.72-1.24") to show how far single rounds strayed.
 */
export function perRound(ours, theirs, pick = (sample) => sample) {
  const ratios = ours.map((sample, round) => pick(sample) / pick(theirs[round]));
  return { median: median(ratios), range: `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}` };
}

/**
 * Measures every variant `rounds` times, each round on processes started afresh for it:
 * `variants` maps a name to a start function resolving to `{ url, stop }`. Within a round the
 * variants start, warm up (`warmUp`, optional) and are measured in an order rotated every
 * round, so drift in machine load hits all alike; then all are stopped. Fresh processes
 * because on these machines two processes of one build measured up to 20% apart for their
 * whole life (bench:readiness said 0.82x, then 1.21x, on the same code): one set of processes
 * measures the set more than the code. Resolves with each variant's samples, in round order.
 */
export async function onFreshProcesses(variants, rounds, { warmUp, measure }) {
  const names = Object.keys(variants);
  const results = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round += 1) {
    const shift = round % names.length;
    const order = [...names.slice(shift), ...names.slice(0, shift)];
    const running = {};
    try {
      for (const name of order) running[name] = await variants[name]();
      if (warmUp) for (const name of order) await warmUp(running[name], name);
      for (const name of order) results[name].push(await measure(running[name], name));
    } finally {
      for (const app of Object.values(running)) await app.stop();
    }
  }
  return results;
}

/** Runs `task(i)` for i = 1..total with at most `inFlight` running at once. */
export async function inFlightLoop(total, inFlight, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        next += 1;
        await task(next);
      }
    }),
  );
}

export function summarise(samples) {
  return {
    rps: median(samples.map((s) => s.rps)),
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
  };
}

/**
 * The bench's figures in one line, for the README's table (`npm run bench:readme` collects
 * the line every bench prints last).
 */
export function printSummary(text) {
  console.log(`\nsummary: ${text}`);
}
