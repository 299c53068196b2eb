/**
 * The last `size` latencies and a percentile over them, for the adaptive hedge delay
 * (Finagle's backup requests): hedges fire at the observed tail, not at a guess. Pure.
 */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(readonly size = 1000) {
    this.samples = new Float64Array(size);
  }

  get count(): number {
    return this.filled;
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.size;
    if (this.filled < this.size) this.filled += 1;
  }

  /** Nearest-rank percentile (0 < p <= 100); undefined while empty. */
  percentile(p: number): number | undefined {
    if (this.filled === 0) return undefined;
    const sorted = Array.from(this.samples.subarray(0, this.filled)).sort((a, b) => a - b);
    const rank = Math.min(this.filled, Math.max(1, Math.ceil((p / 100) * this.filled)));
    return sorted[rank - 1];
  }
}
