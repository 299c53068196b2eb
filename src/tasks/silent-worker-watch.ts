/** One look at the queue and at this instance's worker. */
export interface WorkerSample {
  readonly atMs: number;
  /** Jobs ready to run now (waiting or prioritized) in the queue every instance shares. */
  readonly ready: number;
  /** Jobs this worker runs now, and how many it may run at once. */
  readonly active: number;
  readonly concurrency: number;
  /** When this worker last started a job, if it has. */
  readonly lastStartedAtMs: number | undefined;
}

/**
 * Decides when a worker is silent: jobs stood ready, it had a free slot, and it started none,
 * at every look for `silentMs`. A live BullMQ worker with a free slot takes a ready job within
 * milliseconds (the queue's marker wakes its blocking read), so this is a worker whose fetch
 * loop is stuck, not a busy one. A look taken while Redis did not answer is not given here:
 * then the store is at fault, and a new worker would not help.
 */
export class SilentWorkerWatch {
  private silentSinceMs: number | undefined;

  constructor(private readonly silentMs: number) {}

  /** True when the worker has been silent for `silentMs`; the count starts again after it. */
  observe(sample: WorkerSample): boolean {
    const shouldBeWorking = sample.ready > 0 && sample.active < sample.concurrency;
    const startedSince =
      this.silentSinceMs !== undefined && sample.lastStartedAtMs !== undefined && sample.lastStartedAtMs >= this.silentSinceMs;
    if (!shouldBeWorking || startedSince) {
      this.silentSinceMs = shouldBeWorking ? sample.atMs : undefined;
      return false;
    }
    this.silentSinceMs ??= sample.atMs;
    if (sample.atMs - this.silentSinceMs < this.silentMs) return false;
    this.silentSinceMs = undefined;
    return true;
  }

  /** A look could not be taken (Redis did not answer): the count starts again. */
  reset(): void {
    this.silentSinceMs = undefined;
  }
}
