import { describe, expect, it } from '@jest/globals';
import { retryDelayMs } from './retry-delay.js';

const policy = { attempts: 5, backoffMs: 1_000, backoffMaxMs: 10_000 };

describe('retryDelayMs', () => {
  it('doubles per failure between half and all of the ceiling', () => {
    expect([1, 2, 3].map((n) => retryDelayMs(policy, n, () => 0))).toEqual([500, 1_000, 2_000]);
    expect([1, 2, 3].map((n) => retryDelayMs(policy, n, () => 1))).toEqual([1_000, 2_000, 4_000]);
  });

  it('never exceeds the cap, however many failures', () => {
    expect(retryDelayMs(policy, 5, () => 1)).toBe(10_000);
    expect(retryDelayMs(policy, 1_000, () => 1)).toBe(10_000);
    expect(retryDelayMs(policy, 1_000, () => 0)).toBe(5_000);
  });

  it('spreads tasks that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(policy, 3)));
    expect(delays.size).toBeGreaterThan(10);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(2_000);
  });

  it('is zero with no backoff configured', () => {
    expect(retryDelayMs({ ...policy, backoffMs: 0 }, 3)).toBe(0);
  });
});
