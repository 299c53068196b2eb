// Reading `node --cpu-prof` profiles, and sampling allocations, for bench:profile and bench:profile-tasks.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The one .cpuprofile a process wrote into `dir` on exit. */
export function readProfile(dir) {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  return JSON.parse(readFileSync(join(dir, file), 'utf8'));
}

/**
 * CPU self time (µs) per package and per function over `windowMs` that end `trailingMs` before
 * the profile does (by default its last `windowMs`: the measured load and the shutdown after
 * it; boot and module loading are left out), idle excluded. `keepFunction(pkg)` picks the
 * packages whose functions are listed (default all).
 */
export function selfTime(profile, windowMs, keepFunction = () => true, trailingMs = 0) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const to = profile.endTime - trailingMs * 1000;
  const from = to - windowMs * 1000;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i += 1) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from || at > to) continue;
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
    if (!keepFunction(pkg)) continue;
    const key = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
    functions.set(key, (functions.get(key) ?? 0) + micros);
  }
  return { busyMicros: busy, packages, functions };
}

/** Entries largest first, each as a table row built by `row(name, micros)`. */
export function ranked(entries, row) {
  return [...entries].sort((a, b) => b[1] - a[1]).map(([name, micros]) => row(name, micros));
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

/** The preload that samples allocations in a process under test (see sample-allocations.mjs). */
export const SAMPLE_ALLOCATIONS = fileURLToPath(new URL('./sample-allocations.mjs', import.meta.url));

/**
 * Samples what `pid` allocates while `work()` runs: signals the preload to start, runs the work,
 * signals it to stop and reads the profile it writes to `out`. Bytes per package and per function.
 */
export async function allocationsDuring(pid, out, work) {
  rmSync(out, { force: true });
  process.kill(pid, 'SIGUSR2');
  await new Promise((resolve) => setTimeout(resolve, 200)); // the sampler is started asynchronously
  const result = await work();
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100 && !existsSync(out); i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
  const profile = JSON.parse(readFileSync(out, 'utf8'));
  if (profile.error) throw new Error(`allocation sampling failed: ${profile.error}`);
  const packages = new Map();
  const functions = new Map();
  let total = 0;
  const walk = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const pkg = packageOf(url, functionName || '(native)');
      packages.set(pkg, (packages.get(pkg) ?? 0) + node.selfSize);
      const key = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
      functions.set(key, (functions.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children ?? []) walk(child);
  };
  walk(profile.head);
  return { result, totalBytes: total, packages, functions };
}
