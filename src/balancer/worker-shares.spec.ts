import { describe, expect, it } from '@jest/globals';
import { DEMAND_TTL_MS, WorkerShares } from './worker-shares.js';

/** Each worker's share of every backend's slots, as each computes it from what it heard. */
function caps(workers: readonly WorkerShares[], backends: number, slots: number, nowMs: number): number[][] {
  return workers.map((worker) => Array.from({ length: backends }, (_, index) => worker.capAt(index, slots, nowMs)));
}

/** Workers 1..n that each told the others its weight and that requests wait there. */
function contending(weights: readonly number[], nowMs = 0): WorkerShares[] {
  const workers = weights.map((_, i) => new WorkerShares(i + 1));
  weights.forEach((weight, i) => {
    workers[i].toldOthers(weight);
    workers.forEach((other, j) => other.heard(i + 1, true, weight, nowMs + j));
  });
  return workers;
}

describe('WorkerShares', () => {
  it('caps nothing while no other worker has requests waiting', () => {
    const shares = new WorkerShares(1);
    shares.toldOthers(100);
    expect(shares.contended(0)).toBe(false);
    expect(shares.capAt(0, 8, 0)).toBe(8);
    shares.heard(1, true, 50, 0); // its own word, relayed back: not another worker
    expect(shares.contended(0)).toBe(false);
  });

  it("splits each backend's slots between waiting workers so that the shares add up to them exactly", () => {
    for (const weights of [
      [1, 1],
      [60, 120],
      [7, 3, 5],
    ]) {
      const workers = contending(weights);
      const byWorker = caps(workers, 5, 8, 10);
      for (let backend = 0; backend < 5; backend += 1) {
        expect(byWorker.reduce((sum, row) => sum + row[backend], 0)).toBe(8);
      }
    }
  });

  it('gives each worker about its share of arrivals over the backends, the rounding spread among them', () => {
    const byWorker = caps(contending([60, 120]), 3, 7, 10);
    expect(byWorker.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([7, 14]);
    const even = caps(contending([1, 1]), 3, 7, 10);
    // 3.5 each per backend: one backend's odd slot goes to one worker, the next's to the other.
    expect(even[0].map((cap, i) => cap + even[1][i])).toEqual([7, 7, 7]);
    expect(new Set(even[0])).toEqual(new Set([3, 4]));
  });

  it('stops capping when the other says its requests stopped waiting, or when its word is older than the TTL', () => {
    const [one] = contending([1, 1]);
    expect(one.contended(100)).toBe(true);
    one.heard(2, false, 1, 200);
    expect(one.capAt(0, 8, 200)).toBe(8);
    one.heard(2, true, 1, 300);
    expect(one.capAt(0, 8, 300 + DEMAND_TTL_MS - 1)).toBeLessThan(8);
    expect(one.contended(300 + DEMAND_TTL_MS)).toBe(false);
  });

  it('holds no share for a worker that exited', () => {
    const [one] = contending([1, 1]);
    one.heard(2, false, 1, 100); // what its primary says for it
    expect(one.contended(100)).toBe(false);
    expect(one.capAt(0, 8, 100)).toBe(8);
  });

  it('uses the weight it told the others, not a newer one, so the workers agree', () => {
    const [one, two] = contending([10, 10]);
    const before = caps([one, two], 4, 8, 10);
    one.toldOthers(30);
    // Told: the others heard it too (the caller publishes as it tells).
    two.heard(1, true, 30, 11);
    const after = caps([one, two], 4, 8, 12);
    expect(after[0].reduce((a, b) => a + b, 0)).toBeGreaterThan(before[0].reduce((a, b) => a + b, 0));
    for (let backend = 0; backend < 4; backend += 1) expect(after[0][backend] + after[1][backend]).toBe(8);
  });
});
