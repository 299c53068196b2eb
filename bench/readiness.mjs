// bench:readiness — /ping throughput with the readiness client tracker on, against the
// same build with it off (READY_TRACK_CLIENTS=false), interleaved in one run, each round on
// fresh processes.
// Goal (issue: readiness): tracked >= 0.97x untracked.
import { load, onFreshProcesses, printSummary, startService, summarise } from './lib/harness.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const durationSeconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);

const service = (tracked) => async () => {
  const started = await startService({ READY_TRACK_CLIENTS: String(tracked) });
  return { ...started, url: `${started.url}/ping` };
};
const results = await onFreshProcesses({ tracked: service(true), untracked: service(false) }, rounds, {
  warmUp: (app) => load(app.url, { connections, durationSeconds: 2 }), // JIT
  measure: (app) => load(app.url, { connections, durationSeconds }),
});
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
