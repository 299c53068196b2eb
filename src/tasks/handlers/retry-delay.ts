import type { RetryPolicy } from '../../config/index.js';

/**
 * The wait before the next attempt after `failedAttempts` failures: exponential from
 * `backoffMs`, capped at `backoffMaxMs`, with equal jitter (half fixed, half random), so tasks
 * that failed together (a dependency down) do not come back together, and none comes back at
 * once. `random` is injectable for tests.
 */
export function retryDelayMs(policy: RetryPolicy, failedAttempts: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(failedAttempts - 1, 40));
  const ceiling = Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
