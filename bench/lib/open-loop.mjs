// An open-loop load generator: requests leave at a fixed rate whatever the server does, so an
// overloaded server cannot slow its own load down (wrk and autocannon are closed loops: they wait
// for answers). Latency counts from when each request was due, not when it left, so the
// generator's own lag is charged too (no coordinated omission).
import { Agent, request } from 'undici';

/** One connection pool for all runs: enough connections that none waits for another. */
export const OPEN_LOOP_AGENT = new Agent({
  connections: 4096,
  pipelining: 1,
  keepAliveTimeout: 30_000,
  headersTimeout: 30_000,
  bodyTimeout: 30_000,
});

/**
 * `rate` requests per second to `url` for `seconds` (at most rate x seconds requests). Resolves
 * when every answer is in, with one record per request: status (0 for a connection error),
 * milliseconds from due to answered, and the Retry-After it carried.
 */
export async function openLoop({ url, rate, seconds, headers = {} }) {
  const total = Math.round(rate * seconds);
  const intervalMs = 1000 / rate;
  const records = new Array(total);
  const pending = [];
  const start = performance.now();
  let sent = 0;
  const fire = (index, due) =>
    request(url, { dispatcher: OPEN_LOOP_AGENT, headers })
      .then(async (response) => {
        // The body of an error is kept (its reason); a success's is read and dropped.
        const body = response.statusCode >= 500 && response.statusCode !== 503 ? await response.body.text() : await response.body.dump();
        records[index] = {
          status: response.statusCode,
          ms: performance.now() - due,
          retryAfter: response.headers['retry-after'],
          // ballast's own answers say why in Proxy-Status (RFC 9209): details="queue_timeout" and the like.
          reason: /details="([^"]+)"/.exec(String(response.headers['proxy-status'] ?? ''))?.[1],
          // A balancer cluster's worker that answered (proxied or refused).
          worker: response.headers['x-balancer-worker'],
          ...(typeof body === 'string' && { body }),
        };
      })
      .catch(() => {
        records[index] = { status: 0, ms: performance.now() - due };
      });
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      while (sent < due) {
        pending.push(fire(sent, start + sent * intervalMs));
        sent += 1;
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  return records;
}

/** Nearest-rank percentile of numbers (undefined for none). */
export function percentile(values, p) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** What a run's records say: served per second, latencies of served and of the rest, statuses. */
export function summariseRun(records, seconds) {
  const served = records.filter((r) => r.status >= 200 && r.status < 300);
  const rest = records.filter((r) => !(r.status >= 200 && r.status < 300));
  const statuses = {};
  const reasons = {};
  for (const r of rest) {
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.reason) reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
  }
  return {
    offered: records.length,
    servedPerSecond: served.length / seconds,
    servedShare: served.length / records.length,
    p50: percentile(
      served.map((r) => r.ms),
      50,
    ),
    p99: percentile(
      served.map((r) => r.ms),
      99,
    ),
    rejectedP99: percentile(
      rest.map((r) => r.ms),
      99,
    ),
    withoutRetryAfter: rest.filter((r) => r.status !== 0 && r.retryAfter === undefined).length,
    statuses,
    /** Why ballast itself refused (from Proxy-Status), by reason. */
    reasons,
    /** Per balancer worker that answered (x-balancer-worker), the share of its requests served. */
    servedShareByWorker: shareServedBy(records),
    /** The distinct bodies of 5xx answers other than 503, with their counts. */
    errorBodies: [...countBy(rest.filter((r) => r.body).map((r) => r.body.slice(0, 200)))],
  };
}

function shareServedBy(records) {
  const byWorker = new Map();
  for (const r of records) {
    if (r.worker === undefined) continue;
    const counts = byWorker.get(r.worker) ?? { served: 0, all: 0 };
    counts.all += 1;
    if (r.status >= 200 && r.status < 300) counts.served += 1;
    byWorker.set(r.worker, counts);
  }
  return Object.fromEntries([...byWorker].sort(([a], [b]) => Number(a) - Number(b)).map(([worker, c]) => [worker, c.served / c.all]));
}

/** How often each value occurs, in first-seen order. */
function countBy(values) {
  const counts = new Map();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}
