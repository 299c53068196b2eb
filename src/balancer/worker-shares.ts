/**
 * How long another worker's word that its requests wait holds without being said again. Each
 * says it every 100 ms while requests wait there, and at once when they start or stop waiting
 * (its primary says so when it exits). Under load on two cores, words arrived 200-340 ms apart at
 * times: with 300 ms the split lapsed for a third of some seconds, and the fleet served 82-93%
 * of its capacity at 2x.
 */
export const DEMAND_TTL_MS = 1_000;

/** Spreads the rounding of each backend's split over the backends (golden-ratio steps never line up). */
const ROUNDING_STEP = 0.6180339887498949;

interface Word {
  readonly weight: number;
  readonly atMs: number;
}

/**
 * How the workers of one balancer (BALANCER_WORKERS > 1) split a shedding backend's slots
 * while others have requests waiting for one. Without it, the worker whose own request ends
 * takes the freed slot in the same tick, and another worker sees it free only once its
 * estimate of the first worker's clients fades: under overload one worker's clients were
 * served 84-97% of the time, the other's 20-31%.
 *
 * While another worker's requests wait, this worker holds at most its share of a backend's
 * slots, the share being its arrivals against those of the workers waiting, as each last told
 * the others (so when several wait, every one computes the same split, and the shares of one
 * backend add up to its slots exactly). While no other worker waits, this one is not capped:
 * it takes any slot it finds free, as one worker does, and a worker whose requests wait past
 * its share makes the others keep to theirs. Pure: time comes in as arguments.
 */
export class WorkerShares {
  /** What each other worker whose requests wait last said: its arrivals' weight, and when. */
  private readonly heardFrom = new Map<number, Word>();
  /** This worker's weight as it last told the others. */
  private ownWeight = 1;
  /** The weights of the workers waiting before this one in worker order, and of all with this one; recomputed when the news changes. */
  private weightBefore = 0;
  private totalWeight = 0;
  /** When the next word heard expires (the split changes then). */
  private nextExpiryMs = Infinity;
  private dirty = true;

  constructor(private readonly self: number) {}

  /** This worker told the others its arrivals' weight (the split uses what was said, so all agree). */
  toldOthers(weight: number): void {
    this.ownWeight = Math.max(1, weight);
    this.dirty = true;
  }

  /** Another worker said whether requests wait there now, with its weight. */
  heard(worker: number, waiting: boolean, weight: number, nowMs: number): void {
    if (worker === this.self) return;
    if (waiting) this.heardFrom.set(worker, { weight: Math.max(1, weight), atMs: nowMs });
    else this.heardFrom.delete(worker);
    this.dirty = true;
  }

  /** Another worker has requests waiting (as last heard): this one keeps to its share. */
  contended(nowMs: number): boolean {
    this.refresh(nowMs);
    return this.heardFrom.size > 0;
  }

  /**
   * This worker's share of the `slots` of the backend at `index`: all of them when no other
   * worker waits. The shares of one backend, of this worker and those waiting, add up to `slots`.
   */
  capAt(index: number, slots: number, nowMs: number): number {
    if (!this.contended(nowMs)) return slots;
    const phase = (index * ROUNDING_STEP + 0.5) % 1;
    const from = Math.floor((slots * this.weightBefore) / this.totalWeight + phase);
    const to = Math.floor((slots * (this.weightBefore + this.ownWeight)) / this.totalWeight + phase);
    return to - from;
  }

  private refresh(nowMs: number): void {
    if (!this.dirty && nowMs < this.nextExpiryMs) return;
    this.dirty = false;
    this.nextExpiryMs = Infinity;
    this.weightBefore = 0;
    this.totalWeight = this.ownWeight;
    for (const [worker, word] of this.heardFrom) {
      const expires = word.atMs + DEMAND_TTL_MS;
      if (expires <= nowMs) {
        this.heardFrom.delete(worker);
        continue;
      }
      this.nextExpiryMs = Math.min(this.nextExpiryMs, expires);
      this.totalWeight += word.weight;
      if (worker < this.self) this.weightBefore += word.weight;
    }
  }
}
