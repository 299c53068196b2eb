/**
 * Hedge budget, after gRPC's retry throttling: backups spend tokens, successful calls
 * earn `ratio` tokens, up to `capacity`. When the upstream fails broadly nothing is
 * earned, the bucket empties, and calls stop tripling the load. Pure.
 */
export class TokenBucket {
  private level: number;
  spent = 0;
  refused = 0;

  constructor(
    readonly capacity: number,
    readonly ratio: number,
  ) {
    this.level = capacity;
  }

  get tokens(): number {
    return this.level;
  }

  /** Takes up to `wanted` whole tokens; returns how many were granted. */
  take(wanted: number): number {
    const granted = Math.min(wanted, Math.floor(this.level));
    this.level -= granted;
    this.spent += granted;
    this.refused += wanted - granted;
    return granted;
  }

  earn(): void {
    this.level = Math.min(this.capacity, this.level + this.ratio);
  }
}
