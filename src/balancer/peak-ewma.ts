/**
 * Peak-sensitive exponentially weighted moving average of latency (Finagle's
 * PeakEwma): a slower sample replaces the average at once, faster ones pull it down
 * with a weight that decays with the time since the last sample. So a backend that
 * turns slow is avoided immediately and forgiven gradually. Pure: time is passed in.
 */
export class PeakEwma {
  private valueMs: number;
  private lastAtMs: number | undefined;

  constructor(
    private readonly decayMs = 10_000,
    initialMs = 0,
  ) {
    this.valueMs = initialMs;
  }

  get ms(): number {
    return this.valueMs;
  }

  observe(sampleMs: number, nowMs: number): void {
    if (this.lastAtMs === undefined || sampleMs > this.valueMs) {
      this.valueMs = sampleMs;
    } else {
      const weight = Math.exp(-Math.max(0, nowMs - this.lastAtMs) / this.decayMs);
      this.valueMs = this.valueMs * weight + sampleMs * (1 - weight);
    }
    this.lastAtMs = nowMs;
  }
}
