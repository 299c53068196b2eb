// npm run load:smart — the seed's Locust scenario with autocannon: each request gets a
// random timeout of 500-1000 ms; a 200 later than its timeout counts as a failure, a 503
// as correct behaviour. Bounded: LOAD_SECONDS (20) and LOAD_CONNECTIONS (20).
import autocannon from 'autocannon';
import { startService } from './lib/harness.mjs';

const target = process.env.LOAD_URL; // an already running ballast, else one is started
const seconds = Number(process.env.LOAD_SECONDS ?? 20);
const connections = Number(process.env.LOAD_CONNECTIONS ?? 20);

const service = target ? undefined : await startService({ READY_TRACK_CLIENTS: 'false' });
const base = target ?? service.url;
const tally = { ok: 0, late: 0, unavailable: 0, other: 0 };
try {
  const result = await autocannon({
    url: base,
    connections,
    duration: seconds,
    requests: [
      {
        setupRequest(req, context) {
          context.timeout = 500 + Math.floor(Math.random() * 501);
          context.sentAt = performance.now();
          return { ...req, path: `/api/smart?timeout=${context.timeout}` };
        },
        onResponse(status, _body, context) {
          const ms = performance.now() - context.sentAt;
          if (status === 200) tally[ms <= context.timeout ? 'ok' : 'late'] += 1;
          else if (status === 503) tally.unavailable += 1;
          else tally.other += 1;
        },
      },
    ],
  });
  const total = tally.ok + tally.late + tally.unavailable + tally.other;
  console.log(`${total} requests in ${seconds}s over ${connections} connections to ${base}`);
  console.log(
    `200 in time: ${tally.ok}  200 too late (failure): ${tally.late}  503 (correct refusal): ${tally.unavailable}  other: ${tally.other}`,
  );
  console.log(`correct behaviour: ${(((tally.ok + tally.unavailable) / total) * 100).toFixed(2)}%, p99 latency ${result.latency.p99} ms`);
} finally {
  await service?.stop();
}
