import { PeakEwma } from './peak-ewma.js';

/** Everything the balancer knows about one backend. Plain state, no I/O. */
export class Backend {
  /** Passive ejection: skipped until this time (ms since epoch). */
  ejectedUntil = 0;
  /** Last active /ready check said 200 (true until a check says otherwise). */
  ready = true;
  inFlight = 0;
  requests = 0;
  failures = 0;
  readonly latency = new PeakEwma();

  constructor(readonly url: string) {}

  isEjected(nowMs: number): boolean {
    return nowMs < this.ejectedUntil;
  }

  /** Load-aware cost for least-latency selection (Finagle: latency x outstanding). */
  cost(): number {
    return (this.latency.ms + 1) * (this.inFlight + 1);
  }
}
