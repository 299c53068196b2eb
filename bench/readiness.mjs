// bench:readiness — /ping throughput with the readiness client tracker on, against the
// same build with it off (READY_TRACK_CLIENTS=false), interleaved in one run.
// Goal (issue: readiness): tracked >= 0.97x untracked.
import { interleaved, load, startService, summarise } from './lib/harness.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const durationSeconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);

const services = {
  tracked: await startService({ READY_TRACK_CLIENTS: 'true' }),
  untracked: await startService({ READY_TRACK_CLIENTS: 'false' }),
};
try {
  const variants = Object.entries(services).map(([name, service]) => ({ name, url: `${service.url}/ping` }));
  await interleaved(variants, 1, (v) => load(v.url, { connections, durationSeconds: 2 })); // warm-up (JIT)
  const results = await interleaved(variants, rounds, (v) => load(v.url, { connections, durationSeconds }));
  const tracked = summarise(results.tracked);
  const untracked = summarise(results.untracked);
  console.log(`GET /ping, ${connections} connections, ${rounds} x ${durationSeconds}s rounds each, interleaved`);
  console.table({ tracked, untracked });
  console.log(`ratio tracked/untracked req/s: ${(tracked.rps / untracked.rps).toFixed(3)} (goal >= 0.97)`);
  console.log(`rounds tracked:   ${results.tracked.map((s) => Math.round(s.rps)).join(' ')}`);
  console.log(`rounds untracked: ${results.untracked.map((s) => Math.round(s.rps)).join(' ')}`);
} finally {
  await Promise.all(Object.values(services).map((s) => s.stop()));
}
