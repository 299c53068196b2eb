// bench:overload — the fleet at and beyond its capacity, ballast's balancer and nginx in front of
// the same services in one run. Three services that protect themselves (READY_SHED: 503 +
// Retry-After in cooldown, entered at READY_MAX_CLIENTS=8, left below READY_MIN_CLIENTS=6), each
// request holding a slot for SERVICE_MS (GET /long_task). Capacity = 3 x (8 - 1) / service time (the issue's
// definition: what the services hold without entering cooldown),
// the service time measured on one backend unloaded. An open-loop client (fixed arrival rate)
// offers 0.5x, 1x, 2x, 3x and 5x of capacity to each front in turn. Per row: served/s as a share
// of capacity, p50/p99 of served, p99 of the rest, retries per request (ballast), what clients
// got, and the cores the front, the services and the load generator spent on it (/proc; the
// machine's cores are shared by all three). Then two clients, one at 10x its fair share and one
// polite, with per-client limits on both fronts (ballast: BALANCER_CLIENT_RATE; nginx:
// limit_req). Bounded: about five minutes.
// OVERLOAD_SECONDS (5) per row, OVERLOAD_FACTORS (0.5,1,2,3,5), OVERLOAD_FAIR_ROUNDS (3),
// OVERLOAD_WARM_UP_SECONDS (10, at 1x through each front before the rows; per worker for ballast), OVERLOAD_REPEATS (1:
// each row measured that many times, the fronts taking turns, the median of each figure reported),
// BALANCER_WORKERS (1).
// OVERLOAD_BASELINE=path/to/other/dist/main.js adds that build's balancer as a third front (and
// in the two-client rows), so a change is compared with the build before it in the same run.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { median, printSummary, startService } from './lib/harness.mjs';
import { NGINX, startNginx } from './lib/nginx.mjs';
import { OPEN_LOOP_AGENT, openLoop, percentile, summariseRun } from './lib/open-loop.mjs';
import { runQueueWaitMs, treeCpuMs, treeRunQueueWaitMs } from './lib/proc-cpu.mjs';

const SECONDS = Number(process.env.OVERLOAD_SECONDS ?? 5);
const FACTORS = (process.env.OVERLOAD_FACTORS ?? '0.5,1,2,3,5').split(',').map(Number);
const SERVICE_MS = Number(process.env.SERVICE_MS ?? 20);
const WORKERS = process.env.BALANCER_WORKERS ?? '1';
const BASELINE = process.env.OVERLOAD_BASELINE;
const FAIR_ROUNDS = Number(process.env.OVERLOAD_FAIR_ROUNDS ?? 3);
const WARM_UP_SECONDS = Number(process.env.OVERLOAD_WARM_UP_SECONDS ?? 10);
const REPEATS = Math.max(1, Number(process.env.OVERLOAD_REPEATS ?? 1));
const MAX_CLIENTS = 8;
const SERVICES = 3;
const PATH = `/long_task?ms=${SERVICE_MS}`;

const stops = [];
/** ballast and its baseline build, not nginx: they have workers, and count their retries. */
const isBallast = (front) => front !== 'nginx';

/** `items` starting at position `by` (mod their count), the ones before it moved to the end. */
const rotated = (items, by) => [...items.slice(by % items.length), ...items.slice(0, by % items.length)];
/**
 * The balancer's counters a row compares (merged over workers), from one scrape: retries, and the
 * requests admitted from the queue, all and those that waited at most 10 ms.
 */
const balancerCounters = async (url) => {
  const text = await (await request(`${url}/_balancer/metrics`)).body.text();
  const sum = (name, labelsMatch = () => true) =>
    [...text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\d+)`, 'gm'))]
      .filter(([, labels = '']) => labelsMatch(labels))
      .reduce((total, m) => total + Number(m[2]), 0);
  const admittedWithin = (le) => (labels) => labels.includes('outcome="admitted"') && labels.includes(`le="${le}"`);
  return {
    retries: sum('ballast_balancer_retries_total'),
    admitted: sum('ballast_balancer_queue_wait_seconds_bucket', admittedWithin('+Inf')),
    admittedWithin10Ms: sum('ballast_balancer_queue_wait_seconds_bucket', admittedWithin('0.01')),
  };
};

try {
  const services = await Promise.all(
    Array.from({ length: SERVICES }, () =>
      startService({ READY_SHED: 'true', READY_MAX_CLIENTS: String(MAX_CLIENTS), READY_MIN_CLIENTS: '6', LOG_LEVEL: 'error' }),
    ),
  );
  stops.push(...services.map((s) => s.stop));
  const backends = services.map((s) => s.url);

  // The service time a request really takes here (timer granularity and the framework included).
  const direct = [];
  for (let i = 0; i < 60; i += 1) {
    const started = performance.now();
    await (await request(`${backends[0]}${PATH}`, { dispatcher: OPEN_LOOP_AGENT })).body.dump();
    if (i >= 10) direct.push(performance.now() - started);
  }
  const serviceMs = percentile(direct, 50);
  const capacity = (SERVICES * (MAX_CLIENTS - 1) * 1000) / serviceMs;

  const balancerEnv = {
    ROLE: 'balancer',
    BACKENDS: backends.join(','),
    HEALTH_CHECK_INTERVAL_MS: '500',
    BALANCER_WORKERS: WORKERS,
    LOG_LEVEL: 'error',
  };
  const ballast = await startService(balancerEnv);
  stops.push(ballast.stop);
  const fronts = { ballast: ballast.url };
  // Each front's processes, for the CPU it and the services spent on a row.
  const frontPids = { ballast: ballast.pid };
  if (BASELINE) {
    const baseline = await startService(balancerEnv, { main: BASELINE });
    stops.push(baseline.stop);
    fronts.baseline = baseline.url;
    frontPids.baseline = baseline.pid;
  }
  if (NGINX) {
    const nginx = await startNginx(backends, { probePath: '/ping' });
    stops.push(nginx.stop);
    fronts.nginx = nginx.url;
    frontPids.nginx = nginx.pid;
  } else console.log('nginx not installed (apt-get install nginx): its column is left out');

  const run = async (front, rate, seconds, headers) => openLoop({ url: `${fronts[front]}${PATH}`, rate, seconds, headers });
  // Until the services are idle again, so one row's backlog is not the next one's load.
  const settle = () => sleep(300 + 2 * SERVICE_MS);

  // Every process starts cold. Without this, the first measured row (always ballast's first)
  // showed the warm-up, not the front: the services spent 0.6-0.7 cores on what takes 0.35 once
  // warm (so their real capacity was below the row's 1x), and the balancer's own histogram
  // recorded queue refusals 50-100 ms after arrival, its deadline timer late behind a busy loop.
  // Over 4 runs, the first rows at 1x had 64-481 refusals (rest p99 65-91 ms); the rows after
  // had 5-25. After a 3 s warm-up the first rows had 29-84; after 10 s, 7 and 30. So each front
  // carries 1x for WARM_UP_SECONDS, unmeasured, before any row. Warming up is by requests, per
  // process (bench:data-path: 10,000-20,000 before a fresh process costs what it will), and each
  // of BALANCER_WORKERS gets its share of them: with 2 workers the 1x row after 5 s of warm-up
  // had a p99 of 76.7 ms and 10 refusals at 73.7 ms; after 20 s, 33.4 and 26.7 ms in two runs and
  // none. So the balancer's warm-up lasts WARM_UP_SECONDS per worker.
  const warmUpSeconds = (front) => (isBallast(front) ? WARM_UP_SECONDS * Number(WORKERS) : WARM_UP_SECONDS);
  for (const front of Object.keys(fronts)) {
    await run(front, Math.round(capacity), warmUpSeconds(front));
    await settle();
  }

  /** One measured run of a row: what clients saw, the cores spent, the balancer's retries. */
  const measureRow = async (front, rate) => {
    const countersBefore = isBallast(front) ? await balancerCounters(fronts[front]) : undefined;
    const cpuBefore = {
      front: treeCpuMs(frontPids[front]),
      services: services.reduce((sum, s) => sum + treeCpuMs(s.pid), 0),
      client: process.cpuUsage(),
    };
    const waitedFor = () => [
      treeRunQueueWaitMs(frontPids[front]),
      services.reduce((sum, s) => sum + runQueueWaitMs(s.pid), 0),
      runQueueWaitMs(process.pid),
    ];
    const waitedBefore = waitedFor();
    const rowStarted = performance.now();
    const summary = summariseRun(await run(front, rate, SECONDS), SECONDS);
    const rowMs = performance.now() - rowStarted;
    const cores = (before, pids) => (pids.reduce((sum, pid) => sum + treeCpuMs(pid), 0) - before) / rowMs;
    const clientCpu = process.cpuUsage(cpuBefore.client);
    const clientCores = (clientCpu.user + clientCpu.system) / 1000 / rowMs;
    const waited = waitedFor().map((ms, i) => Math.round((1000 * (ms - waitedBefore[i])) / rowMs));
    let retries = 0;
    let admittedAfter10Ms;
    if (countersBefore) {
      const after = await balancerCounters(fronts[front]);
      retries = after.retries - countersBefore.retries;
      const admittedAfter = after.admitted - after.admittedWithin10Ms - (countersBefore.admitted - countersBefore.admittedWithin10Ms);
      const served = summary.servedPerSecond * SECONDS;
      admittedAfter10Ms = served === 0 ? 0 : admittedAfter / served;
    }
    return {
      summary,
      retries,
      admittedAfter10Ms,
      waited: waited.join('+'),
      cores: [
        cores(cpuBefore.front, [frontPids[front]]),
        cores(
          cpuBefore.services,
          services.map((s) => s.pid),
        ),
        clientCores,
      ]
        .map((n) => n.toFixed(2))
        .join('+'),
    };
  };

  const rows = [];
  const figures = {};
  for (const [index, factor] of FACTORS.entries()) {
    const rate = Math.round(capacity * factor);
    const row = { offered: `${factor}x = ${rate}/s` };
    const order = rotated(Object.keys(fronts), index);
    for (const front of order) {
      await run(front, rate, 1); // warm-up at this rate (JIT, connections), not counted
      await settle();
    }
    // The fronts take turns, repeat by repeat, and who goes first rotates: a front's runs are not
    // all in one stretch of the machine's state, nor always right after the same other front
    // (with one worker, measured last at 1x, right after nginx and a second ballast build, the last front had
    // refusals and a p99 of 40-48 ms in four runs out of four, whichever build it was; the
    // others none).
    const repeatsOf = new Map(order.map((front) => [front, []]));
    for (let repeat = 0; repeat < REPEATS; repeat += 1) {
      for (const front of rotated(order, repeat)) {
        repeatsOf.get(front).push(await measureRow(front, rate));
        await settle();
      }
    }
    for (const front of Object.keys(fronts)) {
      const repeats = repeatsOf.get(front);
      // One run of a row swings by more than the bars' margins on this machine: with
      // OVERLOAD_REPEATS each figure is the median of the repeats (retries: the most).
      const medianOf = (pick) => median(repeats.map(pick));
      const typical = [...repeats].sort((a, b) => a.summary.servedPerSecond - b.summary.servedPerSecond)[Math.floor(REPEATS / 2)];
      const summary = {
        ...typical.summary,
        servedPerSecond: medianOf((r) => r.summary.servedPerSecond),
        p99: medianOf((r) => r.summary.p99 ?? 0),
        rejectedP99: repeats.some((r) => r.summary.rejectedP99 !== undefined) ? medianOf((r) => r.summary.rejectedP99 ?? 0) : undefined,
      };
      const retries = isBallast(front) ? Math.max(...repeats.map((r) => r.retries / r.summary.offered)) : undefined;
      figures[`${front} ${factor}`] = { ...summary, retriesPerRequest: retries };
      row[`${front} cores: front+services+client`] = typical.cores;
      // Time their event loops were runnable but waited for a core, per second of the row: the
      // machine's cores are shared, and a tail here is made of this as much as of any queue.
      row[`${front} waited for a core, ms/s`] = typical.waited;
      row[`${front} served`] = `${Math.round(summary.servedPerSecond)}/s (${Math.round((100 * summary.servedPerSecond) / capacity)}%)`;
      if (REPEATS > 1)
        row[`${front} served, each`] = repeats.map((r) => `${Math.round((100 * r.summary.servedPerSecond) / capacity)}%`).join(' ');
      row[`${front} p50/p99`] = `${summary.p50?.toFixed(1)}/${summary.p99?.toFixed(1)} ms`;
      row[`${front} rest p99`] = summary.rejectedP99 === undefined ? '' : `${summary.rejectedP99.toFixed(1)} ms`;
      row[`${front} answers`] = Object.entries(summary.statuses)
        .map(([status, n]) => `${n}x${status}`)
        .join(' ');
      if (retries !== undefined) row[`${front} retries/req`] = retries.toFixed(3);
      // Of the requests served, the share whose wait in the queue alone was over 10 ms.
      if (typical.admittedAfter10Ms !== undefined) row[`${front} queued > 10 ms`] = `${(100 * typical.admittedAfter10Ms).toFixed(1)}%`;
      // With several workers, what the requests each worker took got: fair, they are alike.
      if (isBallast(front) && WORKERS !== '1')
        row[`${front} served by worker`] = Object.entries(typical.summary.servedShareByWorker)
          .map(([worker, share]) => `${worker}:${Math.round(100 * share)}%`)
          .join(' ');
    }
    rows.push(row);
  }

  console.log(
    `\nOpen-loop GET ${PATH}: ${SERVICES} services (READY_SHED, MAX ${MAX_CLIENTS}, MIN 6), service time ${serviceMs.toFixed(1)} ms, capacity ${Math.round(capacity)}/s; ballast balancer (${WORKERS} worker${WORKERS === '1' ? '' : 's'}) and nginx (1 worker), ${SECONDS} s per row\n`,
  );
  console.table(rows);

  // Two clients: one at 10x its fair share, one polite (0.8x), told apart by a header.
  const fair = capacity / 2;
  const limitedEnv = { ...balancerEnv, BALANCER_CLIENT_KEY: 'header:x-client', BALANCER_CLIENT_RATE: String(Math.round(fair)) };
  const limited = await startService(limitedEnv);
  stops.push(limited.stop);
  const fairFronts = { ballast: limited.url };
  if (BASELINE) {
    const baseline = await startService(limitedEnv, { main: BASELINE });
    stops.push(baseline.stop);
    fairFronts.baseline = baseline.url;
  }
  if (NGINX) {
    const nginx = await startNginx(backends, {
      probePath: '/ping',
      http: `limit_req_zone $http_x_client zone=clients:1m rate=${Math.round(fair)}r/s; limit_req_status 429;`,
      location: `limit_req zone=clients burst=${Math.round(fair / 10)} nodelay;`,
    });
    stops.push(nginx.stop);
    fairFronts.nginx = nginx.url;
  }
  const clientLoop = (url, rate, client, seconds) =>
    openLoop({ url: `${url}${PATH}`, rate: Math.round(rate), seconds, headers: { 'x-client': client } }).then((r) =>
      summariseRun(r, seconds),
    );
  // These fronts are new processes, and the load generator has no connections to them yet. Warmed
  // only by the rounds' own second at 10x, the first round of each front was a cold start: the
  // generator opened 2,700-3,900 connections to it in that round (a stall makes every waiting
  // request need one more), and the polite client got 22-51% on ballast, 36% on nginx, where the
  // next rounds got 88-97%. So each carries both clients at their share, unmeasured, first.
  for (const url of Object.values(fairFronts)) {
    await Promise.all([clientLoop(url, fair, 'greedy', WARM_UP_SECONDS), clientLoop(url, 0.8 * fair, 'polite', WARM_UP_SECONDS)]);
    await settle();
  }
  // Rounds alternate the fronts' order, and the median round is reported: one round per front
  // swings by tens of points on this machine.
  const rounds = {};
  for (let round = 0; round < FAIR_ROUNDS; round += 1) {
    const order = Object.entries(fairFronts);
    if (round % 2 === 1) order.reverse();
    for (const [front, url] of order) {
      const loop = (rate, client, seconds) => clientLoop(url, rate, client, seconds);
      await Promise.all([loop(10 * fair, 'greedy', 1), loop(0.8 * fair, 'polite', 1)]);
      await settle();
      const [greedy, polite] = await Promise.all([loop(10 * fair, 'greedy', SECONDS), loop(0.8 * fair, 'polite', SECONDS)]);
      (rounds[front] ??= []).push({ greedy, polite });
      await settle();
    }
  }
  const fairness = [];
  for (const [front, results] of Object.entries(rounds)) {
    const byPolite = [...results].sort((a, b) => a.polite.servedShare - b.polite.servedShare);
    const { greedy, polite } = byPolite[Math.floor(byPolite.length / 2)];
    figures[`${front} fairness`] = { greedy, polite };
    fairness.push({
      front,
      'greedy served': `${Math.round(greedy.servedPerSecond)}/s of ${Math.round(10 * fair)}/s (fair share ${Math.round(fair)}/s)`,
      'polite success': `${(100 * polite.servedShare).toFixed(1)}% of ${Math.round(0.8 * fair)}/s`,
      'polite, each round': results.map((r) => `${(100 * r.polite.servedShare).toFixed(1)}%`).join(' '),
      'polite p99': `${polite.p99?.toFixed(1)} ms`,
      'greedy answers': Object.entries(greedy.statuses)
        .map(([status, n]) => `${n}x${status}`)
        .join(' '),
      'polite refused': Object.entries(polite.statuses)
        .map(([status, n]) => `${n}x${status}`)
        .join(' '),
      'polite refused for': Object.entries(polite.reasons)
        .map(([reason, n]) => `${n}x${reason}`)
        .join(' '),
    });
  }
  console.log(
    `\nTwo clients: one at 10x its fair share (half the capacity), one polite at 0.8x, per-client limits on both fronts; the median of ${FAIR_ROUNDS} rounds by the polite one's success\n`,
  );
  console.table(fairness);

  const at = (front, factor) => figures[`${front} ${factor}`];
  const unloaded = at('ballast', FACTORS[0])?.p99;
  const overloadFactors = FACTORS.filter((f) => f >= 1);
  const worst = (pick) => Math.min(...overloadFactors.map((f) => pick(f)));
  const share = (front, f) => at(front, f).servedPerSecond / capacity;
  const parts = [
    `capacity ${Math.round(capacity)}/s (service ${serviceMs.toFixed(1)} ms)`,
    `ballast served at 1-5x: ${overloadFactors.map((f) => `${Math.round(100 * share('ballast', f))}%`).join(', ')} of capacity`,
  ];
  if (fronts.nginx) parts.push(`nginx: ${overloadFactors.map((f) => `${Math.round(100 * share('nginx', f))}%`).join(', ')}`);
  parts.push(
    `ballast p99 served at most ${Math.max(...overloadFactors.map((f) => at('ballast', f).p99)).toFixed(1)} ms (unloaded ${unloaded?.toFixed(1)} ms)`,
    `p99 of rejections at most ${Math.max(...overloadFactors.map((f) => at('ballast', f).rejectedP99 ?? 0)).toFixed(1)} ms`,
    `retries per request at most ${Math.max(...overloadFactors.map((f) => at('ballast', f).retriesPerRequest)).toFixed(3)}`,
    `polite client ${(100 * figures['ballast fairness'].polite.servedShare).toFixed(1)}% served beside a greedy one at 10x`,
  );
  if (fronts.nginx) parts.push(`ballast / nginx served, worst row: ${worst((f) => share('ballast', f) / share('nginx', f)).toFixed(2)}x`);
  printSummary(parts.join('; '));
} finally {
  for (const stop of stops.reverse()) await stop();
  await OPEN_LOOP_AGENT.close();
}
