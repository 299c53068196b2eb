import { describe, expect, it } from '@jest/globals';
import { ClientLimits } from './client-limits.js';

describe('ClientLimits', () => {
  it('lets a client send its burst at once, then its rate, and says when to come back', () => {
    const limits = new ClientLimits({ ratePerSecond: 10, burst: 3, concurrency: 0 });
    const answers = Array.from({ length: 4 }, () => limits.admit('a', 0));
    expect(answers.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    expect(answers[3]).toEqual({ reason: 'client_rate', retryAfterSeconds: 1 });
    expect(limits.admit('a', 99)).toMatchObject({ reason: 'client_rate' }); // 0.99 tokens
    expect(limits.admit('a', 100)).toBeUndefined(); // one token per 100 ms
    // Another client has its own bucket.
    expect(limits.admit('b', 100)).toBeUndefined();
  });

  it('holds a greedy client to its rate over time while a polite one is never refused', () => {
    const limits = new ClientLimits({ ratePerSecond: 100, burst: 10, concurrency: 0 });
    let greedy = 0;
    let polite = 0;
    for (let ms = 0; ms < 10_000; ms += 1) {
      if (limits.admit('greedy', ms) === undefined) greedy += 1; // 1000/s offered
      if (ms % 20 === 0 && limits.admit('polite', ms) === undefined) polite += 1; // 50/s offered
    }
    expect(greedy).toBeGreaterThanOrEqual(1_000);
    expect(greedy).toBeLessThanOrEqual(1_011);
    expect(polite).toBe(500);
  });

  it("takes what other workers let in from the client's bucket, into debt of at most one burst", () => {
    const limits = new ClientLimits({ ratePerSecond: 10, burst: 5, concurrency: 0 });
    limits.charge('a', 4, 0); // another worker let 4 in
    expect(limits.admit('a', 0)).toBeUndefined();
    expect(limits.admit('a', 0)).toEqual({ reason: 'client_rate', retryAfterSeconds: 1 });
    limits.charge('a', 100, 0); // far over: the debt stops at one burst
    expect(limits.admit('a', 500)).toEqual({ reason: 'client_rate', retryAfterSeconds: 1 });
    expect(limits.admit('a', 1_100)).toBeUndefined(); // -5 + 11 tokens
    // Without a rate there is nothing to charge.
    const capOnly = new ClientLimits({ ratePerSecond: 0, burst: 0, concurrency: 1 });
    capOnly.charge('a', 10, 0);
    expect(capOnly.admit('a', 0)).toBeUndefined();
  });

  it('caps requests in flight until they are released', () => {
    const limits = new ClientLimits({ ratePerSecond: 0, burst: 0, concurrency: 2 });
    expect(limits.admit('a', 0)).toBeUndefined();
    expect(limits.admit('a', 0)).toBeUndefined();
    expect(limits.admit('a', 0)).toEqual({ reason: 'client_concurrency', retryAfterSeconds: 1 });
    limits.release('a');
    expect(limits.admit('a', 0)).toBeUndefined();
  });

  it('is off with no rate and no cap', () => {
    expect(new ClientLimits({ ratePerSecond: 0, burst: 0, concurrency: 0 }).enabled).toBe(false);
  });
});
