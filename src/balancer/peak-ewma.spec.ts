import { describe, expect, it } from '@jest/globals';
import { PeakEwma } from './peak-ewma.js';

describe('PeakEwma', () => {
  it('jumps to a slower sample at once', () => {
    const ewma = new PeakEwma(1000);
    ewma.observe(10, 0);
    ewma.observe(200, 1);
    expect(ewma.ms).toBe(200);
  });

  it('decays towards faster samples with the time between them', () => {
    const ewma = new PeakEwma(1000);
    ewma.observe(200, 0);
    ewma.observe(10, 1000); // weight e^-1
    expect(ewma.ms).toBeCloseTo(200 * Math.exp(-1) + 10 * (1 - Math.exp(-1)), 6);
    const slow = new PeakEwma(1000);
    slow.observe(200, 0);
    slow.observe(10, 10); // barely any time: barely moves
    expect(slow.ms).toBeGreaterThan(195);
  });
});
