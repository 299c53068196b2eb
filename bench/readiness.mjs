// bench:readiness — /ping throughput with the readiness client tracker on, against the
// same build with it off (READY_TRACK_CLIENTS=false), interleaved in one run, each round on
// fresh processes.
// Goal (issue: readiness): tracked >= 0.97x untracked.
import { interleaved, load, printSummary, startService, summarise } from './lib/harness.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const durationSeconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);

// Fresh processes every round, started in alternating order: on this machine two processes
// running the same build measured 20% apart for their whole life (one run said 0.82x, the next
// 1.21x), so one pair of processes says more about the pair than about the tracker.
const results = { tracked: [], untracked: [] };
for (let round = 0; round < rounds; round += 1) {
  const order = round % 2 === 0 ? ['tracked', 'untracked'] : ['untracked', 'tracked'];
  const services = {};
  for (const name of order) services[name] = await startService({ READY_TRACK_CLIENTS: String(name === 'tracked') });
  try {
    const variants = order.map((name) => ({ name, url: `${services[name].url}/ping` }));
    await interleaved(variants, 1, (v) => load(v.url, { connections, durationSeconds: 2 })); // warm-up (JIT)
    const round = await interleaved(variants, 1, (v) => load(v.url, { connections, durationSeconds }));
    for (const name of order) results[name].push(round[name][0]);
  } finally {
    await Promise.all(Object.values(services).map((s) => s.stop()));
  }
}
const tracked = summarise(results.tracked);
const untracked = summarise(results.untracked);
console.log(`GET /ping, ${connections} connections, ${rounds} rounds of ${durationSeconds}s each on fresh processes, interleaved`);
console.table({ tracked, untracked });
console.log(`ratio tracked/untracked req/s: ${(tracked.rps / untracked.rps).toFixed(3)} (goal >= 0.97)`);
console.log(`rounds tracked:   ${results.tracked.map((s) => Math.round(s.rps)).join(' ')}`);
console.log(`rounds untracked: ${results.untracked.map((s) => Math.round(s.rps)).join(' ')}`);
printSummary(
  `tracked ${(tracked.rps / 1000).toFixed(1)}k req/s vs untracked ${(untracked.rps / 1000).toFixed(1)}k: ${(tracked.rps / untracked.rps).toFixed(2)}x`,
);
