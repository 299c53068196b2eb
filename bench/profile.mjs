// npm run bench:profile — where the balancer's CPU goes, beside the bare undici proxy's.
// Each runs under `node --cpu-prof` while wrk (or autocannon) loads GET /ping through it
// over the same 4 bare backends; then the profiles are read and CPU self time is summed per
// package (node_modules/<pkg>, node: internals, ballast's own dist/, V8 natives) and per
// function, over the measured load window only. Idle time is left out, so shares are of busy CPU.
// Then each runs again with V8's sampling heap profiler for bytes allocated per request, which
// this machine's noise barely moves.
// PROFILE_SECONDS (10) sets the load window; PROFILE_TOP (15) the number of functions shown;
// PROFILE_ACCESS_LOG=all has ballast write its access log to a file.
// PROFILE_BASELINE=path/to/other/dist/main.js profiles that build's balancer the same way, third:
// what a change costs, function by function, beside the build before it.
import { execFileSync, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocationsDuring, ranked, readProfile, SAMPLE_ALLOCATIONS, selfTime } from './lib/cpu-profile.mjs';
import { freePort, load, MAIN, serviceEnv } from './lib/harness.mjs';

const seconds = Number(process.env.PROFILE_SECONDS ?? 10);
const top = Number(process.env.PROFILE_TOP ?? 15);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const baselineMain = process.env.PROFILE_BASELINE;
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const hasWrk = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function untilAnswers(url) {
  for (let i = 0; i < 200; i += 1) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer`);
}

/** req/s, and the requests served (autocannon: estimated from the rate). */
async function loadFor(url) {
  if (!hasWrk) {
    const { rps } = await load(url, { connections, durationSeconds: seconds });
    return { rps, requests: rps * seconds };
  }
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, url], { encoding: 'utf8' });
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]), requests: Number(/(\d+) requests in/.exec(out)[1]) };
}

/** Shares of busy CPU per package and per function. */
function summarise(profile, windowMs, trailingMs) {
  const { busyMicros, packages, functions } = selfTime(profile, windowMs, () => true, trailingMs);
  const share = (name, micros) => ({ name, '% busy': Number(((micros / busyMicros) * 100).toFixed(1)) });
  return { busyMs: busyMicros / 1000, packages: ranked(packages, share), functions: ranked(functions, share) };
}

async function profileOf(name, start) {
  const dir = mkdtempSync(join(tmpdir(), `ballast-prof-${name.replace(/\W/g, '')}-`));
  const { url, stop } = await start(['--cpu-prof', '--cpu-prof-dir', dir]);
  await untilAnswers(url);
  await loadFor(url); // warm-up: JIT and pools
  const { rps } = await loadFor(url);
  // The profile ends when the process exits: its shutdown (ballast's is longer) is left out.
  const loadEnded = performance.now();
  await stop();
  return { name, rps, ...summarise(readProfile(dir), seconds * 1000, performance.now() - loadEnded) };
}

/** Bytes allocated per request, per package, after a warm-up (V8's sampling heap profiler). */
async function allocationsOf(name, start) {
  const out = join(mkdtempSync(join(tmpdir(), `ballast-alloc-${name.replace(/\W/g, '')}-`)), 'allocations.json');
  const { url, pid, stop } = await start(['--import', SAMPLE_ALLOCATIONS], { BENCH_ALLOCATIONS_OUT: out });
  try {
    await untilAnswers(url);
    await loadFor(url); // warm-up: JIT and pools
    const sampled = await allocationsDuring(pid, out, () => loadFor(url));
    const { requests } = sampled.result;
    const row = (entry, bytes) => ({ name: entry, 'bytes/request': Math.round(bytes / requests) });
    return {
      name,
      bytesPerRequest: sampled.totalBytes / requests,
      packages: ranked(sampled.packages, row),
      functions: ranked(sampled.functions, row),
    };
  } finally {
    await stop();
  }
}

const children = [];
try {
  const backendPorts = await Promise.all([1, 2, 3, 4].map(() => freePort()));
  const backends = fork(here('./peers/bare-backends.mjs'), backendPorts.map(String), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(backends);
  await once(backends, 'message');
  const backendUrls = backendPorts.map((port) => `http://127.0.0.1:${port}`);

  const stopGracefully = (child) => async () => {
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  const startPeer = async (execArgv, env = {}) => {
    const port = await freePort();
    const child = fork(here('./peers/undici-proxy.mjs'), [String(port), ...backendUrls], {
      execArgv,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.push(child);
    return { url: `http://127.0.0.1:${port}/ping`, pid: child.pid, stop: stopGracefully(child) };
  };
  // No access log, as the peer keeps none; PROFILE_ACCESS_LOG=all profiles ballast writing one to a file.
  const accessLog =
    process.env.PROFILE_ACCESS_LOG === 'all'
      ? { ACCESS_LOG: 'all', ACCESS_LOG_FILE: join(mkdtempSync(join(tmpdir(), 'ballast-prof-access-')), 'access.log') }
      : { ACCESS_LOG: 'off' };
  const startBalancer =
    (main) =>
    async (execArgv, env = {}) => {
      const port = await freePort();
      const child = spawn(process.execPath, [...execArgv, main], {
        env: serviceEnv(port, { ...env, ...accessLog, ROLE: 'balancer', BACKENDS: backendUrls.join(',') }),
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return { url: `http://127.0.0.1:${port}/ping`, pid: child.pid, stop: stopGracefully(child) };
    };
  const startBallast = startBalancer(MAIN);
  const peer = await profileOf('bare undici proxy', startPeer);
  const ballast = await profileOf('ballast balancer', startBallast);
  const baseline = baselineMain ? await profileOf('baseline build', startBalancer(baselineMain)) : undefined;

  for (const run of [peer, ballast, baseline].filter(Boolean)) {
    console.log(`\n## ${run.name}: ${Math.round(run.rps)} req/s under profile, ${Math.round(run.busyMs)} ms busy CPU`);
    console.log('self time per package');
    console.table(run.packages.slice(0, 12));
    console.log(`top ${top} functions by self time`);
    console.table(run.functions.slice(0, top));
  }
  console.log(`\nballast / bare undici under profile: ${(ballast.rps / peer.rps).toFixed(2)}x req/s`);
  if (baseline) console.log(`ballast / baseline build under profile: ${(ballast.rps / baseline.rps).toFixed(2)}x req/s`);

  const peerAllocations = await allocationsOf('bare undici proxy', startPeer);
  const ourAllocations = await allocationsOf('ballast balancer', startBallast);
  const baselineAllocations = baselineMain ? await allocationsOf('baseline build', startBalancer(baselineMain)) : undefined;
  for (const run of [peerAllocations, ourAllocations, baselineAllocations].filter(Boolean)) {
    console.log(`\n## ${run.name}: ${Math.round(run.bytesPerRequest)} bytes allocated per request (freed objects included)`);
    console.table(run.packages.slice(0, 8));
    console.table(run.functions.slice(0, 10));
  }
  console.log(
    `bytes allocated per request, ballast / bare undici: ${(ourAllocations.bytesPerRequest / peerAllocations.bytesPerRequest).toFixed(2)}x (steady within a few percent from run to run, unlike CPU time here)`,
  );
  if (baselineAllocations)
    console.log(
      `bytes allocated per request, ballast / baseline build: ${(ourAllocations.bytesPerRequest / baselineAllocations.bytesPerRequest).toFixed(2)}x`,
    );
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
}
