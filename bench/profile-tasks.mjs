// npm run bench:profile-tasks — where a task's CPU goes in ballast, beside the minimal
// Fastify + BullMQ + ws app (bench/peers/minimal-tasks.mjs). Each runs under `node --cpu-prof`
// while PROFILE_TASKS (3000) tasks go POST -> completed frame on a socket subscribed to all,
// 50 in flight; then CPU self time per task is printed per package and, for ballast, its top
// functions in its own code, Nest, Fastify and the validators. Redis: REDIS_URL or
// 127.0.0.1:6379. Bounded in count.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ranked, readProfile, selfTime } from './lib/cpu-profile.mjs';
import { freePort, MAIN } from './lib/harness.mjs';
import { postTask, runTasks } from './lib/tasks-load.mjs';

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

async function profile(name) {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-prof-tasks-'));
  const port = await freePort();
  const prefix = `ballast-prof-${process.pid}-${name.replace(/\W/g, '')}`;
  const prof = ['--cpu-prof', '--cpu-prof-dir', dir];
  const child =
    name === 'minimal app'
      ? spawn(process.execPath, [...prof, PEER, String(port), REDIS_URL, prefix, String(IN_FLIGHT)], {
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        })
      : spawn(process.execPath, [...prof, MAIN], {
          env: {
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
  const seconds = await runTasks(base, { tasks: N, inFlight: IN_FLIGHT });
  child.kill('SIGTERM');
  await once(child, 'exit');
  return { name, tasksPerSecond: N / seconds, ...perTask(readProfile(dir), seconds * 1000 + 300) };
}

const LISTED = new Set(['ballast', '@nestjs/common', '@nestjs/core', 'fastify', 'zod', 'class-validator', 'class-transformer']);

/** µs of CPU per task per package, and per function in ballast, Nest and class-validator/-transformer. */
function perTask(profile, windowMs) {
  const { busyMicros, packages, functions } = selfTime(profile, windowMs, (pkg) => LISTED.has(pkg));
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
console.log(`\nbusy CPU per task, ballast / minimal app: ${(ours.busyMsPerTask / peer.busyMsPerTask).toFixed(2)}x`);
