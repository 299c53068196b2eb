// npm run bench:profile-overload — where the balancer's CPU goes when the fleet is over
// capacity, beside nginx's share of the same run's CPU. Three shedding services (as
// bench:overload: READY_SHED, MAX 8, MIN 6, GET /long_task?ms=20), ballast's balancer under
// `node --cpu-prof`, an open-loop client at PROFILE_FACTOR (5) x capacity for PROFILE_SECONDS
// (5); then CPU self time per package and per function over the load window, and what the
// clients got. Bounded: under a minute.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ranked, readProfile, selfTime } from './lib/cpu-profile.mjs';
import { freePort, MAIN, startService } from './lib/harness.mjs';
import { OPEN_LOOP_AGENT, openLoop, percentile, summariseRun } from './lib/open-loop.mjs';
import { request } from 'undici';
import { untilAnswers } from '../test/support/spawn.mjs';

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 5);
const FACTOR = Number(process.env.PROFILE_FACTOR ?? 5);
const TOP = Number(process.env.PROFILE_TOP ?? 20);
const PATH = '/long_task?ms=20';

const stops = [];
try {
  const services = await Promise.all(
    [0, 1, 2].map(() => startService({ READY_SHED: 'true', READY_MAX_CLIENTS: '8', READY_MIN_CLIENTS: '6', LOG_LEVEL: 'error' })),
  );
  stops.push(...services.map((s) => s.stop));
  const direct = [];
  for (let i = 0; i < 60; i += 1) {
    const started = performance.now();
    await (await request(`${services[0].url}${PATH}`, { dispatcher: OPEN_LOOP_AGENT })).body.dump();
    if (i >= 10) direct.push(performance.now() - started);
  }
  const capacity = (3 * 7 * 1000) / percentile(direct, 50);
  const dir = mkdtempSync(join(tmpdir(), 'ballast-prof-overload-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, MAIN], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'error',
      ACCESS_LOG: 'off',
      ROLE: 'balancer',
      BACKENDS: services.map((s) => s.url).join(','),
      HEALTH_CHECK_INTERVAL_MS: '500',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await untilAnswers(`${url}/_balancer/live`);
  const rate = Math.round(capacity * FACTOR);
  await openLoop({ url: `${url}${PATH}`, rate, seconds: 1 }); // warm-up
  const summary = summariseRun(await openLoop({ url: `${url}${PATH}`, rate, seconds: SECONDS }), SECONDS);
  // The profile ends when the process exits: leave its shutdown out of the window.
  const loadEnded = performance.now();
  child.kill('SIGTERM');
  await once(child, 'exit');
  const shutdownMs = performance.now() - loadEnded;
  const { busyMicros, packages, functions } = selfTime(readProfile(dir), SECONDS * 1000, () => true, shutdownMs);
  const share = (name, micros) => ({ name, '% busy': Number(((micros / busyMicros) * 100).toFixed(1)) });
  console.log(
    `\n${FACTOR}x capacity (${rate}/s of ${Math.round(capacity)}/s) for ${SECONDS} s: served ${Math.round(summary.servedPerSecond)}/s (${Math.round((100 * summary.servedPerSecond) / capacity)}%), answers ${JSON.stringify(summary.statuses)}; balancer busy ${(busyMicros / 1000).toFixed(0)} ms (its shutdown, ${shutdownMs.toFixed(0)} ms, left out)\n`,
  );
  console.table(ranked(packages, share).slice(0, TOP));
  console.table(ranked(functions, share).slice(0, TOP));
} finally {
  for (const stop of stops) await stop();
  await OPEN_LOOP_AGENT.close();
}
