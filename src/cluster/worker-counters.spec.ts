import { describe, expect, it } from '@jest/globals';
import { mergeWorkerCounters, type BackendCounters } from './worker-counters.js';

const counters = (url: string, overrides: Partial<BackendCounters> = {}): BackendCounters => ({
  url,
  inFlight: 0,
  tunnels: 0,
  requests: 0,
  failures: 0,
  consecutive5xx: 0,
  ewmaLatencyMs: 0,
  outcomes: { success: 0, connect: 0 },
  ...overrides,
});

describe('mergeWorkerCounters', () => {
  it('sums the traffic every worker saw, per backend', () => {
    const merged = mergeWorkerCounters([
      {
        worker: 1,
        backends: [counters('a', { inFlight: 2, tunnels: 1, requests: 10, failures: 1, outcomes: { success: 9, connect: 1 } })],
      },
      {
        worker: 2,
        backends: [counters('a', { inFlight: 3, requests: 5, outcomes: { success: 5, connect: 0 } }), counters('b', { requests: 4 })],
      },
    ]);
    expect(merged.get('a')).toEqual(
      counters('a', { inFlight: 5, tunnels: 1, requests: 15, failures: 1, outcomes: { success: 14, connect: 1 } }),
    );
    expect(merged.get('b')).toEqual(counters('b', { requests: 4 }));
  });

  it("keeps the worst worker's 5xx streak and latency: each worker judges on its own", () => {
    const merged = mergeWorkerCounters([
      { worker: 1, backends: [counters('a', { consecutive5xx: 2, ewmaLatencyMs: 4 })] },
      { worker: 2, backends: [counters('a', { consecutive5xx: 0, ewmaLatencyMs: 40 })] },
    ]);
    expect(merged.get('a')).toMatchObject({ consecutive5xx: 2, ewmaLatencyMs: 40 });
  });

  it('does not change the reports it merges', () => {
    const report = { worker: 1, backends: [counters('a', { requests: 1, outcomes: { success: 1 } })] };
    mergeWorkerCounters([report, { worker: 2, backends: [counters('a', { requests: 2, outcomes: { success: 2 } })] }]);
    expect(report.backends[0]).toEqual(counters('a', { requests: 1, outcomes: { success: 1 } }));
  });

  it('is empty when no worker reported', () => {
    expect(mergeWorkerCounters([]).size).toBe(0);
  });
});
