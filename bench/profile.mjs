// npm run bench:profile — where the balancer's CPU goes, beside the bare undici proxy's.
// Each runs under `node --cpu-prof` while wrk (or autocannon) loads GET /ping through it
// over the same 4 bare backends; then the profiles are read and CPU self time is summed per
// package (node_modules/<pkg>, node: internals, ballast's own dist/, V8 natives) and per
// function, over the measured load window only. Idle time is left out, so shares are of busy CPU.
// PROFILE_SECONDS (10) sets the load window; PROFILE_TOP (15) the number of functions shown.
import { execFileSync, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, load, MAIN } from './lib/harness.mjs';

const seconds = Number(process.env.PROFILE_SECONDS ?? 10);
const top = Number(process.env.PROFILE_TOP ?? 15);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
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

async function loadFor(url) {
  if (!hasWrk) return (await load(url, { connections, durationSeconds: seconds })).rps;
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, url], { encoding: 'utf8' });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
}

/**
 * Sums self time per package and per function in a .cpuprofile, over its last `windowMs`
 * only (the measured load and the shutdown after it): boot and module loading are left out.
 */
export function summarise(profile, windowMs) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const from = profile.endTime - windowMs * 1000;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i += 1) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from) continue;
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const packages = new Map();
  const functions = new Map();
  let busy = 0;
  for (const [id, micros] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    if (functionName === '(idle)') continue;
    busy += micros;
    const pkg = packageOf(url, functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + micros);
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
    functions.set(key, (functions.get(key) ?? 0) + micros);
  }
  const share = (entries) =>
    [...entries].sort((a, b) => b[1] - a[1]).map(([name, micros]) => ({ name, '% busy': Number(((micros / busy) * 100).toFixed(1)) }));
  return { busyMs: busy / 1000, packages: share(packages), functions: share(functions) };
}

function packageOf(url, functionName) {
  if (!url) return functionName.startsWith('(') ? functionName : '(v8 natives)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const [scope, name] = url.slice(nm + 'node_modules/'.length).split('/');
    return scope.startsWith('@') ? `${scope}/${name}` : scope;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`;
  if (url.includes('/dist/')) return 'ballast';
  if (url.includes('/bench/')) return 'bench peer';
  return url;
}

function shortUrl(url) {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url.replace(/^file:\/\//, '');
}

async function profileOf(name, start) {
  const dir = mkdtempSync(join(tmpdir(), `ballast-prof-${name.replace(/\W/g, '')}-`));
  const { url, stop } = await start(['--cpu-prof', '--cpu-prof-dir', dir]);
  await untilAnswers(url);
  await loadFor(url); // warm-up: JIT and pools
  const rps = await loadFor(url);
  await stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  // The load window plus a little for the shutdown that writes the profile.
  return { name, rps, ...summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')), seconds * 1000 + 300) };
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
  const peer = await profileOf('bare undici proxy', async (execArgv) => {
    const port = await freePort();
    const child = fork(here('./peers/undici-proxy.mjs'), [String(port), ...backendUrls], {
      execArgv,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.push(child);
    return { url: `http://127.0.0.1:${port}/ping`, stop: stopGracefully(child) };
  });
  const ballast = await profileOf('ballast balancer', async (execArgv) => {
    const port = await freePort();
    const child = spawn(process.execPath, [...execArgv, MAIN], {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'warn',
        ROLE: 'balancer',
        BACKENDS: backendUrls.join(','),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return { url: `http://127.0.0.1:${port}/ping`, stop: stopGracefully(child) };
  });

  for (const run of [peer, ballast]) {
    console.log(`\n## ${run.name}: ${Math.round(run.rps)} req/s under profile, ${Math.round(run.busyMs)} ms busy CPU`);
    console.log('self time per package');
    console.table(run.packages.slice(0, 12));
    console.log(`top ${top} functions by self time`);
    console.table(run.functions.slice(0, top));
  }
  console.log(`\nballast / bare undici under profile: ${(ballast.rps / peer.rps).toFixed(2)}x req/s`);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
}
