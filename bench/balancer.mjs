// bench:balancer — GET /ping req/s and latency, in one run over the same 4 bare
// backends: direct to one backend, nginx (1 worker, upstream keepalive), a bare undici
// Pool.stream proxy, and ballast's balancer. Same load tool for all (wrk if installed,
// else autocannon), interleaved rounds, the Node processes fresh each round, medians.
// Goals: ballast >= 1.0x bare undici, >= 0.5x nginx, p99 <= 2x nginx's; BALANCER_WORKERS=2 >= 0.9x one worker;
// with ACCESS_LOG=all to a file, still >= 1.0x bare undici (and what the log costs, beside what
// nginx's access log, buffered the same way, costs nginx).
// Ratios are taken per round (ballast and its peer measured minutes apart, on the same machine
// state) and their median and range printed. Latency is also compared at one paced load that
// every server can carry (each connection waits a random 0-2x PACE_MS between requests, so
// arrivals do not come in lockstep bursts): at saturation a p99 is mostly the server's
// throughput again (Little's law), not how it treats a request.
// BENCH_BASELINE=path/to/other/dist/main.js adds that build's balancer as a fresh process each
// round too, and prints this build against it round by round: a change against the build
// before it, in one run, where the ratio to the bare proxy moves more between runs (0.75-0.96x)
// than a change would.
import { execFileSync, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, load, median, onFreshProcesses, perRound, printSummary, startService } from './lib/harness.mjs';
import { NGINX, startNginx } from './lib/nginx.mjs';
import { treeCpuMs } from './lib/proc-cpu.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const pacedRounds = Number(process.env.BENCH_PACED_ROUNDS ?? 3);
const paceMs = Number(process.env.PACE_MS ?? 10);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
// A fresh Node process costs more per request until V8 has compiled its hot paths: 10,000-20,000
// requests, longer in ballast's process (more code) than in the bare proxy's. 2 s at saturation
// is past that; BENCH_WARM_UP_SECONDS=10 gave the same ratio to the bare proxy (0.82x, 0.86x with 2).
const warmUpSeconds = Number(process.env.BENCH_WARM_UP_SECONDS ?? 2);
const baselineMain = process.env.BENCH_BASELINE;
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const has = (bin) => {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const useWrk = has('wrk');

const cleanups = [];
async function forkReady(script, args) {
  const child = fork(here(script), args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  cleanups.push(() => child.kill('SIGKILL'));
  await once(child, 'message');
  return child;
}

/** wrk -t1 (one load thread, leaving the other core to the server under test); `script` paces it. */
async function wrk(url, script) {
  const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...(script ? ['-s', script] : []), url]);
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  await once(child, 'exit');
  const ms = (text) => {
    const match = /([\d.]+)(us|ms|s|m)/.exec(text ?? '');
    if (!match) throw new Error(`unreadable wrk output for ${url}:\n${out}`);
    const [, value, unit] = match;
    if (unit === 'm') return Number(value) * 60_000;
    return Number(value) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  };
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]),
    p50: ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99: ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    errors: non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}
const measureUrl = (url) => (useWrk ? wrk(url) : load(url, { connections, durationSeconds: seconds }));
/**
 * One round's figures, and with the front's pid the CPU it spent per request (user + system,
 * from /proc): a second view of cost beside req/s at saturation, where the front, wrk and the
 * backends share two cores. Both swing from round to round on these machines (req/s
 * 0.73-1.59x, CPU per request 0.64-1.27x between the same two fronts in one run).
 */
async function measure(app) {
  const cpuBefore = app.pid === undefined ? undefined : treeCpuMs(app.pid);
  const sample = await measureUrl(app.url);
  if (cpuBefore === undefined) return sample;
  return { ...sample, cpuUsPerRequest: ((treeCpuMs(app.pid) - cpuBefore) * 1000) / (sample.rps * seconds) };
}

try {
  const backendPorts = await Promise.all([1, 2, 3, 4].map(() => freePort()));
  await forkReady('./peers/bare-backends.mjs', backendPorts.map(String));
  const backendUrls = backendPorts.map((port) => `http://127.0.0.1:${port}`);

  /** Targets that run throughout, by name: their URLs. */
  const steady = { 'direct backend': `${backendUrls[0]}/ping` };
  const steadyPids = {};

  if (NGINX) {
    const nginx = await startNginx(backendUrls, { probePath: '/ping' });
    cleanups.push(() => nginx.stop());
    steady.nginx = `${nginx.url}/ping`;
    steadyPids.nginx = nginx.pid;
    // The same nginx with an access log to a file, buffered as ballast's (8 KB, flushed every second).
    const logged = await startNginx(backendUrls, {
      probePath: '/ping',
      location: `access_log ${join(mkdtempSync(join(tmpdir(), 'ballast-nginx-log-')), 'access.log')} combined buffer=8k flush=1s;`,
    });
    cleanups.push(() => logged.stop());
    steady['nginx, access log'] = `${logged.url}/ping`;
  } else {
    console.log('nginx not installed (apt-get install nginx): its row is left out');
  }

  // The Node processes (the bare proxy and ballast) start afresh every round and are warmed
  // up first; nginx and the backend direct run throughout.
  const throughout = (url, pid) => async () => ({ url, pid, stop: async () => undefined });
  const variants = Object.fromEntries(Object.entries(steady).map(([name, url]) => [name, throughout(url, steadyPids[name])]));
  const startBalancer = async (env, options) => {
    const started = await startService(
      { ROLE: 'balancer', BACKENDS: backendUrls.join(','), HEALTH_CHECK_INTERVAL_MS: '2000', ...env },
      options,
    );
    return { ...started, url: `${started.url}/ping` };
  };
  const fresh = {
    'bare undici proxy': async () => {
      const port = await freePort();
      const child = fork(here('./peers/undici-proxy.mjs'), [String(port), ...backendUrls], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      await once(child, 'message');
      return {
        url: `http://127.0.0.1:${port}/ping`,
        pid: child.pid,
        stop: async () => {
          child.kill('SIGKILL');
          await once(child, 'exit');
        },
      };
    },
    'ballast balancer': () => startBalancer({}),
    'ballast, 2 workers': () => startBalancer({ BALANCER_WORKERS: '2' }),
    'ballast, access log': () =>
      startBalancer({ ACCESS_LOG: 'all', ACCESS_LOG_FILE: join(mkdtempSync(join(tmpdir(), 'ballast-access-')), 'access.log') }),
    ...(baselineMain && { 'baseline build': () => startBalancer({}, { main: baselineMain }) }),
  };
  /** Loads a fresh Node process before it is measured (JIT, pools); nginx and the direct backend run throughout. */
  const warmUpFresh = (app, name) => (fresh[name] ? load(app.url, { connections, durationSeconds: warmUpSeconds }) : undefined);
  const results = await onFreshProcesses({ ...variants, ...fresh }, rounds, {
    warmUp: warmUpFresh,
    measure,
  });
  const rows = tableOf(results);
  console.log(
    `GET /ping via ${useWrk ? `wrk -t1 -c${connections}` : `autocannon -c${connections}`}, ${rounds} x ${seconds}s rounds each, interleaved, Node processes fresh each round, medians`,
  );
  console.table(rows);
  const ours = results['ballast balancer'];
  /** Ballast against `peer` round by round, as "0.96x (rounds 0.72-1.24)"; undefined without that peer. */
  const paired = (peer, pick) => {
    if (!results[peer]) return undefined;
    const ratio = perRound(ours, results[peer], pick);
    return { median: ratio.median, text: `${ratio.median.toFixed(2)}x (rounds ${ratio.range})` };
  };
  const rps = (sample) => sample.rps;
  const p99 = (sample) => sample.p99;
  const vsUndici = paired('bare undici proxy', rps);
  const vsNginx = paired('nginx', rps);
  const p99VsNginx = paired('nginx', p99);
  const twoWorkers = results['ballast, 2 workers'];
  console.log(`ballast / bare undici proxy: ${vsUndici.text} (goal >= 1.0)`);
  const cpu = (sample) => sample.cpuUsPerRequest;
  const cpuVsUndici = perRound(ours, results['bare undici proxy'], cpu);
  console.log(`CPU per request, ballast / bare undici proxy: ${cpuVsUndici.median.toFixed(2)}x (rounds ${cpuVsUndici.range})`);
  if (vsNginx) console.log(`ballast / nginx: ${vsNginx.text} (goal >= 0.5)`);
  if (p99VsNginx) console.log(`ballast p99 / nginx p99 at saturation: ${p99VsNginx.text} (goal <= 2)`);
  const workersRatio = perRound(twoWorkers, ours, rps).median.toFixed(2);
  console.log(`ballast 2 workers / 1 worker: ${workersRatio}x (goal >= 0.9 on 2 cores, where wrk and the backends share the cores)`);
  const vsBaseline = paired('baseline build', rps);
  if (vsBaseline) {
    const cpuVsBaseline = perRound(ours, results['baseline build'], cpu);
    console.log(
      `ballast / baseline build (${baselineMain}): ${vsBaseline.text}, CPU per request ${cpuVsBaseline.median.toFixed(2)}x (rounds ${cpuVsBaseline.range})`,
    );
  }
  const logged = results['ballast, access log'];
  const loggedVsUndici = perRound(logged, results['bare undici proxy'], rps);
  const logCost = perRound(logged, ours, rps);
  console.log(
    `ballast with ACCESS_LOG=all to a file / bare undici proxy: ${loggedVsUndici.median.toFixed(2)}x (rounds ${loggedVsUndici.range}) (goal >= 1.0)`,
  );
  console.log(`ballast with / without its access log: ${logCost.median.toFixed(2)}x (rounds ${logCost.range})`);
  const nginxLogCost = results['nginx, access log'] ? perRound(results['nginx, access log'], results.nginx, rps) : undefined;
  if (nginxLogCost) console.log(`nginx with / without its access log: ${nginxLogCost.median.toFixed(2)}x (rounds ${nginxLogCost.range})`);

  let pacedFigure = '';
  if (useWrk) {
    const script = join(mkdtempSync(join(tmpdir(), 'ballast-pace-')), 'pace.lua');
    writeFileSync(script, `function delay()\n  return math.random(0, ${2 * paceMs})\nend\n`);
    const pacedNames = ['nginx', 'bare undici proxy', 'ballast balancer'].filter((name) => name in variants || name in fresh);
    const paced = await onFreshProcesses(Object.fromEntries(pacedNames.map((name) => [name, variants[name] ?? fresh[name]])), pacedRounds, {
      warmUp: warmUpFresh,
      measure: (app) => wrk(app.url, script),
    });
    const pacedRows = tableOf(paced);
    console.log(
      `\nPaced: each of ${connections} connections waits 0-${2 * paceMs} ms (at random) between requests, ${pacedRounds} x ${seconds}s rounds, medians`,
    );
    console.table(pacedRows);
    const pacedP99 = paced.nginx ? perRound(paced['ballast balancer'], paced.nginx, p99).median : undefined;
    const pacedVsUndici = perRound(paced['ballast balancer'], paced['bare undici proxy'], p99).median;
    if (pacedP99 !== undefined) console.log(`ballast p99 / nginx p99 at the paced load: ${pacedP99.toFixed(2)}x (goal <= 2)`);
    console.log(`ballast p99 / bare undici p99 at the paced load: ${pacedVsUndici.toFixed(2)}x`);
    const row = pacedRows['ballast balancer'];
    pacedFigure =
      `; paced ${Math.round(row['req/s'])} req/s: ballast p99 ${row['p99 ms']} ms` +
      (pacedP99 !== undefined ? `, ${pacedP99.toFixed(2)}x nginx's` : '') +
      `, ${pacedVsUndici.toFixed(2)}x bare undici's`;
  }

  const figure = (name) =>
    rows[name] ? `${name} ${(rows[name]['req/s'] / 1000).toFixed(1)}k (p99 ${rows[name]['p99 ms']} ms)` : undefined;
  const errors = Object.values(rows).reduce((sum, row) => sum + row.errors, 0);
  printSummary(
    [
      ...['direct backend', 'nginx', 'bare undici proxy', 'ballast balancer', 'ballast, 2 workers', 'ballast, access log']
        .map(figure)
        .filter(Boolean),
      `ballast / bare undici ${vsUndici.text}, CPU per request ${cpuVsUndici.median.toFixed(2)}x theirs` +
        (vsNginx ? `, / nginx ${vsNginx.text}, p99 ${p99VsNginx.text} nginx's at saturation` : ''),
      `2 workers / 1 worker ${workersRatio}x; ${errors} errors${pacedFigure}`,
      `with ACCESS_LOG=all to a file ${loggedVsUndici.median.toFixed(2)}x bare undici, ${logCost.median.toFixed(2)}x without it` +
        (nginxLogCost ? ` (nginx with its access log ${nginxLogCost.median.toFixed(2)}x without)` : ''),
    ].join('; '),
  );
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}

/** Medians per target over the rounds, as table rows. */
function tableOf(results) {
  const rows = {};
  for (const [name, samples] of Object.entries(results)) {
    rows[name] = {
      'req/s': Math.round(median(samples.map((s) => s.rps))),
      'p50 ms': Number(median(samples.map((s) => s.p50)).toFixed(2)),
      'p99 ms': Number(median(samples.map((s) => s.p99)).toFixed(2)),
      errors: samples.reduce((sum, s) => sum + s.errors, 0),
    };
    if (samples.every((s) => s.cpuUsPerRequest !== undefined))
      rows[name]['CPU µs/req'] = Math.round(median(samples.map((s) => s.cpuUsPerRequest)));
  }
  return rows;
}
