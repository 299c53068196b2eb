// npm run bench:profile-tasks — where a task's CPU goes in ballast, beside the minimal
// Fastify + BullMQ + ws app (bench/peers/minimal-tasks.mjs). Each runs under `node --cpu-prof`
// while PROFILE_TASKS (3000) tasks go POST -> completed frame on a socket subscribed to all,
// 50 in flight; then CPU self time per task is printed per package and, for ballast, its top
// functions in its own code, Nest, Fastify and the validators; then bytes allocated per task,
// the same way (a figure this machine's noise barely moves); last, CPU per task without the
// profiler, from /proc over alternating fresh processes. Redis: REDIS_URL or 127.0.0.1:6379.
// Bounded in count.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocationsDuring, ranked, readProfile, SAMPLE_ALLOCATIONS, selfTime } from './lib/cpu-profile.mjs';
import { freePort, MAIN, median } from './lib/harness.mjs';
import { dropPrefix } from './lib/redis-prefix.mjs';
import { postTask, runTasks } from './lib/tasks-load.mjs';
import { cpuMs } from './lib/proc-cpu.mjs';

const N = Number(process.env.PROFILE_TASKS ?? 3000);
const IN_FLIGHT = 50;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PEER = fileURLToPath(new URL('./peers/minimal-tasks.mjs', import.meta.url));

/** Up once a task is accepted (Redis connected, worker ready). */
async function untilAccepting(base) {
  for (let i = 0; i < 300; i += 1) {
    if (
      await postTask(base).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${base} accepted no task`);
}

/**
 * Starts one of the two apps on a free port, under the CPU profiler when `profileDir` is given,
 * with the allocation sampler preloaded when `allocationsOut` is.
 */
async function launch(name, { profileDir, allocationsOut } = {}) {
  const port = await freePort();
  const prefix = `ballast-prof-${process.pid}-${name.replace(/\W/g, '')}-${Date.now()}`;
  const prof = [
    ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
    ...(allocationsOut ? ['--import', SAMPLE_ALLOCATIONS] : []),
  ];
  const sampling = allocationsOut ? { BENCH_ALLOCATIONS_OUT: allocationsOut } : {};
  const child =
    name === 'minimal app'
      ? spawn(process.execPath, [...prof, PEER, String(port), REDIS_URL, prefix, String(IN_FLIGHT)], {
          env: { ...process.env, ...sampling },
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        })
      : spawn(process.execPath, [...prof, MAIN], {
          env: {
            ...sampling,
            PATH: process.env.PATH,
            HOST: '127.0.0.1',
            PORT: String(port),
            LOG_LEVEL: 'warn',
            REDIS_URL,
            REDIS_PREFIX: prefix,
            TASK_CONCURRENCY: String(IN_FLIGHT),
            READY_TRACK_CLIENTS: 'false',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
  const base = `http://127.0.0.1:${port}`;
  await untilAccepting(base);
  return {
    base,
    child,
    /** Resolves to how long the process took to exit after SIGTERM. */
    stop: async () => {
      const signalled = performance.now();
      child.kill('SIGTERM');
      await once(child, 'exit');
      const shutdownMs = performance.now() - signalled;
      await dropPrefix(REDIS_URL, prefix);
      return shutdownMs;
    },
  };
}

async function profile(name) {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-prof-tasks-'));
  const app = await launch(name, { profileDir: dir });
  const seconds = await runTasks(app.base, { tasks: N, inFlight: IN_FLIGHT });
  // The profile ends when the process exits: its shutdown is left out of the window.
  const shutdownMs = await app.stop();
  return { name, tasksPerSecond: N / seconds, ...perTask(readProfile(dir), seconds * 1000, shutdownMs) };
}

/**
 * CPU per task without the profiler, over several fresh processes of each app (warmed up,
 * N tasks each, alternating, medians): one profiled process per app can land 20% off.
 */
async function unprofiledCpu(rounds) {
  const samples = { 'minimal app': [], ballast: [] };
  for (let round = 0; round < rounds; round += 1) {
    for (const name of round % 2 === 0 ? ['minimal app', 'ballast'] : ['ballast', 'minimal app']) {
      const app = await launch(name);
      try {
        await runTasks(app.base, { tasks: Math.min(N, 2000), inFlight: IN_FLIGHT }); // warm-up (JIT)
        const before = cpuMs(app.child.pid);
        await runTasks(app.base, { tasks: N, inFlight: IN_FLIGHT });
        samples[name].push((cpuMs(app.child.pid) - before) / N);
      } finally {
        await app.stop();
      }
    }
  }
  return { peer: median(samples['minimal app']), ours: median(samples.ballast) };
}

/** Bytes allocated per task, per package and per function, after a warm-up (V8's sampling heap profiler). */
async function allocationsPerTask(name) {
  const out = join(mkdtempSync(join(tmpdir(), 'ballast-alloc-tasks-')), 'allocations.json');
  const app = await launch(name, { allocationsOut: out });
  try {
    await runTasks(app.base, { tasks: Math.min(N, 2000), inFlight: IN_FLIGHT }); // warm-up (JIT)
    const sampled = await allocationsDuring(app.child.pid, out, () => runTasks(app.base, { tasks: N, inFlight: IN_FLIGHT }));
    const row = (entry, bytes) => ({
      name: entry,
      'bytes/task': Math.round(bytes / N),
      '%': Number(((bytes / sampled.totalBytes) * 100).toFixed(1)),
    });
    return {
      bytesPerTask: sampled.totalBytes / N,
      packages: ranked(sampled.packages, row),
      functions: ranked(
        [...sampled.functions].filter(([key]) => LISTED_URL.test(key)),
        row,
      ),
    };
  } finally {
    await app.stop();
  }
}

/** Function keys (as cpu-profile.mjs writes them) of the packages listed per function. */
const LISTED_URL = / (dist\/|@nestjs\/|fastify\/|zod\/|class-validator\/|class-transformer\/)/;

const LISTED = new Set(['ballast', '@nestjs/common', '@nestjs/core', 'fastify', 'zod', 'class-validator', 'class-transformer']);

/** µs of CPU per task per package, and per function in ballast, Nest and class-validator/-transformer. */
function perTask(profile, windowMs, trailingMs) {
  const { busyMicros, packages, functions } = selfTime(profile, windowMs, (pkg) => LISTED.has(pkg), trailingMs);
  const row = (name, micros) => ({ name, 'µs/task': Math.round(micros / N), '% busy': Number(((micros / busyMicros) * 100).toFixed(1)) });
  return { busyMsPerTask: busyMicros / 1000 / N, packages: ranked(packages, row), functions: ranked(functions, row) };
}

const peer = await profile('minimal app');
const ours = await profile('ballast');
for (const run of [peer, ours]) {
  console.log(
    `\n## ${run.name}: ${Math.round(run.tasksPerSecond)} tasks/s under profile, ${run.busyMsPerTask.toFixed(3)} ms busy CPU per task`,
  );
  console.table(run.packages.slice(0, Number(process.env.PROFILE_ROWS ?? 14)));
}
console.log('\nballast: top functions in its own code, Nest, Fastify and the validators');
console.table(ours.functions.slice(0, Number(process.env.PROFILE_ROWS ?? 12)));
console.log(
  `\nbusy CPU per task under the profiler, ballast / minimal app: ${(ours.busyMsPerTask / peer.busyMsPerTask).toFixed(2)}x (one process each, and processes of one build can differ by 20% here: see the figure below)`,
);
const peerAllocations = await allocationsPerTask('minimal app');
const ourAllocations = await allocationsPerTask('ballast');
for (const [name, run] of [
  ['minimal app', peerAllocations],
  ['ballast', ourAllocations],
]) {
  console.log(`\n## ${name}: ${Math.round(run.bytesPerTask)} bytes allocated per task (sampled after a warm-up, freed objects included)`);
  console.table(run.packages.slice(0, Number(process.env.PROFILE_ROWS ?? 14)));
}
console.log('\nballast: top allocating functions in its own code, Nest, Fastify and the validators');
console.table(ourAllocations.functions.slice(0, Number(process.env.PROFILE_ROWS ?? 12)));
console.log(
  `bytes allocated per task, ballast / minimal app: ${(ourAllocations.bytesPerTask / peerAllocations.bytesPerTask).toFixed(2)}x (steady within a few percent from run to run, unlike CPU time here)`,
);
if (existsSync('/proc/self/stat')) {
  const cpu = await unprofiledCpu(3);
  console.log(
    `CPU per task without the profiler (/proc, 3 alternating rounds on fresh processes, medians): minimal app ${cpu.peer.toFixed(3)} ms, ballast ${cpu.ours.toFixed(3)} ms: ${(cpu.ours / cpu.peer).toFixed(2)}x`,
  );
}
