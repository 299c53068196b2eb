/** Promises that resolve when an in-flight count reaches zero; for drain steps. */
export class IdleWaiters {
  private waiters: (() => void)[] = [];

  /** Resolves now when `idle`, else at the next `release()`. */
  until(idle: boolean): Promise<void> {
    if (idle) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Call when the count has reached zero. */
  release(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
