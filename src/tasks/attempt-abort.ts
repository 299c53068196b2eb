/**
 * Whether an attempt was told to stop (cancelled, or its instance forced down), and why. The
 * AbortSignal a handler may pass on is made only when it asks for one: on Node 20 an
 * AbortController with its signal costs more CPU per task than the rest of a zero-length task's
 * own work (bench:profile-tasks; BullMQ's per-job controller alone was 4 % of the service's CPU
 * per task), and most handlers look at it only when they wait on something.
 */
export class AttemptAbort {
  private controller?: AbortController;
  private abortReason?: string;

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /** Why it was aborted; undefined while it was not. */
  get reason(): string | undefined {
    return this.abortReason;
  }

  /** Made on first use, already aborted if the attempt was told to stop before that. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** The first reason wins: a cancel and a forced stop racing keep whichever came first. */
  abort(reason: string): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  /** Throws the reason, as AbortSignal.throwIfAborted does. */
  throwIfAborted(): void {
    if (this.abortReason !== undefined) throw new AttemptAbortedError(this.abortReason);
  }
}

export class AttemptAbortedError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'AttemptAbortedError';
  }
}
