// bench:replicas-ack — what REDIS_MIN_REPLICAS_ACK=1 costs a create, in one run: a Redis primary
// and one replica of it (real redis-server processes on loopback, AOF everysec as shipped), and
// ballast services on that primary with REDIS_MIN_REPLICAS_ACK=0 and =1, in interleaved rounds on
// fresh processes. The services run no workers (TASK_CONCURRENCY=0), so only the create is
// measured: (1) POST /tasks throughput, 50 in flight; (2) create latency p50/p99 at a paced
// rate below both. Prints =1's ratio to =0 per round. Bounded: BENCH_ROUNDS (4) rounds of
// BENCH_CREATES (3000) creates and PACED_SECONDS at PACED_RATE/s each.
import { Redis } from 'ioredis';
import { request } from 'undici';
import { inFlightLoop, median, onFreshProcesses, perRound, startService } from './lib/harness.mjs';
import { dropPrefix } from './lib/redis-prefix.mjs';
import { startRedisServer } from '../test/support/spawn.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const CREATES = Number(process.env.BENCH_CREATES ?? 3000);
const IN_FLIGHT = 50;
const PACED_RATE = Number(process.env.PACED_RATE ?? 300);
const PACED_SECONDS = 5;

const primary = await startRedisServer({ aof: true });
const replica = await startRedisServer({ aof: true, args: ['--replicaof', '127.0.0.1', String(primary.port)] });
// Until the replica is in sync, WAIT 1 would answer 0.
const admin = new Redis(primary.url);
for (let i = 0; i < 100 && !/slave0:.*state=online/.test(await admin.info('replication')); i += 1) {
  await new Promise((resolve) => setTimeout(resolve, 100));
}
admin.disconnect();

async function create(base) {
  const started = performance.now();
  const response = await request(`${base}/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"durationMs":0}',
  });
  await response.body.dump();
  if (response.statusCode !== 202) throw new Error(`POST /tasks ${response.statusCode}`);
  return performance.now() - started;
}

async function throughput(base) {
  const started = performance.now();
  await inFlightLoop(CREATES, IN_FLIGHT, () => create(base));
  return CREATES / ((performance.now() - started) / 1000);
}

async function paced(base) {
  const latencies = [];
  const total = PACED_RATE * PACED_SECONDS;
  const started = performance.now();
  const pending = [];
  for (let i = 0; i < total; i += 1) {
    const wait = started + (i * 1000) / PACED_RATE - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(create(base).then((ms) => latencies.push(ms)));
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
  return { p50: at(50), p99: at(99) };
}

const start = (ack) => async () => {
  const prefix = `ballast-bench-ack${ack}-${Math.random().toString(16).slice(2, 8)}`;
  const service = await startService({
    REDIS_URL: primary.url,
    REDIS_PREFIX: prefix,
    REDIS_MIN_REPLICAS_ACK: String(ack),
    TASK_CONCURRENCY: '0',
    READY_TRACK_CLIENTS: 'false',
  });
  return {
    ...service,
    async stop() {
      await service.stop();
      await dropPrefix(primary.url, prefix);
    },
  };
};

try {
  const variants = { ack0: start(0), ack1: start(1) };
  const rates = await onFreshProcesses(variants, ROUNDS, {
    warmUp: (app) => throughput(app.url),
    measure: (app) => throughput(app.url),
  });
  const latency = await onFreshProcesses(variants, ROUNDS, {
    warmUp: (app) => throughput(app.url),
    measure: (app) => paced(app.url),
  });
  const row = (name) => ({
    'creates/s': Math.round(median(rates[name])),
    'p50 ms': median(latency[name].map((sample) => sample.p50)).toFixed(2),
    'p99 ms': median(latency[name].map((sample) => sample.p99)).toFixed(2),
  });
  console.log(`POST /tasks on a primary with one replica, ${ROUNDS} rounds (medians); latency paced at ${PACED_RATE}/s`);
  console.log('| REDIS_MIN_REPLICAS_ACK | creates/s (50 in flight) | p50 ms | p99 ms |');
  console.log('|---|---|---|---|');
  for (const [name, label] of [
    ['ack0', '0'],
    ['ack1', '1'],
  ]) {
    const { 'creates/s': rate, 'p50 ms': p50, 'p99 ms': p99 } = row(name);
    console.log(`| ${label} | ${rate} | ${p50} | ${p99} |`);
  }
  const rateRatio = perRound(rates.ack1, rates.ack0);
  const p99Ratio = perRound(latency.ack1, latency.ack0, (sample) => sample.p99);
  console.log(`ratio ACK=1 / ACK=0 creates/s: ${rateRatio.median.toFixed(2)}x, rounds ${rateRatio.range}`);
  console.log(`ratio ACK=1 / ACK=0 p99: ${p99Ratio.median.toFixed(2)}x, rounds ${p99Ratio.range}`);
  console.log(`rounds creates/s ACK=0: ${rates.ack0.map(Math.round).join(' ')}; ACK=1: ${rates.ack1.map(Math.round).join(' ')}`);
} finally {
  await replica.stop();
  await primary.stop();
}
