/** Envoy's retry_budget: retries in flight at most a share of the requests in flight, with a floor. */
export interface RetryBudgetSettings {
  /** BALANCER_RETRY_BUDGET_PERCENT (Envoy's budget_percent, default 20). */
  readonly percent: number;
  /**
   * BALANCER_RETRY_BUDGET_MIN (Envoy's min_retry_concurrency is 3; 10, Linkerd's floor, lets every
   * client that was stuck on a backend that just went silent retry at once).
   */
  readonly minConcurrency: number;
}

/**
 * How many retries may be in flight: at most `percent` of the requests in flight, and always
 * `minConcurrency`, so a quiet balancer still retries a lone failure. Retries cannot multiply
 * the load of an overloaded fleet: when most attempts fail, most failures are passed on as they
 * are. A share, not a count, so it holds the same over any number of workers, each keeping its
 * own. Pure bookkeeping.
 */
export class RetryBudget {
  private requests = 0;
  private retries = 0;
  /** Retries sent, and retries refused for want of budget, for the metrics. */
  started = 0;
  refused = 0;

  constructor(private readonly settings: RetryBudgetSettings) {}

  requestStarted(): void {
    this.requests += 1;
  }

  requestEnded(): void {
    this.requests -= 1;
  }

  /** Takes a retry from the budget if there is one left; false (and counted) when not. */
  tryRetry(): boolean {
    const allowed = Math.max(this.settings.minConcurrency, (this.requests * this.settings.percent) / 100);
    if (this.retries + 1 > allowed) {
      this.refused += 1;
      return false;
    }
    this.retries += 1;
    this.started += 1;
    return true;
  }

  retryEnded(): void {
    this.retries -= 1;
  }
}
