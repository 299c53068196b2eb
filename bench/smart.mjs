// bench:smart — in one run against the /api/work simulator: success within the
// deadline and p50/p99/p99.9 for (a) a single call, (b) the seed's algorithm (first try
// dropped at 300 ms, then two at once), (c) ballast's /api/smart; mean upstream requests
// per call; then a heavy-tailed upstream (1% of calls take 1 s) with ballast in adaptive
// mode against a single call. Every loop is bounded in count; traffic stays on 127.0.0.1.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request } from 'undici';
import { printSummary, startService } from './lib/harness.mjs';

const CALLS = Number(process.env.BENCH_CALLS ?? 3000);
const BALLAST_CALLS = Number(process.env.BENCH_BALLAST_CALLS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const TIMEOUT_MS = 1000;

// An explicit timer per attempt: on Node 20, AbortSignal.any() can lose an
// AbortSignal.timeout() source to GC, and the attempt then hangs for undici's 300 s.
async function attempt(url, timeoutMs, signal) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const response = await request(url, { signal: controller.signal });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
    return JSON.parse(text);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** (a) one request, dropped at the deadline. */
async function single(url, counter) {
  counter.upstream += 1;
  await attempt(url, TIMEOUT_MS);
}

/** (b) seed 003: first try with a 300 ms timeout; on failure two more at once, first wins. */
async function seedAlgorithm(url, counter) {
  const started = performance.now();
  try {
    counter.upstream += 1;
    return await attempt(url, 300);
  } catch {
    const left = Math.max(1, Math.floor(TIMEOUT_MS - (performance.now() - started)));
    const losers = new AbortController();
    counter.upstream += 2;
    try {
      return await Promise.any([attempt(url, left, losers.signal), attempt(url, left, losers.signal)]);
    } finally {
      losers.abort();
    }
  }
}

/** The longest the services said they held a call (Server-Timing), apart from the client's own delays. */
const serverHeld = { max: 0 };

/** (c) ballast: a 200 later than its timeout counts as a failure. */
async function ballastCall(smartUrl) {
  const response = await request(`${smartUrl}?timeout=${TIMEOUT_MS}`);
  await response.body.dump();
  const held = Number(/dur=([\d.]+)/.exec(String(response.headers['server-timing']))?.[1] ?? 0);
  serverHeld.max = Math.max(serverHeld.max, held);
  if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
}

async function run(name, calls, fn) {
  const times = [];
  let ok = 0;
  let next = 0;
  const worker = async () => {
    while (next < calls) {
      next += 1;
      const started = performance.now();
      let success = true;
      try {
        await fn();
      } catch {
        success = false;
      }
      const ms = performance.now() - started;
      if (success && ms <= TIMEOUT_MS) ok += 1;
      times.push(ms);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  times.sort((a, b) => a - b);
  const at = (p) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)];
  return { name, calls, success: ok / calls, p50: at(50), p99: at(99), p999: at(99.9), max: times.at(-1) };
}

/** Attempts a ballast service launched (won, failed, aborted): its own count, not the simulator's, which misses aborted ones. */
async function attemptsLaunched(serviceUrl) {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^ballast_smart_attempts_total\{[^}]*\} (\d+)/gm)) total += Number(match[1]);
  return total;
}

async function upstreamRequests(simulatorUrl) {
  const text = await (await fetch(`${simulatorUrl}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^http_request_duration_seconds_count\{route="\/api\/work",[^}]*\} (\d+)/gm)) total += Number(match[1]);
  return total;
}

const row = (r, perCall) => ({
  calls: r.calls,
  'success %': Number((r.success * 100).toFixed(2)),
  'p50 ms': Math.round(r.p50),
  'p99 ms': Math.round(r.p99),
  'p99.9 ms': Math.round(r.p999),
  'max ms': Math.round(r.max),
  'upstream req/call': Number(perCall.toFixed(3)),
});

const services = [];
try {
  // The simulator: a ballast service with the default profile (100-600 ms, 1/11 each hang, 500, invalid JSON).
  const simulator = await startService({ READY_TRACK_CLIENTS: 'false' });
  services.push(simulator);
  const workUrl = `${simulator.url}/api/work`;
  const fixed = await startService({ SMART_UPSTREAM_URL: workUrl, READY_TRACK_CLIENTS: 'false' });
  services.push(fixed);
  const five = await startService({ SMART_UPSTREAM_URL: workUrl, READY_TRACK_CLIENTS: 'false', SMART_MAX_ATTEMPTS: '5' });
  services.push(five);

  const results = {};
  for (const [name, calls, fn] of [
    ['(a) single call', CALLS, (c) => single(workUrl, c)],
    ['(b) seed algorithm', CALLS, (c) => seedAlgorithm(workUrl, c)],
  ]) {
    const counter = { upstream: 0 };
    const r = await run(name, calls, () => fn(counter));
    results[name] = row(r, counter.upstream / calls);
  }
  // (c) and (d) in interleaved halves, so drift in machine load hits both alike.
  // This process's own stalls, which a client-side time includes and the service cannot help.
  const clientLag = monitorEventLoopDelay({ resolution: 5 });
  clientLag.enable();
  const halves = { '(c) ballast': [], '(d) ballast, SMART_MAX_ATTEMPTS=5': [] };
  const upstream = { '(c) ballast': 0, '(d) ballast, SMART_MAX_ATTEMPTS=5': 0 };
  for (let half = 0; half < 2; half += 1) {
    for (const [name, service] of [
      ['(c) ballast', fixed],
      ['(d) ballast, SMART_MAX_ATTEMPTS=5', five],
    ]) {
      const before = await attemptsLaunched(service.url);
      halves[name].push(await run(name, BALLAST_CALLS / 2, () => ballastCall(`${service.url}/api/smart`)));
      upstream[name] += (await attemptsLaunched(service.url)) - before;
    }
  }
  clientLag.disable();
  const heldMax = serverHeld.max; // before the heavy-tail calls below add theirs
  const merged = {};
  for (const [name, [a, b]] of Object.entries(halves)) {
    merged[name] = {
      calls: a.calls + b.calls,
      success: (a.success + b.success) / 2,
      p50: (a.p50 + b.p50) / 2,
      p99: Math.max(a.p99, b.p99),
      p999: Math.max(a.p999, b.p999),
      max: Math.max(a.max, b.max),
    };
    results[name] = { ...row(merged[name], upstream[name] / merged[name].calls), note: 'attempts launched (ballast metric)' };
  }
  const ballast = merged['(c) ballast'];
  const capped = merged['(d) ballast, SMART_MAX_ATTEMPTS=5'];
  console.log(`Default simulator, timeout ${TIMEOUT_MS} ms, concurrency ${CONCURRENCY}`);
  console.table(results);
  console.log(
    `ballast max response time: ${Math.round(Math.max(ballast.max, capped.max))} ms at the client, ${heldMax.toFixed(1)} ms held by the service (Server-Timing); the bench's own longest event-loop stall ${(clientLag.max / 1e6).toFixed(1)} ms (goal <= timeout + 25 = ${TIMEOUT_MS + 25})`,
  );
  const attemptsPerCall = (name) => upstream[name] / merged[name].calls;
  console.log(
    `SMART_MAX_ATTEMPTS=5: success ${(capped.success * 100).toFixed(2)}% (goal >= 99%), upstream attempts per call ${(attemptsPerCall('(d) ballast, SMART_MAX_ATTEMPTS=5') / attemptsPerCall('(c) ballast')).toFixed(3)}x the default's (goal <= 1.15x)`,
  );

  // Heavy tail: 5-15 ms, 1% take 1 s, no failures; ballast hedges at its observed p98.
  const tailQuery = 'min=5&max=15&hang=0&error=0&invalid=0&tail=0.01&tailMs=1000';
  const tailUrl = `${workUrl}?${tailQuery}`;
  const adaptive = await startService({
    SMART_UPSTREAM_URL: tailUrl,
    SMART_HEDGE_DELAY: 'auto',
    SMART_HEDGE_PERCENTILE: '98',
    READY_TRACK_CLIENTS: 'false',
  });
  services.push(adaptive);
  const tail = {};
  const counter = { upstream: 0 };
  const singleTail = await run('single', CALLS, () => single(tailUrl, counter));
  tail['single call'] = row(singleTail, counter.upstream / CALLS);
  for (let i = 0; i < 200; i += 1) await ballastCall(`${adaptive.url}/api/smart`); // fill the latency window
  const tailBefore = await upstreamRequests(simulator.url);
  const hedged = await run('adaptive', CALLS, () => ballastCall(`${adaptive.url}/api/smart`));
  const perCall = ((await upstreamRequests(simulator.url)) - tailBefore) / CALLS;
  tail['ballast auto p98'] = row(hedged, perCall);
  console.log('\nHeavy-tailed upstream (5-15 ms, 1% take 1000 ms), timeout 1000 ms');
  console.table(tail);
  console.log(`p99.9 single / ballast: ${(singleTail.p999 / hedged.p999).toFixed(1)}x lower (goal >= 10x)`);
  console.log(`extra upstream requests: ${((perCall - 1) * 100).toFixed(1)}% (goal <= 5%)`);
  const pct = (r) => `${(r.success * 100).toFixed(2)}%`;
  const perCallOf = (name) => results[name]['upstream req/call'];
  printSummary(
    [
      `success within ${TIMEOUT_MS} ms: single call ${results['(a) single call']['success %']}%, seed algorithm ${results['(b) seed algorithm']['success %']}% (${perCallOf('(b) seed algorithm')} attempts/call), ballast ${pct(ballast)} (${perCallOf('(c) ballast')}), ballast with SMART_MAX_ATTEMPTS=5 ${pct(capped)} (${perCallOf('(d) ballast, SMART_MAX_ATTEMPTS=5')}: ${(attemptsPerCall('(d) ballast, SMART_MAX_ATTEMPTS=5') / attemptsPerCall('(c) ballast')).toFixed(3)}x)`,
      `max ${Math.round(Math.max(ballast.max, capped.max))} ms at the client over ${ballast.calls + capped.calls} calls, ${heldMax.toFixed(1)} ms held by the service (bench stall ${(clientLag.max / 1e6).toFixed(1)} ms)`,
      `heavy tail: p99.9 ${Math.round(singleTail.p999)} -> ${Math.round(hedged.p999)} ms (${(singleTail.p999 / hedged.p999).toFixed(1)}x), ${((perCall - 1) * 100).toFixed(1)}% extra`,
    ].join('; '),
  );
} finally {
  await Promise.all(services.map((s) => s.stop()));
}
