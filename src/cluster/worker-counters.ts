/** One backend's counters as one balancer worker keeps them (each worker counts its own traffic). */
export interface BackendCounters {
  readonly url: string;
  readonly inFlight: number;
  readonly tunnels: number;
  readonly requests: number;
  readonly failures: number;
  readonly consecutive5xx: number;
  readonly ewmaLatencyMs: number;
  readonly outcomes: Readonly<Record<string, number>>;
  /** Its slots this worker keeps to while another worker's requests wait (WorkerShares); absent when not held to a share. */
  readonly share?: number;
}

/** What one worker reports when the fleet's status is asked for. */
export interface WorkerCounters {
  readonly worker: number;
  readonly backends: readonly BackendCounters[];
  /** Requests waiting in this worker's admission queue. */
  readonly queued?: number;
}

/**
 * The fleet's counters per backend URL: traffic (in flight, tunnels, requests, failures,
 * outcomes) summed over the workers; the 5xx streak and the EWMA latency are the worst worker's,
 * since each worker judges and picks backends on what it alone saw.
 */
export function mergeWorkerCounters(reports: readonly WorkerCounters[]): Map<string, BackendCounters> {
  const merged = new Map<string, BackendCounters>();
  for (const report of reports) {
    for (const counters of report.backends) {
      const seen = merged.get(counters.url);
      // A share is one worker's (byWorker shows it): summed, or taken from the first, it would say nothing.
      merged.set(counters.url, seen ? add(seen, counters) : { ...counters, outcomes: { ...counters.outcomes }, share: undefined });
    }
  }
  return merged;
}

function add(a: BackendCounters, b: BackendCounters): BackendCounters {
  const outcomes: Record<string, number> = { ...a.outcomes };
  for (const [outcome, count] of Object.entries(b.outcomes)) outcomes[outcome] = (outcomes[outcome] ?? 0) + count;
  return {
    url: a.url,
    inFlight: a.inFlight + b.inFlight,
    tunnels: a.tunnels + b.tunnels,
    requests: a.requests + b.requests,
    failures: a.failures + b.failures,
    consecutive5xx: Math.max(a.consecutive5xx, b.consecutive5xx),
    ewmaLatencyMs: Math.max(a.ewmaLatencyMs, b.ewmaLatencyMs),
    outcomes,
  };
}
