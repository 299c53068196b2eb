// npm run bench:profile-tasks — where a task's CPU goes in ballast, beside the minimal
// Fastify + BullMQ + ws app (bench/peers/minimal-tasks.mjs). Each runs under `node --cpu-prof`
// while PROFILE_TASKS (3000) tasks go POST -> completed frame on a socket subscribed to all,
// 50 in flight; then CPU self time per task is printed per package and, for ballast, its top
// functions in its own code, Nest and class-validator/-transformer. Redis: REDIS_URL or
// 127.0.0.1:6379. Bounded in count.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import WebSocket from 'ws';
import { freePort, MAIN } from './lib/harness.mjs';

const N = Number(process.env.PROFILE_TASKS ?? 3000);
const IN_FLIGHT = 50;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PEER = fileURLToPath(new URL('./peers/minimal-tasks.mjs', import.meta.url));

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
  const post = async () => {
    const response = await request(`http://127.0.0.1:${port}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"durationMs":0}',
    });
    await response.body.dump();
    return response.statusCode;
  };
  for (let i = 0; i < 300; i += 1) {
    if ((await post().catch(() => 0)) === 202) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await once(ws, 'open');
  ws.send(JSON.stringify({ event: 'subscribe', data: { all: true } }));
  await new Promise((resolve) => setTimeout(resolve, 300));
  let completed = 0;
  const finished = new Promise((resolve) =>
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString());
      if (frame.event === 'task' && frame.data.status === 'completed' && ++completed === N) resolve();
    }),
  );
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < N) {
        next += 1;
        await post();
      }
    }),
  );
  await finished;
  const seconds = (performance.now() - started) / 1000;
  ws.close();
  child.kill('SIGTERM');
  await once(child, 'exit');
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  return { name, tasksPerSecond: N / seconds, ...selfTime(JSON.parse(readFileSync(join(dir, file), 'utf8')), seconds * 1000 + 300) };
}

/** Self time per package and per function over the profile's last `windowMs`, idle left out. */
function selfTime(profile, windowMs) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const from = profile.endTime - windowMs * 1000;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at >= from) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const packages = new Map();
  const functions = new Map();
  let busy = 0;
  for (const [id, micros] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    if (functionName === '(idle)') continue;
    busy += micros;
    const pkg = packageOf(url, functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + micros);
    if (['ballast', '@nestjs/common', '@nestjs/core', 'class-validator', 'class-transformer'].includes(pkg)) {
      const key = `${functionName || '(anonymous)'} ${url.slice(url.lastIndexOf('/') + 1)}:${lineNumber + 1} (${pkg})`;
      functions.set(key, (functions.get(key) ?? 0) + micros);
    }
  }
  const perTask = (entries) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .map(([name, micros]) => ({ name, 'µs/task': Math.round(micros / N), '% busy': Number(((micros / busy) * 100).toFixed(1)) }));
  return { busyMsPerTask: busy / 1000 / N, packages: perTask(packages), functions: perTask(functions) };
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
  return 'bench peer';
}

const peer = await profile('minimal app');
const ours = await profile('ballast');
for (const run of [peer, ours]) {
  console.log(
    `\n## ${run.name}: ${Math.round(run.tasksPerSecond)} tasks/s under profile, ${run.busyMsPerTask.toFixed(3)} ms busy CPU per task`,
  );
  console.table(run.packages.slice(0, 14));
}
console.log('\nballast: top functions in its own code, Nest and class-validator/-transformer');
console.table(ours.functions.slice(0, 12));
console.log(`\nbusy CPU per task, ballast / minimal app: ${(ours.busyMsPerTask / peer.busyMsPerTask).toFixed(2)}x`);
